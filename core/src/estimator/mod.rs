//! Gradient estimators for the ELBO of a sigmoid belief network: one shape ([`Estimator`]) that
//! the trainer, the variance tool and a user's own code can swap.
//!
//! Every estimator returns, in `grad`, an estimate of the gradient of the **loss**
//! −(1/n) Σᵢ E_q[f(bᵢ)] over the loaded batch of n examples (the quantity Adam minimises, as in
//! the official code). Unbiased estimators satisfy E\[grad\] = the exact gradient, which the test
//! suite checks against exact enumeration of all latent states.
//!
//! Estimators with learned control-variate parameters (baselines, per-tensor η, log λ) compute
//! those parameters' gradients during [`Estimator::estimate`] and apply them in
//! [`Estimator::update_control_variates`], with their own Adam (the official code uses 10× the
//! model's learning rate).
//!
//! The step is also exposed as stages ([`stages`]: per-shard parts → whole-batch totals →
//! finish), which a driver uses to split a batch over shards and threads; every estimator gets
//! them through the trait's provided methods, and only REINFORCE (its baseline sums the whole
//! batch's ELBOs) and REBAR/RELAX (their control variates descend the variance of the whole
//! batch's gradient) override them.
//!
//! ## Example: one training step, generic over the estimator
//! ```
//! use rand_core::{Rng, SeedableRng};
//! use rand_xoshiro::Xoshiro256PlusPlus;
//! use rebar_core::estimator::{DisArm, Estimator, Nvil};
//! use rebar_core::model::{Generative, OneLayer};
//! use rebar_core::net::Dense;
//! use rebar_core::{Adam, AdamConfig, Diagnostics, Sbn};
//!
//! type Model = OneLayer<6, 3, 6, Dense<6, 3>, Dense<3, 6>, Generative>;
//! const B: usize = 4;
//!
//! /// Any estimator trains any model the same way.
//! fn step<E: Estimator<Model, 3, B>, R: Rng>(
//!     estimator: &mut E,
//!     model: &mut Model,
//!     adam: &mut Adam<Model>,
//!     grad: &mut Model,
//!     scratch: &mut <Model as Sbn<3>>::Scratch<B>,
//!     batch: &[[f32; 6]],
//!     rng: &mut R,
//! ) -> Diagnostics {
//!     model.load_batch(batch, batch, scratch);
//!     let d = estimator.estimate(model, scratch, rng, grad);
//!     adam.step(model, grad, 1e-2, AdamConfig::REBAR);
//!     estimator.update_control_variates(1e-1);
//!     d
//! }
//!
//! let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
//! let mut model: Box<Model> = bytemuck::zeroed_box();
//! model.init(&mut rng);
//! model.set_data_mean(&[0.5; 6], &[0.5; 6]);
//! let (mut grad, mut adam, mut scratch) = (bytemuck::zeroed_box(), bytemuck::zeroed_box(), bytemuck::zeroed_box());
//! let batch = [[1.0, 0.0, 1.0, 0.0, 1.0, 0.0]; B];
//!
//! let d = step(&mut DisArm, &mut model, &mut adam, &mut grad, &mut scratch, &batch, &mut rng);
//! assert!(d.elbo < 0.0);
//! let mut nvil: Box<Nvil<6, B>> = bytemuck::zeroed_box();
//! nvil.init(&mut rng);
//! step(&mut *nvil, &mut model, &mut adam, &mut grad, &mut scratch, &batch, &mut rng);
//! ```

mod antithetic;
mod arm;
mod baseline;
mod concrete;
mod disarm;
mod muprop;
mod nvil;
mod rebar;
mod reinforce;
mod relax;
mod rloo;
mod scales;
mod simple_muprop;
pub mod stages;

pub use arm::Arm;
pub use baseline::Baseline;
pub use concrete::Concrete;
pub use disarm::DisArm;
pub use muprop::MuProp;
pub use nvil::Nvil;
pub use rebar::{Rebar, RebarConfig, RebarConfigError, Temperature, TildeNoise};
pub use reinforce::Reinforce;
pub use relax::{Relax, RelaxNet};
pub use rloo::Rloo;
pub use scales::Scales;
pub use simple_muprop::SimpleMuProp;
pub use stages::{GradientTotals, Shape, ShardEstimate};

use crate::fork::Fork;
use crate::math::scalar::sigmoid;
use crate::math::simd::{logistic_noise_x8, map_in_place};
use crate::model::Sbn;
use crate::random::fill_uniform;
use rand_core::Rng;

