//! SimpleMuProp (`SBNSimpleMuProp`, docs/estimators.md, *SimpleMuProp*): the learning signal
//! f(b) − s·f(μ) − c(x) with f(μ) the ELBO of the deterministic mean-field pass, a learned scale
//! s = 2σ(ρ) and the input-dependent baseline, both trained on the squared signal. MuProp without
//! the first-order Taylor term.

use super::{Baseline, Cost, Diagnostics, Estimator, Scales, draw_noise, set_score_dlogits};
use crate::model::{Relaxation, Sbn};
use crate::net::GradWrite;
use bytemuck::Zeroable;
use rand_core::Rng;

/// SimpleMuProp for inputs of `X` values and batches of at most `B`.
#[derive(Zeroable)]
#[repr(C)]
pub struct SimpleMuProp<const X: usize, const B: usize> {
    /// The baseline c(x).
    pub baseline: Baseline<X, B>,
    /// The scale s of f(μ) (entry 0).
    pub scale: Scales,
}

impl<const X: usize, const B: usize> SimpleMuProp<X, B> {
    /// Initialises the baseline network and sets s = 1.
    pub fn init<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        self.baseline.init(rng);
        self.scale.reset();
    }
}

impl<M, const X: usize, const H: usize, const B: usize> Estimator<M, H, B> for SimpleMuProp<X, B>
where
    M: Sbn<H, Input = [f32; X]>,
{
    fn name(&self) -> &'static str {
        "simple-muprop"
    }

    fn cost(&self) -> Cost {
        Cost { evaluations: 2, backward_passes: 0 }
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
        model.relaxed_forward(s, 0, Relaxation::Mean);
        let rows = M::rows(s);
        let (f, f_mu) = (rows.elbo, rows.relaxed_elbo);
        self.baseline.forward(M::centered_inputs(s), model.binary_inputs(s));
        let c = *self.baseline.values();
        let scale = self.scale.eta(0);
        let inv_n = 1.0 / n as f32;
        let (mut w, mut dc, mut d_scale) = ([0.0f32; B], [0.0f32; B], 0.0f32);
        for r in 0..n {
            let signal = f[r] - scale * f_mu[r] - c[r];
            w[r] = -signal * inv_n;
            // Squared-signal loss mean_r L_r²: ∂/∂c_r = −2L_r/n, ∂/∂s = Σ_r −2L_r·f(μ)_r/n.
            dc[r] = -2.0 * signal * inv_n;
            d_scale += -2.0 * signal * f_mu[r] * inv_n;
        }
        model.decoder_backward(s, &[-inv_n; B][..n], grad, GradWrite::Set);
        for l in 0..M::LAYERS {
            set_score_dlogits::<M, H, B>(s, l, &w[..n]);
            model.encoder_backward(s, l, grad, GradWrite::Set);
        }
        self.baseline.backward(M::centered_inputs(s), model.binary_inputs(s), &dc[..n]);
        self.scale.add_eta_gradient(0, d_scale);
        Diagnostics { elbo: f[..n].iter().sum::<f32>() * inv_n, eta_mean: Some(scale), ..Default::default() }
    }

    fn update_control_variates(&mut self, lr: f32) {
        self.baseline.step(lr);
        self.scale.step(lr);
    }

    fn visit_state(&mut self, v: &mut dyn crate::state::StateVisitor) {
        self.baseline.visit_state("baseline", v);
        self.scale.visit_state("scale", v);
    }

    fn visit_pending_gradients(&mut self, f: &mut dyn FnMut(&mut [f32])) {
        self.baseline.visit_gradient(f);
        f(&mut self.scale.grad);
    }
}
