//! Sigmoid belief networks with one or two stochastic layers, in the official conventions
//! (docs/estimators.md, *Model conventions*): encoder input x − x̄, latent inputs 2b − 1, a trainable
//! factorised Bernoulli prior on the top layer, decoder output logits = trainable output +
//! fixed logit(clip(x̄, 0.001, 0.999)).
//!
//! A model value holds the trainable parameters (listed by [`Tensors`]) and two fixed vectors
//! derived from the training data (the input mean and the output bias). The same type serves as
//! the gradient and as the optimiser moments.
//!
//! # Passes
//! Every pass works on a batch of at most `B` rows held in a caller-owned scratch
//! ([`Sbn::Scratch`]):
//! - [`Sbn::hard_forward`]: samples b from the noise, computes log q(b|x), log p(x, b) and the
//!   single-sample ELBO f(b) per example;
//! - [`Sbn::relaxed_forward`]: the same ELBO with relaxed samples y = σ(α·z + β·a) in every term,
//!   from stochastic layer `from` on (layers below stay at their hard samples), for the modified
//!   relaxation, the plain Concrete one, or the mean-field pass ([`Relaxation`]);
//! - [`Sbn::relaxed_backward`]: reverse mode of the relaxed ELBO to every parameter, every
//!   layer's logits and relaxed samples, and log λ;
//! - [`Sbn::relaxed_tangent`]: forward mode in log λ through the relaxed pass and its reverse
//!   mode (the second-order term of learned-temperature REBAR's variance gradient);
//! - [`Sbn::decoder_backward`], [`Sbn::encoder_backward`], [`Sbn::encoder_tangent`]: the
//!   score-function and variance-gradient building blocks of the estimators.
//!
//! # Steps
//! Both models compose their passes of the same per-map and per-layer steps, so that each pass
//! reads as the model's equations, one line per term:
//! - `map_pass.rs`: a map over the batch ([`Net`](crate::net::Net)) with its forward values and
//!   adjoints, their τ-tangents, the Bernoulli likelihood at its output (of the data, or of the
//!   samples of the layer below) and the encoder of a stochastic layer, at the hard pass's
//!   inputs or at relaxed ones;
//! - `layer.rs`: a stochastic layer's hard sample, its relaxation y = σ(α·z + β·a), the reverse
//!   mode from ȳ and its τ-tangent, and the prior's gradient;
//! - `data.rs`: the loaded batch and the fixed data vectors;
//! - `bernoulli.rs`: row loops of Bernoulli log-likelihoods.
//!
//! The lane loops are the kernels of [`crate::math::simd`] (`bernoulli.rs`, `relax.rs`), tested
//! there; the model files hold none.

mod bernoulli;
mod data;
mod layer;
mod map_pass;
mod one_layer;
mod paper;
mod two_layer;

pub use layer::{BINARY_MAX_DENSITY, BinaryBatch, LayerScratch, RowScratch};
pub use one_layer::{OneLayer, OneLayerScratch};
pub use paper::*;
pub use two_layer::{TwoLayer, TwoLayerScratch};

use crate::net::GradWrite;
use crate::tensors::Tensors;
use bytemuck::Zeroable;
use rand_core::Rng;

/// What the model's ELBO is about.
pub trait Task: Zeroable + 'static {
    /// True for structured prediction: f(b) = log p(x_bottom | b) with the encoder acting as the
    /// conditional prior, no prior and no log q terms (docs/estimators.md, *Models: structured prediction*).
    const STRUCTURED: bool;
}

/// Generative modelling: f(b) = log p(x, b) − log q(b | x), the single-sample ELBO.
#[derive(Zeroable, Debug, Clone, Copy)]
pub struct Generative;
impl Task for Generative {
    const STRUCTURED: bool = false;
}

/// Structured prediction: predict the bottom half of a digit from its top half.
#[derive(Zeroable, Debug, Clone, Copy)]
pub struct Structured;
impl Task for Structured {
    const STRUCTURED: bool = true;
}

