//! The `rebar` command line: one module per subcommand.

pub mod prepare;
pub mod report;
pub mod toy;

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
    /// Regenerate the built-in binarized MNIST from the four original MNIST IDX files.
    ///
    /// Checks each file's SHA-256 against the published table, binarizes every pixel p as
    /// Bernoulli(p/255) with Xoshiro256++ seeded from the fixed seed 0x72656261722d6d6e
    /// ("rebar-mn"), in file order (training file, then test file, each image row-major),
    /// splits 50,000 / 10,000 / 10,000 and writes the checksummed, bit-packed container.
    /// With the original files the output is byte-identical to the built-in artifact
    /// (host/data/mnist-binarized.rbin.gz), which this command reports.
    PrepareMnist(prepare::PrepareArgs),
    /// Print the memory footprint of each paper model's training state (parameters, gradient,
    /// Adam moments, the pass workspace at batch 24 and REBAR's own state), as a Markdown table
    /// computed from the types.
    Footprint,
    /// The paper's toy problem: minimise E[(b − 0.45)²] over θ = σ(a) with REINFORCE, Concrete,
    /// REBAR and the exact gradient; writes a CSV and a PNG like the paper's Figure 1.
    Toy(toy::ToyArgs),
    /// Training curves (PNG) and a Markdown results table (mean ± standard error over seeds)
    /// from one or many run folders.
    Report(report::ReportArgs),
    /// Train a sigmoid belief network with a gradient estimator (not implemented yet).
    ///
    /// Prints a notice and exits with status 2.
    Train,
}
