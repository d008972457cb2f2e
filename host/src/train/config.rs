//! What a training run is: model, task, estimator and the protocol's numbers.

use std::path::PathBuf;

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

/// The paper's three generative models (rebar-reference.md §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// One stochastic layer of 200 units, affine maps (784→200, 200→784).
    Linear1,
    /// Two stochastic layers of 200 units, affine maps (784→200→200, 200→200→784).
    Linear2,
    /// One stochastic layer of 200 units, two tanh hidden layers of 200 in each map.
    Nonlinear,
}

/// Generative modelling or structured prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskKind {
    /// Model the whole image: f = log p(x, b) − log q(b | x).
    Gen,
    /// Predict the bottom half of the image from its top half: f = log p(x_bottom | b).
    Sp,
}

/// The gradient estimators (rebar-reference.md §5, peers.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EstimatorKind {
    /// REINFORCE with the leave-one-out batch baseline.
    Reinforce,
    /// NVIL: input-dependent baseline trained on the squared learning signal.
    Nvil,
    /// SimpleMuProp: scaled mean-field ELBO plus the NVIL baseline.
    SimpleMuprop,
    /// MuProp: first-order Taylor control variate around the mean-field pass.
    Muprop,
    /// Concrete (biased): the gradient of the relaxed ELBO, fixed temperature.
    Concrete,
    /// REBAR with the temperature learned by descending the estimator's variance.
    Rebar,
    /// REBAR(λ): fixed temperature.
    RebarFixed,
    /// RELAX: REBAR's control variate plus a learned neural term.
    Relax,
    /// ARM: antithetic pair, (f(b¹) − f(b²))·(u − ½).
    Arm,
    /// DisARM: ARM with the uniform integrated out.
    Disarm,
    /// REINFORCE leave-one-out with two samples per example.
    Rloo,
}

impl EstimatorKind {
    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Reinforce => "reinforce",
            Self::Nvil => "nvil",
            Self::SimpleMuprop => "simple-muprop",
            Self::Muprop => "muprop",
            Self::Concrete => "concrete",
            Self::Rebar => "rebar",
            Self::RebarFixed => "rebar-fixed",
            Self::Relax => "relax",
            Self::Arm => "arm",
            Self::Disarm => "disarm",
            Self::Rloo => "rloo",
        }
    }

    /// The paper's temperature for this estimator: 0.5 to start the learned ones, 0.1 for the
    /// fixed ones (REBAR(0.1), Concrete(0.1)); none for the others.
    pub fn default_temperature(self) -> Option<f32> {
        match self {
            Self::Rebar | Self::Relax => Some(0.5),
            Self::RebarFixed | Self::Concrete => Some(0.1),
            _ => None,
        }
    }
}

impl ModelKind {
    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Linear1 => "linear1",
            Self::Linear2 => "linear2",
            Self::Nonlinear => "nonlinear",
        }
    }
}

impl TaskKind {
    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gen => "gen",
            Self::Sp => "sp",
        }
    }
}

/// How the training images are binarized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BinarizeKind {
    /// Once, with a fixed seed (the paper's protocol; the built-in data is static).
    Static,
    /// A fresh Bernoulli sample of the grey levels at every batch.
    Dynamic,
}

/// How REBAR's conditional sample z̃ gets its noise (rebar-reference.md §1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TildeKind {
    /// Derived from the hard sample's noise, z̃ = z in value (official).
    Coupled,
    /// An independent v (fixed temperature only).
    Independent,
    /// As the official code for several stochastic layers (biased there; see the README).
    Official,
}

impl TildeKind {
    /// The core's setting.
    pub fn noise(self) -> rebar_core::estimator::TildeNoise {
        use rebar_core::estimator::TildeNoise;
        match self {
            Self::Coupled => TildeNoise::Coupled,
            Self::Independent => TildeNoise::Independent,
            Self::Official => TildeNoise::CoupledAsOfficial,
        }
    }
}

/// Everything that determines a run's numbers (and is checked when resuming).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The model.
    pub model: ModelKind,
    /// The task.
    pub task: TaskKind,
    /// The estimator.
    pub estimator: EstimatorKind,
    /// (Initial) temperature, for estimators with one.
    pub temperature: Option<f32>,
    /// REBAR, RELAX, Concrete: the plain relaxation σ(z/λ) instead of the modified one.
    pub plain_relaxation: bool,
    /// REBAR: the noise of z̃.
    pub tilde: TildeKind,
    /// Model learning rate; control variates and baselines use 10×.
    pub learning_rate: f32,
    /// Training steps.
    pub steps: u64,
    /// Batch size.
    pub batch: usize,
    /// Seed of everything random: initialisation, data order, noise.
    pub seed: u64,
    /// `None` for the built-in MNIST, or an IDX directory.
    pub data: Option<PathBuf>,
    /// Binarization of `data` (the built-in data is static).
    pub binarize: BinarizeKind,
    /// Evaluate the IWAE bound on valid and test every this many epochs (0: only at the end).
    pub eval_every: u64,
    /// Samples per example of the IWAE bound.
    pub iwae_samples: u32,
    /// Examples of each split to evaluate (0: all).
    pub eval_examples: usize,
    /// Threads of the training step, each estimating one shard of the batch
    /// ([`super::parallel`]): the noise is drawn per shard, so the numbers depend on it (1, the
    /// default, is the single-threaded step).
    #[serde(default = "one")]
    pub train_threads: usize,
}

fn one() -> usize {
    1
}
