//! `rebar reproduce` and `rebar table`: the Table 1 grid as a plan, finished runs collected into
//! a results folder (never their checkpoints), and the table regenerated from fake results —
//! the best learning rate kept per cell, verdicts against the paper, runs that fit no cell left
//! out with a reason, and the README part between the markers rewritten.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rebar_host::records::{DataSource, EpochRow, FORMAT_VERSION, FinalMetrics, Summary, files};
use rebar_host::table1::{self, README_MARKERS};

fn rebar(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rebar")).args(args).output().expect("runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rebar-table1-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A finished (or unfinished) run as `rebar train` would leave it.
struct Fake<'a> {
    task: &'a str,
    model: &'a str,
    estimator: &'a str,
    lr: f32,
    seed: u64,
    best: f64,
    done: bool,
    source: &'a str,
}

impl Fake<'_> {
    fn write(&self, dir: &Path) {
        let summary = Summary {
            format_version: FORMAT_VERSION,
            model: self.model.into(),
            task: self.task.into(),
            estimator: self.estimator.into(),
            temperature: None,
            learning_rate: self.lr as f64,
            batch: 24,
            steps: 4168,
            seed: self.seed,
            data: DataSource { source: self.source.into(), binarization: "static".into() },
            steps_completed: if self.done { 4168 } else { 2084 },
            epochs_completed: 2,
            steps_per_second: 500.0,
            wall_seconds: 600.0,
            final_metrics: FinalMetrics {
                train_elbo: self.best - 0.5,
                best_train_elbo: self.best,
                valid_elbo: None,
                valid_iwae: None,
                test_elbo: None,
                test_iwae: Some(self.best + 10.0),
                iwae_samples: Some(100),
                log_variance: -4.0,
            },
            build: "test".into(),
            machine: "test".into(),
            revision: Some("abc1234".into()),
            work: None,
            train_threads: 1,
            shards: Some(1),
        };
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(files::SUMMARY), serde_json::to_string_pretty(&summary).unwrap()).unwrap();
        let mut w = csv::Writer::from_path(dir.join(files::METRICS)).unwrap();
        for epoch in 1..=2u64 {
            let row = EpochRow {
                epoch,
                step: epoch * 2084,
                train_elbo: self.best - (2 - epoch) as f64 * 3.0,
                log_variance: -4.0,
                temperature: None,
                eta_mean: None,
                valid_iwae: None,
                test_iwae: None,
            };
            w.serialize(row).unwrap();
        }
        w.flush().unwrap();
        for f in [files::PROGRESS, files::TIMING, files::CHECKPOINT] {
            std::fs::write(dir.join(f), f).unwrap();
        }
    }
}

fn fake<'a>(estimator: &'a str, lr: f32, seed: u64, best: f64) -> Fake<'a> {
    Fake { task: "gen", model: "linear1", estimator, lr, seed, best, done: true, source: "builtin" }
}

