//! The `rebar` command line: one module per subcommand.

pub mod eval;
pub mod export;
pub mod prepare;
pub mod report;
pub mod reproduce;
pub mod runner;
pub mod sample;
pub mod sweep;
pub mod table;
pub mod toy;
pub mod train;
pub mod variance;

use clap::{Parser, Subcommand};

/// REBAR and peer gradient estimators for sigmoid belief networks.
///
/// A statically binarized MNIST (50,000 train / 10,000 valid / 10,000 test) is built into this
/// program, so it needs no network and no data directory. Every run is seeded and writes its
/// results (CSV, JSON, PNG) to its own folder.
#[derive(Debug, Parser)]
#[command(name = "rebar", version, propagate_version = true)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a sigmoid belief network on binarized MNIST with a gradient estimator.
    ///
    /// With no options: the linear 1-layer model with learned-temperature REBAR for a short run
    /// (about a minute here), then the ELBO and the IWAE-100 bound on validation and test.
    /// The paper's protocol otherwise: batch 24, Adam with β₂ = 0.99999, control variates at 10×
    /// the learning rate, the official metrics per epoch. Ctrl-C, SIGTERM or SIGHUP saves a
    /// checkpoint and exits (130, 143, 129; a second signal exits at once); `--resume` continues
    /// bit-identically. A folder that holds a run is refused without --resume or --overwrite, and
    /// one in use by another process always. Progress: a bar on a terminal, else a line every
    /// 30 s.
    Train(train::TrainArgs),
    /// The single-sample ELBO and the IWAE-k bound (k up to 5000) of a trained model on any split.
    Eval(eval::EvalArgs),
    /// Write a run's trained model to a file other tools load: safetensors, every tensor by its
    /// name (`enc.w`, `dec.b`, …; weights [inputs, outputs], row-major f32) with the model,
    /// task, estimator, step and revision in the metadata. In Python:
    /// `from safetensors.numpy import load_file; w = load_file("model.safetensors")`.
    Export(export::ExportArgs),
    /// PNG grids: digits sampled from a trained model, and test digits beside their
    /// reconstructions.
    Sample(sample::SampleArgs),
    /// The paper's Figure 2: several estimators on the same minibatches and noise along one
    /// trajectory; their log gradient variance over training, to CSV and a PNG.
    Variance(variance::VarianceArgs),
    /// The paper's toy problem: minimise E[(b − 0.45)²] over θ = σ(a) with REINFORCE, Concrete,
    /// REBAR and the exact gradient; writes a CSV and a PNG like the paper's Figure 1.
    Toy(toy::ToyArgs),
    /// Training curves (PNG) and a Markdown results table (mean ± standard error over seeds)
    /// from one or many run folders.
    Report(report::ReportArgs),
    /// A grid of runs (estimators × models × tasks × learning rates × seeds) with every core busy,
    /// resumable (a run finished at fewer steps is continued; a folder of another run is
    /// refused by name; Ctrl-C or SIGTERM stops every run at its checkpoint); or, with --plan, a
    /// job list and a Slurm array script for a cluster.
    Sweep(sweep::SweepArgs),
    /// The paper's Table 1 grid (MNIST generative and structured prediction; Omniglot with
    /// --omniglot) for NVIL, MuProp, REBAR(0.1), REBAR, Concrete(0.1), RELAX, DisARM and RLOO at a
    /// budget (quick, or the paper's full 2M steps), every core busy, resumable; each finished
    /// run's summary and metrics copied to results/ for `rebar table`. --plan for a cluster.
    Reproduce(reproduce::ReproduceArgs),
    /// Table 1 reproduced: rebar's results (from `rebar reproduce`'s results folder) beside the
    /// paper's, cell by cell, with the steps, seeds and wall time run; writes TABLE1.md and one
    /// training-curve figure per row, and with --readme the table into README.md.
    Table(table::TableArgs),
    /// Print the memory footprint of each paper model's training state (parameters, gradient,
    /// Adam moments, the pass workspace at batch 24 and REBAR's own state), as a Markdown table
    /// computed from the types.
    Footprint,
    /// Regenerate the built-in binarized MNIST from the four original MNIST IDX files.
    ///
    /// Checks each file's SHA-256 against the published table, binarizes every pixel p as
    /// Bernoulli(p/255) with Xoshiro256++ seeded from the fixed seed 0x72656261722d6d6e
    /// ("rebar-mn"), in file order (training file, then test file, each image row-major),
    /// splits 50,000 / 10,000 / 10,000 and writes the checksummed, bit-packed container.
    /// With the original files the output is byte-identical to the built-in artifact
    /// (host/data/mnist-binarized.rbin.gz), which this command reports.
    PrepareMnist(prepare::PrepareArgs),
}
