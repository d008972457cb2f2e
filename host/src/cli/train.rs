//! `rebar train`: train a sigmoid belief network and write its run folder.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use rebar_host::data::{Binarize, Dataset, Source};
use rebar_host::records::{DataSource, FORMAT_VERSION, FinalMetrics, Summary, files};
use rebar_host::run_dir::{self, Intent};
use rebar_host::stop::Stop;
use rebar_host::train::{
    BinarizeKind, EstimatorKind, ModelKind, Outcome, Output, TaskKind, TildeKind, TrainConfig, TrainError, train,
};

/// `--steps` when not given.
pub const DEFAULT_STEPS: u64 = 20_000;
/// `--batch` when not given.
pub const DEFAULT_BATCH: usize = 24;

/// Options of `rebar train`.
#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// The model: linear1 (784→200→784), linear2 (two stochastic layers of 200), nonlinear (two
    /// tanh layers of 200 in each map).
    #[arg(long, value_enum, default_value_t = ModelKind::Linear1)]
    pub model: ModelKind,
    /// The task: gen (generative modelling of the whole image) or sp (structured prediction of
    /// the bottom half from the top half).
    #[arg(long, value_enum, default_value_t = TaskKind::Gen)]
    pub task: TaskKind,
    /// The gradient estimator. `rebar` learns its temperature; `rebar-fixed` and `concrete` keep
    /// theirs fixed.
    #[arg(long, value_enum, default_value_t = EstimatorKind::Rebar)]
    pub estimator: EstimatorKind,
    /// Temperature λ > 0: the initial value for rebar and relax (default 0.5), the fixed value
    /// for rebar-fixed and concrete (default 0.1, the paper's REBAR(0.1) and Concrete(0.1)).
    /// Ignored by the other estimators.
    #[arg(long)]
    pub temperature: Option<f32>,
    /// Use the plain Concrete relaxation σ(z/λ) instead of REBAR's modified σ(z/λ + a·λ/(λ+1))
    /// (rebar, rebar-fixed, relax, concrete).
    #[arg(long)]
    pub plain_relaxation: bool,
    /// The noise of REBAR's conditional sample z̃: coupled to the hard sample's (official,
    /// unbiased), independent (fixed temperature only), or official (the official code's
    /// multi-layer z̃-pass, biased with two stochastic layers).
    #[arg(long, value_enum, default_value_t = TildeKind::Coupled)]
    pub tilde: TildeKind,
    /// Adam learning rate of the model (β₂ = 0.99999 as in the official code), in (0, 1]; control
    /// variates and baselines use 10× this.
    #[arg(long, default_value_t = 3e-4)]
    pub lr: f32,
    /// Training steps (at least 1; with --resume, at least the steps done). The default is a short
    /// run that takes about a minute here (47 s on the README's machine); the paper trains for
    /// 2,000,000.
    #[arg(long, default_value_t = DEFAULT_STEPS)]
    pub steps: u64,
    /// Examples per batch (the paper uses 24; at most 128, and at most the training images).
    #[arg(long, default_value_t = DEFAULT_BATCH)]
    pub batch: usize,
    /// Seed of everything random (initialisation, data order, noise).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Run folder for metrics.csv, progress.csv, timing.csv, summary.json, curves.png and the
    /// checkpoint (default: `runs/<task>-<model>-<estimator>-lr<lr>-seed<seed>`, then every other
    /// option that makes a different run when it is not the default, e.g.
    /// `runs/gen-linear1-rebar-lr3e-4-seed0-steps100000`). A folder that holds a run is refused
    /// without --resume or --overwrite; a folder in use by another `rebar train` is refused.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Continue the run in --out from its checkpoint (the configuration must match; --steps may
    /// grow; a finished run is evaluated again). Its summary.json is deleted until the run
    /// finishes again.
    #[arg(long, conflicts_with = "overwrite")]
    pub resume: bool,
    /// Delete the run that the folder holds (summary, checkpoint, metrics, curves) and start anew.
    #[arg(long)]
    pub overwrite: bool,
    /// Write a checkpoint every this many steps (0: only at the end and when stopped by Ctrl-C,
    /// SIGTERM or SIGHUP).
    #[arg(long, default_value_t = 5_000)]
    pub checkpoint_every: u64,
    /// The data to train on instead of the built-in MNIST: a directory of 28×28 IDX files
    /// (MNIST names, raw or .gz: Fashion-MNIST, KMNIST, ...), or `omniglot:FILE` for Omniglot's
    /// chardata.mat (from the IWAE repository, datasets/OMNIGLOT/chardata.mat), split and
    /// binarized as the REBAR reference does.
    #[arg(long, value_name = "DIR|omniglot:FILE")]
    pub data: Option<PathBuf>,
    /// Binarization of --data: static (once, seeded; for Omniglot the REBAR reference's bits)
    /// or dynamic (a fresh sample every batch). The built-in data is static (dynamic is
    /// refused without --data); IDX files of 0/1 pixels are read as already binary.
    #[arg(long, value_enum, default_value_t = BinarizeKind::Static)]
    pub binarize: BinarizeKind,
    /// Evaluate the IWAE bound on valid and test every this many epochs (0: only at the end;
    /// the paper evaluates every 20 epochs).
    #[arg(long, default_value_t = 0)]
    pub eval_every: u64,
    /// Importance samples per example of the IWAE bound (the paper uses 100).
    #[arg(long, default_value_t = 100)]
    pub iwae_samples: u32,
    /// Examples of valid and test to evaluate (0: all of each, 10,000 for MNIST).
    #[arg(long, default_value_t = 0)]
    pub eval_examples: usize,
    /// Threads for evaluation (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Threads for the training step (default: as many as the shards, and at least two, but no
    /// more than the cores). Speed only: a run's numbers do not depend on it. With one shard
    /// (--shards) a second thread takes the element-wise half of the step (the gradient's
    /// reduction, the variance metric, Adam) and, for REBAR and RELAX, the score half of the
    /// estimate; with several, the threads also estimate the shards in parallel. At most one per
    /// free core: the threads wait for each other's work (e.g. 1 for runs side by side, as
    /// `rebar sweep` does).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=rebar_host::train::parallel::MAX_THREADS as u64))]
    pub train_threads: Option<u64>,
    /// Split each batch into this many shards, estimated in parallel (up to --train-threads at a
    /// time) and averaged: exactly the whole batch's estimate, for every estimator. Each shard
    /// draws its own noise, so a run's numbers depend on this count (1: the single-threaded
    /// step's numbers). For speed on N cores: --shards N (the threads follow the shards).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=rebar_host::train::parallel::MAX_SHARDS as u64))]
    pub shards: u64,
    /// No progress on stderr: neither the bar (on a terminal) nor the plain line every 30 s
    /// (when stderr is a file or a pipe, e.g. a log or `rebar sweep`'s train.log).
    #[arg(long)]
    pub quiet: bool,
}

