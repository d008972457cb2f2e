//! REBAR (Tucker et al. 2017) as the official code computes it (`SBNRebar`, `SBNDynamicRebar`;
//! docs/estimators.md, *REBAR: the estimate* and the sections after it), with per-layer control
//! variates for several stochastic layers, a variance-trained input-dependent baseline, one η per
//! parameter tensor, and optionally a learned temperature — all trained by the exact gradient of
//! the variance objective (docs/variance-gradient.md), not by finite differences.
//!
//! # The estimate
//! With A the NVIL-style part and B the control-variate part (both loss gradients, batch means):
//!
//! ```text
//! A = −∇[ (f(b) − c(x))·Σ_l log q(b_l) + log p(x, b) ]        (b, f, c held fixed)
//! B = ∇ Σ_k [ f̃_k·log q(b_k) − f(σ(z)) + f(σ(z̃)) ]_k          (f̃_k = f(σ(z̃)) held fixed)
//! g_t = A_t + η_t·B_t                                          for every parameter tensor t
//! ```
//!
//! For layer k the relaxed pass keeps layers below k at their hard samples and relaxes layer k
//! and everything above it (the official `quadratic` scheme). With coupled noise (the official
//! default) z̃ equals z in value, so both relaxed ELBOs share one forward pass and all gradients
//! cancel except at layer k's relaxation: ∂(f(σ(z̃)) − f(σ(z)))/∂a_k = s̄_k·α·(∂z̃/∂a − 1), where s̄_k
//! is the adjoint of the pre-sigmoid relaxed value. The decoder's and the other layers' parts of
//! B are exactly zero and are never computed.
//!
//! Deliberate difference from the official code: above layer k both relaxed passes use the same
//! noise u_l with no gradient through it. The official z̃-pass routes gradient through the
//! coupled ũ_l of higher layers (computed from their hard logits) without the matching score
//! term; see `tests/tests/unbiasedness.rs`.
//!
//! # The variance gradient
//! V = mean_j g_j² over every model parameter. Since E[g] does not depend on η, λ or c, the
//! control variates descend V (docs/variance-gradient.md):
//!
//! ```text
//! ∂V/∂η_t = (2/N)·⟨g_t, B_t⟩
//! ∂V/∂c_i = (2/N)(1/n)·Σ_l ⟨J_{l,i} g, b_l,i − θ_l,i⟩               (J: encoder Jacobian)
//! ∂V/∂τ   = (2/N)(1/n)·Σ_k Σ_i ⟨J_{k,i}(η ⊙ g), ∂B^logits_{k,i}/∂τ⟩
//! ∂B^logits_k/∂τ = ∂f̃_k/∂τ·(b_k − θ_k) + ṡ̄_k·α·(∂z̃/∂a − 1) + s̄_k·dα/dτ·(∂z̃/∂a − 1)
//! ```
//!
//! where τ = log λ, J g is one forward-mode pass of the encoder, and ṡ̄ = ds̄/dτ comes from the
//! model's forward-over-reverse pass ([`Sbn::relaxed_tangent`]).

use super::{
    Baseline, Cost, Diagnostics, Estimator, GradientTotals, MAX_TENSORS, Scales, Shape, ShardEstimate,
    coupled_dz_tilde_minus_one, coupled_dz_tilde_minus_one_x8, draw_noise, set_score_dlogits,
};
use crate::fork::Fork;
use crate::math::scalar::{logistic_noise, sigmoid, softplus};
use crate::math::simd::{LANES, axpy_sum_squares_dot, load_partial, store_partial, sum_squares};
use crate::model::{Relaxation, Sbn};
use crate::net::GradWrite;
use crate::optim::{Adam, AdamConfig};
use crate::random::uniform;
use bytemuck::Zeroable;
use rand_core::Rng;
use wide::f32x8;

mod config;
mod halves;

pub use config::{RebarConfig, RebarConfigError, Temperature, TildeNoise};
use halves::{ControlVariateHalf, Tangents, encoder_tangents, score_half};

