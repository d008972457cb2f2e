//! REINFORCE with the leave-one-out batch baseline (the official `SBN` model,
//! docs/estimators.md, *REINFORCE*): learning signal f(bᵢ) − mean_{j≠i} f(bⱼ).

use super::{Cost, Diagnostics, Estimator, Shape, ShardEstimate, draw_noise, set_score_dlogits};
use crate::fork::Fork;
use crate::model::Sbn;
use crate::net::GradWrite;
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
        let sum = sample(model, s, rng);
        gradient(model, s, grad, sum, M::rows(s).n)
    }

    fn update_control_variates(&mut self, _lr: f32) {}

    fn shape(&self) -> Shape {
        Shape::BatchElbo
    }

    fn estimate_shard<R: Rng + ?Sized, F: Fork>(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        _second: Option<&mut M::Scratch<B>>,
        rng: &mut R,
        _grad: &mut M,
        _fork: &F,
    ) -> ShardEstimate {
        ShardEstimate::ElboSum(sample(model, s, rng))
    }

    fn finish_batch_elbo(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        grad: &mut M,
        batch_elbo_sum: f32,
        batch_size: usize,
    ) -> Diagnostics {
        gradient(model, s, grad, batch_elbo_sum, batch_size)
    }
}

/// Stage 1: draws the noise and runs the hard pass for the loaded rows; returns Σ_r f(b_r) over
/// them.
fn sample<M: Sbn<H>, const H: usize, const B: usize, R: Rng + ?Sized>(
    model: &M,
    s: &mut M::Scratch<B>,
    rng: &mut R,
) -> f32 {
    let n = M::rows(s).n;
    if n == 0 {
        return 0.0;
    }
    draw_noise::<M, H, B, R>(s, rng);
    model.hard_forward(s, 0);
    M::rows(s).elbo[..n].iter().sum()
}

/// Stage 2: the loss gradient as a mean over the loaded rows, each example's baseline being
/// the mean ELBO of the *other* examples of a batch of `batch_size` examples whose ELBOs sum
/// to `batch_sum` (the loaded rows among them).
fn gradient<M: Sbn<H>, const H: usize, const B: usize>(
    model: &M,
    s: &mut M::Scratch<B>,
    grad: &mut M,
    batch_sum: f32,
    batch_size: usize,
) -> Diagnostics {
    let n = M::rows(s).n;
    if n == 0 {
        grad.fill_zero();
        return Diagnostics::default();
    }
    let f = M::rows(s).elbo;
    let inv_n = 1.0 / n as f32;
    let mut w = [0.0f32; B];
    for r in 0..n {
        let others = if batch_size > 1 { (batch_sum - f[r]) / (batch_size - 1) as f32 } else { 0.0 };
        // Loss = −ELBO: the score term enters with a minus sign.
        w[r] = -(f[r] - others) * inv_n;
    }
    model.decoder_backward(s, &[-inv_n; B][..n], grad, GradWrite::Set);
    for l in 0..M::LAYERS {
        set_score_dlogits::<M, H, B>(s, l, &w[..n]);
        model.encoder_backward(s, l, grad, GradWrite::Set);
    }
    Diagnostics { elbo: f[..n].iter().sum::<f32>() * inv_n, ..Default::default() }
}