/// Most parameter tensors a model may have for estimators with one scale per tensor (η).
pub const MAX_TENSORS: usize = 32;

/// What an estimator reports about one step.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Diagnostics {
    /// Mean single-sample ELBO f(b) over the batch (hard samples).
    pub elbo: f32,
    /// Temperature λ of the relaxation, for estimators that have one.
    pub temperature: Option<f32>,
    /// Mean of the per-tensor control-variate scales η, for estimators that have them.
    pub eta_mean: Option<f32>,
    /// The variance objective mean_j g_j² the control variates descend, if they do.
    pub variance_objective: Option<f32>,
}

/// Cost of one estimate, per example, in passes. The multiply-adds those passes take depend on
/// the model and on the data's density of ones; [`crate::ops`] counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    /// Evaluations of the objective f (hard or relaxed forward passes of the generative model).
    pub evaluations: u32,
    /// Reverse-mode passes through the generative model (relaxed backward, mean-field derivative).
    pub backward_passes: u32,
}

/// A gradient estimator for models `M` with `H` units per stochastic layer, on batches of at
/// most `B` examples.
pub trait Estimator<M: Sbn<H>, const H: usize, const B: usize> {
    /// A short name (`rebar`, `nvil`, ...).
    fn name(&self) -> &'static str;

    /// Evaluations and reverse passes per example for `M`.
    fn cost(&self) -> Cost;

    /// Estimates the loss gradient for the batch loaded in `scratch` (see
    /// [`Sbn::load_batch`]): `grad` is overwritten. Control-variate gradients are kept for
    /// [`Estimator::update_control_variates`].
    fn estimate<R: Rng + ?Sized>(
        &mut self,
        model: &M,
        scratch: &mut M::Scratch<B>,
        rng: &mut R,
        grad: &mut M,
    ) -> Diagnostics;

    /// Applies the control-variate gradients of the last estimate with learning rate `lr` (no-op
    /// for estimators without learned parameters).
    fn update_control_variates(&mut self, lr: f32);

    /// Shows the learned control-variate state (parameters, pending gradients, optimiser moments)
    /// to a checkpoint visitor. Estimators without learned state show nothing.
    fn visit_state(&mut self, v: &mut dyn crate::state::StateVisitor) {
        let _ = v;
    }

    /// Shows each pending control-variate gradient (what the next
    /// [`Estimator::update_control_variates`] applies), in a fixed order, so that data-parallel
    /// training can average them over replicas of the estimator. Estimators without learned
    /// parameters show nothing.
    fn visit_pending_gradients(&mut self, f: &mut dyn FnMut(&mut [f32])) {
        let _ = f;
    }

    // The step as stages, for drivers that split a batch into shards ([`stages`]). The provided
    // methods fit every estimator whose gradient is a mean of per-example terms.

    /// How the shards' estimates make up the whole batch's ([`stages`]).
    fn shape(&self) -> Shape {
        Shape::PerExample
    }

    /// Whether [`Estimator::estimate_shard`] and [`Estimator::finish_shard`] split their work
    /// into two independent halves when given a second workspace ([`stages`]).
    fn splits_in_halves(&self) -> bool {
        false
    }

    /// Stage 1 on the rows loaded in `scratch` (what it leaves depends on [`Estimator::shape`]).
    /// `second`, if given, holds the same rows ([`Sbn::load_batch`]) for the other half of an
    /// estimate that [`Estimator::splits_in_halves`], run through `fork`.
    fn estimate_shard<R: Rng + ?Sized, F: Fork>(
        &mut self,
        model: &M,
        scratch: &mut M::Scratch<B>,
        second: Option<&mut M::Scratch<B>>,
        rng: &mut R,
        grad: &mut M,
        fork: &F,
    ) -> ShardEstimate
    where
        M: Send + Sync,
        M::Scratch<B>: Send,
    {
        let _ = (second, fork);
        ShardEstimate::Gradient(self.estimate(model, scratch, rng, grad))
    }

    /// Stage 2 of a [`Shape::BatchElbo`] estimator: the gradient of the rows in `scratch` (after
    /// [`Estimator::estimate_shard`]) into `grad`, for a batch of `batch_size` examples whose
    /// ELBOs sum to `batch_elbo_sum`. Not called for the other shapes.
    fn finish_batch_elbo(
        &mut self,
        model: &M,
        scratch: &mut M::Scratch<B>,
        grad: &mut M,
        batch_elbo_sum: f32,
        batch_size: usize,
    ) -> Diagnostics {
        let _ = (model, scratch, grad, batch_elbo_sum, batch_size);
        Diagnostics::default()
    }