/// REBAR for a model `M` with inputs of `X` values, `H` units per stochastic layer, batches of
/// at most `B`. Large (it holds a gradient-sized buffer): keep it in a `static` or a `Box`.
#[derive(Zeroable)]
#[repr(C)]
pub struct Rebar<M, const X: usize, const H: usize, const B: usize> {
    /// The variance-trained baseline c(x).
    pub baseline: Baseline<X, B>,
    /// One η per parameter tensor.
    pub eta: Scales,
    /// τ = log λ.
    pub log_temperature: f32,
    learn_temperature: bool,
    plain_relaxation: bool,
    independent_tilde: bool,
    official_tilde: bool,
    train_control_variates: bool,
    tau_grad: [f32; 1],
    tau_adam: Adam<[f32; 1]>,
    /// B, the control-variate part of the gradient (before η).
    cv_grad: M,
    /// ∂B^logits_k/∂τ per layer (learned temperature).
    d_tau_logits: [[[f32; H]; B]; 2],
    /// J_l·(η ⊙ g) per layer (learned temperature).
    tangent: Tangents<H, B>,
    /// J_l·g per layer (variance gradient of the baseline; read by RELAX).
    jg: Tangents<H, B>,
    variance: f32,
}

impl<M: Sbn<H, Input = [f32; X]>, const X: usize, const H: usize, const B: usize> Rebar<M, X, H, B> {
    /// Configures the estimator and initialises its baseline.
    pub fn init<R: Rng + ?Sized>(&mut self, config: RebarConfig, rng: &mut R) -> Result<(), RebarConfigError> {
        let (lambda, learn) = match config.temperature {
            Temperature::Fixed(l) => (l, false),
            Temperature::Learned(l) => (l, true),
        };
        if !(lambda.is_finite() && lambda > 0.0) {
            return Err(RebarConfigError::BadTemperature);
        }
        if learn && config.tilde == TildeNoise::Independent {
            return Err(RebarConfigError::LearnedTemperatureNeedsCoupledNoise);
        }
        self.baseline.init(rng);
        self.eta.reset();
        self.log_temperature = libm::logf(lambda);
        self.learn_temperature = learn;
        self.plain_relaxation = config.plain_relaxation;
        self.independent_tilde = config.tilde == TildeNoise::Independent;
        self.official_tilde = config.tilde == TildeNoise::CoupledAsOfficial;
        self.train_control_variates = config.train_control_variates;
        self.tau_grad = [0.0];
        self.tau_adam.reset();
        Ok(())
    }

    /// The accumulated ∂V/∂log λ (cleared by the next update).
    pub fn log_temperature_gradient(&self) -> f32 {
        self.tau_grad[0]
    }

    /// The current temperature λ.
    pub fn temperature(&self) -> f32 {
        libm::expf(self.log_temperature)
    }

    fn relaxation(&self) -> Relaxation {
        let temperature = self.temperature();
        if self.plain_relaxation { Relaxation::Plain { temperature } } else { Relaxation::Modified { temperature } }
    }

    /// Stage 1 of an estimate: draws the noise, runs the hard pass, writes A (the NVIL part) to
    /// `grad` and B (the control variate before η) to `cv_grad`, both as
    /// means over the loaded rows. Returns false (with a zero gradient) for an empty batch.
    pub(crate) fn estimate_parts<R: Rng + ?Sized>(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        rng: &mut R,
        grad: &mut M,
    ) -> bool {
        let Some(n) = self.prepare_parts(s, grad) else { return false };
        draw_noise::<M, H, B, R>(s, rng);
        model.hard_forward(s, 0);
        score_half(&mut self.baseline, model, s, grad, n);
        for k in 0..M::LAYERS {
            if self.independent_tilde {
                self.independent_layer(model, s, k, n, rng);
            } else {
                self.halves().1.coupled_layer(model, s, k, n);
            }
        }
        true
    }

