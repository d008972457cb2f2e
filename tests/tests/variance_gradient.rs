//! REBAR's variance gradient — ∂V/∂log λ, ∂V/∂ρ (η = 2σ(ρ)) and ∂V/∂ψ (baseline) of the
//! single-sample objective V = mean_j g_j² — against central finite differences of V computed
//! with common random numbers (the same noise at θ ± ε).

use rebar_core::estimator::{Estimator, Rebar, RebarConfig, TildeNoise};
use rebar_core::model::{Generative, OneLayer, Structured, TwoLayer};
use rebar_core::net::{Absent, Dense, Mlp2};
use rebar_core::random::uniform;
use rebar_core::{Sbn, Tensors};
use rebar_tests::{binary_row, boxed, rng, small_model};

const B: usize = 4;
const N: usize = 3;
const EPS: f32 = 1e-2;

fn assert_close(what: &str, analytic: f64, fd: f64) {
    let tol = 1e-2 * (analytic.abs() + fd.abs()) + 1e-6;
    assert!((analytic - fd).abs() <= tol, "{what}: analytic {analytic:e}, finite difference {fd:e}");
}

struct Setup<M: Sbn<H>, const X: usize, const H: usize> {
    model: Box<M>,
    inputs: Vec<M::Input>,
    targets: Vec<M::Target>,
    config: RebarConfig,
}

impl<M: Sbn<H, Input = [f32; X], Target = [f32; Y]>, const X: usize, const H: usize, const Y: usize> Setup<M, X, H>
where
    M: Sbn<H, Target = [f32; Y]>,
{
    fn estimator(&self) -> Box<Rebar<M, X, H, B>> {
        let mut r = rng(11);
        let mut e = boxed::<Rebar<M, X, H, B>>();
        e.init(self.config, &mut r).unwrap();
        for rho in e.eta.rho.iter_mut() {
            *rho = 2.0 * uniform(&mut r) - 1.0;
        }
        e.log_temperature = 0.4f32.ln();
        e
    }

    /// V for the estimator after `tweak`, with the noise of `seed`.
    fn variance(&self, seed: u64, tweak: impl Fn(&mut Rebar<M, X, H, B>)) -> f64 {
        let mut e = self.estimator();
        tweak(&mut e);
        let mut s = boxed::<M::Scratch<B>>();
        self.model.load_batch(&self.inputs, &self.targets, &mut s);
        let mut g = boxed::<M>();
        let d = e.estimate(&self.model, &mut s, &mut rng(seed), &mut g);
        d.variance_objective.unwrap() as f64
    }

    fn check(&self, seed: u64) {
        let mut e = self.estimator();
        let mut s = boxed::<M::Scratch<B>>();
        self.model.load_batch(&self.inputs, &self.targets, &mut s);
        let mut g = boxed::<M>();
        e.estimate(&self.model, &mut s, &mut rng(seed), &mut g);
        let fd = |f: &dyn Fn(&mut Rebar<M, X, H, B>, f32)| {
            (self.variance(seed, |e| f(e, EPS)) - self.variance(seed, |e| f(e, -EPS))) / (2.0 * EPS as f64)
        };

        if matches!(self.config.temperature, rebar_core::estimator::Temperature::Learned(_)) {
            let d = fd(&|e, d| e.log_temperature += d);
            assert_close("∂V/∂log λ", e.log_temperature_gradient() as f64, d);
        }
        for t in 0..M::COUNT {
            let d = fd(&|e, d| e.eta.rho[t] += d);
            assert_close(&format!("∂V/∂ρ of tensor {t}"), e.eta.grad[t] as f64, d);
        }
        let mut r = rng(seed + 1);
        let mut dir = boxed::<rebar_core::net::Mlp1<X, 100, 1>>();
        for t in 0..2 {
            for v in dir.tensor_mut(t) {
                *v = uniform(&mut r) - 0.5;
            }
        }
        let analytic: f64 = (0..4)
            .map(|t| {
                e.baseline.grad.tensor(t).iter().zip(dir.tensor(t)).map(|(&a, &b)| a as f64 * b as f64).sum::<f64>()
            })
            .sum();
        let d = fd(&|e, d| {
            for t in 0..4 {
                for (p, &v) in e.baseline.net.tensor_mut(t).iter_mut().zip(dir.tensor(t)) {
                    *p += d * v;
                }
            }
        });
        assert_close("∂V/∂ψ along a direction", analytic, d);
    }
}

fn setup<M, const X: usize, const H: usize, const Y: usize>(seed: u64, config: RebarConfig) -> Setup<M, X, H>
where
    M: Sbn<H, Input = [f32; X], Target = [f32; Y]>,
{
    let mut r = rng(seed);
    let inputs: Vec<[f32; X]> = (0..N).map(|_| binary_row(&mut r)).collect();
    let targets: Vec<[f32; Y]> = (0..N).map(|_| binary_row(&mut r)).collect();
    let model = small_model::<M, H>(seed + 1, &inputs, &targets);
    Setup { model, inputs, targets, config }
}

