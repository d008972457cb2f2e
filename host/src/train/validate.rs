//! The options of a run, checked before any work: each refusal names the option and its value,
//! so a mistyped sweep fails in a second rather than after an hour, or worse, exits 0 with a
//! meaningless result (a negative learning rate climbs the loss and still "finishes").

use super::compare::CompareConfig;
use super::config::{BinarizeKind, EstimatorKind, TrainConfig};
use super::{BATCH_CAPACITY, parallel};
use crate::data::{Dataset, Source};

/// The largest learning rate accepted. Adam moves every parameter by up to about the learning
/// rate per step whatever the gradient's scale, so above 1 each weight jumps by more than the
/// whole range the models' weights live in (|w| < 1) at every step, and the run diverges; the
/// paper's rates are 1e-4 to 3e-4.
pub const MAX_LEARNING_RATE: f32 = 1.0;

/// An option that cannot make a meaningful run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptionError {
    /// The learning rate is not a positive finite number, or is above [`MAX_LEARNING_RATE`].
    #[error(
        "--lr {0:?}: the learning rate must be a finite number in (0, {MAX_LEARNING_RATE}] (Adam moves every \
         parameter by about the learning rate per step, so a larger one diverges; the paper uses 1e-4 to 3e-4)"
    )]
    LearningRate(f32),
    /// A temperature the estimator uses is not a positive finite number.
    #[error("--temperature {value:?}: the {estimator} estimator's temperature λ must be a finite number above 0")]
    Temperature {
        /// The estimator that uses it.
        estimator: &'static str,
        /// The value given.
        value: f32,
    },
    /// `--steps 0`: nothing to train, and nothing to summarise.
    #[error("--steps 0: a run needs at least one step")]
    NoSteps,
    /// The batch is empty or larger than the buffers.
    #[error("--batch {0}: must be between 1 and {BATCH_CAPACITY}")]
    Batch(usize),
    /// More shards than examples per batch.
    #[error("--shards {shards} needs a batch of at least {shards} (--batch is {batch})")]
    Shards {
        /// Shards asked for.
        shards: usize,
        /// The batch.
        batch: usize,
    },
    /// The shard count is beyond what the parallel step supports.
    #[error("--shards {0}: must be between 1 and {max}", max = parallel::MAX_SHARDS)]
    ShardCount(usize),
    /// The batch is larger than the training set: every batch would silently be the whole set.
    #[error(
        "--batch {batch} is larger than the {train} training images of {data}: use --batch {train} or less, \
         or more data"
    )]
    BatchAboveData {
        /// The batch.
        batch: usize,
        /// Training images.
        train: usize,
        /// The data (as `--data` names it).
        data: String,
    },
    /// Dynamic binarization asked of data that holds no grey levels.
    #[error(
        "--binarize dynamic needs --data: the built-in MNIST is stored binarized once (static), it has no grey \
         levels to resample"
    )]
    DynamicBuiltin,
    /// A biased estimator in `rebar variance`'s comparison.
    #[error(
        "--estimators {0}: concrete is biased, so its variance cannot be compared with the others' (a biased \
         estimator can have any variance, down to 0); compare unbiased estimators only"
    )]
    BiasedInComparison(&'static str),
    /// `rebar variance`: no estimator to compare.
    #[error("--estimators: give at least one estimator")]
    NoEstimators,
    /// `rebar variance`: the estimator whose updates the model follows is not compared.
    #[error("--follow {0}: the followed estimator must be among --estimators")]
    FollowedNotCompared(&'static str),
}

fn learning_rate(lr: f32) -> Result<(), OptionError> {
    if lr.is_finite() && lr > 0.0 && lr <= MAX_LEARNING_RATE { Ok(()) } else { Err(OptionError::LearningRate(lr)) }
}

fn temperature(estimator: EstimatorKind, value: Option<f32>) -> Result<(), OptionError> {
    match value {
        Some(t) if estimator.default_temperature().is_some() && !(t.is_finite() && t > 0.0) => {
            Err(OptionError::Temperature { estimator: estimator.name(), value: t })
        }
        _ => Ok(()),
    }
}

fn batch(batch: usize) -> Result<(), OptionError> {
    if (1..=BATCH_CAPACITY).contains(&batch) { Ok(()) } else { Err(OptionError::Batch(batch)) }
}

impl TrainConfig {
    /// Checks every option that can be checked without the data: the learning rate, the
    /// temperature (for the estimators that use one), the steps, batch and shards, and
    /// `--binarize dynamic` without `--data`.
    pub fn validate(&self) -> Result<(), OptionError> {
        learning_rate(self.learning_rate)?;
        temperature(self.estimator, self.temperature)?;
        if self.steps == 0 {
            return Err(OptionError::NoSteps);
        }
        batch(self.batch)?;
        let shards = self.shards();
        if !(1..=parallel::MAX_SHARDS).contains(&shards) {
            return Err(OptionError::ShardCount(shards));
        }
        if shards > self.batch {
            return Err(OptionError::Shards { shards, batch: self.batch });
        }
        if self.data.is_none() && self.binarize == BinarizeKind::Dynamic {
            return Err(OptionError::DynamicBuiltin);
        }
        Ok(())
    }

    /// Checks the options against the loaded data: the batch must fit in the training split.
    pub fn validate_data(&self, data: &Dataset) -> Result<(), OptionError> {
        let train = data.train.len();
        if self.batch > train {
            let data = Source::from_arg(self.data.as_deref()).to_string();
            return Err(OptionError::BatchAboveData { batch: self.batch, train, data });
        }
        Ok(())
    }
}

impl CompareConfig {
    /// Checks the comparison's options: unbiased estimators only (the pooled mean of their
    /// gradients is the true gradient only if each is unbiased), the learning rate, the
    /// temperature, the steps and the batch.
    pub fn validate(&self) -> Result<(), OptionError> {
        if self.estimators.is_empty() {
            return Err(OptionError::NoEstimators);
        }
        if let Some(biased) = self.estimators.iter().find(|e| **e == EstimatorKind::Concrete) {
            return Err(OptionError::BiasedInComparison(biased.name()));
        }
        if !self.estimators.contains(&self.follow) {
            return Err(OptionError::FollowedNotCompared(self.follow.name()));
        }
        learning_rate(self.learning_rate)?;
        for &e in &self.estimators {
            temperature(e, self.temperature)?;
        }
        if self.steps == 0 {
            return Err(OptionError::NoSteps);
        }
        batch(self.batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> TrainConfig {
        crate::train::config::example()
    }

    #[test]
    fn each_bad_option_is_refused_by_name() {
        assert_eq!(config().validate(), Ok(()));
        for lr in [-1.0, 0.0, f32::NAN, f32::INFINITY, 1e9] {
            let e = TrainConfig { learning_rate: lr, ..config() }.validate().unwrap_err();
            assert!(e.to_string().starts_with(&format!("--lr {lr:?}:")), "{e}");
        }
        assert_eq!(TrainConfig { learning_rate: 1.0, ..config() }.validate(), Ok(()));
        let e = TrainConfig { temperature: Some(0.0), ..config() }.validate().unwrap_err();
        assert_eq!(e, OptionError::Temperature { estimator: "rebar", value: 0.0 });
        // An estimator without a temperature ignores it.
        let nvil = TrainConfig { estimator: EstimatorKind::Nvil, temperature: Some(-1.0), ..config() };
        assert_eq!(nvil.validate(), Ok(()));
        assert_eq!(TrainConfig { steps: 0, ..config() }.validate(), Err(OptionError::NoSteps));
        assert_eq!(TrainConfig { batch: 0, ..config() }.validate(), Err(OptionError::Batch(0)));
        assert_eq!(TrainConfig { batch: 129, ..config() }.validate(), Err(OptionError::Batch(129)));
        let shards = TrainConfig { batch: 2, shards: Some(3), ..config() };
        assert_eq!(shards.validate(), Err(OptionError::Shards { shards: 3, batch: 2 }));
        let dynamic = TrainConfig { binarize: BinarizeKind::Dynamic, ..config() };
        assert_eq!(dynamic.validate(), Err(OptionError::DynamicBuiltin));
        let with_data = TrainConfig { data: Some("fashion".into()), ..dynamic };
        assert_eq!(with_data.validate(), Ok(()));
    }
}
