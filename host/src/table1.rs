//! The reproduction of the paper's Table 1, regenerated from run folders.
//!
//! [`build`] takes finished runs (normally the committed `results/` folder that
//! `rebar reproduce` fills) and forms one [`Cell`] per budget (training steps), dataset, task,
//! model and estimator. Where a cell was run at several learning rates, the one with the highest
//! mean best training ELBO is kept, as the paper kept the best of a grid per cell; the others
//! are listed by [`markdown`]'s learning-rate table. Each cell sits beside the published value
//! ([`crate::paper`]) with a verdict on the difference.
//!
//! ```no_run
//! use rebar_host::{report, table1};
//!
//! let mut warnings = Vec::new();
//! let runs = report::find_runs("results".as_ref(), &mut warnings)?;
//! let table = table1::build(runs);
//! print!("{}", table1::markdown(&table, "results/figures"));
//! # Ok::<(), report::ReportError>(())
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::paper::{self, Dataset, PaperCell};
use crate::plot::{self, PlotError};
use crate::records::{EpochRow, Summary};
use crate::report::{GroupField, Run, Stat, group_runs};

/// The estimators of the table, in column order: the paper's five, then the newer ones.
pub const ESTIMATORS: [&str; 8] = ["nvil", "muprop", "rebar-fixed", "rebar", "concrete", "relax", "disarm", "rloo"];

/// The table's rows in the paper's order: (dataset, task, model).
pub const ROWS: [(Dataset, &str, &str); 9] = [
    (Dataset::Mnist, "gen", "linear1"),
    (Dataset::Mnist, "gen", "linear2"),
    (Dataset::Mnist, "gen", "nonlinear"),
    (Dataset::Omniglot, "gen", "linear1"),
    (Dataset::Omniglot, "gen", "linear2"),
    (Dataset::Omniglot, "gen", "nonlinear"),
    (Dataset::Mnist, "sp", "linear1"),
    (Dataset::Mnist, "sp", "linear2"),
    (Dataset::Mnist, "sp", "nonlinear"),
];

/// The paper's name of an estimator.
pub fn paper_name(estimator: &str) -> &str {
    match estimator {
        "nvil" => "NVIL",
        "muprop" => "MuProp",
        "rebar-fixed" => "REBAR(0.1)",
        "rebar" => "REBAR",
        "concrete" => "Concrete(0.1)",
        "relax" => "RELAX",
        "disarm" => "DisARM",
        "rloo" => "RLOO",
        other => other,
    }
}

/// The dataset a run trained on, from its summary: the built-in data is MNIST, an `omniglot`
/// source Omniglot; anything else (an IDX folder of another dataset) has no row in the table.
pub fn dataset_of(s: &Summary) -> Option<Dataset> {
    if s.data.source == "builtin" {
        Some(Dataset::Mnist)
    } else if s.data.source.starts_with("omniglot") {
        Some(Dataset::Omniglot)
    } else {
        None
    }
}

/// How a cell compares with the published one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The difference is within the two error bars added (one seed: within the paper's).
    Within,
    /// Higher (better) than the paper by more than the error bars.
    Above,
    /// Lower (worse) than the paper by more than the error bars.
    Below,
}

impl Verdict {
    /// `ours` against `paper`: the difference counts when it exceeds the sum of the two standard
    /// errors (the error bars do not overlap).
    pub fn of(ours: &Stat, paper: &PaperCell) -> Verdict {
        let bars = ours.standard_error.unwrap_or(0.0) + paper.standard_error.unwrap_or(0.0);
        let d = ours.mean - paper.mean;
        if d.abs() <= bars {
            Verdict::Within
        } else if d > 0.0 {
            Verdict::Above
        } else {
            Verdict::Below
        }
    }
}