    /// [`Rebar::estimate_parts`] with its two halves run through `fork` (side by side, if the
    /// caller's fork runs them so): the control-variate half B in `s`, the score half A in
    /// `s_score`, a second workspace that must hold the same batch as `s`
    /// ([`Sbn::load_batch`]) in which the score half runs the whole hard pass, from the same
    /// noise, while `s` gets only its encoder half ([`Sbn::hard_encode`]) before the fork.
    /// Neither half reads what the other writes, so the results are [`Rebar::estimate_parts`]'s
    /// bit for bit, and `s` afterwards serves [`Rebar::variance_gradients`] as it would (the
    /// rows' `elbo` and `log_p` are copied from `s_score`; the decoder's buffers of the hard
    /// pass are in `s_score` only). With independent noise (B draws noise of its own) this is
    /// [`Rebar::estimate_parts`].
    pub(crate) fn estimate_parts_forked<R: Rng + ?Sized, F: Fork>(
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
        if self.independent_tilde {
            return self.estimate_parts(model, s, rng, grad);
        }
        let Some(n) = self.prepare_parts(s, grad) else { return false };
        debug_assert_eq!(M::rows(s_score).n, n, "the score half's workspace holds another batch");
        draw_noise::<M, H, B, R>(s, rng);
        for l in 0..M::LAYERS {
            let noise = &M::layer(s, l).noise[..n];
            M::layer_mut(s_score, l).noise[..n].copy_from_slice(noise);
        }
        // Only the hard pass's encoder half before the fork: B reads nothing of the decoder's
        // half, which runs beside B with A, in the other workspace. That half repeats the
        // encoder half for its own workspace; the repeat's work is known (the same as this
        // pass's) and not counted as work the estimate needs.
        let before = crate::ops::read();
        model.hard_encode(s, 0);
        let encoder_pass = crate::ops::read().since(before);
        let (baseline, mut half) = self.halves();
        fork.join(
            || {
                for k in 0..M::LAYERS {
                    half.coupled_layer(model, s, k, n);
                }
            },
            || {
                model.hard_forward(s_score, 0);
                score_half(baseline, model, s_score, grad, n);
            },
        );
        crate::ops::discount(encoder_pass);
        // The hard pass's per-row results, for what reads `s` next (the diagnostics' ELBO).
        let (from, to) = (M::rows(s_score), M::rows_mut(s));
        to.elbo = from.elbo;
        to.log_p = from.log_p;
        true
    }

    /// The start of stage 1: clears what the estimate accumulates into; `None` (with a zero
    /// gradient) for an empty batch, else the number of rows.
    fn prepare_parts(&mut self, s: &M::Scratch<B>, grad: &mut M) -> Option<usize> {
        const { assert!(M::COUNT <= MAX_TENSORS, "REBAR keeps one η per tensor: too many tensors") };
        let n = M::rows(s).n;
        // The hard pass writes every tensor of `grad`, and coupled noise's layers every encoder
        // tensor of B ([`GradWrite::Set`]), so only independent noise's B needs zeroing. With
        // coupled noise B lives on the encoders only (module docs); the rest is never read.
        if self.independent_tilde || n == 0 {
            self.cv_grad.fill_zero();
        }
        self.d_tau_logits = [[[0.0; H]; B]; 2];
        if n == 0 {
            grad.fill_zero();
            return None;
        }
        Some(n)
    }

    /// The score half's baseline and what the control-variate half writes and reads, borrowed
    /// apart.
    fn halves(&mut self) -> (&mut Baseline<X, B>, ControlVariateHalf<'_, M, H, B>) {
        let half = ControlVariateHalf {
            relax: self.relaxation(),
            learn: self.learn_temperature,
            official: self.official_tilde,
            cv_grad: &mut self.cv_grad,
            d_tau_logits: &mut self.d_tau_logits,
        };
        (&mut self.baseline, half)
    }

    /// Whether tensor `t` has a control-variate part B_t (with coupled noise, only the encoders).
    pub(crate) fn has_control_variate_part(&self, t: usize) -> bool {
        self.independent_tilde || (0..M::LAYERS).any(|l| M::encoder_tensors(l).contains(&t))
    }

