//! MuProp (Gu et al. 2016) as the official `SBNMuProp` (docs/estimators.md, *MuProp*): per
//! stochastic layer i a first-order Taylor control variate around the mean-field pass μ,
//!
//! ```text
//! L_i = f(b) − s0_i·f(μ) − s1_i·f'(μ_i)·(b_i − μ_i) − c_i(x)
//! ∇ ≈ Σ_i [ L_i·∇log q(b_i | ·) + s1_i·∇(f'(μ_i)·σ(a_i)) ] + ∇log p(x, b)
//! ```
//!
//! where f'(μ_i) = ∂f(μ)/∂μ_i is the **total** derivative through every later layer of the
//! mean-field pass (held fixed), a_i are the hard pass's logits, and each layer has its own
//! baseline network c_i and scales s0_i, s1_i = 2σ(·), all trained on Σ_i L_i².

use super::{Baseline, Cost, Diagnostics, Estimator, Scales, draw_noise};
use crate::math::scalar::sigmoid;
use crate::model::{Relaxation, Sbn};
use crate::net::GradWrite;
use bytemuck::Zeroable;
use rand_core::Rng;

/// MuProp for inputs of `X` values, `H` units per stochastic layer, batches of at most `B`.
#[derive(Zeroable)]
#[repr(C)]
pub struct MuProp<const X: usize, const H: usize, const B: usize> {
    /// One baseline per stochastic layer.
    pub baselines: [Baseline<X, B>; 2],
    /// s0_i at index 2i, s1_i at index 2i + 1.
    pub scales: Scales,
    /// f'(μ_i) per layer, row, unit.
    f_prime: [[[f32; H]; B]; 2],
    /// μ_i per layer, row, unit.
    mu: [[[f32; H]; B]; 2],
}

impl<const X: usize, const H: usize, const B: usize> MuProp<X, H, B> {
    /// Initialises the baseline networks and sets every scale to 1.
    pub fn init<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        for b in &mut self.baselines {
            b.init(rng);
        }
        self.scales.reset();
    }
}

impl<M, const X: usize, const H: usize, const B: usize> Estimator<M, H, B> for MuProp<X, H, B>
where
    M: Sbn<H, Input = [f32; X]>,
{
    fn name(&self) -> &'static str {
        "muprop"
    }

    fn cost(&self) -> Cost {
        Cost { evaluations: 2, backward_passes: 1 }
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
        let inv_n = 1.0 / n as f32;
        draw_noise::<M, H, B, R>(s, rng);
        model.hard_forward(s, 0);
        // Mean-field pass and its total derivatives f'(μ_i) = ∂f(μ)/∂μ_i.
        model.relaxed_forward(s, 0, Relaxation::Mean);
        model.relaxed_backward(s, 0, Relaxation::Mean, 1.0, None);
        for i in 0..M::LAYERS {
            let layer = M::layer(s, i);
            self.f_prime[i] = layer.r_y_bar;
            self.mu[i] = layer.r_y;
        }
        let rows = M::rows(s);
        let (f, f_mu) = (rows.elbo, rows.relaxed_elbo);
        model.decoder_backward(s, &[-inv_n; B][..n], grad, GradWrite::Set);

        for i in 0..M::LAYERS {
            let (s0, s1) = (self.scales.eta(2 * i), self.scales.eta(2 * i + 1));
            self.baselines[i].forward(M::centered_inputs(s), model.binary_inputs(s));
            let c = *self.baselines[i].values();
            let (mut dc, mut d_s0, mut d_s1) = ([0.0f32; B], 0.0f32, 0.0f32);
            let layer = M::layer_mut(s, i);
            for r in 0..n {
                // Taylor term f'(μ_i)·(b_i − μ_i).
                let taylor: f32 = (0..H).map(|j| self.f_prime[i][r][j] * (layer.sample[r][j] - self.mu[i][r][j])).sum();
                let signal = f[r] - s0 * f_mu[r] - s1 * taylor - c[r];
                for j in 0..H {
                    let (a, b) = (layer.logits[r][j], layer.sample[r][j]);
                    let theta = sigmoid(a);
                    // Loss gradient: −(1/n)·[L·(b − θ) + s1·f'(μ)·σ'(a)].
                    layer.dlogits[r][j] =
                        -inv_n * (signal * (b - theta) + s1 * self.f_prime[i][r][j] * theta * (1.0 - theta));
                }
                dc[r] = -2.0 * signal * inv_n;
                d_s0 += -2.0 * signal * f_mu[r] * inv_n;
                d_s1 += -2.0 * signal * taylor * inv_n;
            }
            model.encoder_backward(s, i, grad, GradWrite::Set);
            self.baselines[i].backward(M::centered_inputs(s), model.binary_inputs(s), &dc[..n]);
            self.scales.add_eta_gradient(2 * i, d_s0);
            self.scales.add_eta_gradient(2 * i + 1, d_s1);
        }
        Diagnostics { elbo: f[..n].iter().sum::<f32>() * inv_n, ..Default::default() }
    }

    fn update_control_variates(&mut self, lr: f32) {
        for b in &mut self.baselines {
            b.step(lr);
        }
        self.scales.step(lr);
    }

    fn visit_state(&mut self, v: &mut dyn crate::state::StateVisitor) {
        for b in &mut self.baselines {
            b.visit_state("baseline", v);
        }
        self.scales.visit_state("scales", v);
    }

    fn visit_pending_gradients(&mut self, f: &mut dyn FnMut(&mut [f32])) {
        for b in &mut self.baselines {
            b.visit_gradient(f);
        }
        f(&mut self.scales.grad);
    }
}