    /// [`Shape::WholeGradient`]: B_t of the last [`Estimator::estimate_shard`], if tensor `t`
    /// has a control-variate part.
    fn control_variate_tensor(&self, t: usize) -> Option<&[f32]> {
        let _ = t;
        None
    }

    /// [`Shape::WholeGradient`], on a piece of tensor `t`: `g ← g + η_t·b` (`g`: A's piece; `b`:
    /// B's, empty where [`Estimator::control_variate_tensor`] is `None`), returning the piece's
    /// sums. Adding up the totals of pieces that cover the gradient once gives
    /// [`Estimator::finish_shard`] what it needs.
    fn combine(&self, t: usize, g: &mut [f32], b: &[f32]) -> GradientTotals {
        let _ = (t, b);
        GradientTotals { count: g.len(), sum_squares: crate::math::simd::sum_squares(g), ..GradientTotals::default() }
    }

    /// [`Shape::WholeGradient`], the last stage: the control variates' gradients for the rows in
    /// `scratch`, given the whole batch's gradient `total` and its `totals`. `second`: as in
    /// [`Estimator::estimate_shard`]. Not called for the other shapes.
    fn finish_shard<F: Fork>(
        &mut self,
        model: &M,
        scratch: &mut M::Scratch<B>,
        second: Option<&mut M::Scratch<B>>,
        total: &M,
        totals: &GradientTotals,
        fork: &F,
    ) -> Diagnostics
    where
        M: Sync,
        M::Scratch<B>: Send,
    {
        let _ = (model, scratch, second, total, totals, fork);
        Diagnostics::default()
    }
}

/// Draws fresh logistic noise ε = L(u), u ~ U(0, 1), for every stochastic layer of the batch:
/// layer by layer, row by row, unit by unit, so a seeded generator gives the same noise on every
/// platform.
pub fn draw_noise<M: Sbn<H>, const H: usize, const B: usize, R: Rng + ?Sized>(s: &mut M::Scratch<B>, rng: &mut R) {
    let n = M::rows(s).n;
    for l in 0..M::LAYERS {
        for row in &mut M::layer_mut(s, l).noise[..n] {
            // The uniforms in draw order, then the logs eight at a time (bit for bit the scalar
            // `logistic_noise`, which is two scalar `logf` per unit and was 8% of an NVIL step).
            fill_uniform(rng, row);
            map_in_place(row, logistic_noise_x8);
        }
    }
}

/// `dlogits_l[r] = w_r·(b_l − θ_l)[r]`: the score function ∇_a log q(b | a) of layer `l`, weighted
/// per example, written where [`Sbn::encoder_backward`] reads it.
pub fn set_score_dlogits<M: Sbn<H>, const H: usize, const B: usize>(s: &mut M::Scratch<B>, l: usize, w: &[f32]) {
    let n = M::rows(s).n;
    let layer = M::layer_mut(s, l);
    for r in 0..n.min(w.len()) {
        for j in 0..H {
            layer.dlogits[r][j] = w[r] * (layer.sample[r][j] - layer.prob[r][j]);
        }
    }
}

/// ∂z̃/∂a − 1 for the conditional sample z̃ ~ p(z | b) whose noise is tied to the hard sample's
/// (docs/estimators.md, *REBAR: the coupled noise for z̃*): z̃ equals z = a + ε in value, and
/// ∂z̃/∂a = 1 − (1 − θ)/u if b = 1, 1 − θ/(1 − u) if b = 0, with u = σ(ε). Written through
/// σ(±a), σ(±ε) so that neither branch cancels.
#[inline]
pub fn coupled_dz_tilde_minus_one(a: f32, eps: f32, b: f32) -> f32 {
    if b > 0.5 { -sigmoid(-a) / sigmoid(eps) } else { -sigmoid(a) / sigmoid(-eps) }
}

/// [`coupled_dz_tilde_minus_one`] on eight lanes: with s = 1 − 2b, −σ(s·a)/σ(−s·ε).
#[inline]
pub fn coupled_dz_tilde_minus_one_x8(a: wide::f32x8, eps: wide::f32x8, b: wide::f32x8) -> wide::f32x8 {
    use crate::math::simd::sigmoid_x8;
    let s = wide::f32x8::ONE - b - b;
    -(sigmoid_x8(s * a) / sigmoid_x8(-s * eps))
}
