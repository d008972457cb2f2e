//! Reading run folders: one folder's `summary.json` and `metrics.csv`, and finding the run
//! folders under a folder.

use std::path::{Path, PathBuf};

use super::ReportError;
use crate::records::{EpochRow, FORMAT_VERSION, Summary, files};

/// One run folder, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// The folder.
    pub dir: PathBuf,
    /// `summary.json`.
    pub summary: Summary,
    /// `metrics.csv`, one row per epoch.
    pub metrics: Vec<EpochRow>,
}

/// Reads the run folder `dir` (`summary.json` and `metrics.csv`).
pub fn read_run(dir: &Path) -> Result<Run, ReportError> {
    if !dir.is_dir() {
        return Err(ReportError::NotFound { dir: dir.to_path_buf() });
    }
    let summary_path = dir.join(files::SUMMARY);
    if !summary_path.is_file() {
        return Err(ReportError::MissingSummary {
            dir: dir.to_path_buf(),
            has_metrics: dir.join(files::METRICS).is_file(),
        });
    }
    let text = std::fs::read_to_string(&summary_path)
        .map_err(|source| ReportError::Read { path: summary_path.clone(), source })?;
    let summary: Summary =
        serde_json::from_str(&text).map_err(|source| ReportError::Json { path: summary_path.clone(), source })?;
    if summary.format_version != FORMAT_VERSION {
        return Err(ReportError::Version { path: summary_path, found: summary.format_version });
    }
    let metrics_path = dir.join(files::METRICS);
    let metrics = read_metrics(&metrics_path)?;
    Ok(Run { dir: dir.to_path_buf(), summary, metrics })
}

/// Reads a `metrics.csv`.
pub fn read_metrics(path: &Path) -> Result<Vec<EpochRow>, ReportError> {
    let file = std::fs::File::open(path).map_err(|source| ReportError::Read { path: path.to_path_buf(), source })?;
    csv::Reader::from_reader(file)
        .deserialize()
        .collect::<Result<Vec<EpochRow>, _>>()
        .map_err(|source| ReportError::Csv { path: path.to_path_buf(), source })
}

/// Whether `dir` is a run folder (has `summary.json`).
pub fn is_run_dir(dir: &Path) -> bool {
    dir.join(files::SUMMARY).is_file()
}

/// Subfolders of `dir`, sorted by name.
fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let read = |source| ReportError::Read { path: dir.to_path_buf(), source };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read)? {
        let path = entry.map_err(read)?.path();
        if path.is_dir() {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// The runs of `dir`: `dir` itself if it is a run folder, else the run folders among its
/// subfolders and their subfolders (sorted by path). Subfolders that are not run folders and
/// hold none are skipped with a message in `warnings`; a run folder that cannot be read is an
/// error. Errors if `dir` does not exist, or holds no run folder (a folder with `metrics.csv`
/// but no `summary.json` is reported as such).
pub fn find_runs(dir: &Path, warnings: &mut Vec<String>) -> Result<Vec<Run>, ReportError> {
    if !dir.is_dir() {
        return Err(ReportError::NotFound { dir: dir.to_path_buf() });
    }
    if is_run_dir(dir) {
        return Ok(vec![read_run(dir)?]);
    }
    if dir.join(files::METRICS).is_file() {
        return Err(ReportError::MissingSummary { dir: dir.to_path_buf(), has_metrics: true });
    }
    let mut runs = Vec::new();
    for child in subdirs(dir)? {
        if is_run_dir(&child) {
            runs.push(read_run(&child)?);
            continue;
        }
        let (found, others): (Vec<PathBuf>, Vec<PathBuf>) = subdirs(&child)?.into_iter().partition(|g| is_run_dir(g));
        if found.is_empty() {
            warnings.push(skip_message(&child, true));
        } else {
            warnings.extend(others.iter().map(|g| skip_message(g, false)));
        }
        for grandchild in found {
            runs.push(read_run(&grandchild)?);
        }
    }
    if runs.is_empty() {
        return Err(ReportError::NoRuns { dir: dir.to_path_buf() });
    }
    Ok(runs)
}

fn skip_message(dir: &Path, searched_below: bool) -> String {
    if dir.join(files::METRICS).is_file() {
        format!("skipping {}: metrics.csv but no summary.json (an unfinished or interrupted run?)", dir.display())
    } else if searched_below {
        format!("skipping {}: not a run folder (no summary.json), nor any folder in it", dir.display())
    } else {
        format!("skipping {}: not a run folder (no summary.json)", dir.display())
    }
}
