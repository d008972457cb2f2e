//! `rebar export`: a run's trained model as a file other tools load (see
//! [`rebar_host::export`]).

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use rebar_host::export;

use super::eval::checkpoint_file;

/// The file formats of `rebar export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// safetensors: named, shaped tensors and string metadata (PyTorch, numpy, JAX, …).
    Safetensors,
}

/// Options of `rebar export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A run folder (its checkpoint.rbck) or a checkpoint file.
    pub checkpoint: PathBuf,
    /// The file format.
    #[arg(long, value_enum, default_value_t = Format::Safetensors)]
    pub format: Format,
    /// The file to write (default: model.safetensors beside the checkpoint).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: &ExportArgs) -> Result<(), Box<dyn std::error::Error>> {
    let file = checkpoint_file(&args.checkpoint);
    let (header, tensors) = export::model_tensors(&file)?;
    let revision = export::summary_revision(&file);
    let bytes = match args.format {
        Format::Safetensors => export::safetensors(&tensors, export::metadata(&header, revision.as_deref()))?,
    };
    let out = args.out.clone().unwrap_or_else(|| file.with_file_name("model.safetensors"));
    std::fs::write(&out, bytes).map_err(|e| format!("{}: {e}", out.display()))?;
    let c = &header.config;
    println!(
        "wrote {} ({} tensors of the {} {} model trained with {} for {} steps)",
        out.display(),
        tensors.len(),
        c.task.name(),
        c.model.name(),
        c.estimator.name(),
        header.step
    );
    Ok(())
}