/// One cell of the table: the runs of one budget, row and estimator at the learning rate kept.
#[derive(Debug, Clone)]
pub struct Cell {
    /// The dataset.
    pub dataset: Dataset,
    /// `gen` or `sp`.
    pub task: String,
    /// The model.
    pub model: String,
    /// The estimator's command-line name.
    pub estimator: String,
    /// Training steps of the runs (the budget).
    pub steps: u64,
    /// The learning rate kept (the best of those run).
    pub learning_rate: f64,
    /// The runs at that learning rate, sorted by seed.
    pub runs: Vec<Run>,
    /// Highest epoch training ELBO, over the runs.
    pub best_train_elbo: Stat,
    /// Last epoch's training ELBO, over the runs.
    pub final_train_elbo: Stat,
    /// Test IWAE bound at the end, over the runs that have it.
    pub test_iwae: Option<Stat>,
    /// Wall-clock seconds per run, over the runs.
    pub wall_seconds: Stat,
    /// Every learning rate run for this cell with its mean best training ELBO and run count.
    pub learning_rates: Vec<(f64, f64, usize)>,
    /// The published cell, if any.
    pub paper: Option<&'static PaperCell>,
}

impl Cell {
    /// The verdict against the paper (none without a published cell).
    pub fn verdict(&self) -> Option<Verdict> {
        self.paper.map(|p| Verdict::of(&self.best_train_elbo, p))
    }
}

/// The whole table: cells grouped by budget, and the runs that fit no row.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Cells, sorted by budget (most steps first), then row and estimator in the table's order.
    pub cells: Vec<Cell>,
    /// Runs left out, with why (unfinished, another dataset, an estimator outside the table).
    pub skipped: Vec<(PathBuf, String)>,
}

/// Forms the table from `runs` (see the module docs).
pub fn build(runs: Vec<Run>) -> Table {
    let mut table = Table::default();
    let mut kept = Vec::new();
    for run in runs {
        let s = &run.summary;
        let reason = if s.steps_completed < s.steps {
            Some(format!("unfinished: {} of {} steps", s.steps_completed, s.steps))
        } else if dataset_of(s).is_none() {
            Some(format!("data {} has no row in the table", s.data.source))
        } else if !ESTIMATORS.contains(&s.estimator.as_str()) {
            Some(format!("estimator {} has no column in the table", s.estimator))
        } else if !ROWS.iter().any(|&(_, t, m)| t == s.task && m == s.model) {
            Some(format!("no row for {} {}", s.task, s.model))
        } else {
            None
        };
        match reason {
            Some(r) => table.skipped.push((run.dir.clone(), r)),
            None => kept.push(run),
        }
    }
    let by = [GroupField::Data, GroupField::Task, GroupField::Model, GroupField::Estimator, GroupField::Steps];
    let mut per_cell: BTreeMap<Vec<String>, Vec<Run>> = BTreeMap::new();
    for run in kept {
        let key = by.iter().map(|f| f.value(&run.summary)).collect();
        per_cell.entry(key).or_default().push(run);
    }
    for runs in per_cell.into_values() {
        let lrs = group_runs(runs, &[GroupField::Lr]);
        let learning_rates: Vec<(f64, f64, usize)> =
            lrs.iter().map(|g| (g.runs[0].summary.learning_rate, g.best_train_elbo.mean, g.runs.len())).collect();
        let best = lrs
            .into_iter()
            .max_by(|a, b| a.best_train_elbo.mean.total_cmp(&b.best_train_elbo.mean))
            .expect("a cell has a run");
        let s = best.runs[0].summary.clone();
        let dataset = dataset_of(&s).expect("kept runs have a dataset");
        let wall: Vec<f64> = best.runs.iter().map(|r| r.summary.wall_seconds).collect();
        table.cells.push(Cell {
            dataset,
            paper: paper::cell(dataset, &s.task, &s.model, &s.estimator),
            task: s.task,
            model: s.model,
            estimator: s.estimator,
            steps: s.steps,
            learning_rate: s.learning_rate,
            best_train_elbo: best.best_train_elbo,
            final_train_elbo: best.final_train_elbo,
            test_iwae: best.test_iwae,
            wall_seconds: Stat::of(&wall).expect("a cell has a run"),
            learning_rates,
            runs: best.runs,
        });
    }
    let row_index = |c: &Cell| ROWS.iter().position(|&(d, t, m)| d == c.dataset && t == c.task && m == c.model);
    let est_index = |c: &Cell| ESTIMATORS.iter().position(|&e| e == c.estimator);
    table.cells.sort_by_key(|c| (std::cmp::Reverse(c.steps), row_index(c), est_index(c)));
    table
}

