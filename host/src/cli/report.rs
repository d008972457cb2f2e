//! `rebar report`: curves and a results table from one or many run folders.

use clap::Args;

/// Options of `rebar report`.
#[derive(Debug, Args)]
pub struct ReportArgs {}

/// Runs the command.
pub fn run(_args: &ReportArgs) -> Result<(), Box<dyn std::error::Error>> {
    Err("rebar report: not implemented yet".into())
}
