//! Reading run folders and summarising them over seeds.
//!
//! A run folder holds `summary.json` ([`Summary`](crate::records::Summary)) and `metrics.csv`
//! ([`EpochRow`](crate::records::EpochRow) rows).
//! [`find_runs`] takes a run folder or a folder with run folders one or two levels down;
//! [`group_runs`] groups runs by configuration (by default task, model, estimator and
//! learning rate) and gives each group's mean ± standard error over its runs (seeds);
//! [`markdown_table`] and [`write_report`] turn groups into `report.md` and `report.png`.
//!
//! ```no_run
//! use rebar_host::report::{self, GroupField};
//!
//! let mut warnings = Vec::new();
//! let runs = report::find_runs("runs".as_ref(), &mut warnings)?;
//! let groups = report::group_runs(runs, GroupField::DEFAULT);
//! print!("{}", report::markdown_table(&groups, GroupField::DEFAULT));
//! # Ok::<(), report::ReportError>(())
//! ```

mod group;
mod runs;
mod stat;
mod write;

use std::path::PathBuf;

use crate::plot::PlotError;
use crate::records::FORMAT_VERSION;

pub use group::{Group, GroupField, group_runs, grouping};
pub use runs::{Run, find_runs, is_run_dir, read_metrics, read_run};
pub use stat::Stat;
pub use write::{COLUMN_HELP, METRIC_COLUMNS, REPORT_MD, REPORT_PNG, markdown_report, markdown_table, write_report};

/// Why a report could not be made. Every variant names the file or folder.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The folder does not exist.
    #[error("{}: no such folder", dir.display())]
    NotFound {
        /// The folder.
        dir: PathBuf,
    },
    /// A folder named as a run folder has no `summary.json`.
    #[error(
        "{}: not a run folder: missing summary.json{}",
        dir.display(),
        if *has_metrics { " (metrics.csv is there: an unfinished or interrupted run?)" } else { "" }
    )]
    MissingSummary {
        /// The folder.
        dir: PathBuf,
        /// Whether it has a `metrics.csv`.
        has_metrics: bool,
    },
    /// A file or folder could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `summary.json` is not a valid summary.
    #[error("{}: malformed summary: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// `summary.json` has another format version.
    #[error("{}: format version {found}, this program reads version {FORMAT_VERSION}", path.display())]
    Version {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
    },
    /// `metrics.csv` is not valid.
    #[error("{}: malformed CSV: {source}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// The cause (with the line).
        source: csv::Error,
    },
    /// No run folder was found under the given folder.
    #[error("{}: no run folders (folders with summary.json) in it or one or two levels below", dir.display())]
    NoRuns {
        /// The folder searched.
        dir: PathBuf,
    },
    /// A report file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The plot could not be written.
    #[error(transparent)]
    Plot(#[from] PlotError),
}
