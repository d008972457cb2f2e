//! RELAX (Grathwohl et al. 2018; docs/estimators.md, *RELAX*): REBAR's control variate η·f(σ_λ(z)) plus a
//! learned neural term r_ψ(z), per stochastic layer k,
//!
//! ```text
//! R = ∇ mean_i [ r(z̃_k)·log q(b_k) − r(z_k) + r(z̃_k) ]          (r(z̃) held fixed in the first term)
//! g = A + η ⊙ B + R                                               (A, B as in REBAR)
//! ```
//!
//! with coupled noise (z̃ = z in value), so the logit gradient of R is
//! (1/n)·[r(z)·(b − θ) + ∇_z r(z) ⊙ (∂z̃/∂a − 1)]. ψ descends the same variance objective as η, λ
//! and the baseline, with the exact gradient
//!
//! ```text
//! ∂V/∂ψ = (2/N)(1/n)·Σ_i [ ⟨v_i, b_i − θ_i⟩·∇_ψ r(z_i) + ∇_ψ ⟨v_i ⊙ (∂z̃/∂a − 1), ∇_z r(z_i)⟩ ],   v_i = J_i·g,
//! ```
//!
//! whose second term (the parameter gradient of a directional derivative) is written out by hand
//! for r's one tanh hidden layer below. r's output weights start at zero, so RELAX starts as REBAR.

use super::rebar::{Rebar, RebarConfig, RebarConfigError, TildeNoise};
use super::{Cost, Diagnostics, Estimator, GradientTotals, Shape, ShardEstimate, coupled_dz_tilde_minus_one};
use crate::fork::Fork;
use crate::math::scalar::tanh;
use crate::model::Sbn;
use crate::net::GradWrite;
use crate::optim::{Adam, AdamConfig};
use crate::random::init_weights;
use crate::tensors::{Tensors, impl_tensors_for_fields};
use bytemuck::Zeroable;
use rand_core::Rng;

/// r_ψ(z) = w₂·tanh(z·W₁ + b₁) + b₂ on the `H` logistic samples of one stochastic layer, with
/// `RH` hidden units.
#[derive(Zeroable)]
#[repr(C)]
pub struct RelaxNet<const H: usize, const RH: usize> {
    /// Input weights, input-major.
    pub w1: [[f32; RH]; H],
    /// Hidden biases.
    pub b1: [f32; RH],
    /// Output weights.
    pub w2: [f32; RH],
    /// Output bias.
    pub b2: [f32; 1],
}

impl_tensors_for_fields!(
    RelaxNet<H, RH>,
    [(w1, [[f32; RH]; H], "w1"), (b1, [f32; RH], "b1"), (w2, [f32; RH], "w2"), (b2, [f32; 1], "b2")],
    [const H: usize, const RH: usize]
);

impl<const H: usize, const RH: usize> RelaxNet<H, RH> {
    /// Hidden activations h = tanh(z·W₁ + b₁) and the output r.
    fn forward(&self, z: &[f32; H], h: &mut [f32; RH]) -> f32 {
        *h = self.b1;
        for (&zj, row) in z.iter().zip(&self.w1) {
            for (hm, &w) in h.iter_mut().zip(row) {
                *hm += zj * w;
            }
        }
        for hm in h.iter_mut() {
            *hm = tanh(*hm);
        }
        h.iter().zip(&self.w2).map(|(&hm, &w)| hm * w).sum::<f32>() + self.b2[0]
    }
}

/// RELAX for a model `M` with inputs of `X` values, `H` units per stochastic layer, batches of at
/// most `B`, and `RH` hidden units in each layer's r network. Large: keep it in a `Box`.
#[derive(Zeroable)]
#[repr(C)]
pub struct Relax<M, const X: usize, const H: usize, const B: usize, const RH: usize> {
    /// The REBAR part: A, B, η, λ and the baseline.
    pub rebar: Rebar<M, X, H, B>,
    /// One r network per stochastic layer.
    pub nets: [RelaxNet<H, RH>; 2],
    grads: [RelaxNet<H, RH>; 2],
    adams: [Adam<RelaxNet<H, RH>>; 2],
    z: [[[f32; H]; B]; 2],
    dz: [[[f32; H]; B]; 2],
}