/// `--train-threads` when not given: the shards, at least two (one shard's step has two halves
/// to run at once), at most the cores (and [`MAX_THREADS`](rebar_host::train::parallel::MAX_THREADS)).
fn default_train_threads(shards: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    shards.max(2).min(cores).min(rebar_host::train::parallel::MAX_THREADS)
}

impl TrainArgs {
    /// The run's configuration.
    pub fn config(&self) -> TrainConfig {
        TrainConfig {
            model: self.model,
            task: self.task,
            estimator: self.estimator,
            temperature: self.estimator.default_temperature().map(|d| self.temperature.unwrap_or(d)),
            plain_relaxation: self.plain_relaxation,
            tilde: self.tilde,
            learning_rate: self.lr,
            steps: self.steps,
            batch: self.batch,
            seed: self.seed,
            data: Source::from_arg(self.data.as_deref()).absolute().to_arg(),
            binarize: self.binarize,
            data_sha256: None,
            eval_every: self.eval_every,
            iwae_samples: self.iwae_samples,
            eval_examples: self.eval_examples,
            train_threads: self
                .train_threads
                .map_or_else(|| default_train_threads(self.shards as usize), |t| t as usize),
            shards: Some(self.shards as usize),
        }
    }

    /// The run folder: --out, or one named by every option that makes a different run.
    pub fn out_dir(&self) -> PathBuf {
        self.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(self.default_dir_name()))
    }

    /// `[data-]task-model-estimator-lrLR-seedN` (as `rebar sweep` names its runs), then the
    /// other options that change the run's numbers, where they are not the default.
    fn default_dir_name(&self) -> String {
        let mut name = String::new();
        match Source::from_arg(self.data.as_deref()) {
            Source::Builtin => {}
            Source::Omniglot(_) => name += "omniglot-",
            Source::Idx(dir) => {
                let stem = dir.file_name().map_or("data".into(), |n| n.to_string_lossy().into_owned());
                name += &format!("{stem}-");
            }
        }
        name += &format!(
            "{}-{}-{}-lr{:e}-seed{}",
            self.task.name(),
            self.model.name(),
            self.estimator.name(),
            self.lr,
            self.seed
        );
        if self.steps != DEFAULT_STEPS {
            name += &format!("-steps{}", self.steps);
        }
        if self.batch != DEFAULT_BATCH {
            name += &format!("-batch{}", self.batch);
        }
        if let (Some(t), Some(default)) = (self.temperature, self.estimator.default_temperature())
            && t != default
        {
            name += &format!("-temp{t}");
        }
        if self.plain_relaxation {
            name += "-plain";
        }
        if self.tilde != TildeKind::Coupled
            && let Some(v) = self.tilde.to_possible_value()
        {
            name += &format!("-tilde-{}", v.get_name());
        }
        if self.shards > 1 {
            name += &format!("-shards{}", self.shards);
        }
        if self.binarize == BinarizeKind::Dynamic {
            name += "-dynamic";
        }
        name
    }
}

