//! Adam with TensorFlow's semantics, as the official code uses it (docs/protocol.md,
//! *Optimisers*): β₁ = 0.9, β₂ = 0.99999, ε = 1e-8 added to the *uncorrected* √v, and the bias
//! correction folded into the step size:
//!
//! ```text
//! t ← t + 1
//! m ← β₁·m + (1 − β₁)·g
//! v ← β₂·v + (1 − β₂)·g²
//! θ ← θ − lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ) · m / (√v + ε)
//! ```
//!
//! The state (`m`, `v`) has the parameters' own type, so it is fixed-size and caller-owned like
//! everything else; the update is a minimisation step.
//!
//! **Subnormals.** Gradients below 2⁻⁵⁰ (≈ 9e-16) are taken as zero, and moments below 2⁻¹⁰⁰
//! (≈ 8e-31) are set to zero: `m` at every step, `v` every [`V_FLUSH_PERIOD`] steps. Without
//! this, a parameter whose gradient is zero for a while (a saturated unit, an always-off pixel)
//! decays `m` by 0.9 a step into the subnormal range, where it *stays*: 0.9 times the smallest
//! subnormal rounds back to itself. Every x86 multiply on a subnormal takes a microcode assist;
//! a run on one fixed image slowed to less than half its speed within 10,000 steps, three
//! quarters of the time spent here. `v` decays by β₂ = 0.99999, so it needs some 700,000
//! zero-gradient steps to get there, and a periodic flush suffices (a flush at every step costs
//! about 9% of a batch-1 step). TensorFlow avoids the same trap by running with flush-to-zero;
//! this is its portable equivalent (no CPU flags, no `unsafe`), and it cannot change a step by
//! more than `lr·2⁻¹⁰⁰/ε` ≈ 1e-22·lr per parameter.

use crate::linalg::simd::{WIDE_LANES, Wide, load, store};
use crate::tensors::Tensors;
use bytemuck::Zeroable;

/// Adam's hyperparameters (not the learning rate, which may change from step to step).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// First-moment decay β₁.
    pub beta1: f32,
    /// Second-moment decay β₂.
    pub beta2: f32,
    /// ε added to √v.
    pub epsilon: f32,
}

impl AdamConfig {
    /// The official code's settings: TF defaults β₁ = 0.9, ε = 1e-8, and β₂ = 0.99999.
    pub const REBAR: AdamConfig = AdamConfig { beta1: 0.9, beta2: 0.99999, epsilon: 1e-8 };
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self::REBAR
    }
}

/// Adam's state for parameters of type `P`: the moment estimates and the step count.
#[derive(Zeroable, Debug, Clone)]
#[repr(C)]
pub struct Adam<P> {
    /// First moments, one per parameter.
    pub m: P,
    /// Second moments, one per parameter.
    pub v: P,
    /// Steps taken.
    pub t: u64,
    /// β₁ᵗ and β₂ᵗ, kept in f64 so that the bias correction does not drift over millions of steps.
    pub beta_powers: [f64; 2],
}

impl<P: Tensors> Adam<P> {
    /// Resets the state to step 0 (zero moments).
    pub fn reset(&mut self) {
        self.m.fill_zero();
        self.v.fill_zero();
        self.t = 0;
        self.beta_powers = [1.0, 1.0];
    }

    /// One minimisation step `params ← params − update(grad)` with learning rate `lr`.
    pub fn step(&mut self, params: &mut P, grad: &P, lr: f32, c: AdamConfig) {
        let step = self.begin_step(lr, c);
        for i in 0..P::COUNT {
            let (p, g, m, v) = (params.tensor_mut(i), grad.tensor(i), self.m.tensor_mut(i), self.v.tensor_mut(i));
            step.apply(p, g, m, v);
        }
    }