impl<M, const X: usize, const H: usize, const B: usize, const RH: usize> Relax<M, X, H, B, RH>
where
    M: Sbn<H, Input = [f32; X]>,
{
    /// Configures the REBAR part (coupled noise only) and initialises the r networks with zero
    /// output weights.
    pub fn init<R: Rng + ?Sized>(&mut self, config: RebarConfig, rng: &mut R) -> Result<(), RebarConfigError> {
        if config.tilde != TildeNoise::Coupled {
            return Err(RebarConfigError::RelaxNeedsCoupledNoise);
        }
        self.rebar.init(config, rng)?;
        for (net, (g, a)) in self.nets.iter_mut().zip(self.grads.iter_mut().zip(&mut self.adams)) {
            init_weights(rng, net.w1.as_flattened_mut(), H);
            net.b1 = [0.0; RH];
            net.w2 = [0.0; RH];
            net.b2 = [0.0];
            g.fill_zero();
            a.reset();
        }
        Ok(())
    }

    /// Stage 1 of an estimate (as [`Rebar::estimate_parts`]): A plus RELAX's term R in `grad`,
    /// B in the REBAR part's. Returns false for an empty batch.
    fn estimate_parts<R: Rng + ?Sized>(&mut self, model: &M, s: &mut M::Scratch<B>, rng: &mut R, grad: &mut M) -> bool {
        if !self.rebar.estimate_parts(model, s, rng, grad) {
            return false;
        }
        self.add_relax_term(model, s, grad);
        true
    }

    /// [`Relax::estimate_parts`] with the REBAR part's halves run through `fork`
    /// ([`Rebar::estimate_parts_forked`]: `s_score` must hold the same batch as `s`); the
    /// results are [`Relax::estimate_parts`]'s bit for bit.
    fn estimate_parts_forked<R: Rng + ?Sized, F: Fork>(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        s_score: &mut M::Scratch<B>,
        rng: &mut R,
        grad: &mut M,
        fork: &F,
    ) -> bool
    where
        M: Send + Sync,
        M::Scratch<B>: Send,
    {
        if !self.rebar.estimate_parts_forked(model, s, s_score, rng, grad, fork) {
            return false;
        }
        // R reads the hard pass's logits, noise and samples in `s`, and writes its own adjoints.
        self.add_relax_term(model, s, grad);
        true
    }

    /// Stage 2 (as [`Rebar::variance_gradients`]), plus the variance gradient of the r networks.
    fn variance_gradients(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        grad: &M,
        totals: &GradientTotals,
    ) -> Diagnostics {
        let d = self.rebar.variance_gradients(model, s, grad, totals);
        if self.rebar.trains_control_variates() {
            self.add_psi_gradient(s, totals.count);
        }
        d
    }

    /// [`Relax::variance_gradients`] with the REBAR part's
    /// [`Rebar::variance_gradients_forked`] (`s_score`: a workspace after the same batch's hard
    /// pass); the same results.
    fn variance_gradients_forked<F: Fork>(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        s_score: &mut M::Scratch<B>,
        grad: &M,
        totals: &GradientTotals,
        fork: &F,
    ) -> Diagnostics
    where
        M: Sync,
        M::Scratch<B>: Send,
    {
        let d = self.rebar.variance_gradients_forked(model, s, s_score, grad, totals, fork);
        if self.rebar.trains_control_variates() {
            self.add_psi_gradient(s, totals.count);
        }
        d
    }

    /// Adds R to `grad` for every layer, keeping z and ∂z̃/∂a − 1 for the ψ-gradient.
    fn add_relax_term(&mut self, model: &M, s: &mut M::Scratch<B>, grad: &mut M) {
        let n = M::rows(s).n;
        let inv_n = 1.0 / n as f32;
        let mut h = [0.0f32; RH];
        for k in 0..M::LAYERS {
            let net = &self.nets[k];
            let layer = M::layer_mut(s, k);
            for r in 0..n {
                let z = &mut self.z[k][r];
                for j in 0..H {
                    let (a, e, b) = (layer.logits[r][j], layer.noise[r][j], layer.sample[r][j]);
                    z[j] = a + e;
                    self.dz[k][r][j] = coupled_dz_tilde_minus_one(a, e, b);
                }
                let out = net.forward(z, &mut h);
                // ∇_z r = W₁·(w₂ ⊙ (1 − h²)).
                let q: [f32; RH] = core::array::from_fn(|m| net.w2[m] * (1.0 - h[m] * h[m]));
                for j in 0..H {
                    let grad_z: f32 = net.w1[j].iter().zip(&q).map(|(&w, &qm)| w * qm).sum();
                    let score = layer.sample[r][j] - layer.prob[r][j];
                    layer.dlogits[r][j] = inv_n * (out * score + grad_z * self.dz[k][r][j]);
                }
            }
            model.encoder_backward(s, k, grad, GradWrite::Add);
        }
    }

    /// ∂V/∂ψ for every layer's net, from v = J·g kept by the REBAR part.
    fn add_psi_gradient(&mut self, s: &M::Scratch<B>, params: usize) {
        let n = M::rows(s).n;
        let kappa = 2.0 / params.max(1) as f32 / n as f32;
        let mut h = [0.0f32; RH];
        for k in 0..M::LAYERS {
            let v = self.rebar.encoder_tangent_of_gradient(k);
            let (net, g) = (&self.nets[k], &mut self.grads[k]);
            let layer = M::layer(s, k);
            for r in 0..n {
                let z = &self.z[k][r];
                net.forward(z, &mut h);
                let alpha = kappa * (0..H).map(|j| v[r][j] * (layer.sample[r][j] - layer.prob[r][j])).sum::<f32>();
                // w = v ⊙ (∂z̃/∂a − 1); p = w·W₁.
                let w: [f32; H] = core::array::from_fn(|j| v[r][j] * self.dz[k][r][j]);
                let mut p = [0.0f32; RH];
                for (&wj, row) in w.iter().zip(&net.w1) {
                    for (pm, &wv) in p.iter_mut().zip(row) {
                        *pm += wj * wv;
                    }
                }
                let mut row_coef = [0.0f32; RH]; // multiplies z_j in dW₁ (and is db₁)
                let mut w_coef = [0.0f32; RH]; // multiplies w_j in dW₁
                for m in 0..RH {
                    let d = 1.0 - h[m] * h[m];
                    // α·∇_ψ r + κ·∇_ψ ⟨w, ∇_z r⟩, with ⟨w, ∇_z r⟩ = Σ_m p_m·w₂_m·(1 − h_m²).
                    g.w2[m] += alpha * h[m] + kappa * p[m] * d;
                    row_coef[m] = alpha * net.w2[m] * d + kappa * p[m] * net.w2[m] * (-2.0 * h[m] * d);
                    w_coef[m] = kappa * net.w2[m] * d;
                    g.b1[m] += row_coef[m];
                }
                g.b2[0] += alpha;
                for j in 0..H {
                    for m in 0..RH {
                        g.w1[j][m] += z[j] * row_coef[m] + w[j] * w_coef[m];
                    }
                }
            }
        }
    }

    /// The accumulated ψ-gradient of layer `k`'s net (cleared by the next update).
    pub fn net_gradient(&self, k: usize) -> &RelaxNet<H, RH> {
        &self.grads[k.min(1)]
    }
}

