//! Reading run folders and summarising them over seeds.
//!
//! A run folder holds `summary.json` ([`Summary`]) and `metrics.csv` ([`EpochRow`] rows).
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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::plot::{self, PlotError};
use crate::records::{EpochRow, FORMAT_VERSION, Summary, files};

/// The report's Markdown file.
pub const REPORT_MD: &str = "report.md";
/// The report's curves.
pub const REPORT_PNG: &str = "report.png";

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

/// A summary field that defines groups of runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum GroupField {
    /// `gen` or `sp`.
    Task,
    /// `linear1`, `linear2`, `nonlinear`.
    Model,
    /// The estimator's name.
    Estimator,
    /// The learning rate.
    Lr,
    /// The (initial) temperature.
    Temperature,
    /// The batch size.
    Batch,
    /// The training steps requested.
    Steps,
    /// The data source and binarization.
    Data,
    /// The shards of each batch (`--shards`; `threads` also names it, as in older builds, where
    /// the training threads were the shards): added to any grouping when the runs differ in it,
    /// since each shard count draws its own noise.
    #[value(alias = "threads")]
    Shards,
}

impl GroupField {
    /// The default grouping: task, model, estimator, learning rate.
    pub const DEFAULT: &'static [GroupField] =
        &[GroupField::Task, GroupField::Model, GroupField::Estimator, GroupField::Lr];

    /// The column header.
    pub fn header(self) -> &'static str {
        match self {
            GroupField::Task => "task",
            GroupField::Model => "model",
            GroupField::Estimator => "estimator",
            GroupField::Lr => "lr",
            GroupField::Temperature => "temperature",
            GroupField::Batch => "batch",
            GroupField::Steps => "steps",
            GroupField::Data => "data",
            GroupField::Shards => "shards",
        }
    }

    /// The field's value in `s`, as shown in the table.
    pub fn value(self, s: &Summary) -> String {
        match self {
            GroupField::Task => s.task.clone(),
            GroupField::Model => s.model.clone(),
            GroupField::Estimator => s.estimator.clone(),
            // Both are f32 in training, widened to f64 in summary.json: print the f32's shortest
            // form (0.0003, not 0.0003000000142492354).
            GroupField::Lr => (s.learning_rate as f32).to_string(),
            GroupField::Temperature => s.temperature.map_or("—".to_string(), |t| (t as f32).to_string()),
            GroupField::Batch => s.batch.to_string(),
            GroupField::Steps => s.steps.to_string(),
            GroupField::Data => format!("{} {}", s.data.source, s.data.binarization),
            GroupField::Shards => s.shards().to_string(),
        }
    }

    /// A sort key: numbers sort as numbers.
    fn sort_key(self, s: &Summary) -> (f64, String) {
        match self {
            GroupField::Lr => (s.learning_rate, String::new()),
            GroupField::Temperature => (s.temperature.unwrap_or(f64::NEG_INFINITY), String::new()),
            GroupField::Batch => (s.batch as f64, String::new()),
            GroupField::Steps => (s.steps as f64, String::new()),
            GroupField::Shards => (s.shards() as f64, String::new()),
            _ => (0.0, self.value(s)),
        }
    }
}

/// Mean and standard error of the values a statistic has over a group's runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    /// The mean.
    pub mean: f64,
    /// The standard error of the mean, s/√n with s the sample standard deviation (n − 1);
    /// `None` for a single value.
    pub standard_error: Option<f64>,
    /// How many runs had the value.
    pub n: usize,
}

impl Stat {
    /// The statistic of `values`; `None` if empty.
    pub fn of(values: &[f64]) -> Option<Stat> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let standard_error = (n > 1).then(|| {
            let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64;
            (var / n as f64).sqrt()
        });
        Some(Stat { mean, standard_error, n })
    }

    /// `mean ± s.e.` with `decimals` decimals, `mean` alone for one value, and ` (k/n)` after
    /// it if only k of the group's n runs had the value.
    pub fn format(&self, decimals: usize, runs: usize) -> String {
        let mut s = match self.standard_error {
            Some(se) => format!("{:.d$} ± {:.d$}", self.mean, se, d = decimals),
            None => format!("{:.d$}", self.mean, d = decimals),
        };
        if self.n < runs {
            let _ = write!(s, " ({}/{})", self.n, runs);
        }
        s
    }
}