    /// Stage 2a on a piece of tensor `t`: `g ← g + η_t·b` (g: A_t, b: B_t, or ignored if the
    /// tensor has no B), returning the piece's Σ g² and ⟨g, B_t⟩. Summing the totals of pieces
    /// that cover every tensor once gives [`Rebar::variance_gradients`] what it needs.
    pub(crate) fn combine_slice(&self, t: usize, g: &mut [f32], b: &[f32]) -> GradientTotals {
        let mut totals = GradientTotals { count: g.len(), ..GradientTotals::default() };
        if self.has_control_variate_part(t) && t < MAX_TENSORS {
            let (squares, products) = axpy_sum_squares_dot(g, self.eta.eta(t), b);
            totals.sum_squares = squares;
            totals.g_dot_b[t] = products;
        } else {
            totals.sum_squares = sum_squares(g);
        }
        totals
    }

    /// Stage 2: g = `grad` + η ⊙ B, the variance objective V = mean_j g_j², and (if the control
    /// variates train) the variance gradients of η, the baseline and log λ. Keeps J_l·g per layer
    /// for [`Rebar::encoder_tangent_of_gradient`].
    pub(crate) fn finish(&mut self, model: &M, s: &mut M::Scratch<B>, grad: &mut M) -> Diagnostics {
        // g_t = A_t + η_t·B_t with Σ g² and ⟨g_t, B_t⟩ in the same pass; with coupled noise B_t
        // is zero off the encoders, where g_t = A_t and ⟨g_t, B_t⟩ = 0.
        let mut totals = GradientTotals::default();
        for t in 0..M::COUNT {
            totals.add(&self.combine_slice(t, grad.tensor_mut(t), self.cv_grad.tensor(t)));
        }
        self.variance_gradients(model, s, grad, &totals)
    }

    /// Stage 2b, once g = A + η ⊙ B is complete in `grad` and `totals` sums
    /// [`Rebar::combine_slice`] over all of it: the variance objective and, if the control
    /// variates train, the variance gradients of η, of the baseline and of log λ for the rows
    /// loaded in `s` (means over them; with several shards, `grad` and `totals` are the whole
    /// batch's while `s` holds this replica's shard).
    pub(crate) fn variance_gradients(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        grad: &M,
        totals: &GradientTotals,
    ) -> Diagnostics {
        let learn = self.learn_temperature;
        let all_layers =
            |s: &mut M::Scratch<B>, scales: [&[f32]; 2], jg: &mut Tangents<H, B>, tangent: &mut Tangents<H, B>| {
                for l in 0..M::LAYERS {
                    encoder_tangents(model, s, l, grad, learn, scales, &mut jg[l], &mut tangent[l]);
                }
            };
        self.variance_gradients_with(model, s, totals, all_layers)
    }

    /// [`Rebar::variance_gradients`] with the encoder tangents of g it needs split over the two
    /// closures of `fork`, the second working in `s_score`, a workspace after the same batch's
    /// hard pass (as [`Rebar::estimate_parts_forked`] leaves it): with two stochastic layers, one
    /// layer each; with one and a learned temperature, J·g and J·(η ⊙ g) one each, where the
    /// encoder's pair is two passes (an MLP). An affine encoder makes one pass over g for both
    /// ([`Sbn::ENCODER_TANGENT_PAIR_IN_ONE_PASS`]), which both halves would each repeat, so a
    /// one-layer affine model runs [`Rebar::variance_gradients`]. A tangent writes only its own
    /// workspace and output, and the sums over them keep their order, so the results are
    /// [`Rebar::variance_gradients`]'s bit for bit.
    pub(crate) fn variance_gradients_forked<F: Fork>(
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
        let learn = self.learn_temperature;
        let split =
            |s: &mut M::Scratch<B>, scales: [&[f32]; 2], jg: &mut Tangents<H, B>, tangent: &mut Tangents<H, B>| {
                let ([jg0, jg1], [t0, t1]) = (jg, tangent);
                if M::LAYERS == 2 {
                    fork.join(
                        || encoder_tangents(model, s, 0, grad, learn, scales, jg0, t0),
                        || encoder_tangents(model, s_score, 1, grad, learn, scales, jg1, t1),
                    );
                } else if learn && !M::ENCODER_TANGENT_PAIR_IN_ONE_PASS {
                    let n = M::rows(s).n;
                    fork.join(
                        || model.encoder_tangent(s, 0, grad, scales[0], &mut jg0[..n]),
                        || model.encoder_tangent(s_score, 0, grad, scales[1], &mut t0[..n]),
                    );
                } else {
                    encoder_tangents(model, s, 0, grad, learn, scales, jg0, t0);
                }
            };
        self.variance_gradients_with(model, s, totals, split)
    }

