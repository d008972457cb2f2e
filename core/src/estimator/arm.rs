//! ARM (Yin & Zhou 2019; docs/estimators.md, *ARM*): per unit of layer l,
//! ĝ_a = (f(b¹) − f(b²))·(u − ½), with the antithetic pair of [`super::antithetic`].

use super::antithetic::{PairRule, pair_cost, pair_estimate};
use super::{Cost, Diagnostics, Estimator};
use crate::math::simd::sigmoid_libm_x8;
use crate::model::Sbn;
use bytemuck::Zeroable;
use rand_core::Rng;
use wide::f32x8;

/// The Augment-REINFORCE-Merge estimator.
#[derive(Zeroable, Debug, Clone, Copy, Default)]
pub struct Arm;

impl PairRule for Arm {
    fn logit_gradient(f_diff: f32x8, _a: f32x8, eps: f32x8, _b1: f32x8, _b2: f32x8) -> f32x8 {
        // u = σ(ε) recovers the uniform behind the logistic noise.
        f_diff * (sigmoid_libm_x8(eps) - f32x8::splat(0.5))
    }
}

impl<M: Sbn<H>, const H: usize, const B: usize> Estimator<M, H, B> for Arm {
    fn name(&self) -> &'static str {
        "arm"
    }
    fn cost(&self) -> Cost {
        pair_cost(M::LAYERS)
    }
    fn estimate<R: Rng + ?Sized>(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        rng: &mut R,
        grad: &mut M,
    ) -> Diagnostics {
        pair_estimate::<Arm, M, H, B, R>(model, s, rng, grad)
    }
    fn update_control_variates(&mut self, _lr: f32) {}
}
