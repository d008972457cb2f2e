//! The official gradient-variance metric (docs/protocol.md, *Gradient variance metric*): exponential moving averages
//! (decay 0.999, started at 0 with no bias correction) of every gradient component g_j and of
//! g_j², and per step the estimate mean_j(EMA\[g_j²\] − EMA\[g_j\]²).

use rebar_core::Tensors;
use rebar_core::math::simd::{LANES, load, load_partial, store, store_partial};
use wide::f32x8;

/// Decay of the moving averages.
pub const DECAY: f32 = 0.999;

/// The two moving averages over a gradient of type `M`.
pub struct VarianceTracker<M> {
    /// EMA of g.
    pub first: Box<M>,
    /// EMA of g².
    pub second: Box<M>,
}

impl<M: Tensors + bytemuck::Zeroable> VarianceTracker<M> {
    /// Both averages at zero.
    pub fn new() -> Self {
        VarianceTracker { first: bytemuck::zeroed_box(), second: bytemuck::zeroed_box() }
    }

    /// Folds in one gradient and returns this step's variance estimate, or `None` if the
    /// gradient holds a NaN or an infinity (the averages are then poisoned: stop the run).
    ///
    /// One vectorised pass; the sum runs in f32 lanes flushed to f64 every 1,024 values, so it
    /// keeps its precision over 10⁵–10⁶ parameters. Each average is updated exactly as the
    /// scalar formula would. The trainer folds the same blocks inside its last pass, beside
    /// Adam's step ([`crate::train::last_pass`], whose tests hold it to this method bit for bit).
    pub fn update(&mut self, grad: &M) -> Option<f64> {
        let mut sums = Sums::new();
        for t in 0..M::COUNT {
            fold(grad.tensor(t), self.first.tensor_mut(t), self.second.tensor_mut(t), &mut sums);
        }
        sums.variance()
    }
}

/// Running sums of one [`VarianceTracker::update`] (over pieces of the gradient, for callers that
/// split it across threads and then [`Sums::merge`] the pieces' sums in a fixed order).
#[derive(Debug, Clone, Copy)]
pub struct Sums {
    total: f64,
    count: usize,
    /// An all-ones lane mask while every value was finite.
    finite: f32x8,
}

impl Sums {
    /// Nothing folded yet.
    pub fn new() -> Self {
        Sums { total: 0.0, count: 0, finite: f32x8::splat(f32::from_bits(u32::MAX)) }
    }

    /// Adds another piece's sums.
    pub fn merge(&mut self, other: &Sums) {
        self.total += other.total;
        self.count += other.count;
        self.finite &= other.finite;
    }

    /// mean_j(EMA\[g_j²\] − EMA\[g_j\]²), or `None` if a value was not finite.
    pub fn variance(&self) -> Option<f64> {
        self.finite().then(|| self.total / self.count.max(1) as f64)
    }

    /// Whether every value seen was finite.
    pub fn finite(&self) -> bool {
        self.finite.all()
    }
}

impl Default for Sums {
    fn default() -> Self {
        Self::new()
    }
}

/// Only the finiteness check of [`fold`], for a gradient piece without averages.
pub fn check_finite(g: &[f32], sums: &mut Sums) {
    let full = g.len() / LANES * LANES;
    for i in (0..full).step_by(LANES) {
        sums.finite &= load(&g[i..]).is_finite();
    }
    sums.finite &= load_partial(&g[full..]).is_finite();
}

/// Folds the gradient piece `g` into the matching pieces `m1`, `m2` of the two averages, adding
/// to `sums`. Pieces that start at multiples of 1,024 within their tensor sum exactly as the
/// whole tensor would, block by block.
pub fn fold(g: &[f32], m1: &mut [f32], m2: &mut [f32], sums: &mut Sums) {
    let (decay, rest) = (f32x8::splat(DECAY), f32x8::splat(1.0 - DECAY));
    sums.count += g.len();
    for ((g, m1), m2) in g.chunks(1024).zip(m1.chunks_mut(1024)).zip(m2.chunks_mut(1024)) {
        let mut acc = f32x8::ZERO;
        let mut lane = |g: f32x8, a: f32x8, b: f32x8| {
            let (a, b) = (decay * a + rest * g, decay * b + rest * g * g);
            acc += b - a * a;
            sums.finite &= g.is_finite();
            (a, b)
        };
        let full = g.len() / LANES * LANES;
        for i in (0..full).step_by(LANES) {
            let (a, b) = lane(load(&g[i..]), load(&m1[i..]), load(&m2[i..]));
            store(&mut m1[i..], a);
            store(&mut m2[i..], b);
        }
        // The tail's padding lanes are zero in g, a and b, so they add 0.
        let (a, b) = lane(load_partial(&g[full..]), load_partial(&m1[full..]), load_partial(&m2[full..]));
        store_partial(&mut m1[full..], a);
        store_partial(&mut m2[full..], b);
        sums.total += acc.reduce_add() as f64;
    }
}

impl<M: Tensors + bytemuck::Zeroable> Default for VarianceTracker<M> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_gradient_has_vanishing_variance_and_noise_does_not() {
        let mut t = VarianceTracker::<[f32; 4]>::new();
        let mut v = 0.0;
        for _ in 0..20_000 {
            v = t.update(&[1.0, -2.0, 0.5, 3.0]).unwrap();
        }
        assert!(v.abs() < 1e-4, "{v}");
        let mut t = VarianceTracker::<[f32; 2]>::new();
        for i in 0..20_000 {
            let s = if i % 2 == 0 { 1.0 } else { -1.0 };
            v = t.update(&[s, -s]).unwrap();
        }
        assert!((v - 1.0).abs() < 0.01, "{v}");
    }

    #[test]
    fn averages_match_the_scalar_formula_and_non_finite_gradients_are_reported() {
        // 1,030 + 10 values: several 1,024-value sums, partial lane chunks, two tensors.
        type G = rebar_core::net::Dense<103, 10>;
        let mut t = VarianceTracker::<G>::new();
        let (mut first, mut second) = (vec![0.0f32; 1040], vec![0.0f32; 1040]);
        let mut grad: Box<G> = bytemuck::zeroed_box();
        let mut state = 0x1234_5678u32;
        for _ in 0..50 {
            let mut all = Vec::new();
            for k in 0..G::COUNT {
                for g in grad.tensor_mut(k) {
                    state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    *g = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
                    all.push(*g);
                }
            }
            let v = t.update(&grad).unwrap();
            for ((a, b), &g) in first.iter_mut().zip(&mut second).zip(&all) {
                *a = DECAY * *a + (1.0 - DECAY) * g;
                *b = DECAY * *b + (1.0 - DECAY) * g * g;
            }
            let tracked: Vec<f32> = (0..G::COUNT).flat_map(|k| t.first.tensor(k).to_vec()).collect();
            assert_eq!(tracked, first);
            let tracked: Vec<f32> = (0..G::COUNT).flat_map(|k| t.second.tensor(k).to_vec()).collect();
            assert_eq!(tracked, second);
            let exact =
                first.iter().zip(&second).map(|(&a, &b)| b as f64 - (a as f64) * (a as f64)).sum::<f64>() / 1040.0;
            assert!((v - exact).abs() <= 1e-5 * exact.abs(), "{v} vs {exact}");
        }
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut t = VarianceTracker::<G>::new();
            grad.tensor_mut(1)[9] = bad;
            assert_eq!(t.update(&grad), None, "{bad}");
        }
    }
}