    /// [`Rebar::variance_gradients`] with `tangents(s, [ones, η], jg, tangent)` writing every
    /// layer's J_l·g into `jg[l]` and, with a learned temperature, J_l·(η ⊙ g) into `tangent[l]`.
    fn variance_gradients_with(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        totals: &GradientTotals,
        tangents: impl FnOnce(&mut M::Scratch<B>, [&[f32]; 2], &mut Tangents<H, B>, &mut Tangents<H, B>),
    ) -> Diagnostics {
        let n = M::rows(s).n;
        let inv_n = 1.0 / n as f32;
        let etas = self.eta.etas();
        let count = totals.count;
        self.variance = (totals.sum_squares / count.max(1) as f64) as f32;

        if self.train_control_variates {
            let two_over_n_params = 2.0 / count.max(1) as f32;
            // ∂V/∂η_t = (2/N)·⟨g_t, B_t⟩.
            for (t, &d) in totals.g_dot_b.iter().enumerate().take(M::COUNT) {
                self.eta.add_eta_gradient(t, two_over_n_params * d as f32);
            }
            // ∂V/∂c_i = (2/N)(1/n)·Σ_l ⟨J_{l,i} g, b_l,i − θ_l,i⟩, then backpropagated into c;
            // ∂V/∂τ = (2/N)(1/n)·Σ_l Σ_i ⟨J_{l,i}(η ⊙ g), ∂B^logits_{l,i}/∂τ⟩.
            let mut dc = [0.0f32; B];
            let mut d_tau = 0.0f64;
            let ones = [1.0f32; MAX_TENSORS];
            tangents(s, [&ones, &etas], &mut self.jg, &mut self.tangent);
            for l in 0..M::LAYERS {
                if self.learn_temperature {
                    for r in 0..n {
                        for j in 0..H {
                            d_tau += self.tangent[l][r][j] as f64 * self.d_tau_logits[l][r][j] as f64;
                        }
                    }
                }
                let layer = M::layer(s, l);
                for r in 0..n {
                    let dot: f32 = (0..H).map(|j| self.jg[l][r][j] * (layer.sample[r][j] - layer.prob[r][j])).sum();
                    dc[r] += two_over_n_params * inv_n * dot;
                }
            }
            self.baseline.backward(M::centered_inputs(s), model.binary_inputs(s), &dc[..n]);
            if self.learn_temperature {
                self.tau_grad[0] += two_over_n_params * inv_n * d_tau as f32;
            }
        }

        let f = &M::rows(s).elbo;
        Diagnostics {
            elbo: f[..n].iter().sum::<f32>() * inv_n,
            temperature: Some(self.temperature()),
            eta_mean: Some(self.eta.mean(M::COUNT)),
            variance_objective: Some(self.variance),
        }
    }

    /// J_{l,r}·g for the gradient of the last estimate (computed when the control variates train).
    pub(crate) fn encoder_tangent_of_gradient(&self, l: usize) -> &[[f32; H]; B] {
        &self.jg[l.min(1)]
    }

    /// Whether the control variates train.
    pub(crate) fn trains_control_variates(&self) -> bool {
        self.train_control_variates
    }