impl<M, const X: usize, const H: usize, const B: usize, const RH: usize> Estimator<M, H, B> for Relax<M, X, H, B, RH>
where
    M: Sbn<H, Input = [f32; X]>,
{
    fn name(&self) -> &'static str {
        "relax"
    }

    fn cost(&self) -> Cost {
        <Rebar<M, X, H, B> as Estimator<M, H, B>>::cost(&self.rebar)
    }

    fn estimate<R: Rng + ?Sized>(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        rng: &mut R,
        grad: &mut M,
    ) -> Diagnostics {
        if !self.rebar.estimate_parts(model, s, rng, grad) {
            return Diagnostics::default();
        }
        self.add_relax_term(model, s, grad);
        let d = self.rebar.finish(model, s, grad);
        if self.rebar.trains_control_variates() {
            self.add_psi_gradient(s, grad.scalar_count());
        }
        d
    }

    fn update_control_variates(&mut self, lr: f32) {
        if !self.rebar.trains_control_variates() {
            return;
        }
        self.rebar.update(lr);
        for ((net, g), a) in self.nets.iter_mut().zip(&mut self.grads).zip(&mut self.adams) {
            a.step_and_clear(net, g, lr, AdamConfig::REBAR);
        }
    }

    fn visit_state(&mut self, v: &mut dyn crate::state::StateVisitor) {
        self.rebar.visit(v);
        for ((net, g), a) in self.nets.iter_mut().zip(&mut self.grads).zip(&mut self.adams) {
            crate::state::visit_tensors(net, "relax_net", v);
            crate::state::visit_tensors(g, "relax_net", v);
            a.visit_state("relax_net", v);
        }
    }

    fn shape(&self) -> Shape {
        Shape::WholeGradient
    }

    fn splits_in_halves(&self) -> bool {
        true
    }

    fn estimate_shard<R: Rng + ?Sized, F: Fork>(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        second: Option<&mut M::Scratch<B>>,
        rng: &mut R,
        grad: &mut M,
        fork: &F,
    ) -> ShardEstimate
    where
        M: Send + Sync,
        M::Scratch<B>: Send,
    {
        let estimated = match second {
            Some(s_score) => self.estimate_parts_forked(model, s, s_score, rng, grad, fork),
            None => self.estimate_parts(model, s, rng, grad),
        };
        ShardEstimate::Parts { estimated }
    }

    fn control_variate_tensor(&self, t: usize) -> Option<&[f32]> {
        Estimator::<M, H, B>::control_variate_tensor(&self.rebar, t)
    }

    fn combine(&self, t: usize, g: &mut [f32], b: &[f32]) -> GradientTotals {
        self.rebar.combine_slice(t, g, b)
    }

    fn finish_shard<F: Fork>(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        second: Option<&mut M::Scratch<B>>,
        total: &M,
        totals: &GradientTotals,
        fork: &F,
    ) -> Diagnostics
    where
        M: Sync,
        M::Scratch<B>: Send,
    {
        match second {
            Some(s_score) => self.variance_gradients_forked(model, s, s_score, total, totals, fork),
            None => self.variance_gradients(model, s, total, totals),
        }
    }

    fn visit_pending_gradients(&mut self, f: &mut dyn FnMut(&mut [f32])) {
        self.rebar.visit_gradients(f);
        for g in &mut self.grads {
            for t in 0..<RelaxNet<H, RH> as Tensors>::COUNT {
                f(g.tensor_mut(t));
            }
        }
    }
}
