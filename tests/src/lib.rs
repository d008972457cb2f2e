//! Cross-crate tests of rebar: shared helpers for the test files in `tests/tests/`.
//!
//! Small models (a handful of visible and latent units) keep every check exact or cheap: finite
//! differences, exact enumeration of all latent states, zero-allocation audits.

pub mod estimators;
pub mod stages;

use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rebar_core::Sbn;

/// A deterministic generator for tests.
pub fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// A row of `N` random 0/1 values.
pub fn binary_row<const N: usize, R: Rng>(rng: &mut R) -> [f32; N] {
    core::array::from_fn(|_| (rng.next_u32() & 1) as f32)
}

/// A heap-allocated zeroed value (models and scratches are too large for test-thread stacks at
/// the paper's sizes).
pub fn boxed<T: bytemuck::Zeroable>() -> Box<T> {
    // Zeroed heap memory, never built on the stack.
    bytemuck::zeroed_box()
}

/// A small model initialised with random weights and non-zero biases and prior, with data means
/// set from the given rows.
pub fn small_model<M: Sbn<H>, const H: usize>(seed: u64, inputs: &[M::Input], targets: &[M::Target]) -> Box<M>
where
    M::Input: AsRef<[f32]> + AsMut<[f32]>,
    M::Target: AsRef<[f32]> + AsMut<[f32]>,
{
    let mut r = rng(seed);
    let mut m = boxed::<M>();
    m.init(&mut r);
    for t in 0..M::COUNT {
        for v in m.tensor_mut(t) {
            *v += 0.4 * (rebar_core::random::uniform(&mut r) - 0.5);
        }
    }
    let (im, tm) = (mean_of(inputs), mean_of(targets));
    m.set_data_mean(&im, &tm);
    m
}

/// Column means of rows (clamped away from 0 and 1 like a real dataset's mean).
pub fn mean_of<T: Copy + bytemuck::Zeroable + AsRef<[f32]> + AsMut<[f32]>>(rows: &[T]) -> T {
    let mut m = T::zeroed();
    for r in rows {
        for (a, &b) in m.as_mut().iter_mut().zip(r.as_ref()) {
            *a += b / rows.len() as f32;
        }
    }
    for a in m.as_mut() {
        *a = a.clamp(0.1, 0.9);
    }
    m
}

pub mod exact {
    //! The exact gradient of the batch loss −(1/n) Σᵢ E_q[f(bᵢ)] by enumerating every latent
    //! state, and the statistical test that compares an estimator's mean against it.

    use super::boxed;
    use rebar_core::estimator::{Estimator, set_score_dlogits};
    use rebar_core::{GradWrite, Sbn};

    /// Logistic noise that forces a unit's hard sample whatever its logit (|a| ≪ 60).
    const FORCE: f32 = 60.0;

    /// The exact loss gradient and the exact mean ELBO of the batch, by enumerating all
    /// 2^(LAYERS·H) latent states: ∇(q·f) = q·[(f − 1)·∇log q + ∇log p] for the ELBO (f includes
    /// −log q) and q·[f·∇log q + ∇log p] for structured prediction.
    pub fn exact_gradient<M: Sbn<H>, const H: usize, const B: usize>(
        model: &M,
        inputs: &[M::Input],
        targets: &[M::Target],
    ) -> (Box<M>, f64) {
        let mut s = boxed::<M::Scratch<B>>();
        let n = model.load_batch(inputs, targets, &mut s);
        let mut grad = boxed::<M>();
        let bits = M::LAYERS * H;
        assert!(bits <= 16, "enumeration needs a small model");
        let mut mean_elbo = 0.0f64;
        for state in 0..(1u32 << bits) {
            for l in 0..M::LAYERS {
                let layer = M::layer_mut(&mut s, l);
                for r in 0..n {
                    for j in 0..H {
                        layer.noise[r][j] = if state >> (l * H + j) & 1 == 1 { FORCE } else { -FORCE };
                    }
                }
            }
            model.hard_forward(&mut s, 0);
            let mut q = [0.0f32; B];
            let mut w_score = [0.0f32; B];
            let mut w_dec = [0.0f32; B];
            for r in 0..n {
                let log_q: f32 = (0..M::LAYERS).map(|l| M::layer(&s, l).log_q[r]).sum();
                q[r] = log_q.exp();
                let f = M::rows(&s).elbo[r];
                let minus_one = if M::STRUCTURED { 0.0 } else { 1.0 };
                w_score[r] = -q[r] * (f - minus_one) / n as f32;
                w_dec[r] = -q[r] / n as f32;
                mean_elbo += (q[r] * f) as f64 / n as f64;
            }
            model.decoder_backward(&mut s, &w_dec[..n], &mut grad, GradWrite::Add);
            for l in 0..M::LAYERS {
                set_score_dlogits::<M, H, B>(&mut s, l, &w_score[..n]);
                model.encoder_backward(&mut s, l, &mut grad, GradWrite::Add);
            }
        }
        (grad, mean_elbo)
    }

