//! The files a run writes, as typed records: one `metrics.csv` row per epoch (its wall-clock
//! figures in `timing.csv`), `summary.json` at
//! the end, and the rows of the `variance` and `toy` commands. Every reader (`rebar report`, the
//! plots) goes through these types, so the format is defined in one place.

use serde::{Deserialize, Serialize};

/// Version of the run-folder format, stored in every summary.
pub const FORMAT_VERSION: u32 = 1;

/// File names inside a run folder.
pub mod files {
    /// Per-epoch metrics ([`super::EpochRow`]), deterministic for a seed and build.
    pub const METRICS: &str = "metrics.csv";
    /// The same metrics over windows of steps (about 200 windows per run), for plots.
    pub const PROGRESS: &str = "progress.csv";
    /// Per-epoch wall-clock figures ([`super::TimingRow`]).
    pub const TIMING: &str = "timing.csv";
    /// The run's summary ([`super::Summary`]).
    pub const SUMMARY: &str = "summary.json";
    /// Training curves.
    pub const CURVES: &str = "curves.png";
    /// The latest checkpoint.
    pub const CHECKPOINT: &str = "checkpoint.rbck";
    /// The run's wall clock up to the latest checkpoint, over all its processes.
    pub const CLOCK: &str = "clock.json";
    /// Held (an advisory lock) by the process training into the folder; holds its pid.
    pub const LOCK: &str = "run.lock";
}

/// One row of `metrics.csv`: the averages over one epoch of training (official protocol:
/// docs/protocol.md, *Training ELBO* and *Gradient variance metric*).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRow {
    /// Epochs completed (1-based).
    pub epoch: u64,
    /// Training steps completed.
    pub step: u64,
    /// Mean over the epoch's steps of the minibatch-mean single-sample ELBO (nats).
    pub train_elbo: f64,
    /// Natural log of the epoch mean of the per-step gradient-variance estimate
    /// mean_j(EMA\[g_j²\] − EMA\[g_j\]²), EMA decay 0.999 started at 0 as in the official code.
    pub log_variance: f64,
    /// The estimator's temperature at the end of the epoch (empty if it has none).
    pub temperature: Option<f64>,
    /// Mean control-variate scale η at the end of the epoch (empty if none).
    pub eta_mean: Option<f64>,
    /// IWAE bound on the validation split (empty in epochs without evaluation).
    pub valid_iwae: Option<f64>,
    /// IWAE bound on the test split (empty in epochs without evaluation).
    pub test_iwae: Option<f64>,
}

/// One row of `timing.csv`: wall-clock figures per epoch, kept apart from `metrics.csv` so that
/// the metrics of two runs with the same seed and build are byte-identical.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimingRow {
    /// Epochs completed (1-based).
    pub epoch: u64,
    /// Training steps per second over the epoch (wall clock, evaluation excluded).
    pub steps_per_second: f64,
    /// Seconds of training and evaluation since the run started, summed over its processes
    /// when it was resumed.
    pub seconds: f64,
}

/// Where the data came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSource {
    /// `builtin`, the IDX directory, or `omniglot:` and the MAT-file (as `--data` gave it, made
    /// absolute).
    pub source: String,
    /// `static` (with its seed) or `dynamic`.
    pub binarization: String,
}

/// The final numbers of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinalMetrics {
    /// The last epoch's training ELBO.
    pub train_elbo: f64,
    /// The highest epoch training ELBO of the run.
    pub best_train_elbo: f64,
    /// Single-sample ELBO on the validation split.
    pub valid_elbo: Option<f64>,
    /// IWAE bound on the validation split.
    pub valid_iwae: Option<f64>,
    /// Single-sample ELBO on the test split.
    pub test_elbo: Option<f64>,
    /// IWAE bound on the test split.
    pub test_iwae: Option<f64>,
    /// Samples per example of the IWAE bounds.
    pub iwae_samples: Option<u32>,
    /// The last epoch's log gradient variance.
    pub log_variance: f64,
}

