//! What a training run is: model, task, estimator and the protocol's numbers.

use std::path::PathBuf;

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

/// The paper's three generative models (docs/estimators.md, *Models: the three architectures*).
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

/// The gradient estimators (docs/estimators.md).
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
    /// Every estimator, in declaration order (that of `--help` and the README's tables).
    pub const ALL: [EstimatorKind; 11] = [
        EstimatorKind::Reinforce,
        EstimatorKind::Nvil,
        EstimatorKind::SimpleMuprop,
        EstimatorKind::Muprop,
        EstimatorKind::Concrete,
        EstimatorKind::Rebar,
        EstimatorKind::RebarFixed,
        EstimatorKind::Relax,
        EstimatorKind::Arm,
        EstimatorKind::Disarm,
        EstimatorKind::Rloo,
    ];

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

/// How REBAR's conditional sample z̃ gets its noise (docs/estimators.md, *REBAR: the coupled noise for z̃*).
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

/// Everything that determines a run's numbers (checked when resuming, see
/// [`TrainConfig::identity`]), and the training threads, which do not.
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
    /// SHA-256 of the images `data` held when the run started ([`crate::data::Dataset::sha256`];
    /// `None` for the built-in data and in checkpoints of builds before it was recorded). A
    /// resumed run compares it, not the path: a moved copy of the same data resumes, other data
    /// at the same path is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_sha256: Option<String>,
    /// Evaluate the IWAE bound on valid and test every this many epochs (0: only at the end).
    pub eval_every: u64,
    /// Samples per example of the IWAE bound.
    pub iwae_samples: u32,
    /// Examples of each split to evaluate (0: all).
    pub eval_examples: usize,
    /// Threads of the training step ([`super::parallel`]): speed only, the numbers do not
    /// depend on it.
    #[serde(default = "one")]
    pub train_threads: usize,
    /// Shards of each batch, each estimated with its own noise ([`super::parallel`]): the
    /// numbers depend on it (1 is the single-threaded step's). `None` in the checkpoints of
    /// builds before shards were separate from threads, whose threads were the shards: see
    /// [`TrainConfig::shards`].
    #[serde(default)]
    pub shards: Option<usize>,
}

impl TrainConfig {
    /// The shards of each batch (`shards`, or in older checkpoints the threads).
    pub fn shards(&self) -> usize {
        self.shards.unwrap_or(self.train_threads)
    }

    /// The run's identity for resuming: everything but the step budget and the thread count,
    /// which a resumed run may change without changing its numbers.
    pub fn identity(&self) -> TrainConfig {
        TrainConfig { steps: 0, train_threads: 0, shards: Some(self.shards()), ..self.clone() }
    }
}

fn one() -> usize {
    1
}

/// A short learned-temperature REBAR run on the built-in data, for unit tests to vary.
#[cfg(test)]
pub(crate) fn example() -> TrainConfig {
    TrainConfig {
        model: ModelKind::Linear1,
        task: TaskKind::Gen,
        estimator: EstimatorKind::Rebar,
        temperature: Some(0.5),
        plain_relaxation: false,
        tilde: TildeKind::Coupled,
        learning_rate: 3e-4,
        steps: 100,
        batch: 24,
        seed: 0,
        data: None,
        binarize: BinarizeKind::Static,
        data_sha256: None,
        eval_every: 0,
        iwae_samples: 100,
        eval_examples: 0,
        train_threads: 1,
        shards: Some(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_checkpoints_threads_were_their_shards() {
        let new = TrainConfig { shards: Some(2), ..example() };
        // An older build's checkpoint of a run on two threads has no `shards`.
        let mut json = serde_json::to_value(&new).unwrap();
        json["train_threads"] = 2.into();
        json.as_object_mut().unwrap().remove("shards");
        let old: TrainConfig = serde_json::from_value(json).unwrap();
        assert_eq!((old.shards, old.shards()), (None, 2));
        // The same run: resuming it with two shards on any number of threads is allowed ...
        assert_eq!(old.identity(), new.identity());
        assert_eq!(old.identity(), TrainConfig { train_threads: 4, steps: 7, ..new.clone() }.identity());
        // ... with one shard it is not.
        assert_ne!(old.identity(), TrainConfig { shards: Some(1), ..new }.identity());
    }

    #[test]
    fn all_estimators_are_listed_once_in_declaration_order() {
        assert_eq!(EstimatorKind::ALL.as_slice(), EstimatorKind::value_variants());
    }
}