    /// [`Adam::step`], then zeroes `grad` for the next accumulation: block by block, each block
    /// cleared while it is still in L1 (one pass over the gradient instead of two).
    pub fn step_and_clear(&mut self, params: &mut P, grad: &mut P, lr: f32, c: AdamConfig) {
        let step = self.begin_step(lr, c);
        for i in 0..P::COUNT {
            let (p, g, m, v) = (params.tensor_mut(i), grad.tensor_mut(i), self.m.tensor_mut(i), self.v.tensor_mut(i));
            for (((p, g), m), v) in p
                .chunks_mut(CLEAR_BLOCK)
                .zip(g.chunks_mut(CLEAR_BLOCK))
                .zip(m.chunks_mut(CLEAR_BLOCK))
                .zip(v.chunks_mut(CLEAR_BLOCK))
            {
                step.apply(p, g, m, v);
                g.fill(0.0);
            }
        }
    }

    /// Advances the step count and returns the step's update, for callers that apply it to
    /// pieces of the parameters themselves (e.g. split across threads): applying it to every
    /// element once, in any order and any pieces, is exactly [`Adam::step`].
    pub fn begin_step(&mut self, lr: f32, c: AdamConfig) -> AdamStep {
        if self.t == 0 {
            self.beta_powers = [1.0, 1.0];
        }
        self.t += 1;
        self.beta_powers[0] *= c.beta1 as f64;
        self.beta_powers[1] *= c.beta2 as f64;
        let lr_t = (lr as f64 * libm::sqrt(1.0 - self.beta_powers[1]) / (1.0 - self.beta_powers[0])) as f32;
        AdamStep { lr_t, flush_v: self.t.is_multiple_of(V_FLUSH_PERIOD), config: c }
    }
}

/// One Adam step's elementwise update (from [`Adam::begin_step`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamStep {
    lr_t: f32,
    flush_v: bool,
    config: AdamConfig,
}

impl AdamStep {
    /// Updates the parameters `p` and their moments `m`, `v` (matching pieces of a tensor and
    /// of [`Adam::m`], [`Adam::v`]) with the gradient `g`; all four have the same length.
    pub fn apply(&self, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
        if self.flush_v {
            update::<true>(p, g, m, v, self.lr_t, self.config)
        } else {
            update::<false>(p, g, m, v, self.lr_t, self.config)
        }
    }
}

/// Values per block of [`Adam::step_and_clear`] (a multiple of the lane count; 16 KB of the
/// four arrays together).
const CLEAR_BLOCK: usize = 1024;

/// Gradients smaller than this in magnitude are taken as zero (see the module doc: subnormals).
const GRADIENT_FLOOR: f32 = 8.881_784e-16; // 2⁻⁵⁰
/// Moments smaller than this in magnitude are set to zero (see the module doc: subnormals).
const MOMENT_FLOOR: f32 = 7.888_609e-31; // 2⁻¹⁰⁰
/// `v` is flushed at the steps that are multiples of this (see the module doc: subnormals).
pub const V_FLUSH_PERIOD: u64 = 1024;

