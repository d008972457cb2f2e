//! Learned scales η = 2σ(ρ) ∈ (0, 2), ρ = 0 at the start (η = 1): REBAR's one η per parameter
//! tensor (the official `multiply_by_eta_per_layer`, docs/estimators.md, *REBAR: per-tensor η*) and MuProp's scaling
//! baselines (`_create_eta`).

use super::MAX_TENSORS;
use crate::math::scalar::sigmoid;
use crate::optim::{Adam, AdamConfig};
use bytemuck::Zeroable;

/// Up to [`MAX_TENSORS`] scales with their pre-activations, gradient and Adam state.
#[derive(Zeroable)]
#[repr(C)]
pub struct Scales {
    /// Pre-activations ρ; η = 2σ(ρ).
    pub rho: [f32; MAX_TENSORS],
    /// Accumulated gradient of ρ.
    pub grad: [f32; MAX_TENSORS],
    /// Adam state of ρ.
    pub adam: Adam<[f32; MAX_TENSORS]>,
}

impl Scales {
    /// Resets to η = 1 everywhere.
    pub fn reset(&mut self) {
        *self = Self::zeroed();
        self.adam.reset();
    }

    /// η_t (1 past the end).
    pub fn eta(&self, t: usize) -> f32 {
        2.0 * sigmoid(self.rho.get(t).copied().unwrap_or(0.0))
    }

    /// All η.
    pub fn etas(&self) -> [f32; MAX_TENSORS] {
        core::array::from_fn(|t| self.eta(t))
    }

    /// Adds ∂V/∂η_t, converted to ∂V/∂ρ_t = ∂V/∂η_t · η_t(1 − η_t/2).
    pub fn add_eta_gradient(&mut self, t: usize, d_eta: f32) {
        if t < MAX_TENSORS {
            let e = self.eta(t);
            self.grad[t] += d_eta * e * (1.0 - 0.5 * e);
        }
    }

    /// Mean η over the first `count` scales.
    pub fn mean(&self, count: usize) -> f32 {
        let count = count.clamp(1, MAX_TENSORS);
        (0..count).map(|t| self.eta(t)).sum::<f32>() / count as f32
    }

    /// Shows ρ, its pending gradient and its Adam state under `key`.
    pub fn visit_state(&mut self, key: &'static str, v: &mut dyn crate::state::StateVisitor) {
        v.f32s(key, 0, &mut self.rho);
        v.f32s(key, 1, &mut self.grad);
        self.adam.visit_state(key, v);
    }

    /// One Adam step on the accumulated gradient, which is then cleared.
    pub fn step(&mut self, lr: f32) {
        self.adam.step(&mut self.rho, &self.grad, lr, AdamConfig::REBAR);
        self.grad = [0.0; MAX_TENSORS];
    }
}
