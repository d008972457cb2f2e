//! NVIL as the official code implements it (`SBNNVIL`, docs/estimators.md, *NVIL*): learning signal
//! f(b) − c(x) with an input-dependent baseline trained on the squared signal; no running-mean
//! centring and no variance normalisation.

use super::{Baseline, Cost, Diagnostics, Estimator, draw_noise, set_score_dlogits};
use crate::model::Sbn;
use crate::net::GradWrite;
use bytemuck::Zeroable;
use rand_core::Rng;

/// NVIL for inputs of `X` values and batches of at most `B`.
#[derive(Zeroable)]
#[repr(C)]
pub struct Nvil<const X: usize, const B: usize> {
    /// The baseline c(x).
    pub baseline: Baseline<X, B>,
}

impl<const X: usize, const B: usize> Nvil<X, B> {
    /// Initialises the baseline network.
    pub fn init<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        self.baseline.init(rng);
    }
}

impl<M, const X: usize, const H: usize, const B: usize> Estimator<M, H, B> for Nvil<X, B>
where
    M: Sbn<H, Input = [f32; X]>,
{
    fn name(&self) -> &'static str {
        "nvil"
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
        self.baseline.forward(M::centered_inputs(s), model.binary_inputs(s));
        let c = *self.baseline.values();
        let inv_n = 1.0 / n as f32;
        let (mut w, mut dc) = ([0.0f32; B], [0.0f32; B]);
        for r in 0..n {
            let signal = f[r] - c[r];
            w[r] = -signal * inv_n;
            // Baseline loss mean_r (f − c)²: ∂/∂c_r = −2(f − c)/n.
            dc[r] = -2.0 * signal * inv_n;
        }
        model.decoder_backward(s, &[-inv_n; B][..n], grad, GradWrite::Set);
        for l in 0..M::LAYERS {
            set_score_dlogits::<M, H, B>(s, l, &w[..n]);
            model.encoder_backward(s, l, grad, GradWrite::Set);
        }
        self.baseline.backward(M::centered_inputs(s), model.binary_inputs(s), &dc[..n]);
        Diagnostics { elbo: f[..n].iter().sum::<f32>() * inv_n, ..Default::default() }
    }

    fn update_control_variates(&mut self, lr: f32) {
        self.baseline.step(lr);
    }

    fn visit_state(&mut self, v: &mut dyn crate::state::StateVisitor) {
        self.baseline.visit_state("baseline", v);
    }

    fn visit_pending_gradients(&mut self, f: &mut dyn FnMut(&mut [f32])) {
        self.baseline.visit_gradient(f);
    }
}
