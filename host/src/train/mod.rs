//! Training runs: configuration, the loop, evaluation, checkpoints, and the dispatch from the
//! command line's choices to the monomorphised model and estimator types.

pub mod any;
mod awake;
pub mod checkpoint;
pub mod checkpointed;
pub mod clock;
pub mod compare;
pub mod config;
pub mod eval;
pub mod feed;
pub mod last_pass;
pub mod parallel;
mod phase_times;
pub mod progress;
mod replica_state;
pub mod resume;
pub mod session;
pub mod validate;
pub mod variance;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use rebar_core::Sbn;
use rebar_core::model::{HALF, LATENT, Linear1, Linear1Sp, Linear2, Linear2Sp, Nonlinear, NonlinearSp, PIXELS};

pub use any::{AnyEstimator, EstimatorOptions};
pub use checkpointed::Checkpointed;
pub use config::{BinarizeKind, EstimatorKind, ModelKind, TaskKind, TildeKind, TrainConfig};
pub use session::{Outcome, Output, Session};
pub use validate::OptionError;

use crate::data::Dataset;
use feed::{Stream, stream_rng};

/// The largest batch a run can use: the capacity of every per-batch buffer.
pub const BATCH_CAPACITY: usize = 128;

/// Why a run stopped early.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Reading or writing a file failed.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A checkpoint is corrupt, truncated or from another run.
    #[error("checkpoint {file}: {problem}")]
    Checkpoint {
        /// The file.
        file: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// A step produced NaN or infinity.
    #[error("step {step}: the {estimator} estimator produced a non-finite {what}; stopped{checkpoint}")]
    NonFinite {
        /// The 0-based step.
        step: u64,
        /// The estimator.
        estimator: &'static str,
        /// What was not finite.
        what: String,
        /// What is left to resume from.
        checkpoint: Checkpointed,
    },
    /// An option cannot make a meaningful run.
    #[error(transparent)]
    Options(#[from] OptionError),
    /// The estimator's options cannot make an estimator (REBAR's and RELAX's temperature).
    #[error("the estimator's options: {0}")]
    Estimator(#[from] rebar_core::estimator::RebarConfigError),
    /// The parallel step cannot start.
    #[error(transparent)]
    Threads(#[from] parallel::ThreadsError),
    /// A checkpoint belongs to another run, or to a longer one.
    #[error("checkpoint {}: {source}", file.display())]
    Resume {
        /// The checkpoint.
        file: PathBuf,
        /// Why it cannot be resumed.
        source: resume::ResumeError,
    },
    /// Ctrl-C: the state was saved.
    #[error("interrupted after step {step}; the checkpoint in {dir} is saved, continue with --resume")]
    Interrupted {
        /// Steps completed.
        step: u64,
        /// The run folder.
        dir: PathBuf,
    },
}

/// Runs one training run as configured.
pub fn train(config: &TrainConfig, data: &Dataset, out: &Output, stop: &AtomicBool) -> Result<Outcome, TrainError> {
    config.validate()?;
    config.validate_data(data)?;
    match (config.model, config.task) {
        (ModelKind::Linear1, TaskKind::Gen) => with_model::<Linear1, PIXELS, LATENT, PIXELS>(config, data, out, stop),
        (ModelKind::Linear2, TaskKind::Gen) => with_model::<Linear2, PIXELS, LATENT, PIXELS>(config, data, out, stop),
        (ModelKind::Nonlinear, TaskKind::Gen) => {
            with_model::<Nonlinear, PIXELS, LATENT, PIXELS>(config, data, out, stop)
        }
        (ModelKind::Linear1, TaskKind::Sp) => with_model::<Linear1Sp, HALF, LATENT, HALF>(config, data, out, stop),
        (ModelKind::Linear2, TaskKind::Sp) => with_model::<Linear2Sp, HALF, LATENT, HALF>(config, data, out, stop),
        (ModelKind::Nonlinear, TaskKind::Sp) => with_model::<NonlinearSp, HALF, LATENT, HALF>(config, data, out, stop),
    }
}

fn with_model<M, const X: usize, const H: usize, const Y: usize>(
    config: &TrainConfig,
    data: &Dataset,
    out: &Output,
    stop: &AtomicBool,
) -> Result<Outcome, TrainError>
where
    M: Sbn<H, Input = [f32; X], Target = [f32; Y]> + Send + Sync,
{
    // The control variates are initialised from their own stream, after the model's.
    let mut rng = stream_rng(config.seed, Stream::Init, 1);
    let shards = config.shards();
    let options = EstimatorOptions {
        temperature: config.temperature,
        plain_relaxation: config.plain_relaxation,
        tilde: config.tilde.noise(),
    };
    let estimator = AnyEstimator::<M, X, H, BATCH_CAPACITY>::new(config.estimator, options, &mut rng)?;
    // Replicas start as fresh estimators; the session copies the first one's state into them.
    let replicas = (1..shards.max(1))
        .map(|_| AnyEstimator::new(config.estimator, options, &mut rng.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut session = Session::<M, X, H, Y>::new(config.clone(), data, estimator, replicas, out.clone())?;
    session.run(stop)
}

/// Work to do with a model restored from a checkpoint, whatever its type.
pub trait WithModel {
    /// The result.
    type Output;
    /// Runs on the restored model.
    fn run<M, const X: usize, const H: usize, const Y: usize>(
        self,
        header: &checkpoint::Header,
        model: &M,
    ) -> Self::Output
    where
        M: Sbn<H, Input = [f32; X], Target = [f32; Y]> + Sync;
}

/// Restores the model of the checkpoint at `path` (its parameters and fixed data vectors, not
/// the optimiser or the estimator) and hands it to `work`.
pub fn with_checkpoint<W: WithModel>(path: &std::path::Path, work: W) -> Result<W::Output, TrainError> {
    let (header, reader) = checkpoint::read(path)?;
    fn restore<M, W: WithModel, const X: usize, const H: usize, const Y: usize>(
        header: &checkpoint::Header,
        mut reader: checkpoint::StateReader,
        work: W,
    ) -> Result<W::Output, TrainError>
    where
        M: Sbn<H, Input = [f32; X], Target = [f32; Y]> + Sync,
    {
        let mut model: Box<M> = bytemuck::zeroed_box();
        model.visit_state(&mut reader);
        reader.finish_prefix()?;
        Ok(work.run::<M, X, H, Y>(header, &model))
    }
    let c = &header.config;
    match (c.model, c.task) {
        (ModelKind::Linear1, TaskKind::Gen) => restore::<Linear1, W, PIXELS, LATENT, PIXELS>(&header, reader, work),
        (ModelKind::Linear2, TaskKind::Gen) => restore::<Linear2, W, PIXELS, LATENT, PIXELS>(&header, reader, work),
        (ModelKind::Nonlinear, TaskKind::Gen) => restore::<Nonlinear, W, PIXELS, LATENT, PIXELS>(&header, reader, work),
        (ModelKind::Linear1, TaskKind::Sp) => restore::<Linear1Sp, W, HALF, LATENT, HALF>(&header, reader, work),
        (ModelKind::Linear2, TaskKind::Sp) => restore::<Linear2Sp, W, HALF, LATENT, HALF>(&header, reader, work),
        (ModelKind::Nonlinear, TaskKind::Sp) => restore::<NonlinearSp, W, HALF, LATENT, HALF>(&header, reader, work),
    }
}