/// How stochastic units are relaxed: y = σ(s) with s = α·z + β·a, where z = a + L(u) is the
/// logistic reparameterisation of the unit with logit a (docs/estimators.md, *Noise and relaxations*).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Relaxation {
    /// REBAR's modified relaxation σ(z/λ + a·λ/(λ+1)) (official default, `muprop_relaxation`).
    Modified {
        /// λ > 0.
        temperature: f32,
    },
    /// The Concrete relaxation σ(z/λ).
    Plain {
        /// λ > 0.
        temperature: f32,
    },
    /// The mean-field pass of MuProp: y = σ(a), no noise.
    Mean,
}

/// The relaxation's linear form s = α·z + β·a and the derivatives of its coefficients with
/// respect to τ = log λ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RelaxCoefficients {
    /// Coefficient of z.
    pub alpha: f32,
    /// Coefficient of a.
    pub beta: f32,
    /// dα/dτ.
    pub d_alpha: f32,
    /// dβ/dτ.
    pub d_beta: f32,
}

impl Relaxation {
    /// The coefficients of s = α·z + β·a.
    pub fn coefficients(self) -> RelaxCoefficients {
        match self {
            // α = 1/λ, β = λ/(λ+1): dα/dτ = −1/λ, dβ/dτ = λ/(λ+1)².
            Relaxation::Modified { temperature: l } => RelaxCoefficients {
                alpha: 1.0 / l,
                beta: l / (l + 1.0),
                d_alpha: -1.0 / l,
                d_beta: l / ((l + 1.0) * (l + 1.0)),
            },
            Relaxation::Plain { temperature: l } => {
                RelaxCoefficients { alpha: 1.0 / l, beta: 0.0, d_alpha: -1.0 / l, d_beta: 0.0 }
            }
            Relaxation::Mean => RelaxCoefficients { alpha: 0.0, beta: 1.0, d_alpha: 0.0, d_beta: 0.0 },
        }
    }
}

/// A sigmoid belief network with `H` units per stochastic layer.
///
/// The scratch of capacity `B` holds everything a pass computes, for the estimators to read:
/// per layer ([`LayerScratch`]) the noise, hard logits, probabilities and samples, the relaxed
/// values and their adjoints and tangents; per example ([`RowScratch`]) the ELBO terms.
pub trait Sbn<const H: usize>: Tensors + Zeroable {
    /// Number of stochastic layers (1 or 2).
    const LAYERS: usize;
    /// Whether every layer's [`Sbn::encoder_tangent_pair`] is one pass over the direction
    /// ([`crate::net::Net::TANGENT_PAIR_IN_ONE_PASS`]).
    const ENCODER_TANGENT_PAIR_IN_ONE_PASS: bool = false;
    /// True for structured prediction (see [`Task`]).
    const STRUCTURED: bool;
    /// One example's encoder input (the whole image, or its top half for structured prediction),
    /// as 0/1 values.
    type Input: Copy + Zeroable;
    /// One example's target (the whole image, or its bottom half).
    type Target: Copy + Zeroable;
    /// Workspace for a batch of at most `B` rows.
    type Scratch<const B: usize>: Zeroable + Send + Sync;

    /// Initialises the parameters (truncated normal weights, zero biases and prior).
    fn init<R: Rng + ?Sized>(&mut self, rng: &mut R);

    /// Sets the fixed vectors from the training-set means of the input and the target:
    /// the encoder subtracts `input_mean`, the decoder adds logit(clip(target_mean, 0.001, 0.999)).
    fn set_data_mean(&mut self, input_mean: &Self::Input, target_mean: &Self::Target);

    /// Shows the parameters and the fixed data vectors to a checkpoint visitor.
    fn visit_state(&mut self, v: &mut dyn crate::state::StateVisitor);

