//! DisARM (Dong, Mnih & Tucker 2020; peers.md §1.1): ARM with the uniform integrated out,
//! ĝ_a = ½·(f(b¹) − f(b²))·(−1)^{b²}·1[b¹ ≠ b²]·σ(|a|).

use super::antithetic::{PairRule, pair_cost, pair_estimate};
use super::{Cost, Diagnostics, Estimator};
use crate::math::scalar::sigmoid;
use crate::model::Sbn;
use bytemuck::Zeroable;
use rand_core::Rng;

/// The DisARM estimator.
#[derive(Zeroable, Debug, Clone, Copy, Default)]
pub struct DisArm;

impl PairRule for DisArm {
    fn logit_gradient(f_diff: f32, a: f32, _eps: f32, b1: f32, b2: f32) -> f32 {
        if b1 == b2 {
            return 0.0;
        }
        let sign = if b2 > 0.5 { -1.0 } else { 1.0 };
        0.5 * f_diff * sign * sigmoid(a.abs())
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