    /// Shows the pending gradients of the baseline, η and log λ (shared with RELAX).
    pub(crate) fn visit_gradients(&mut self, f: &mut dyn FnMut(&mut [f32])) {
        self.baseline.visit_gradient(f);
        f(&mut self.eta.grad);
        f(&mut self.tau_grad);
    }

    /// Shows the learned state (baseline, η, log λ and their optimisers) to a visitor (shared
    /// with RELAX).
    pub(crate) fn visit(&mut self, v: &mut dyn crate::state::StateVisitor) {
        self.baseline.visit_state("baseline", v);
        self.eta.visit_state("eta", v);
        let mut tau = [self.log_temperature, self.tau_grad[0]];
        v.f32s("log_temperature", 0, &mut tau);
        (self.log_temperature, self.tau_grad[0]) = (tau[0], tau[1]);
        self.tau_adam.visit_state("log_temperature", v);
    }

    /// Applies the baseline, η and temperature updates (shared with RELAX).
    pub(crate) fn update(&mut self, lr: f32) {
        if !self.train_control_variates {
            return;
        }
        self.baseline.step(lr);
        self.eta.step(lr);
        if self.learn_temperature {
            let mut tau = [self.log_temperature];
            self.tau_adam.step(&mut tau, &self.tau_grad, lr, AdamConfig::REBAR);
            self.log_temperature = tau[0];
            self.tau_grad = [0.0];
        }
    }
}

impl<M, const X: usize, const H: usize, const B: usize> Estimator<M, H, B> for Rebar<M, X, H, B>
where
    M: Sbn<H, Input = [f32; X]>,
{
    fn name(&self) -> &'static str {
        if self.learn_temperature { "rebar" } else { "rebar-fixed" }
    }

    fn cost(&self) -> Cost {
        let l = M::LAYERS as u32;
        let relaxed_per_layer = if self.independent_tilde { 2 } else { 1 };
        let tangent = if self.learn_temperature { 1 } else { 0 };
        Cost { evaluations: 1 + relaxed_per_layer * l, backward_passes: (relaxed_per_layer + tangent) * l }
    }

    fn estimate<R: Rng + ?Sized>(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        rng: &mut R,
        grad: &mut M,
    ) -> Diagnostics {
        if self.estimate_parts(model, s, rng, grad) { self.finish(model, s, grad) } else { Diagnostics::default() }
    }

    fn update_control_variates(&mut self, lr: f32) {
        self.update(lr);
    }

    fn visit_state(&mut self, v: &mut dyn crate::state::StateVisitor) {
        self.visit(v);
    }

    fn visit_pending_gradients(&mut self, f: &mut dyn FnMut(&mut [f32])) {
        self.visit_gradients(f);
    }

    fn shape(&self) -> Shape {
        Shape::WholeGradient
    }

    fn splits_in_halves(&self) -> bool {
        // Independent noise's B draws noise of its own after A's: one sequence, no halves.
        !self.independent_tilde
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
        let in_halves = Estimator::<M, H, B>::splits_in_halves(self);
        let estimated = match second.filter(|_| in_halves) {
            Some(s_score) => self.estimate_parts_forked(model, s, s_score, rng, grad, fork),
            None => self.estimate_parts(model, s, rng, grad),
        };
        ShardEstimate::Parts { estimated }
    }

    fn control_variate_tensor(&self, t: usize) -> Option<&[f32]> {
        self.has_control_variate_part(t).then(|| self.cv_grad.tensor(t))
    }

    fn combine(&self, t: usize, g: &mut [f32], b: &[f32]) -> GradientTotals {
        self.combine_slice(t, g, b)
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
        // The second workspace holds a hard pass only if the estimate ran in halves.
        let in_halves = Estimator::<M, H, B>::splits_in_halves(self);
        match second.filter(|_| in_halves) {
            Some(s_score) => self.variance_gradients_forked(model, s, s_score, total, totals, fork),
            None => self.variance_gradients(model, s, total, totals),
        }
    }
}