/// A wall time for tables: `47 s`, `12.5 min`, `1.6 h`.
fn duration(seconds: f64) -> String {
    if seconds < 120.0 {
        format!("{seconds:.0} s")
    } else if seconds < 7200.0 {
        format!("{:.1} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

fn steps_label(steps: u64) -> String {
    let digits = steps.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The file name of a row's training-curve figure for a budget.
pub fn figure_name(steps: u64, dataset: Dataset, task: &str, model: &str) -> String {
    format!("elbo-{}-{}-{task}-{model}.png", steps, dataset.label().to_lowercase())
}

/// The Markdown of the table: one section per budget with one line per cell (ours beside the
/// paper's, the verdict, steps, seeds, wall time), each row's figure (linked under
/// `figures`, a path as the Markdown's reader sees it), the learning rates tried where there
/// were several, and the runs left out.
pub fn markdown(table: &Table, figures: &str) -> String {
    let mut s = String::new();
    let mut budgets: Vec<u64> = table.cells.iter().map(|c| c.steps).collect();
    budgets.dedup();
    for steps in budgets {
        let cells: Vec<&Cell> = table.cells.iter().filter(|c| c.steps == steps).collect();
        let protocol = if steps == 2_000_000 { " (the paper's protocol)" } else { "" };
        let _ =
            writeln!(s, "#### {} steps at batch {}{protocol}\n", steps_label(steps), cells[0].runs[0].summary.batch);
        s.push_str(
            "| data | task | model | estimator | paper | rebar: best train ELBO | vs paper | final train ELBO | test IWAE-100 | lr | seeds | wall time per run |\n\
             |---|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|\n",
        );
        for c in &cells {
            let n = c.runs.len();
            let paper = c.paper.map_or("—".to_string(), |p| match p.standard_error {
                Some(se) => format!("{} ± {}", p.mean, se),
                None => format!("{} ({})", p.mean, p.source),
            });
            let vs = match (c.paper, c.verdict()) {
                (Some(p), Some(v)) => {
                    let d = c.best_train_elbo.mean - p.mean;
                    let word = match v {
                        Verdict::Within => "within error bars",
                        Verdict::Above => "**above**",
                        Verdict::Below => "below",
                    };
                    format!("{d:+.2} ({word})")
                }
                _ => "—".to_string(),
            };
            let seeds: Vec<String> = c.runs.iter().map(|r| r.summary.seed.to_string()).collect();
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} ({}) | {} |",
                c.dataset.label(),
                c.task,
                c.model,
                paper_name(&c.estimator),
                paper,
                c.best_train_elbo.format(2, n),
                vs,
                c.final_train_elbo.format(2, n),
                c.test_iwae.as_ref().map_or("—".to_string(), |t| t.format(2, n)),
                c.learning_rate as f32,
                n,
                seeds.join(", "),
                duration(c.wall_seconds.mean),
            );
        }
        s.push('\n');
        let mut rows: Vec<(Dataset, &str, &str)> =
            cells.iter().map(|c| (c.dataset, c.task.as_str(), c.model.as_str())).collect();
        rows.dedup();
        for (d, t, m) in rows {
            let _ = writeln!(
                s,
                "![{} {t} {m}, {} steps]({figures}/{})",
                d.label(),
                steps_label(steps),
                figure_name(steps, d, t, m)
            );
        }
        s.push('\n');
        let tuned: Vec<&&Cell> = cells.iter().filter(|c| c.learning_rates.len() > 1).collect();
        if !tuned.is_empty() {
            s.push_str("Learning rates tried (mean best training ELBO, runs); the best is kept above:\n\n");
            for c in tuned {
                let tried: Vec<String> =
                    c.learning_rates.iter().map(|(lr, e, n)| format!("{}: {e:.2} ({n})", *lr as f32)).collect();
                let _ = writeln!(
                    s,
                    "* {} {} {} {}: {}",
                    c.dataset.label(),
                    c.task,
                    c.model,
                    paper_name(&c.estimator),
                    tried.join(", ")
                );
            }
            s.push('\n');
        }
    }
    if !table.skipped.is_empty() {
        s.push_str("Runs left out of the table:\n\n");
        for (dir, why) in &table.skipped {
            let _ = writeln!(s, "* `{}`: {why}", dir.display());
        }
        s.push('\n');
    }
    s
}

/// Writes each row's figure to `dir` (created if missing): for every budget, dataset, task and
/// model, the mean training-ELBO and log-variance curves of each estimator over its seeds, the
/// y axes fitted to the last 90% of the steps.
/// Returns the files written.
pub fn write_figures(table: &Table, dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    std::fs::create_dir_all(dir).map_err(|e| PlotError::Draw { file: dir.to_path_buf(), message: e.to_string() })?;
    let mut rows: BTreeMap<(std::cmp::Reverse<u64>, usize), Vec<&Cell>> = BTreeMap::new();
    for c in &table.cells {
        let row = ROWS.iter().position(|&(d, t, m)| d == c.dataset && t == c.task && m == c.model).unwrap_or(0);
        rows.entry((std::cmp::Reverse(c.steps), row)).or_default().push(c);
    }
    let mut written = Vec::new();
    for cells in rows.values() {
        let c0 = cells[0];
        let curves: Vec<(String, Vec<EpochRow>)> = cells
            .iter()
            .map(|c| {
                let group = group_runs(c.runs.clone(), &[]);
                (format!("{} (n={})", paper_name(&c.estimator), c.runs.len()), group[0].mean_curve())
            })
            .collect();
        let path = dir.join(figure_name(c0.steps, c0.dataset, &c0.task, &c0.model));
        let title = format!(
            "{} {} {} · {} steps · mean over seeds",
            c0.dataset.label(),
            c0.task,
            c0.model,
            steps_label(c0.steps)
        );
        // The y axes fit the last 90% of the steps: the first epochs would flatten the rest.
        plot::compare_runs_from(&curves, &title, &path, Some(c0.steps as f64 * 0.1))?;
        written.push(path);
    }
    Ok(written)
}

/// The markers between which `rebar table --readme` writes the table into a Markdown file.
pub const README_MARKERS: (&str, &str) =
    ("<!-- table1:begin (rebar table writes this part) -->", "<!-- table1:end -->");

/// `text` with the part between [`README_MARKERS`] replaced by `table`; `None` if the markers
/// are missing or out of order.
pub fn splice(text: &str, table: &str) -> Option<String> {
    let (begin, end) = README_MARKERS;
    let a = text.find(begin)? + begin.len();
    let b = a + text[a..].find(end)?;
    Some(format!("{}\n{}{}", &text[..a], table, &text[b..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_uses_both_error_bars() {
        let p = paper::cell(Dataset::Mnist, "gen", "linear1", "nvil").unwrap(); // −112.5 ± 0.1
        let stat = |mean, se| Stat { mean, standard_error: se, n: 2 };
        assert_eq!(Verdict::of(&stat(-112.65, Some(0.06)), p), Verdict::Within);
        assert_eq!(Verdict::of(&stat(-112.65, Some(0.04)), p), Verdict::Below);
        assert_eq!(Verdict::of(&stat(-112.3, Some(0.05)), p), Verdict::Above);
        assert_eq!(Verdict::of(&stat(-112.45, None), p), Verdict::Within);
    }

    #[test]
    fn splice_replaces_only_between_the_markers() {
        let (b, e) = README_MARKERS;
        let text = format!("# T\n{b}\nold\n{e}\nafter\n");
        let out = splice(&text, "new\n").unwrap();
        assert_eq!(out, format!("# T\n{b}\nnew\n{e}\nafter\n"));
        assert_eq!(splice(&out, "new\n").unwrap(), out, "idempotent");
        assert!(splice("no markers", "x").is_none());
        assert!(splice(&format!("{e} {b}"), "x").is_none());
    }

    #[test]
    fn steps_and_durations_read_well() {
        assert_eq!(steps_label(2_000_000), "2,000,000");
        assert_eq!(steps_label(100_000), "100,000");
        assert_eq!(steps_label(999), "999");
        assert_eq!(duration(47.2), "47 s");
        assert_eq!(duration(2460.0), "41.0 min");
        assert_eq!(duration(9000.0), "2.5 h");
    }
}
