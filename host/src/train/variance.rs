//! The official gradient-variance metric (rebar-reference.md §8.3): exponential moving averages
//! (decay 0.999, started at 0 with no bias correction) of every gradient component g_j and of
//! g_j², and per step the estimate mean_j(EMA[g_j²] − EMA[g_j]²).

use rebar_core::Tensors;

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

    /// Folds in one gradient and returns this step's variance estimate.
    pub fn update(&mut self, grad: &M) -> f64 {
        let (mut total, mut count) = (0.0f64, 0usize);
        for t in 0..M::COUNT {
            let g = grad.tensor(t);
            let (m1, m2) = (self.first.tensor_mut(t), self.second.tensor_mut(t));
            let mut acc = 0.0f32;
            for ((a, b), &gv) in m1.iter_mut().zip(m2.iter_mut()).zip(g) {
                *a = DECAY * *a + (1.0 - DECAY) * gv;
                *b = DECAY * *b + (1.0 - DECAY) * gv * gv;
                acc += *b - *a * *a;
            }
            total += acc as f64;
            count += g.len();
        }
        total / count.max(1) as f64
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
            v = t.update(&[1.0, -2.0, 0.5, 3.0]);
        }
        assert!(v.abs() < 1e-4, "{v}");
        let mut t = VarianceTracker::<[f32; 2]>::new();
        for i in 0..20_000 {
            let s = if i % 2 == 0 { 1.0 } else { -1.0 };
            v = t.update(&[s, -s]);
        }
        assert!((v - 1.0).abs() < 0.01, "{v}");
    }
}