    /// The fixed encoder centring x̄ (see [`Sbn::set_data_mean`]).
    fn input_mean(&self) -> &Self::Input;

    /// Stochastic layer `l` of the scratch (`l < LAYERS`; larger `l` gives the top layer).
    fn layer<const B: usize>(s: &Self::Scratch<B>, l: usize) -> &LayerScratch<H, B>;
    /// Stochastic layer `l` of the scratch, mutable.
    fn layer_mut<const B: usize>(s: &mut Self::Scratch<B>, l: usize) -> &mut LayerScratch<H, B>;
    /// Per-example values of the scratch.
    fn rows<const B: usize>(s: &Self::Scratch<B>) -> &RowScratch<B>;
    /// Per-example values of the scratch, mutable.
    fn rows_mut<const B: usize>(s: &mut Self::Scratch<B>) -> &mut RowScratch<B>;

    /// Loads a batch (at most `B` examples; the rest are ignored) and returns its size.
    /// Every later pass works on this batch until the next call.
    fn load_batch<const B: usize>(
        &self,
        inputs: &[Self::Input],
        targets: &[Self::Target],
        s: &mut Self::Scratch<B>,
    ) -> usize;

    /// The centred inputs x − x̄ of the loaded batch (the input of the estimators' baselines).
    fn centered_inputs<const B: usize>(s: &Self::Scratch<B>) -> &[Self::Input];

    /// The loaded batch as `1·(x − x̄)` with binary x, if it is binary (for the baselines' first
    /// layer).
    fn binary_inputs<'a, const B: usize>(&'a self, s: &'a Self::Scratch<B>) -> Option<crate::net::BinaryRows<'a>>;

    /// Hard pass: b_l = 1[a_l + ε_l > 0] for each layer, with ε_l the layer's `noise`, or its
    /// `noise_alt` when bit `l` of `alt` is set. Fills the layers' `logits`, `prob`, `sample`,
    /// `log_q` and the rows' `log_p` and `elbo`: [`Sbn::hard_encode`], then [`Sbn::hard_decode`].
    fn hard_forward<const B: usize>(&self, s: &mut Self::Scratch<B>, alt: u32) {
        self.hard_encode(s, alt);
        self.hard_decode(s);
    }

    /// The encoder half of [`Sbn::hard_forward`]: the layers' `logits`, `prob`, `sample` and
    /// `log_q`, and whatever the encoder's later passes read (relaxed passes, encoder backward and
    /// tangents need nothing from [`Sbn::hard_decode`]).
    fn hard_encode<const B: usize>(&self, s: &mut Self::Scratch<B>, alt: u32);

    /// The generative half of [`Sbn::hard_forward`], after [`Sbn::hard_encode`]: the decoder
    /// and prior at the samples, the rows' `log_p` and `elbo`, and what [`Sbn::decoder_backward`]
    /// and [`Sbn::reconstruct`] read.
    fn hard_decode<const B: usize>(&self, s: &mut Self::Scratch<B>);

    /// `grad += Σ_r weights[r] · ∇_θ log p(x_r, b_r)` over the decoder and prior, for the
    /// samples of the last hard pass. With [`GradWrite::Set`], `=`: every tensor outside the
    /// encoders ([`Sbn::encoder_tensors`]) is written, so that this call and one
    /// [`Sbn::encoder_backward`] per layer write a whole gradient without zeroing it first.
    fn decoder_backward<const B: usize>(
        &self,
        s: &mut Self::Scratch<B>,
        weights: &[f32],
        grad: &mut Self,
        write: GradWrite,
    );

    /// `grad += Σ_r J_{l,r}ᵀ · dlogits_{l,r}` (`=` with [`GradWrite::Set`]): backpropagates the
    /// `dlogits` of layer `l` through that layer's encoder map at the inputs of the last hard
    /// pass (the score-function term).
    fn encoder_backward<const B: usize>(&self, s: &mut Self::Scratch<B>, l: usize, grad: &mut Self, write: GradWrite);

