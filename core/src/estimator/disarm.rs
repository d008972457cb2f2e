//! DisARM (Dong, Mnih & Tucker 2020; docs/estimators.md, *DisARM*): ARM with the uniform integrated out,
//! ĝ_a = ½·(f(b¹) − f(b²))·(−1)^{b²}·1[b¹ ≠ b²]·σ(|a|).

use super::antithetic::{PairRule, pair_cost, pair_estimate};
use super::{Cost, Diagnostics, Estimator};
use crate::math::simd::sigmoid_libm_x8;
use crate::model::Sbn;
use bytemuck::Zeroable;
use rand_core::Rng;
use wide::f32x8;

/// The DisARM estimator.
#[derive(Zeroable, Debug, Clone, Copy, Default)]
pub struct DisArm;

impl PairRule for DisArm {
    fn logit_gradient(f_diff: f32x8, a: f32x8, _eps: f32x8, b1: f32x8, b2: f32x8) -> f32x8 {
        let sign = b2.simd_gt(f32x8::splat(0.5)).select(f32x8::splat(-1.0), f32x8::ONE);
        let g = f32x8::splat(0.5) * f_diff * sign * sigmoid_libm_x8(a.abs());
        b1.simd_eq(b2).select(f32x8::ZERO, g)
    }
}

impl<M: Sbn<H>, const H: usize, const B: usize> Estimator<M, H, B> for DisArm {
    fn name(&self) -> &'static str {
        "disarm"
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
        pair_estimate::<DisArm, M, H, B, R>(model, s, rng, grad)
    }
    fn update_control_variates(&mut self, _lr: f32) {}
}
