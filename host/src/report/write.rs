//! Writing a report: the Markdown table and `report.md`, and the curves of `report.png`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{Group, GroupField, ReportError, Stat};
use crate::plot;
use crate::records::EpochRow;

/// The report's Markdown file.
pub const REPORT_MD: &str = "report.md";
/// The report's curves.
pub const REPORT_PNG: &str = "report.png";

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
