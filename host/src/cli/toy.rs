//! `rebar toy`: the paper's toy problem (Figure 1).

use clap::Args;

/// Options of `rebar toy`.
#[derive(Debug, Args)]
pub struct ToyArgs {}

/// Runs the command.
pub fn run(_args: &ToyArgs) -> Result<(), Box<dyn std::error::Error>> {
    Err("rebar toy: not implemented yet".into())
}