/// The elementwise update of one tensor; `FLUSH_V` also flushes the second moments.
///
/// In the widest vectors the target has ([`Wide`]: 16 lanes with AVX-512): the update is
/// element by element, so the width changes nothing in the results, only the number of
/// instructions. With AVX-512 the 16-lane form runs at the divider's throughput (the square
/// root and the division), about 25% faster than 8 lanes, which issue twice the other
/// instructions.
fn update<const FLUSH_V: bool>(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], lr_t: f32, c: AdamConfig) {
    let n = p.len().min(g.len()).min(m.len()).min(v.len());
    let full = n / WIDE_LANES * WIDE_LANES;
    let (b1, b2, eps, lr) = (Wide::splat(c.beta1), Wide::splat(c.beta2), Wide::splat(c.epsilon), Wide::splat(lr_t));
    let (one_b1, one_b2) = (Wide::splat(1.0 - c.beta1), Wide::splat(1.0 - c.beta2));
    let (g_floor, m_floor) = (Wide::splat(GRADIENT_FLOOR), Wide::splat(MOMENT_FLOOR));
    // Zero where |x| < floor; NaN fails the comparison and passes through, so a diverging run
    // still shows up as NaN parameters.
    let flush = |x: Wide, floor: Wide| x.abs().simd_lt(floor).select(Wide::ZERO, x);
    let (p_body, g_body) = (p[..full].chunks_exact_mut(WIDE_LANES), g[..full].chunks_exact(WIDE_LANES));
    let (m_body, v_body) = (m[..full].chunks_exact_mut(WIDE_LANES), v[..full].chunks_exact_mut(WIDE_LANES));
    for (((p, g), m), v) in p_body.zip(g_body).zip(m_body).zip(v_body) {
        let gv = flush(load::<WIDE_LANES>(g), g_floor);
        let mv = flush(b1 * load::<WIDE_LANES>(m) + one_b1 * gv, m_floor);
        let vv = b2 * load::<WIDE_LANES>(v) + one_b2 * gv * gv;
        let vv = if FLUSH_V { flush(vv, m_floor) } else { vv };
        store::<WIDE_LANES>(m, mv);
        store::<WIDE_LANES>(v, vv);
        store::<WIDE_LANES>(p, load::<WIDE_LANES>(p) - lr * mv / (vv.sqrt() + eps));
    }
    let flush = |x: f32, floor: f32| if x.abs() < floor { 0.0 } else { x };
    for i in full..n {
        let gi = flush(g[i], GRADIENT_FLOOR);
        m[i] = flush(c.beta1 * m[i] + (1.0 - c.beta1) * gi, MOMENT_FLOOR);
        v[i] = c.beta2 * v[i] + (1.0 - c.beta2) * gi * gi;
        if FLUSH_V {
            v[i] = flush(v[i], MOMENT_FLOOR);
        }
        p[i] -= lr_t * m[i] / (libm::sqrtf(v[i]) + c.epsilon);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_match_hand_computed_tensorflow_adam() {
        // One tensor of 19 values (one or two SIMD vectors + a scalar tail of 3), all the same history.
        let mut p = [1.0f32; 19];
        let mut st = Adam::<[f32; 19]>::zeroed();
        let c = AdamConfig::REBAR;
        let lr = 0.01;
        let grads = [0.5f32, -0.25, 2.0];
        // Hand computation in f64 of the TF formula.
        let (mut m, mut v, mut theta) = (0.0f64, 0.0f64, 1.0f64);
        for (t, &g) in grads.iter().enumerate() {
            let t = (t + 1) as i32;
            let gg = [g; 19];
            st.step(&mut p, &gg, lr, c);
            let g = g as f64;
            m = 0.9 * m + 0.1 * g;
            v = 0.99999 * v + (1.0 - 0.99999f32 as f64) * g * g;
            let lr_t = 0.01 * (1.0 - (0.99999f32 as f64).powi(t)).sqrt() / (1.0 - (0.9f32 as f64).powi(t));
            theta -= lr_t * m / (v.sqrt() + 1e-8);
            for &x in &p {
                assert!((x as f64 - theta).abs() < 2e-6, "step {t}: {x} vs {theta}");
            }
        }
        // First step of Adam moves every parameter by ≈ lr (the bias-corrected m/√v is ±1);
        // TF's form gives exactly lr·√(1−β₂)/(1−β₁)·0.1g/(√(1−β₂)·|g|) = lr.
        assert_eq!(st.t, 3);
    }

    #[test]
    fn step_and_clear_is_step_then_a_zero_gradient() {
        // 2,500 values: two whole blocks, a partial one, and a scalar tail in the last.
        const N: usize = 2 * CLEAR_BLOCK + 452 + 3;
        let grad: [f32; N] = core::array::from_fn(|k| ((k * 37 % 101) as f32 - 50.0) * 0.01);
        let (mut p1, mut p2) = ([0.5f32; N], [0.5f32; N]);
        let (mut a1, mut a2) = (Adam::<[f32; N]>::zeroed(), Adam::<[f32; N]>::zeroed());
        for _ in 0..3 {
            let mut g2 = grad;
            a1.step(&mut p1, &grad, 0.01, AdamConfig::REBAR);
            a2.step_and_clear(&mut p2, &mut g2, 0.01, AdamConfig::REBAR);
            assert_eq!(g2, [0.0; N]);
        }
        let same = |a: &[f32], b: &[f32]| a.iter().map(|x| x.to_bits()).eq(b.iter().map(|x| x.to_bits()));
        assert!(same(&p1, &p2) && same(&a1.m, &a2.m) && same(&a1.v, &a2.v));
        assert_eq!(a1.t, a2.t);
    }

    #[test]
    fn first_step_has_size_learning_rate() {
        let mut p = [0.0f32; 3];
        let mut st = Adam::<[f32; 3]>::zeroed();
        // (A gradient of 1e-3 would move less: TF's ε = 1e-8 is added to the uncorrected
        // √v = √(1 − β₂)·|g| ≈ 3e-6, a 0.3% effect.)
        st.step(&mut p, &[3.0, -0.05, 1e3], 0.1, AdamConfig::REBAR);
        for (x, s) in p.iter().zip([-1.0, 1.0, -1.0]) {
            assert!((x - 0.1 * s).abs() < 1e-4, "{x}");
        }
    }

    #[test]
    fn tiny_gradients_and_decayed_moments_are_flushed_to_zero_not_subnormal() {
        // 19 values: the SIMD body and the scalar tail. Lane k gets a gradient of 1e-30 (below the
        // floor: no effect at all) or 1.0 (a normal step), alternating.
        let grad: [f32; 19] = core::array::from_fn(|k| if k % 2 == 0 { 1e-30 } else { 1.0 });
        let mut p = [0.0f32; 19];
        let mut st = Adam::<[f32; 19]>::zeroed();
        st.step(&mut p, &grad, 0.1, AdamConfig::REBAR);
        for k in 0..19 {
            if k % 2 == 0 {
                assert_eq!((p[k], st.m[k], st.v[k]), (0.0, 0.0, 0.0), "lane {k}");
            } else {
                assert!(p[k] < -0.09 && st.m[k] > 0.0 && st.v[k] > 0.0, "lane {k}");
            }
        }
        // Then zero gradients: m decays by 0.9 a step and must reach exactly 0 without passing
        // through the subnormal range; v (β₂ = 0.99999) stays normal all along.
        for _ in 0..1000 {
            st.step(&mut p, &[0.0; 19], 0.1, AdamConfig::REBAR);
            for (&m, &v) in st.m.iter().zip(&st.v) {
                assert!(m == 0.0 || m.is_normal(), "subnormal m {m:e}");
                assert!(v == 0.0 || v.is_normal(), "subnormal v {v:e}");
            }
        }
        assert!(st.m.iter().all(|&m| m == 0.0), "m decayed to zero: {:?}", st.m);
    }

    #[test]
    fn subnormal_second_moments_are_flushed_periodically() {
        let mut p = [0.0f32; 19];
        let mut st = Adam::<[f32; 19]>::zeroed();
        st.step(&mut p, &[0.0; 19], 0.1, AdamConfig::REBAR);
        st.v = [1e-40; 19]; // subnormal, as ~700,000 zero-gradient steps would leave it
        while st.t + 1 < V_FLUSH_PERIOD {
            st.step(&mut p, &[0.0; 19], 0.1, AdamConfig::REBAR);
        }
        assert!(st.v.iter().all(|&v| v > 0.0), "kept until the flush step");
        st.step(&mut p, &[0.0; 19], 0.1, AdamConfig::REBAR);
        assert_eq!(st.v, [0.0; 19]);
    }

    #[test]
    fn nan_gradients_are_not_flushed() {
        let mut p = [0.0f32; 17];
        let mut st = Adam::<[f32; 17]>::zeroed();
        st.step(&mut p, &[f32::NAN; 17], 0.1, AdamConfig::REBAR);
        assert!(p.iter().all(|x| x.is_nan()));
    }

    #[test]
    fn zero_gradient_leaves_parameters_unchanged() {
        let mut p = [0.5f32; 17];
        let mut st = Adam::<[f32; 17]>::zeroed();
        st.step(&mut p, &[0.0; 17], 0.1, AdamConfig::REBAR);
        assert_eq!(p, [0.5; 17]);
    }
}
