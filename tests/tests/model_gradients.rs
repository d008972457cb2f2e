//! Every model pass's derivatives against central finite differences of its forward pass, for
//! small instances of every architecture (linear 1 and 2 layer, nonlinear, structured
//! prediction), every relaxation (modified, plain, mean-field) and every starting layer.
//!
//! Each check compares a directional derivative ⟨analytic gradient, random direction⟩ with
//! (F(θ + εd) − F(θ − εd)) / 2ε, where F reruns the passes from scratch on a perturbed copy.

use rebar_core::math::scalar::logistic_noise;
use rebar_core::model::{Generative, OneLayer, Structured, TwoLayer};
use rebar_core::net::{Absent, Dense, Mlp2};
use rebar_core::random::uniform;
use rebar_core::{GradWrite, Relaxation, Sbn};
use rebar_tests::{binary_row, boxed, mean_of, rng, small_model};

/// A zeroed gradient buffer whose tensors `t` with `poison(t)` hold NaN instead: a backward pass
/// that writes over them ([`GradWrite::Set`]) must replace every value.
fn poisoned<M: Sbn<H>, const H: usize>(poison: impl Fn(usize) -> bool) -> Box<M> {
    let mut grad = boxed::<M>();
    for t in (0..M::COUNT).filter(|&t| poison(t)) {
        grad.tensor_mut(t).fill(f32::NAN);
    }
    grad
}

const B: usize = 4;
const N: usize = 3; // a partial batch
const EPS: f32 = 1e-2;
const SCALE: f32 = 0.8;