/// The binarization of a run's data: the source's static seed, or dynamic.
fn binarization(source: &Source, binarize: BinarizeKind) -> Binarize {
    match binarize {
        BinarizeKind::Static => source.static_binarization(),
        BinarizeKind::Dynamic => Binarize::Dynamic,
    }
}

/// Loads the dataset a run asks for (`data` as `--data` gave it: see [`Source::from_arg`]).
pub fn load_data(data: &Option<PathBuf>, binarize: BinarizeKind) -> Result<Dataset, Box<dyn std::error::Error>> {
    let source = Source::from_arg(data.as_deref());
    Ok(source.load(binarization(&source, binarize))?)
}

/// The machine, for summaries: CPU model and threads.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    format!("{cpu}, {threads} threads")
}

/// The build, for summaries: version and the SIMD features it was compiled with.
pub fn build() -> String {
    let mut features = Vec::new();
    for (on, name) in [
        (cfg!(target_feature = "sse2"), "sse2"),
        (cfg!(target_feature = "avx2"), "avx2"),
        (cfg!(target_feature = "fma"), "fma"),
        (cfg!(target_feature = "avx512f"), "avx512f"),
        (cfg!(target_feature = "neon"), "neon"),
    ] {
        if on {
            features.push(name);
        }
    }
    format!("rebar {} ({}, {})", env!("CARGO_PKG_VERSION"), std::env::consts::ARCH, features.join("+"))
}

/// Runs the command.
pub fn run(args: &TrainArgs) -> Result<(), Box<dyn std::error::Error>> {
    let mut config = args.config();
    config.validate()?;
    let dir = args.out_dir();
    let intent = match (args.resume, args.overwrite) {
        (true, _) => Intent::Resume,
        (false, true) => Intent::Overwrite,
        (false, false) => Intent::New,
    };
    // Everything that can refuse the options is checked before the folder is touched.
    let data = load_data(&config.data, args.binarize)?;
    config.validate_data(&data)?;
    if config.data.is_some() {
        config.data_sha256 = Some(data.sha256());
    }
    // Held until the process ends: no other process trains into this folder meanwhile.
    let _claim = run_dir::claim(&dir, intent)?;
    let stop = Stop::on_signals()?;
    stop.stop_with_parent();
    let out = Output {
        dir: dir.clone(),
        checkpoint_every: args.checkpoint_every,
        progress: !args.quiet,
        resume: args.resume,
        threads: args.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)),
    };
    eprintln!(
        "rebar train: {} {} with {} for {} steps, batch {}, lr {}, seed {} → {}",
        config.task.name(),
        config.model.name(),
        config.estimator.name(),
        config.steps,
        config.batch,
        config.learning_rate,
        config.seed,
        dir.display()
    );
    let outcome = match train(&config, &data, &out, stop.flag()) {
        Err(e @ TrainError::Interrupted { .. }) => {
            eprintln!("rebar train: {}: {e}", stop.signal_name());
            std::process::exit(stop.exit_code());
        }
        r => r?,
    };
    let summary = summary(&config, &outcome, args);
    std::fs::write(dir.join(files::SUMMARY), serde_json::to_string_pretty(&summary)?)?;
    let curves = dir.join(files::CURVES);
    let title =
        format!("{} {} · {} · seed {}", config.task.name(), config.model.name(), config.estimator.name(), config.seed);
    rebar_host::plot::training_curves(&outcome.progress, &title, &curves)?;
    print_summary(&summary, &outcome, &dir);
    Ok(())
}