    /// The tensor indices (order of [`Tensors`]) of layer `l`'s encoder: the only tensors
    /// [`Sbn::encoder_backward`] writes for `l`, and the only ones [`Sbn::encoder_tangent`] reads.
    fn encoder_tensors(l: usize) -> core::ops::Range<usize>;

    /// `out_r = J_{l,r} · (scales ⊙ dir)`: the forward-mode product of layer `l`'s logits with a
    /// parameter direction, at the inputs of the last hard pass. `scales` has one factor per
    /// tensor of the whole model (tensor order of [`Tensors`]).
    fn encoder_tangent<const B: usize>(
        &self,
        s: &mut Self::Scratch<B>,
        l: usize,
        dir: &Self,
        scales: &[f32],
        out: &mut [[f32; H]],
    );

    /// [`Sbn::encoder_tangent`] for two sets of scales at once (REBAR's J·g and J·(η ⊙ g)):
    /// `out[k]_r = J_{l,r} · (scales[k] ⊙ dir)`, with the same results as two calls. Default:
    /// two calls; the models of this crate pass both to their encoder map's
    /// [`crate::net::Net::tangent_binary_pair`], which an affine map does in one pass over `dir`.
    fn encoder_tangent_pair<const B: usize>(
        &self,
        s: &mut Self::Scratch<B>,
        l: usize,
        dir: &Self,
        scales: [&[f32]; 2],
        out: [&mut [[f32; H]]; 2],
    ) {
        for (scales, out) in scales.into_iter().zip(out) {
            self.encoder_tangent::<B>(s, l, dir, scales, out);
        }
    }

    /// The decoder's mean σ(logits) for the samples of the last hard pass: reconstructions of
    /// the inputs (generative) or predictions of the bottom halves (structured prediction).
    fn reconstruct<const B: usize>(&self, s: &Self::Scratch<B>, out: &mut [Self::Target]);

    /// Ancestral samples of the generative model for `n ≤ B` rows, drawn with each layer's
    /// `noise` (fill it first): the top layer from the prior, each lower layer given the one above,
    /// then the decoder's mean σ(logits) into `out`. Structured-prediction models have no prior
    /// and return `false` without writing.
    fn generate<const B: usize>(&self, s: &mut Self::Scratch<B>, n: usize, out: &mut [Self::Target]) -> bool;

    /// Relaxed pass from stochastic layer `from` on: layers below `from` keep their hard samples,
    /// layer `from` and above are relaxed from their `noise`. Fills the layers' `r_*` values and
    /// the rows' `relaxed_elbo`.
    fn relaxed_forward<const B: usize>(&self, s: &mut Self::Scratch<B>, from: usize, relax: Relaxation);

    /// Reverse mode of `scale · Σ_r f_r` for the last relaxed pass: fills each relaxed layer's
    /// `r_y_bar` (adjoint of y), `r_s_bar` (of s) and `r_logits_bar` (of the logits, taking z = a +
    /// ε), the rows' `relaxed_elbo_dtau` (∂/∂log λ), and adds the parameter gradient to `grad` if
    /// given (with [`GradWrite::Set`], writes every tensor of `grad`).
    fn relaxed_backward<const B: usize>(
        &self,
        s: &mut Self::Scratch<B>,
        from: usize,
        relax: Relaxation,
        scale: f32,
        grad: Option<(&mut Self, GradWrite)>,
    );

    /// Forward mode in τ = log λ through the last relaxed pass and its reverse mode (run
    /// [`Sbn::relaxed_backward`] first with the same arguments): fills each relaxed layer's
    /// `r_y_dot` and `r_s_bar_dot` (= d r_s_bar / dτ).
    fn relaxed_tangent<const B: usize>(&self, s: &mut Self::Scratch<B>, from: usize, relax: Relaxation, scale: f32);
}
