//! One training step's estimate as stages, so that a driver can split a batch into shards (each
//! estimated by its own replica of the estimator, side by side if the driver can) and still
//! get the whole batch's gradient. Every estimator implements the stages through
//! [`Estimator`]'s provided methods; only the estimators whose estimate is not a mean of
//! per-example terms override them. The driver calls, for every shard:
//!
//! 1. [`Estimator::estimate_shard`] on the rows loaded in the shard's workspace. What it returns
//!    depends on the estimator's [`Shape`]:
//!    - [`Shape::PerExample`] (the default; NVIL, MuProp, DisARM, ...): the shard's gradient,
//!      done. The batch's gradient is the shards' gradients averaged by their rows.
//!    - [`Shape::BatchElbo`] (REINFORCE, whose baseline is the mean ELBO of the batch's other
//!      examples): the sum of the shard's ELBOs. Once every shard has one, the driver passes the
//!      batch's sum to [`Estimator::finish_batch_elbo`], which writes the shard's gradient.
//!    - [`Shape::WholeGradient`] (REBAR, RELAX, whose control variates descend the variance of
//!      the *whole batch's* gradient g = A + η ⊙ B): the parts A (in `grad`) and B
//!      ([`Estimator::control_variate_tensor`]).
//! 2. [`Shape::WholeGradient`] only: the driver averages the shards' A and B by their rows,
//!    forms g piece by piece through [`Estimator::combine`] (which also returns the sums over g
//!    the variance gradient needs, as [`GradientTotals`]), and then calls
//!    [`Estimator::finish_shard`] on every shard with the whole g and its totals: the variance
//!    gradients of the shard's rows.
//!
//! A driver that loads the whole batch into one workspace and runs these stages gets
//! [`Estimator::estimate`]'s results bit for bit (`tests/tests/stages.rs`).
//!
//! Some estimates split further into two independent halves that write apart
//! ([`Estimator::splits_in_halves`]; REBAR's score half A and control-variate half B). Given a
//! second workspace holding the same batch, [`Estimator::estimate_shard`] and
//! [`Estimator::finish_shard`] run their halves through the driver's [`crate::Fork`], one half in
//! each workspace; the results are the same with or without it.

#[cfg(doc)]
use super::Estimator;
use super::MAX_TENSORS;

/// How an estimator's shard estimates make up the whole batch's (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The gradient is a mean of per-example terms: the batch's is the shards' averaged by rows.
    PerExample,
    /// Each example's learning signal needs the batch's sum of ELBOs (REINFORCE's leave-one-out
    /// baseline): [`Estimator::finish_batch_elbo`] after every shard's sample.
    BatchElbo,
    /// The control variates descend the variance of the whole batch's gradient (REBAR, RELAX):
    /// [`Estimator::combine`], then [`Estimator::finish_shard`].
    WholeGradient,
}

/// What stage 1 ([`Estimator::estimate_shard`]) leaves for the driver.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ShardEstimate {
    /// [`Shape::PerExample`]: the shard's gradient is in `grad`; its diagnostics.
    Gradient(super::Diagnostics),
    /// [`Shape::BatchElbo`]: Σ f(b) over the shard's rows.
    ElboSum(f32),
    /// [`Shape::WholeGradient`]: A is in `grad` and B in [`Estimator::control_variate_tensor`];
    /// false (with zero parts) if the shard had no rows.
    Parts {
        /// Whether the shard had rows to estimate.
        estimated: bool,
    },
}

/// Sums over (pieces of) g = A + η ⊙ B that the variance gradient needs (see
/// [`Estimator::combine`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradientTotals {
    /// Σ g_j².
    pub sum_squares: f64,
    /// Number of values summed.
    pub count: usize,
    /// ⟨g_t, B_t⟩ per tensor.
    pub g_dot_b: [f64; MAX_TENSORS],
}

impl Default for GradientTotals {
    fn default() -> Self {
        GradientTotals { sum_squares: 0.0, count: 0, g_dot_b: [0.0; MAX_TENSORS] }
    }
}

impl GradientTotals {
    /// Adds the sums of another piece.
    pub fn add(&mut self, other: &GradientTotals) {
        self.sum_squares += other.sum_squares;
        self.count += other.count;
        for (a, b) in self.g_dot_b.iter_mut().zip(&other.g_dot_b) {
            *a += b;
        }
    }
}
