//! `rebar table`: the paper's Table 1 beside rebar's results, from a results folder.

use std::path::PathBuf;

use clap::Args;
use rebar_host::{report, table1};

/// Options of `rebar table`.
#[derive(Debug, Args)]
pub struct TableArgs {
    /// The results folder (`rebar reproduce --results`): run folders, each with summary.json and
    /// metrics.csv, one or two levels down.
    #[arg(value_name = "DIR", default_value = "results")]
    pub results: PathBuf,
    /// Also write the table into this Markdown file, between the lines
    /// `<!-- table1:begin (rebar table writes this part) -->` and `<!-- table1:end -->`.
    #[arg(long, value_name = "FILE")]
    pub readme: Option<PathBuf>,
}

/// Runs the command: writes DIR/TABLE1.md and the figures in DIR/figures, prints the table.
pub fn run(a: &TableArgs) -> Result<(), Box<dyn std::error::Error>> {
    let mut warnings = Vec::new();
    let runs = report::find_runs(&a.results, &mut warnings)?;
    let figures = a.results.join("figures");
    // The results folder's own non-run folders: this command's figures, and Figure 1's and
    // Figure 2's outputs (README: results/toy, results/variance).
    let own: Vec<String> =
        ["figures", "toy", "variance"].iter().map(|d| format!("skipping {}", a.results.join(d).display())).collect();
    for w in warnings.iter().filter(|w| !own.iter().any(|o| w.starts_with(o.as_str()))) {
        eprintln!("warning: {w}");
    }
    let table = table1::build(runs);
    let written = table1::write_figures(&table, &figures)?;
    let md = table1::markdown(&table, "figures");
    let path = a.results.join("TABLE1.md");
    std::fs::write(
        &path,
        format!(
            "# Table 1, reproduced\n\nWritten by `rebar table {}` from the run folders below it.\n\n{md}",
            a.results.display()
        ),
    )?;
    print!("{md}");
    println!("wrote {} and {} figure(s) in {}", path.display(), written.len(), figures.display());
    if let Some(readme) = &a.readme {
        // The README links the figures as its reader sees them: relative to the README's folder.
        let base = readme.parent().map(|p| p.to_path_buf()).unwrap_or_default();
        let rel = relative(&figures, &base);
        let text = std::fs::read_to_string(readme).map_err(|e| format!("cannot read {}: {e}", readme.display()))?;
        let new = table1::splice(&text, &table1::markdown(&table, &rel)).ok_or_else(|| {
            let (b, e) = table1::README_MARKERS;
            format!("{}: no `{b}` … `{e}` lines to write the table between", readme.display())
        })?;
        std::fs::write(readme, new).map_err(|e| format!("cannot write {}: {e}", readme.display()))?;
        println!("updated the table in {}", readme.display());
    }
    Ok(())
}

/// `path` relative to `base` when `path` lies under it (both canonicalised), else `path` as is.
fn relative(path: &std::path::Path, base: &std::path::Path) -> String {
    let canon = |p: &std::path::Path| std::fs::canonicalize(if p.as_os_str().is_empty() { ".".as_ref() } else { p });
    match (canon(path), canon(base)) {
        (Ok(p), Ok(b)) => {
            p.strip_prefix(&b).map(|r| r.display().to_string()).unwrap_or_else(|_| path.display().to_string())
        }
        _ => path.display().to_string(),
    }
}