/// `summary.json`: what was run, on what, and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// `linear1`, `linear2` or `nonlinear`.
    pub model: String,
    /// `gen` or `sp`.
    pub task: String,
    /// The estimator's command-line name (`rebar`, `nvil`, ...).
    pub estimator: String,
    /// The (initial) temperature, for estimators with one.
    pub temperature: Option<f64>,
    /// Model learning rate (control variates use 10×).
    pub learning_rate: f64,
    /// Batch size.
    pub batch: u32,
    /// Training steps requested.
    pub steps: u64,
    /// Random seed.
    pub seed: u64,
    /// The data.
    pub data: DataSource,
    /// Steps actually completed.
    pub steps_completed: u64,
    /// Epochs completed (the last may be partial).
    pub epochs_completed: u64,
    /// Mean training steps per second over the run (all its processes, if resumed).
    pub steps_per_second: f64,
    /// Wall-clock seconds of training (and evaluation), over all the run's processes.
    pub wall_seconds: f64,
    /// Final numbers.
    pub final_metrics: FinalMetrics,
    /// `rebar` version and build (SIMD target features).
    pub build: String,
    /// The machine (CPU model, threads used).
    pub machine: String,
    /// The git revision the program was built from (`-modified` with uncommitted changes;
    /// absent in older summaries).
    #[serde(default)]
    pub revision: Option<String>,
    /// The estimator's work per example in this process's steps (absent in older summaries).
    #[serde(default)]
    pub work: Option<Work>,
    /// Threads of the training step (`--train-threads`; 1 in older summaries).
    #[serde(default = "one_thread")]
    pub train_threads: u32,
    /// Shards of each batch (`--shards`; absent in older summaries, whose threads were the
    /// shards: see [`Summary::shards`]).
    #[serde(default)]
    pub shards: Option<u32>,
}

impl Summary {
    /// The shards of each batch: the run's numbers depend on them.
    pub fn shards(&self) -> u32 {
        self.shards.unwrap_or(self.train_threads)
    }
}

fn one_thread() -> u32 {
    1
}

/// Multiply-adds of the dense maps (encoder, decoder, baseline nets) per training example, as
/// counted by `rebar_core::ops`: elementwise work and Adam are not included.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Work {
    /// What the kernels did: the binary-input kernels add the active weight rows only.
    pub multiply_adds_per_example: f64,
    /// What dense kernels would have done on the same shapes.
    pub dense_multiply_adds_per_example: f64,
}

/// One row of the `variance` command's CSV: an estimator's variance along the shared trajectory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VarianceRow {
    /// Training steps completed.
    pub step: u64,
    /// Epoch (1-based).
    pub epoch: u64,
    /// Estimator name.
    pub estimator: String,
    /// Which parameters: `all`, or a layer such as `enc0`, `dec0`.
    pub scope: String,
    /// Natural log of the epoch mean of mean_j(EMA_k\[g_j²\] − μ_j²) with μ the pooled mean of all
    /// estimators' first moments (official comparison mode, docs/protocol.md, *Comparison mode (Figure 2)*).
    pub log_variance: f64,
    /// Natural log of mean_j(EMA_k\[g_j\] − μ_j)², the official unbiasedness check.
    pub log_bias_check: f64,
    /// The followed estimator's training ELBO over the epoch.
    pub train_elbo: f64,
}

/// One row of the `toy` command's CSV: one step of one estimator on the toy problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToyRow {
    /// Step (0-based).
    pub step: u64,
    /// Estimator name.
    pub estimator: String,
    /// θ before the step.
    pub theta: f64,
    /// The sampled loss f(b) (exact E\[f\] for the exact gradient).
    pub loss: f64,
    /// Exponential average (0.99, bias-corrected) of the sampled loss.
    pub loss_average: f64,
    /// log of the exponential average (0.99, bias-corrected) of ĝ² − g_true² (empty for biased
    /// estimators or while not positive).
    pub log_variance: Option<f64>,
    /// Temperature used.
    pub temperature: f64,
    /// η used.
    pub eta: f64,
}