/// Runs with the same configuration (the values of the grouping fields), and their statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The values of the grouping fields, in their order.
    pub key: Vec<String>,
    /// The runs, sorted by seed.
    pub runs: Vec<Run>,
    /// Highest epoch training ELBO ([`crate::records::FinalMetrics::best_train_elbo`]).
    pub best_train_elbo: Stat,
    /// Last epoch's training ELBO.
    pub final_train_elbo: Stat,
    /// IWAE bound on the validation split at the end (if any run has it).
    pub valid_iwae: Option<Stat>,
    /// IWAE bound on the test split at the end (if any run has it).
    pub test_iwae: Option<Stat>,
    /// Mean training steps per second of the runs.
    pub steps_per_second: Stat,
    /// Millions of the dense maps' multiply-adds per example (if any run has it).
    pub mega_multiply_adds: Option<Stat>,
}

impl Group {
    /// A label for legends: the key values joined by " · ", and the number of runs.
    pub fn label(&self, by: &[GroupField]) -> String {
        let parts: Vec<String> = by
            .iter()
            .zip(&self.key)
            .map(|(f, v)| if *f == GroupField::Lr { format!("lr {v}") } else { v.clone() })
            .collect();
        format!("{} (n={})", parts.join(" · "), self.runs.len())
    }

    /// The group's seeds (sorted, with repeats if two runs share one).
    pub fn seeds(&self) -> Vec<u64> {
        self.runs.iter().map(|r| r.summary.seed).collect()
    }

    /// The mean training curve over the group's runs: at each step that every run has
    /// (runs of one configuration share their epoch boundaries), the means of the training
    /// ELBO and log variance, and of the other columns where every run has them. If the runs
    /// share no step at all, every step any run has, averaged over the runs that have it.
    pub fn mean_curve(&self) -> Vec<EpochRow> {
        let mut by_step: BTreeMap<u64, Vec<&EpochRow>> = BTreeMap::new();
        for run in &self.runs {
            for row in &run.metrics {
                by_step.entry(row.step).or_default().push(row);
            }
        }
        let n = self.runs.len();
        let complete = by_step.values().any(|rows| rows.len() == n);
        let mean = |rows: &[&EpochRow], f: &dyn Fn(&EpochRow) -> f64| {
            rows.iter().map(|r| f(r)).sum::<f64>() / rows.len() as f64
        };
        let mean_opt = |rows: &[&EpochRow], f: &dyn Fn(&EpochRow) -> Option<f64>| {
            let v: Option<Vec<f64>> = rows.iter().map(|r| f(r)).collect();
            v.map(|v| v.iter().sum::<f64>() / v.len() as f64)
        };
        by_step
            .into_iter()
            .filter(|(_, rows)| !complete || rows.len() == n)
            .map(|(step, rows)| EpochRow {
                epoch: rows[0].epoch,
                step,
                train_elbo: mean(&rows, &|r| r.train_elbo),
                log_variance: mean(&rows, &|r| r.log_variance),
                temperature: mean_opt(&rows, &|r| r.temperature),
                eta_mean: mean_opt(&rows, &|r| r.eta_mean),
                valid_iwae: mean_opt(&rows, &|r| r.valid_iwae),
                test_iwae: mean_opt(&rows, &|r| r.test_iwae),
            })
            .collect()
    }
}