fn summary(config: &TrainConfig, o: &Outcome, args: &TrainArgs) -> Summary {
    let last = o.history.last();
    let best = o.history.iter().map(|r| r.train_elbo).fold(f64::NEG_INFINITY, f64::max);
    Summary {
        format_version: FORMAT_VERSION,
        model: config.model.name().into(),
        task: config.task.name().into(),
        estimator: config.estimator.name().into(),
        temperature: config.temperature.map(f64::from),
        learning_rate: config.learning_rate as f64,
        batch: config.batch as u32,
        steps: config.steps,
        seed: config.seed,
        data: {
            let source = Source::from_arg(config.data.as_deref());
            DataSource {
                source: source.to_string(),
                binarization: source.describe(binarization(&source, args.binarize)),
            }
        },
        steps_completed: o.steps,
        epochs_completed: o.history.len() as u64,
        steps_per_second: o.steps_per_second,
        train_threads: config.train_threads as u32,
        shards: Some(config.shards() as u32),
        wall_seconds: o.seconds,
        final_metrics: FinalMetrics {
            train_elbo: last.map_or(f64::NAN, |r| r.train_elbo),
            best_train_elbo: best,
            valid_elbo: Some(o.valid.elbo),
            valid_iwae: Some(o.valid.iwae),
            test_elbo: Some(o.test.elbo),
            test_iwae: Some(o.test.iwae),
            iwae_samples: Some(o.valid.samples),
            log_variance: last.map_or(f64::NAN, |r| r.log_variance),
        },
        build: build(),
        machine: machine(),
        revision: Some(env!("REBAR_REVISION").to_string()),
        work: o.work,
    }
}

fn print_summary(s: &Summary, o: &Outcome, dir: &std::path::Path) {
    let f = &s.final_metrics;
    let k = f.iwae_samples.unwrap_or(0);
    println!(
        "Trained {} {} with {} for {} steps ({:.1} epochs of {} steps) in {:.0} s ({:.0} steps/s).",
        s.task,
        s.model,
        s.estimator,
        o.steps,
        o.steps as f64 / o.steps_per_epoch as f64,
        o.steps_per_epoch,
        o.seconds,
        o.steps_per_second
    );
    println!(
        "  training ELBO (last epoch mean)   {:>9.2} nats   (higher is better; best epoch {:.2})",
        f.train_elbo, f.best_train_elbo
    );
    println!(
        "  validation ELBO / IWAE-{k:<3}        {:>9.2} / {:.2}",
        f.valid_elbo.unwrap_or(f64::NAN),
        f.valid_iwae.unwrap_or(f64::NAN)
    );
    println!(
        "  test ELBO / IWAE-{k:<3}              {:>9.2} / {:.2}",
        f.test_elbo.unwrap_or(f64::NAN),
        f.test_iwae.unwrap_or(f64::NAN)
    );
    let last = o.history.last();
    let mut extra = format!("  log gradient variance (last epoch) {:>8.2}", f.log_variance);
    if let Some(t) = last.and_then(|r| r.temperature) {
        extra += &format!("   temperature λ {t:.3}");
    }
    if let Some(e) = last.and_then(|r| r.eta_mean) {
        extra += &format!("   mean η {e:.3}");
    }
    println!("{extra}");
    if let Some(w) = s.work {
        println!(
            "  work per example: {:.2} M multiply-adds in the dense maps ({:.2} M without the binary-input savings)",
            w.multiply_adds_per_example / 1e6,
            w.dense_multiply_adds_per_example / 1e6
        );
    }
    println!(
        "Results in {}: {}, {}, {}, {}, {}, {}",
        dir.display(),
        files::METRICS,
        files::PROGRESS,
        files::TIMING,
        files::SUMMARY,
        files::CURVES,
        files::CHECKPOINT
    );
}
