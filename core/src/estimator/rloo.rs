//! REINFORCE leave-one-out with K samples (Kool et al. 2019; docs/estimators.md, *RLOO*):
//! ĝ = (1/K)·Σ_k (f(b_k) − mean_{j≠k} f(b_j))·∇log q(b_k) + (1/K)·Σ_k ∇log p(x, b_k).
//!
//! The first layer's score depends on the sample only through (b − θ) at the same input x, so
//! its K terms are summed in logit space and backpropagated once, in a single pass over the
//! samples. Higher layers' inputs differ per sample: their terms replay each sample's noise in a
//! second pass.

use super::{Cost, Diagnostics, Estimator, draw_noise, set_score_dlogits};
use crate::model::Sbn;
use crate::net::GradWrite;
use bytemuck::Zeroable;
use rand_core::Rng;

/// RLOO with `K ≥ 2` samples per example, `H` units per layer, batches of at most `B`.
#[derive(Zeroable)]
#[repr(C)]
pub struct Rloo<const K: usize, const H: usize, const B: usize> {
    noise: [[[[f32; H]; B]; 2]; K],
    elbo: [[f32; B]; K],
    sum_f_score: [[f32; H]; B],
    sum_score: [[f32; H]; B],
}

impl<M: Sbn<H>, const K: usize, const H: usize, const B: usize> Estimator<M, H, B> for Rloo<K, H, B> {
    fn name(&self) -> &'static str {
        "rloo"
    }

    fn cost(&self) -> Cost {
        Cost { evaluations: (K * M::LAYERS) as u32, backward_passes: 0 }
    }

    fn estimate<R: Rng + ?Sized>(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        rng: &mut R,
        grad: &mut M,
    ) -> Diagnostics {
        const { assert!(K >= 2, "RLOO needs at least two samples") };
        let n = M::rows(s).n;
        if n == 0 {
            grad.fill_zero();
            return Diagnostics::default();
        }
        let scale = 1.0 / (n * K) as f32;
        let k_minus_1 = (K - 1) as f32;
        self.sum_f_score = [[0.0; H]; B];
        self.sum_score = [[0.0; H]; B];
        for k in 0..K {
            draw_noise::<M, H, B, R>(s, rng);
            for l in 0..M::LAYERS {
                self.noise[k][l] = M::layer(s, l).noise;
            }
            model.hard_forward(s, 0);
            self.elbo[k] = M::rows(s).elbo;
            model.decoder_backward(s, &[-scale; B][..n], grad, GradWrite::first(k == 0));
            let layer = M::layer(s, 0);
            for r in 0..n {
                for j in 0..H {
                    let score = layer.sample[r][j] - layer.prob[r][j];
                    self.sum_f_score[r][j] += self.elbo[k][r] * score;
                    self.sum_score[r][j] += score;
                }
            }
        }
        let total: [f32; B] = core::array::from_fn(|r| (0..K).map(|k| self.elbo[k][r]).sum());
        // Σ_k (f_k − (S − f_k)/(K−1))·score_k = (K/(K−1))·Σ_k f_k·score_k − (S/(K−1))·Σ_k score_k.
        let layer = M::layer_mut(s, 0);
        for r in 0..n {
            for j in 0..H {
                let signal_score = (K as f32 * self.sum_f_score[r][j] - total[r] * self.sum_score[r][j]) / k_minus_1;
                layer.dlogits[r][j] = -scale * signal_score;
            }
        }
        model.encoder_backward(s, 0, grad, GradWrite::Set);
        if M::LAYERS > 1 {
            for k in 0..K {
                for l in 0..M::LAYERS {
                    M::layer_mut(s, l).noise = self.noise[k][l];
                }
                model.hard_forward(s, 0);
                let mut w = [0.0f32; B];
                for r in 0..n {
                    w[r] = -scale * (self.elbo[k][r] - (total[r] - self.elbo[k][r]) / k_minus_1);
                }
                for l in 1..M::LAYERS {
                    set_score_dlogits::<M, H, B>(s, l, &w[..n]);
                    model.encoder_backward(s, l, grad, GradWrite::first(k == 0));
                }
            }
        }
        let mean = total[..n].iter().sum::<f32>() / (n * K) as f32;
        Diagnostics { elbo: mean, ..Default::default() }
    }

    fn update_control_variates(&mut self, _lr: f32) {}
}
