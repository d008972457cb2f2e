//! `rebar report`: curves and a results table from one or many run folders.

use std::path::PathBuf;

use clap::Args;
use rebar_host::report::{self, COLUMN_HELP, GroupField};

/// Options of `rebar report`.
#[derive(Debug, Args)]
#[command(after_help = COLUMN_HELP)]
pub struct ReportArgs {
    /// Run folders (each with summary.json and metrics.csv), or folders holding run folders one
    /// or two levels down. Subfolders found while searching that are not run folders are skipped
    /// with a warning; a named folder that holds no run, or a run folder with a missing or
    /// malformed file, is an error.
    #[arg(value_name = "DIR", required = true)]
    pub dirs: Vec<PathBuf>,
    /// Folder to write report.md (the table, the column legend, the runs of each group) and
    /// report.png (the mean training-ELBO and log-variance curves of each group) to; created if
    /// missing, files overwritten. Default: the first DIR.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Summary fields that define a group of runs (comma-separated); the runs of a group, usually
    /// differing only in their seed, are summarised by mean ± standard error.
    #[arg(long, value_name = "FIELDS", value_enum, value_delimiter = ',', default_value = "task,model,estimator,lr")]
    pub group_by: Vec<GroupField>,
}

/// Runs the command.
pub fn run(args: &ReportArgs) -> Result<(), Box<dyn std::error::Error>> {
    let mut runs = Vec::new();
    let mut warnings = Vec::new();
    for dir in &args.dirs {
        runs.extend(report::find_runs(dir, &mut warnings)?);
    }
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let by = report::grouping(&runs, &args.group_by);
    let groups = report::group_runs(runs, &by);
    let out = args.out.clone().unwrap_or_else(|| args.dirs[0].clone());
    let (md, png) = report::write_report(&groups, &by, &args.dirs, &out)?;
    print!("{}", report::markdown_table(&groups, &by));
    let runs: usize = groups.iter().map(|g| g.runs.len()).sum();
    println!();
    println!("{runs} runs in {} groups; wrote {} and {}", groups.len(), md.display(), png.display());
    Ok(())
}
