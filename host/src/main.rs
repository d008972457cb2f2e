//! `rebar`: the command-line program. Run `rebar --help` for the subcommands and options.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rebar_host::data::{self, DataError, Dataset, MNIST_SEED, mnist};

/// REBAR gradient estimators for sigmoid belief networks.
///
/// A statically binarized MNIST (50,000 train / 10,000 valid / 10,000 test) is built into
/// this program, so it needs no network and no data directory.
#[derive(Debug, Parser)]
#[command(name = "rebar", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Regenerate the built-in binarized MNIST from the four original MNIST IDX files.
    ///
    /// Checks each file's SHA-256 against the published table, binarizes every pixel p as
    /// Bernoulli(p/255) with Xoshiro256++ seeded from the fixed seed 0x72656261722d6d6e
    /// ("rebar-mn"), in file order (training file, then test file, each image row-major),
    /// splits 50,000 / 10,000 / 10,000 and writes the checksummed, bit-packed container.
    /// With the original files the output is byte-identical to the built-in artifact
    /// (host/data/mnist-binarized.rbin.gz), which this command reports.
    PrepareMnist {
        /// Directory holding train-images-idx3-ubyte, train-labels-idx1-ubyte,
        /// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each raw or with `.gz`
        /// (the `.gz` one is used if both exist). Required.
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        /// File to write the gzip-compressed container to (relative to the current directory);
        /// overwritten if it exists.
        #[arg(long, value_name = "FILE", default_value = "mnist-binarized.rbin.gz")]
        out: PathBuf,
    },
    /// Print the memory footprint of each paper model's training state (parameters, gradient,
    /// Adam moments, the pass workspace at batch 24 and REBAR's own state), as a Markdown table
    /// computed from the types.
    Footprint,
    /// Train a sigmoid belief network with a gradient estimator (not implemented yet).
    ///
    /// Prints a notice and exits with status 2.
    Train,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::PrepareMnist { from, out } => match prepare_mnist(&from, &out) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("rebar prepare-mnist: error: {}", error_chain(&e));
                ExitCode::FAILURE
            }
        },
        Command::Footprint => {
            print!("{}", rebar_host::footprint::markdown_table());
            ExitCode::SUCCESS
        }
        Command::Train => {
            eprintln!(
                "rebar train: not implemented yet. The data layer is in place \
                 (the built-in binarized MNIST loads), but no model or estimator is wired up."
            );
            ExitCode::from(2)
        }
    }
}

fn prepare_mnist(from: &std::path::Path, out: &std::path::Path) -> Result<(), DataError> {
    eprintln!("reading and verifying MNIST IDX files in {} ...", from.display());
    let bytes = mnist::prepare_mnist(from)?;
    std::fs::write(out, &bytes).map_err(|source| DataError::Io { file: out.to_path_buf(), action: "write", source })?;
    let payload = data::container::payload(&bytes, &out.display().to_string())?;
    println!("wrote {} ({} bytes)", out.display(), bytes.len());
    println!("  sha256 of the file:     {}", mnist::sha256_hex(&bytes));
    println!(
        "  sha256 of the payload:  {} (stored inside, verified on load)",
        data::container::stored_checksum(&payload).unwrap_or_default()
    );
    println!("  binarization seed:      {MNIST_SEED:#018x}");
    let ds = Dataset::load(out)?;
    println!("  splits:                 train {}, valid {}, test {}", ds.train.len(), ds.valid.len(), ds.test.len());
    if bytes == mnist::BUILTIN_RBIN_GZ {
        println!("  identical to the built-in artifact");
    } else {
        eprintln!(
            "warning: the output differs from the artifact built into this program ({} bytes, \
             sha256 {}); if the payload checksums differ, the binarization changed",
            mnist::BUILTIN_RBIN_GZ.len(),
            mnist::sha256_hex(mnist::BUILTIN_RBIN_GZ)
        );
    }
    Ok(())
}

/// The error and its sources, joined by ": ".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let c = cause.to_string();
        if !s.contains(&c) {
            s.push_str(": ");
            s.push_str(&c);
        }
        source = cause.source();
    }
    s
}
