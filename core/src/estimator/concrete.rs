//! The Concrete (Gumbel-softmax) estimator `SBNGumbel` (docs/estimators.md, *Concrete*): the gradient of
//! the relaxed ELBO f(y), every layer relaxed. **Biased**: it estimates the gradient of a
//! different objective; the test suite shows the bias by exact enumeration.

use super::{Cost, Diagnostics, Estimator, draw_noise};
use crate::model::{Relaxation, Sbn};
use crate::net::GradWrite;
use bytemuck::Zeroable;
use rand_core::Rng;

/// Concrete(λ), with the modified relaxation σ(z/λ + a·λ/(λ+1)) by default as in the official
/// code, or the plain σ(z/λ).
#[derive(Zeroable, Debug, Clone, Copy)]
#[repr(C)]
pub struct Concrete {
    /// λ.
    pub temperature: f32,
    /// Use the plain relaxation σ(z/λ) instead of the modified one.
    pub plain: bool,
}

impl Concrete {
    /// Concrete(λ) with the modified relaxation.
    pub fn new(temperature: f32) -> Self {
        Concrete { temperature, plain: false }
    }

    fn relaxation(&self) -> Relaxation {
        if self.plain {
            Relaxation::Plain { temperature: self.temperature }
        } else {
            Relaxation::Modified { temperature: self.temperature }
        }
    }
}

impl<M: Sbn<H>, const H: usize, const B: usize> Estimator<M, H, B> for Concrete {
    fn name(&self) -> &'static str {
        "concrete"
    }

    fn cost(&self) -> Cost {
        // The hard pass gives the reported ELBO (and the encoder logits the relaxation starts from).
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
        draw_noise::<M, H, B, R>(s, rng);
        model.hard_forward(s, 0);
        let relax = self.relaxation();
        model.relaxed_forward(s, 0, relax);
        model.relaxed_backward(s, 0, relax, -1.0 / n as f32, Some((grad, GradWrite::Set)));
        let elbo = M::rows(s).elbo[..n].iter().sum::<f32>() / n as f32;
        Diagnostics { elbo, temperature: Some(self.temperature), ..Default::default() }
    }

    fn update_control_variates(&mut self, _lr: f32) {}
}