    /// Sample mean and standard error per coordinate of `count` estimates.
    pub struct Moments {
        /// Per-coordinate mean.
        pub mean: Vec<f64>,
        /// Per-coordinate standard error of the mean.
        pub std_err: Vec<f64>,
    }

    /// Runs `count` independent estimates on the same batch (control variates frozen).
    pub fn moments<M: Sbn<H>, E: Estimator<M, H, B>, const H: usize, const B: usize>(
        estimator: &mut E,
        model: &M,
        inputs: &[M::Input],
        targets: &[M::Target],
        count: usize,
        seed: u64,
    ) -> Moments {
        let mut rng = super::rng(seed);
        let mut s = boxed::<M::Scratch<B>>();
        model.load_batch(inputs, targets, &mut s);
        let mut g = boxed::<M>();
        let total = g.scalar_count();
        let (mut s1, mut s2) = (vec![0.0f64; total], vec![0.0f64; total]);
        for _ in 0..count {
            estimator.estimate(model, &mut s, &mut rng, &mut g);
            let mut k = 0;
            for t in 0..M::COUNT {
                for &v in g.tensor(t) {
                    s1[k] += v as f64;
                    s2[k] += (v as f64) * (v as f64);
                    k += 1;
                }
            }
        }
        let c = count as f64;
        let mean: Vec<f64> = s1.iter().map(|v| v / c).collect();
        let std_err =
            s1.iter().zip(&s2).map(|(a, b)| ((b / c - (a / c).powi(2)).max(0.0) * c / (c - 1.0) / c).sqrt()).collect();
        Moments { mean, std_err }
    }

    /// The largest |z| = |mean − exact| / standard error over all coordinates, and its index.
    /// Coordinates whose estimates never vary (standard error below 1e-9) must match exactly
    /// (to 1e-5 relative), else they count as infinitely significant.
    pub fn max_z<M: Sbn<H>, const H: usize>(m: &Moments, exact: &M) -> (f64, usize) {
        let mut k = 0;
        let mut worst = (0.0f64, 0usize);
        for t in 0..M::COUNT {
            for &e in exact.tensor(t) {
                let diff = m.mean[k] - e as f64;
                let z = if m.std_err[k] > 1e-9 {
                    diff.abs() / m.std_err[k]
                } else if diff.abs() <= 1e-5 * (e.abs() as f64 + 1e-3) {
                    0.0
                } else {
                    f64::INFINITY
                };
                if z > worst.0 {
                    worst = (z, k);
                }
                k += 1;
            }
        }
        worst
    }

    /// Family-wise threshold: with m ≤ 2000 coordinates and |z| > 5 having two-sided probability
    /// 5.7e-7 under the null, the chance of any false alarm is below 1.2e-3 (Bonferroni).
    pub const Z_THRESHOLD: f64 = 5.0;
}