fn check_model<M, const X: usize, const H: usize, const Y: usize>(seed: u64)
where
    M: Sbn<H, Input = [f32; X], Target = [f32; Y]>,
{
    setup::<M, X, H, Y>(seed, RebarConfig::LEARNED).check(seed + 2);
    setup::<M, X, H, Y>(seed, RebarConfig { plain_relaxation: true, ..RebarConfig::LEARNED }).check(seed + 3);
    setup::<M, X, H, Y>(seed, RebarConfig { tilde: TildeNoise::Independent, ..RebarConfig::fixed(0.4) })
        .check(seed + 4);
}

/// RELAX's ∂V/∂ψ for the r network of every layer, along a random direction.
fn check_relax<M, const X: usize, const H: usize, const Y: usize>(seed: u64)
where
    M: Sbn<H, Input = [f32; X], Target = [f32; Y]>,
{
    use rebar_core::estimator::{Relax, RelaxNet};
    let p = setup::<M, X, H, Y>(seed, RebarConfig::LEARNED);
    let make = || {
        let mut r = rng(21);
        let mut e = boxed::<Relax<M, X, H, B, 5>>();
        e.init(RebarConfig::LEARNED, &mut r).unwrap();
        for net in e.nets.iter_mut() {
            for t in 0..4 {
                for v in net.tensor_mut(t) {
                    *v = uniform(&mut r) - 0.5;
                }
            }
        }
        e
    };
    let variance = |tweak: &dyn Fn(&mut Relax<M, X, H, B, 5>)| {
        let mut e = make();
        tweak(&mut e);
        let mut s = boxed::<M::Scratch<B>>();
        p.model.load_batch(&p.inputs, &p.targets, &mut s);
        let mut g = boxed::<M>();
        e.estimate(&p.model, &mut s, &mut rng(seed), &mut g).variance_objective.unwrap() as f64
    };
    let mut e = make();
    let mut s = boxed::<M::Scratch<B>>();
    p.model.load_batch(&p.inputs, &p.targets, &mut s);
    let mut g = boxed::<M>();
    e.estimate(&p.model, &mut s, &mut rng(seed), &mut g);
    let mut r = rng(seed + 9);
    for k in 0..M::LAYERS {
        let mut dir = boxed::<RelaxNet<H, 5>>();
        for t in 0..4 {
            for v in dir.tensor_mut(t) {
                *v = uniform(&mut r) - 0.5;
            }
        }
        let analytic: f64 = (0..4)
            .map(|t| {
                e.net_gradient(k).tensor(t).iter().zip(dir.tensor(t)).map(|(&a, &b)| a as f64 * b as f64).sum::<f64>()
            })
            .sum();
        let shift = |d: f32| {
            let dir = &dir;
            move |e: &mut Relax<M, X, H, B, 5>| {
                for t in 0..4 {
                    for (p, &v) in e.nets[k].tensor_mut(t).iter_mut().zip(dir.tensor(t)) {
                        *p += d * v;
                    }
                }
            }
        };
        let fd = (variance(&shift(EPS)) - variance(&shift(-EPS))) / (2.0 * EPS as f64);
        assert_close(&format!("RELAX ∂V/∂ψ of layer {k}"), analytic, fd);
        assert_close("RELAX ∂V/∂log λ", e.rebar.log_temperature_gradient() as f64, {
            let at = |d: f32| variance(&move |e: &mut Relax<M, X, H, B, 5>| e.rebar.log_temperature += d);
            (at(EPS) - at(-EPS)) / (2.0 * EPS as f64)
        });
    }
}

#[test]
fn relax_variance_gradient_matches_finite_differences() {
    check_relax::<OneLayer<6, 3, 6, Dense<6, 3>, Dense<3, 6>, Generative>, 6, 3, 6>(6);
    check_relax::<TwoLayer<6, 3, 6, Dense<6, 3>, Dense<3, 3>, Dense<3, 3>, Dense<3, 6>, Generative>, 6, 3, 6>(7);
    check_relax::<OneLayer<4, 3, 5, Mlp2<4, 4, 3>, Mlp2<3, 4, 5>, Structured>, 4, 3, 5>(8);
}

#[test]
fn variance_gradient_matches_finite_differences_linear_one_layer() {
    check_model::<OneLayer<6, 3, 6, Dense<6, 3>, Dense<3, 6>, Generative>, 6, 3, 6>(1);
}

#[test]
fn variance_gradient_matches_finite_differences_linear_two_layer() {
    check_model::<TwoLayer<6, 3, 6, Dense<6, 3>, Dense<3, 3>, Dense<3, 3>, Dense<3, 6>, Generative>, 6, 3, 6>(2);
}

#[test]
fn variance_gradient_matches_finite_differences_nonlinear() {
    check_model::<OneLayer<6, 3, 6, Mlp2<6, 4, 3>, Mlp2<3, 4, 6>, Generative>, 6, 3, 6>(3);
}

#[test]
fn variance_gradient_matches_finite_differences_structured_prediction() {
    check_model::<OneLayer<4, 3, 5, Dense<4, 3>, Dense<3, 5>, Structured>, 4, 3, 5>(4);
    check_model::<TwoLayer<4, 3, 5, Dense<4, 3>, Dense<3, 3>, Absent, Dense<3, 5>, Structured>, 4, 3, 5>(5);
}