fn assert_close(what: &str, analytic: f64, fd: f64) {
    let tol = 5e-3 * (analytic.abs() + fd.abs()) + 1e-3;
    assert!((analytic - fd).abs() <= tol, "{what}: analytic {analytic:.6}, finite difference {fd:.6}");
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

struct Case<M: Sbn<H>, const H: usize> {
    model: Box<M>,
    inputs: Vec<M::Input>,
    targets: Vec<M::Target>,
    /// Logistic noise per layer.
    noise: Vec<[[f32; H]; B]>,
}

impl<M: Sbn<H>, const H: usize> Case<M, H>
where
    M::Input: AsRef<[f32]> + AsMut<[f32]>,
    M::Target: AsRef<[f32]> + AsMut<[f32]>,
{
    fn new(seed: u64) -> Self {
        let mut r = rng(seed);
        let row_in = |r: &mut _| {
            let mut v = <M::Input as bytemuck::Zeroable>::zeroed();
            for x in v.as_mut() {
                *x = binary_row::<1, _>(r)[0];
            }
            v
        };
        let inputs: Vec<M::Input> = (0..N).map(|_| row_in(&mut r)).collect();
        let targets: Vec<M::Target> = (0..N)
            .map(|_| {
                let mut v = <M::Target as bytemuck::Zeroable>::zeroed();
                for x in v.as_mut() {
                    *x = binary_row::<1, _>(&mut r)[0];
                }
                v
            })
            .collect();
        let model = small_model::<M, H>(seed + 1, &inputs, &targets);
        let noise = (0..M::LAYERS)
            .map(|_| core::array::from_fn(|_| core::array::from_fn(|_| logistic_noise(uniform(&mut r)))))
            .collect();
        Case { model, inputs, targets, noise }
    }

    /// A copy of the model with `delta` added to tensor `t` (all tensors if `t` is None).
    fn shifted(&self, dir: &M, t: Option<usize>, delta: f32) -> Box<M> {
        let mut m = boxed::<M>();
        m.copy_from(&self.model);
        m.set_data_mean(&mean_of(&self.inputs), &mean_of(&self.targets));
        for i in 0..M::COUNT {
            if t.is_none_or(|t| t == i) {
                for (p, &d) in m.tensor_mut(i).iter_mut().zip(dir.tensor(i)) {
                    *p += delta * d;
                }
            }
        }
        m
    }

    /// A scratch with this case's batch and noise (optionally perturbed), after a hard pass.
    fn hard(&self, m: &M, noise_shift: Option<(usize, &[[f32; H]; B], f32)>) -> Box<M::Scratch<B>> {
        let mut s = boxed::<M::Scratch<B>>();
        assert_eq!(m.load_batch(&self.inputs, &self.targets, &mut s), N);
        for l in 0..M::LAYERS {
            let layer = M::layer_mut(&mut s, l);
            layer.noise = self.noise[l];
            if let Some((k, v, d)) = noise_shift
                && k == l
            {
                for (a, b) in layer.noise.as_flattened_mut().iter_mut().zip(v.as_flattened()) {
                    *a += d * b;
                }
            }
        }
        m.hard_forward(&mut s, 0);
        s
    }

    fn random_dir(&self, seed: u64) -> Box<M> {
        let mut r = rng(seed);
        let mut d = boxed::<M>();
        for t in 0..M::COUNT {
            for v in d.tensor_mut(t) {
                *v = uniform(&mut r) * 2.0 - 1.0;
            }
        }
        d
    }

    /// Σ_r scale·f_r of a relaxed pass, checking that the hard samples below `from` are those of
    /// the unperturbed model (finite differences must not cross a sample flip).
    fn relaxed_sum(
        &self,
        m: &M,
        from: usize,
        relax: Relaxation,
        noise_shift: Option<(usize, &[[f32; H]; B], f32)>,
    ) -> f64 {
        let mut s = self.hard(m, noise_shift);
        let base = self.hard(&self.model, None);
        for l in 0..from {
            assert_eq!(M::layer(&s, l).sample, M::layer(&base, l).sample, "a hard sample flipped: pick another seed");
        }
        m.relaxed_forward(&mut s, from, relax);
        M::rows(&s).relaxed_elbo[..N].iter().map(|&f| (SCALE * f) as f64).sum()
    }

    fn check_relaxed(&self, seed: u64) {
        let relaxations =
            [Relaxation::Modified { temperature: 0.7 }, Relaxation::Plain { temperature: 0.45 }, Relaxation::Mean];
        for relax in relaxations {
            for from in 0..M::LAYERS {
                let what = |s: &str| format!("{s} ({relax:?}, from layer {from})");
                let mut s = self.hard(&self.model, None);
                self.model.relaxed_forward(&mut s, from, relax);
                // Written over: a value the pass missed would stay NaN.
                let mut grad = poisoned::<M, H>(|_| true);
                self.model.relaxed_backward(&mut s, from, relax, SCALE, Some((&mut grad, GradWrite::Set)));

                // Every parameter tensor.
                let dir = self.random_dir(seed + 7);
                for t in 0..M::COUNT {
                    let plus = self.relaxed_sum(&self.shifted(&dir, Some(t), EPS), from, relax, None);
                    let minus = self.relaxed_sum(&self.shifted(&dir, Some(t), -EPS), from, relax, None);
                    let mut name = String::new();
                    M::write_name(t, &mut name).unwrap();
                    assert_close(
                        &what(&format!("∂/∂{name}")),
                        dot(grad.tensor(t), dir.tensor(t)),
                        (plus - minus) / (2.0 * EPS as f64),
                    );
                }

                // The pre-sigmoid adjoint of every relaxed layer, through the noise (∂s/∂ε = α).
                let alpha = relax.coefficients().alpha;
                let mut r = rng(seed + 11);
                let v: [[f32; H]; B] = core::array::from_fn(|_| core::array::from_fn(|_| uniform(&mut r) - 0.5));
                for l in from..M::LAYERS {
                    if alpha == 0.0 {
                        continue;
                    }
                    let plus = self.relaxed_sum(&self.model, from, relax, Some((l, &v, EPS)));
                    let minus = self.relaxed_sum(&self.model, from, relax, Some((l, &v, -EPS)));
                    let analytic =
                        alpha as f64 * dot(M::layer(&s, l).r_s_bar[..N].as_flattened(), v[..N].as_flattened());
                    assert_close(&what(&format!("s̄ of layer {l}")), analytic, (plus - minus) / (2.0 * EPS as f64));
                }

                // ∂/∂log λ, and the τ-tangent of s̄.
                let at_tau = |shift: f32| match relax {
                    Relaxation::Modified { temperature } => {
                        Relaxation::Modified { temperature: temperature * shift.exp() }
                    }
                    Relaxation::Plain { temperature } => Relaxation::Plain { temperature: temperature * shift.exp() },
                    Relaxation::Mean => Relaxation::Mean,
                };
                let plus = self.relaxed_sum(&self.model, from, at_tau(EPS), None);
                let minus = self.relaxed_sum(&self.model, from, at_tau(-EPS), None);
                let analytic: f64 = M::rows(&s).relaxed_elbo_dtau[..N].iter().map(|&v| v as f64).sum();
                assert_close(&what("∂/∂log λ"), analytic, (plus - minus) / (2.0 * EPS as f64));

                self.model.relaxed_tangent(&mut s, from, relax, SCALE);
                let s_bar_at = |shift: f32, l: usize| {
                    let mut s2 = self.hard(&self.model, None);
                    self.model.relaxed_forward(&mut s2, from, at_tau(shift));
                    self.model.relaxed_backward(&mut s2, from, at_tau(shift), SCALE, None);
                    dot(M::layer(&s2, l).r_s_bar[..N].as_flattened(), v[..N].as_flattened())
                };
                for l in from..M::LAYERS {
                    let fd = (s_bar_at(EPS, l) - s_bar_at(-EPS, l)) / (2.0 * EPS as f64);
                    let analytic = dot(M::layer(&s, l).r_s_bar_dot[..N].as_flattened(), v[..N].as_flattened());
                    assert_close(&what(&format!("d s̄/dlog λ of layer {l}")), analytic, fd);
                }
            }
        }
    }

    fn check_hard(&self, seed: u64) {
        let mut r = rng(seed + 3);
        let weights: Vec<f32> = (0..N).map(|_| uniform(&mut r) * 2.0 - 1.0).collect();
        let dir = self.random_dir(seed + 5);

        // Decoder and prior: Σ_r w_r log p(x_r, b_r) with the samples held fixed.
        let mut s = self.hard(&self.model, None);
        // Written over: every tensor outside the encoders (which stay zero) starts as NaN.
        let mut grad = poisoned::<M, H>(|t| !(0..M::LAYERS).any(|l| M::encoder_tensors(l).contains(&t)));
        self.model.decoder_backward(&mut s, &weights, &mut grad, GradWrite::Set);
        let log_p = |m: &M| -> f64 {
            let s = self.hard(m, None);
            M::rows(&s).log_p[..N].iter().zip(&weights).map(|(&v, &w)| (v * w) as f64).sum()
        };
        for t in 0..M::COUNT {
            let fd = (log_p(&self.shifted(&dir, Some(t), EPS)) - log_p(&self.shifted(&dir, Some(t), -EPS)))
                / (2.0 * EPS as f64);
            // Encoder tensors move the samples (a discontinuous change): only compare where the
            // samples stayed put, which the gradient assumes.
            let same = (0..M::LAYERS).all(|l| {
                M::layer(&self.hard(&self.shifted(&dir, Some(t), EPS), None), l).sample == M::layer(&s, l).sample
                    && M::layer(&self.hard(&self.shifted(&dir, Some(t), -EPS), None), l).sample
                        == M::layer(&s, l).sample
            });
            if same {
                assert_close(&format!("decoder_backward, tensor {t}"), dot(grad.tensor(t), dir.tensor(t)), fd);
            }
        }

        // Encoder, per layer: Σ_r ⟨dlogits_r, a_r⟩, and the forward-mode product.
        let scales: Vec<f32> = (0..M::COUNT).map(|i| 0.5 + 0.25 * i as f32).collect();
        for l in 0..M::LAYERS {
            let mut s = self.hard(&self.model, None);
            let dl: [[f32; H]; B] = core::array::from_fn(|_| core::array::from_fn(|_| uniform(&mut r) - 0.5));
            M::layer_mut(&mut s, l).dlogits = dl;
            let mut grad = poisoned::<M, H>(|t| M::encoder_tensors(l).contains(&t));
            self.model.encoder_backward(&mut s, l, &mut grad, GradWrite::Set);
            let logits_dot =
                |m: &M| dot(M::layer(&self.hard(m, None), l).logits[..N].as_flattened(), dl[..N].as_flattened());
            for t in 0..M::COUNT {
                let fd = (logits_dot(&self.shifted(&dir, Some(t), EPS))
                    - logits_dot(&self.shifted(&dir, Some(t), -EPS)))
                    / (2.0 * EPS as f64);
                assert_close(
                    &format!("encoder_backward layer {l}, tensor {t}"),
                    dot(grad.tensor(t), dir.tensor(t)),
                    fd,
                );
                // encoder_tensors(l) names exactly the tensors this pass writes (REBAR skips
                // the others' control-variate parts).
                let written = grad.tensor(t).iter().any(|&g| g != 0.0);
                assert_eq!(written, M::encoder_tensors(l).contains(&t), "encoder_tensors({l}) and tensor {t}");
            }

            let mut out = [[0.0f32; H]; B];
            self.model.encoder_tangent(&mut s, l, &dir, &scales, &mut out[..N]);
            let mut scaled = boxed::<M>();
            for t in 0..M::COUNT {
                for (a, &b) in scaled.tensor_mut(t).iter_mut().zip(dir.tensor(t)) {
                    *a = scales[t] * b;
                }
            }
            // Only layer l's encoder moves layer l's logits at fixed lower samples.
            let fd = (logits_dot(&self.shifted(&scaled, None, EPS)) - logits_dot(&self.shifted(&scaled, None, -EPS)))
                / (2.0 * EPS as f64);
            assert_close(
                &format!("encoder_tangent layer {l}"),
                dot(out[..N].as_flattened(), dl[..N].as_flattened()),
                fd,
            );
        }
    }
}

fn check_model<M: Sbn<H>, const H: usize>(seed: u64)
where
    M::Input: AsRef<[f32]> + AsMut<[f32]>,
    M::Target: AsRef<[f32]> + AsMut<[f32]>,
{
    let case = Case::<M, H>::new(seed);
    case.check_hard(seed);
    case.check_relaxed(seed);
}

type Linear1 = OneLayer<7, 3, 7, Dense<7, 3>, Dense<3, 7>, Generative>;
type Nonlinear = OneLayer<7, 3, 7, Mlp2<7, 5, 3>, Mlp2<3, 5, 7>, Generative>;
type Linear2 = TwoLayer<7, 3, 7, Dense<7, 3>, Dense<3, 3>, Dense<3, 3>, Dense<3, 7>, Generative>;
type Nonlinear2 = TwoLayer<6, 3, 6, Mlp2<6, 4, 3>, Mlp2<3, 4, 3>, Mlp2<3, 4, 3>, Mlp2<3, 4, 6>, Generative>;
type Linear1Sp = OneLayer<5, 3, 4, Dense<5, 3>, Dense<3, 4>, Structured>;
type Linear2Sp = TwoLayer<5, 3, 4, Dense<5, 3>, Dense<3, 3>, Absent, Dense<3, 4>, Structured>;
type NonlinearSp = OneLayer<5, 3, 4, Mlp2<5, 4, 3>, Mlp2<3, 4, 4>, Structured>;

#[test]
fn linear_one_layer_passes_match_finite_differences() {
    check_model::<Linear1, 3>(100);
}

#[test]
fn nonlinear_passes_match_finite_differences() {
    check_model::<Nonlinear, 3>(200);
}

#[test]
fn linear_two_layer_passes_match_finite_differences() {
    check_model::<Linear2, 3>(300);
}

#[test]
fn nonlinear_two_layer_passes_match_finite_differences() {
    check_model::<Nonlinear2, 3>(400);
}

#[test]
fn structured_prediction_passes_match_finite_differences() {
    check_model::<Linear1Sp, 3>(500);
    check_model::<Linear2Sp, 3>(600);
    check_model::<NonlinearSp, 3>(700);
}
