//! REINFORCE with the leave-one-out batch baseline (the official `SBN` model,
//! rebar-reference.md §5): learning signal f(bᵢ) − mean_{j≠i} f(bⱼ).

use super::{Cost, Diagnostics, Estimator, draw_noise, set_score_dlogits};
use crate::model::Sbn;
use bytemuck::Zeroable;
use rand_core::Rng;

/// REINFORCE, centred by the mean ELBO of the other examples in the batch (no baseline with a
/// single example).
#[derive(Zeroable, Debug, Clone, Copy, Default)]
pub struct Reinforce;

impl<M: Sbn<H>, const H: usize, const B: usize> Estimator<M, H, B> for Reinforce {
    fn name(&self) -> &'static str {
        "reinforce"
    }

    fn cost(&self) -> Cost {
        Cost { evaluations: 1, backward_passes: 0 }
    }

    fn estimate<R: Rng + ?Sized>(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        rng: &mut R,
        grad: &mut M,
    ) -> Diagnostics {
        let n = M::rows(s).n;
        if n == 0 {
            grad.fill_zero();
            return Diagnostics::default();
        }
        draw_noise::<M, H, B, R>(s, rng);
        model.hard_forward(s, 0);
        let f = M::rows(s).elbo;
        let sum: f32 = f[..n].iter().sum();
        let inv_n = 1.0 / n as f32;
        let mut w = [0.0f32; B];
        for r in 0..n {
            let others = if n > 1 { (sum - f[r]) / (n - 1) as f32 } else { 0.0 };
            // Loss = −ELBO: the score term enters with a minus sign.
            w[r] = -(f[r] - others) * inv_n;
        }
        grad.fill_zero();
        model.decoder_backward(s, &[-inv_n; B][..n], grad);
        for l in 0..M::LAYERS {
            set_score_dlogits::<M, H, B>(s, l, &w[..n]);
            model.encoder_backward(s, l, grad);
        }
        Diagnostics { elbo: sum * inv_n, ..Default::default() }
    }

    fn update_control_variates(&mut self, _lr: f32) {}
}