#[test]
fn the_plan_lists_the_paper_grid_seed_by_seed() {
    let dir = tmp("plan");
    let out = dir.join("runs");
    let o = rebar(&["reproduce", "--budget", "full", "--seeds", "2", "--plan", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let jobs = std::fs::read_to_string(out.join("full/jobs.txt")).unwrap();
    let lines: Vec<&str> = jobs.lines().collect();
    // Six MNIST rows × eight estimators × two seeds.
    assert_eq!(lines.len(), 6 * 8 * 2, "{jobs}");
    assert!(lines[0].contains("--task gen --model linear1 --estimator nvil"), "{}", lines[0]);
    assert!(lines[0].contains("--steps 2000000") && lines[0].contains("--seed 0"), "{}", lines[0]);
    assert!(lines[47].contains("--task sp --model nonlinear --estimator rloo") && lines[47].contains("--seed 0"));
    assert!(lines[48].contains("--seed 1"), "seed-major order: {}", lines[48]);
    assert!(out.join("full/reproduce.slurm").is_file());
    let omni = rebar(&["reproduce", "--rows", "omniglot-gen-linear1", "--plan", "--out", out.to_str().unwrap()]);
    assert!(!omni.status.success());
    assert!(text(&omni).contains("--omniglot"), "{}", text(&omni));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn collecting_copies_finished_runs_without_checkpoints() {
    let dir = tmp("collect");
    let runs = dir.join("runs");
    let results = dir.join("results");
    let name = "gen-linear1-nvil-lr3e-4-seed0";
    fake("nvil", 3e-4, 0, -120.0).write(&runs.join("steps-4168").join(name));
    // An unfinished run of the grid: no summary, nothing to collect.
    std::fs::create_dir_all(runs.join("steps-4168/gen-linear1-rebar-lr3e-4-seed0")).unwrap();
    let args = |extra: &[&str]| {
        let mut a = vec!["reproduce", "--steps", "4168", "--rows", "gen-linear1", "--estimators", "nvil,rebar"];
        a.extend(["--seeds", "1", "--out", runs.to_str().unwrap(), "--results", results.to_str().unwrap()]);
        a.extend(extra);
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let a = args(&["--collect-only"]);
    let o = rebar(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("1 newly copied"), "{}", text(&o));
    let copied = results.join("steps-4168").join(name);
    for f in [files::SUMMARY, files::METRICS, files::PROGRESS, files::TIMING] {
        assert!(copied.join(f).is_file(), "{f}");
    }
    assert!(!copied.join(files::CHECKPOINT).exists(), "checkpoints stay out of results");
    assert!(!results.join("steps-4168/gen-linear1-rebar-lr3e-4-seed0").exists());
    let again = rebar(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(text(&again).contains("0 newly copied"), "{}", text(&again));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_table_keeps_the_best_learning_rate_and_compares_with_the_paper() {
    let dir = tmp("table");
    let results = dir.join("results");
    let put = |name: &str, f: Fake| f.write(&results.join("steps-4168").join(name));
    // REBAR at two learning rates: 1e-3 wins (−111.0 ± 0.1 against the paper's −111.6 ± 0.03).
    put("r1", fake("rebar", 1e-3, 0, -110.9));
    put("r2", fake("rebar", 1e-3, 1, -111.1));
    put("r3", fake("rebar", 3e-4, 0, -113.0));
    put("r4", fake("rebar", 3e-4, 1, -113.2));
    // NVIL within the paper's error bars (−112.5 ± 0.1), one seed.
    put("n1", fake("nvil", 3e-4, 0, -112.55));
    // Left out: unfinished, another dataset, an estimator with no column.
    put("u", Fake { done: false, ..fake("muprop", 3e-4, 0, -150.0) });
    put("f", Fake { source: "/data/fashion", ..fake("muprop", 3e-4, 0, -150.0) });
    put("s", fake("simple-muprop", 3e-4, 0, -150.0));
    let readme = dir.join("README.md");
    let (b, e) = README_MARKERS;
    std::fs::write(&readme, format!("# R\n\n{b}\nold table\n{e}\n\nrest\n")).unwrap();
    let o = rebar(&["table", results.to_str().unwrap(), "--readme", readme.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let md = std::fs::read_to_string(results.join("TABLE1.md")).unwrap();
    let line = |needle: &str| md.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle}: {md}"));
    let rebar_line = line("| REBAR |");
    assert!(rebar_line.contains("-111.00 ± 0.10"), "{rebar_line}");
    assert!(rebar_line.contains("+0.60 (**above**)"), "{rebar_line}");
    assert!(rebar_line.contains("| 0.001 |") && rebar_line.contains("| 2 (0, 1) |"), "{rebar_line}");
    let nvil_line = line("| NVIL |");
    assert!(nvil_line.contains("-0.05 (within error bars)"), "{nvil_line}");
    assert!(md.contains("0.0003: -113.10 (2), 0.001: -111.00 (2)"), "{md}");
    assert!(md.contains("unfinished: 2084 of 4168 steps"), "{md}");
    assert!(md.contains("data /data/fashion has no row"), "{md}");
    assert!(md.contains("estimator simple-muprop has no column"), "{md}");
    assert!(
        results
            .join("figures")
            .join(table1::figure_name(4168, rebar_host::paper::Dataset::Mnist, "gen", "linear1"))
            .is_file()
    );
    let new = std::fs::read_to_string(&readme).unwrap();
    assert!(new.starts_with("# R\n\n") && new.ends_with(&format!("{e}\n\nrest\n")), "{new}");
    assert!(!new.contains("old table") && new.contains("| REBAR |"), "{new}");
    assert!(
        new.contains("](results/figures/elbo-4168-mnist-gen-linear1.png)"),
        "figures linked from the README: {new}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
