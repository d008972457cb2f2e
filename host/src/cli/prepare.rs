//! `rebar prepare-mnist`: regenerate the built-in binarized MNIST from the original IDX files.

use std::path::{Path, PathBuf};

use clap::Args;
use rebar_host::data::{self, DataError, Dataset, MNIST_SEED, mnist};

/// Options of `rebar prepare-mnist`.
#[derive(Debug, Args)]
pub struct PrepareArgs {
    /// Directory holding train-images-idx3-ubyte, train-labels-idx1-ubyte,
    /// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each raw or with `.gz`
    /// (the `.gz` one is used if both exist). Required.
    #[arg(long, value_name = "DIR")]
    pub from: PathBuf,
    /// File to write the gzip-compressed container to (relative to the current directory);
    /// overwritten if it exists.
    #[arg(long, value_name = "FILE", default_value = "mnist-binarized.rbin.gz")]
    pub out: PathBuf,
}

/// Runs the command.
pub fn run(args: &PrepareArgs) -> Result<(), DataError> {
    prepare_mnist(&args.from, &args.out)
}

fn prepare_mnist(from: &Path, out: &Path) -> Result<(), DataError> {
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