/// Groups `runs` by the values of `by` (all runs in one group if `by` is empty), sorted by those
/// values (numbers numerically). A folder reached twice counts once.
pub fn group_runs(runs: Vec<Run>, by: &[GroupField]) -> Vec<Group> {
    let mut seen = BTreeSet::new();
    let mut groups: BTreeMap<Vec<String>, Vec<Run>> = BTreeMap::new();
    for run in runs {
        let id = std::fs::canonicalize(&run.dir).unwrap_or_else(|_| run.dir.clone());
        if !seen.insert(id) {
            continue;
        }
        let key = by.iter().map(|f| f.value(&run.summary)).collect();
        groups.entry(key).or_default().push(run);
    }
    let mut out: Vec<Group> = groups
        .into_iter()
        .map(|(key, mut runs)| {
            runs.sort_by(|a, b| a.summary.seed.cmp(&b.summary.seed).then_with(|| a.dir.cmp(&b.dir)));
            let stat = |f: &dyn Fn(&Summary) -> Option<f64>| {
                Stat::of(&runs.iter().filter_map(|r| f(&r.summary)).collect::<Vec<_>>())
            };
            let always = |f: &dyn Fn(&Summary) -> f64| stat(&|s| Some(f(s))).expect("a group has a run");
            Group {
                best_train_elbo: always(&|s| s.final_metrics.best_train_elbo),
                final_train_elbo: always(&|s| s.final_metrics.train_elbo),
                valid_iwae: stat(&|s| s.final_metrics.valid_iwae),
                test_iwae: stat(&|s| s.final_metrics.test_iwae),
                steps_per_second: always(&|s| s.steps_per_second),
                mega_multiply_adds: stat(&|s| s.work.map(|w| w.multiply_adds_per_example / 1e6)),
                key,
                runs,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        let (sa, sb) = (&a.runs[0].summary, &b.runs[0].summary);
        by.iter()
            .map(|f| {
                let (ka, kb) = (f.sort_key(sa), f.sort_key(sb));
                ka.0.total_cmp(&kb.0).then_with(|| ka.1.cmp(&kb.1))
            })
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    out
}

/// The fields to group `runs` by: `requested` without repeats, plus [`GroupField::Shards`] if
/// the runs differ in their shards (each shard count draws its own noise, so such runs are
/// different runs even with the same seed; the training threads change nothing).
pub fn grouping(runs: &[Run], requested: &[GroupField]) -> Vec<GroupField> {
    let mut by = requested.to_vec();
    if runs.iter().any(|r| r.summary.shards() != runs[0].summary.shards()) {
        by.push(GroupField::Shards);
    }
    let mut seen = std::collections::BTreeSet::new();
    by.retain(|f| seen.insert(*f));
    by
}

/// The metric columns of the table, after the grouping columns.
pub const METRIC_COLUMNS: [&str; 7] =
    ["seeds", "best train ELBO", "final train ELBO", "valid IWAE", "test IWAE", "steps/s", "M MAC/example"];

/// What each column means (for `--help` and the report).
pub const COLUMN_HELP: &str = "\
Columns of the table (one row per group of runs; values are mean ± standard error over the
group's runs, the standard error being s/√n with the n − 1 sample standard deviation; a single
run shows its value alone; \"(k/n)\" marks a value that only k of the n runs have; \"—\" none):
  task, model, estimator, lr, ...  the grouping fields (--group-by) of summary.json; `shards`
                    (--shards) is added when the runs differ in it
  seeds             number of runs in the group (normally one per seed)
  best train ELBO   highest epoch training ELBO of the run (nats; final_metrics.best_train_elbo)
  final train ELBO  last epoch's training ELBO (final_metrics.train_elbo)
  valid IWAE        IWAE bound on the validation split at the end (final_metrics.valid_iwae)
  test IWAE         IWAE bound on the test split at the end (final_metrics.test_iwae)
  steps/s           mean training steps per second of the run (steps_per_second)
  M MAC/example     millions of multiply-adds per training example in the dense maps, as the
                    kernels did them (binary inputs add only active weight rows; elementwise work
                    and Adam not counted; work.multiply_adds_per_example)";

/// The Markdown table of `groups`: one column per grouping field, then [`METRIC_COLUMNS`].
pub fn markdown_table(groups: &[Group], by: &[GroupField]) -> String {
    let mut header: Vec<String> = by.iter().map(|f| f.header().to_string()).collect();
    header.extend(METRIC_COLUMNS.iter().map(|s| s.to_string()));
    let rows: Vec<Vec<String>> = groups
        .iter()
        .map(|g| {
            let n = g.runs.len();
            let opt = |s: &Option<Stat>, d| s.as_ref().map_or("—".to_string(), |s| s.format(d, n));
            let mut row = g.key.clone();
            row.extend([
                n.to_string(),
                g.best_train_elbo.format(2, n),
                g.final_train_elbo.format(2, n),
                opt(&g.valid_iwae, 2),
                opt(&g.test_iwae, 2),
                g.steps_per_second.format(1, n),
                opt(&g.mega_multiply_adds, 2),
            ]);
            row
        })
        .collect();
    // Pad the columns so that the table also reads well as plain text.
    let widths: Vec<usize> = (0..header.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).chain([header[c].chars().count(), 3]).max().unwrap_or(3))
        .collect();
    let numeric = |c: usize| c >= by.len();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(c, s)| {
                let pad = " ".repeat(widths[c] - s.chars().count());
                if numeric(c) { format!("{pad}{s}") } else { format!("{s}{pad}") }
            })
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(&header);
    let rule: Vec<String> = (0..header.len())
        .map(|c| if numeric(c) { format!("{}:", "-".repeat(widths[c] - 1)) } else { "-".repeat(widths[c]) })
        .collect();
    out.push_str(&format!("|{}|\n", rule.iter().map(|r| format!(" {r} ")).collect::<Vec<_>>().join("|")));
    for r in &rows {
        out.push_str(&line(r));
    }
    out
}

/// The whole `report.md`: the table, what its columns mean, and each group's run folders.
pub fn markdown_report(groups: &[Group], by: &[GroupField], sources: &[PathBuf]) -> String {
    let mut s = String::from("# rebar report\n\n");
    let list: Vec<String> = sources.iter().map(|p| format!("`{}`", p.display())).collect();
    let runs: usize = groups.iter().map(|g| g.runs.len()).sum();
    let _ = writeln!(s, "{runs} runs in {} groups, from {}.\n", groups.len(), list.join(", "));
    s.push_str(&markdown_table(groups, by));
    s.push_str("\n```text\n");
    s.push_str(COLUMN_HELP);
    s.push_str("\n```\n\n![training curves](report.png)\n\n## Runs\n\n");
    for g in groups {
        let _ = writeln!(s, "* {}:", g.label(by));
        for r in &g.runs {
            let _ = writeln!(
                s,
                "  * seed {}: `{}` ({} of {} steps, {} epochs)",
                r.summary.seed,
                r.dir.display(),
                r.summary.steps_completed,
                r.summary.steps,
                r.summary.epochs_completed
            );
        }
    }
    s
}

/// Writes `report.md` ([`markdown_report`]) and `report.png` (the groups' mean curves,
/// [`plot::compare_runs`]) to `out` (created if missing); returns their paths.
pub fn write_report(
    groups: &[Group],
    by: &[GroupField],
    sources: &[PathBuf],
    out: &Path,
) -> Result<(PathBuf, PathBuf), ReportError> {
    std::fs::create_dir_all(out).map_err(|source| ReportError::Write { path: out.to_path_buf(), source })?;
    let md = out.join(REPORT_MD);
    std::fs::write(&md, markdown_report(groups, by, sources))
        .map_err(|source| ReportError::Write { path: md.clone(), source })?;
    let png = out.join(REPORT_PNG);
    let curves: Vec<(String, Vec<EpochRow>)> = groups.iter().map(|g| (g.label(by), g.mean_curve())).collect();
    plot::compare_runs(&curves, "Mean over seeds per group", &png)?;
    Ok((md, png))
}
