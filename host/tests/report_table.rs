//! `rebar report` and `rebar_host::report`: fake run folders written with the records types,
//! grouped over seeds into a Markdown table with mean ± standard error.

use std::path::{Path, PathBuf};
use std::process::Command;

use rebar_host::records::{DataSource, EpochRow, FORMAT_VERSION, FinalMetrics, Summary, Work, files};
use rebar_host::report::{self, GroupField, ReportError};

struct Fake {
    estimator: &'static str,
    /// As training writes it: an f32 widened to f64.
    lr: f32,
    seed: u64,
    best: f64,
    last: f64,
    valid: Option<f64>,
    test: Option<f64>,
    speed: f64,
}

fn summary(f: &Fake) -> Summary {
    Summary {
        format_version: FORMAT_VERSION,
        model: "linear1".into(),
        task: "gen".into(),
        estimator: f.estimator.into(),
        temperature: Some(0.5),
        learning_rate: f.lr as f64,
        batch: 24,
        steps: 6252,
        seed: f.seed,
        data: DataSource { source: "builtin".into(), binarization: "static".into() },
        steps_completed: 6252,
        epochs_completed: 3,
        steps_per_second: f.speed,
        wall_seconds: 6252.0 / f.speed,
        final_metrics: FinalMetrics {
            train_elbo: f.last,
            best_train_elbo: f.best,
            valid_elbo: f.valid.map(|v| v - 5.0),
            valid_iwae: f.valid,
            test_elbo: f.test.map(|v| v - 5.0),
            test_iwae: f.test,
            iwae_samples: f.valid.map(|_| 100),
            log_variance: -3.0,
        },
        build: "test".into(),
        machine: "test".into(),
        revision: None,
        // rebar's runs state their work (1.0, 1.1, 1.2 M by seed); the others are older summaries.
        work: (f.estimator == "rebar").then_some(Work {
            multiply_adds_per_example: (1.0 + 0.1 * f.seed as f64) * 1e6,
            dense_multiply_adds_per_example: 2e6,
        }),
        train_threads: 1,
        shards: None,
    }
}

fn metrics(f: &Fake) -> Vec<EpochRow> {
    (1..=3)
        .map(|e| EpochRow {
            epoch: e,
            step: e * 2084,
            train_elbo: f.last - (3 - e) as f64 * 10.0,
            log_variance: -1.0 - e as f64 - f.seed as f64 * 0.1,
            temperature: Some(0.5),
            eta_mean: Some(1.0),
            valid_iwae: if e == 3 { f.valid } else { None },
            test_iwae: if e == 3 { f.test } else { None },
        })
        .collect()
}

/// Writes a run folder with the records types (serde), like `rebar train` does.
fn write_run(dir: &Path, f: &Fake) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(files::SUMMARY), serde_json::to_string_pretty(&summary(f)).unwrap()).unwrap();
    let mut w = csv::Writer::from_path(dir.join(files::METRICS)).unwrap();
    for row in metrics(f) {
        w.serialize(row).unwrap();
    }
    w.flush().unwrap();
}

const REBAR: [Fake; 3] = [
    Fake {
        estimator: "rebar",
        lr: 3e-4,
        seed: 0,
        best: -100.0,
        last: -100.5,
        valid: Some(-98.0),
        test: Some(-98.5),
        speed: 100.0,
    },
    Fake {
        estimator: "rebar",
        lr: 3e-4,
        seed: 1,
        best: -102.0,
        last: -102.5,
        valid: Some(-99.0),
        test: None,
        speed: 110.0,
    },
    Fake {
        estimator: "rebar",
        lr: 3e-4,
        seed: 2,
        best: -101.0,
        last: -101.0,
        valid: Some(-100.0),
        test: Some(-99.5),
        speed: 120.0,
    },
];
const NVIL: Fake =
    Fake { estimator: "nvil", lr: 3e-4, seed: 0, best: -110.25, last: -111.0, valid: None, test: None, speed: 300.0 };
const NVIL_FAST: Fake =
    Fake { estimator: "nvil", lr: 1e-3, seed: 0, best: -107.75, last: -108.0, valid: None, test: None, speed: 300.0 };

/// A parent folder: runs one and two levels down, plus folders that are not runs.
fn layout(root: &Path) -> PathBuf {
    let parent = root.join("runs");
    write_run(&parent.join("gen-linear1-rebar").join("seed0"), &REBAR[0]);
    write_run(&parent.join("gen-linear1-rebar").join("seed1"), &REBAR[1]);
    write_run(&parent.join("rebar-seed2"), &REBAR[2]);
    write_run(&parent.join("nvil-seed0"), &NVIL);
    write_run(&parent.join("nvil-lr1e-3"), &NVIL_FAST);
    std::fs::create_dir_all(parent.join("notes").join("figures")).unwrap();
    let unfinished = parent.join("gen-linear1-rebar").join("seed9");
    std::fs::create_dir_all(&unfinished).unwrap();
    std::fs::write(unfinished.join(files::METRICS), "epoch,step\n").unwrap();
    parent
}

/// The cells of the table row whose first cells are `key`.
fn row<'a>(table: &'a str, key: &[&str]) -> Vec<&'a str> {
    table
        .lines()
        .map(|l| l.trim().trim_matches('|').split('|').map(str::trim).collect::<Vec<_>>())
        .find(|cells| cells.len() > key.len() && cells[..key.len()] == *key)
        .unwrap_or_else(|| panic!("no row {key:?} in:\n{table}"))
}

#[test]
fn groups_over_seeds_with_mean_and_standard_error() {
    let root = tempfile::tempdir().unwrap();
    let parent = layout(root.path());
    let mut warnings = Vec::new();
    let runs = report::find_runs(&parent, &mut warnings).unwrap();
    assert_eq!(runs.len(), 5);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings.iter().any(|w| w.contains("notes") && w.contains("not a run folder")), "{warnings:?}");
    assert!(warnings.iter().any(|w| w.contains("seed9") && w.contains("no summary.json")), "{warnings:?}");

    let groups = report::group_runs(runs, GroupField::DEFAULT);
    assert_eq!(groups.len(), 3);
    let table = report::markdown_table(&groups, GroupField::DEFAULT);
    let header = row(&table, &["task"]);
    assert_eq!(
        header,
        [
            "task",
            "model",
            "estimator",
            "lr",
            "seeds",
            "best train ELBO",
            "final train ELBO",
            "valid IWAE",
            "test IWAE",
            "steps/s",
            "M MAC/example"
        ]
    );

    // rebar: best −100, −102, −101: mean −101, s = 1, s.e. = 1/√3 = 0.577.
    // final −100.5, −102.5, −101: mean −101.333, s = 1.041, s.e. = 0.601.
    // valid −98, −99, −100: −99 ± 0.577; test only 2 of 3: (−98.5 − 99.5)/2 = −99 ± 0.5.
    // steps/s 100, 110, 120: 110 ± 5.77. M MAC/example 1.0, 1.1, 1.2: 1.1 ± 0.0577.
    let r = row(&table, &["gen", "linear1", "rebar", "0.0003"]);
    assert_eq!(
        r[4..],
        ["3", "-101.00 ± 0.58", "-101.33 ± 0.60", "-99.00 ± 0.58", "-99.00 ± 0.50 (2/3)", "110.0 ± 5.8", "1.10 ± 0.06"]
    );
    // One seed: the value alone; no IWAE at all: "—".
    let n = row(&table, &["gen", "linear1", "nvil", "0.0003"]);
    assert_eq!(n[4..], ["1", "-110.25", "-111.00", "—", "—", "300.0", "—"]);
    // Learning rates sort numerically and form their own groups.
    let lines: Vec<&str> = table.lines().collect();
    let pos = |lr: &str| lines.iter().position(|l| l.contains("nvil") && l.contains(lr)).unwrap();
    assert!(pos("0.0003") < pos("0.001"));

    let g = groups.iter().find(|g| g.key[2] == "rebar").unwrap();
    assert_eq!(g.seeds(), [0, 1, 2]);
    assert!((g.best_train_elbo.standard_error.unwrap() - 1.0 / 3f64.sqrt()).abs() < 1e-12);
    // The mean curve: the three runs' epochs averaged.
    let curve = g.mean_curve();
    assert_eq!(curve.len(), 3);
    assert!((curve[2].train_elbo - (-101.0 - 1.0 / 3.0)).abs() < 1e-9);
    assert!((curve[0].log_variance - (-2.0 - 0.1)).abs() < 1e-9);
}

#[test]
fn group_by_other_fields() {
    let root = tempfile::tempdir().unwrap();
    let parent = layout(root.path());
    let runs = report::find_runs(&parent, &mut Vec::new()).unwrap();
    let by = [GroupField::Estimator];
    let groups = report::group_runs(runs, &by);
    let table = report::markdown_table(&groups, &by);
    // nvil over both learning rates: best −110.25 and −107.75: mean −109, s = 1.768, s.e. 1.25.
    assert_eq!(row(&table, &["nvil"])[1..3], ["2", "-109.00 ± 1.25"]);
}

#[test]
fn runs_with_other_shards_are_other_groups_and_other_threads_are_not() {
    let root = tempfile::tempdir().unwrap();
    let parent = layout(root.path());
    let mut runs = report::find_runs(&parent, &mut Vec::new()).unwrap();
    // The same grouping without a shards column while every run used one shard ...
    assert_eq!(report::grouping(&runs, GroupField::DEFAULT), GroupField::DEFAULT);
    let groups_before = report::group_runs(runs.clone(), GroupField::DEFAULT).len();
    // ... also when a run used two threads on one shard: threads do not change the numbers ...
    runs[0].summary.train_threads = 2;
    runs[0].summary.shards = Some(1);
    assert_eq!(report::grouping(&runs, GroupField::DEFAULT), GroupField::DEFAULT);
    // ... and with one as soon as a run used two shards: its seed is then not another seed of
    // the group. An older summary's two threads were two shards.
    for shards in [Some(2), None] {
        runs[0].summary.shards = shards;
        let by = report::grouping(&runs, GroupField::DEFAULT);
        assert_eq!(by.last(), Some(&GroupField::Shards));
        let groups = report::group_runs(runs.clone(), &by);
        assert_eq!(groups.len(), groups_before + 1);
        let table = report::markdown_table(&groups, &by);
        assert!(table.lines().next().unwrap().contains("| shards |"), "{table}");
    }
}

#[test]
fn bad_folders_are_errors_naming_the_path() {
    let root = tempfile::tempdir().unwrap();
    let parent = layout(root.path());

    // A named folder without summary.json.
    let unfinished = parent.join("gen-linear1-rebar").join("seed9");
    let e = report::read_run(&unfinished).unwrap_err();
    assert!(matches!(e, ReportError::MissingSummary { has_metrics: true, .. }));
    assert!(e.to_string().contains("seed9") && e.to_string().contains("missing summary.json"), "{e}");
    assert!(report::find_runs(&unfinished, &mut Vec::new()).is_err());

    // A folder with no run anywhere below it.
    let e = report::find_runs(&parent.join("notes"), &mut Vec::new()).unwrap_err();
    assert!(matches!(e, ReportError::NoRuns { .. }), "{e}");
    let e = report::find_runs(&root.path().join("nope"), &mut Vec::new()).unwrap_err();
    assert!(e.to_string().contains("nope") && e.to_string().contains("no such folder"), "{e}");

    // Malformed CSV in a run folder: an error with the file and the line, even while scanning.
    let broken = parent.join("nvil-seed0");
    std::fs::write(broken.join(files::METRICS), "epoch,step,train_elbo\n1,2084,not-a-number\n").unwrap();
    let e = report::find_runs(&parent, &mut Vec::new()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, ReportError::Csv { .. }), "{msg}");
    assert!(msg.contains("nvil-seed0") && msg.contains("metrics.csv") && msg.contains("malformed CSV"), "{msg}");

    // A malformed summary.
    std::fs::write(broken.join(files::SUMMARY), "{\"format_version\": 1}").unwrap();
    let e = report::read_run(&broken).unwrap_err();
    assert!(e.to_string().contains("summary.json") && e.to_string().contains("malformed summary"), "{e}");
}

#[test]
fn the_command_writes_report_md_and_png_and_prints_the_table() {
    let root = tempfile::tempdir().unwrap();
    let parent = layout(root.path());
    let out = root.path().join("report-out");
    let o =
        Command::new(env!("CARGO_BIN_EXE_rebar")).arg("report").arg(&parent).arg("--out").arg(&out).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{stdout}{stderr}");
    assert!(stderr.contains("warning: skipping") && stderr.contains("notes"), "{stderr}");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let r = row(&md, &["gen", "linear1", "rebar", "0.0003"]);
    assert_eq!(r[5], "-101.00 ± 0.58");
    assert!(md.contains("best train ELBO") && md.contains("seed 2:"), "{md}");
    assert_eq!(row(&stdout, &["gen", "linear1", "rebar", "0.0003"])[5], "-101.00 ± 0.58");
    assert!(stdout.contains("5 runs in 3 groups"), "{stdout}");
    let png = std::fs::read(out.join("report.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

    // Default --out: the first DIR. Two DIRs naming the same runs count them once.
    let o = Command::new(env!("CARGO_BIN_EXE_rebar"))
        .arg("report")
        .arg(&parent)
        .arg(parent.join("rebar-seed2"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(parent.join("report.md").is_file() && parent.join("report.png").is_file());
    assert!(String::from_utf8_lossy(&o.stdout).contains("5 runs in 3 groups"));

    // A named folder that is not a run: the error names it.
    let o = Command::new(env!("CARGO_BIN_EXE_rebar"))
        .arg("report")
        .arg(parent.join("gen-linear1-rebar").join("seed9"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("seed9") && stderr.contains("missing summary.json"), "{stderr}");
}

#[test]
fn report_help_documents_the_columns() {
    let o = Command::new(env!("CARGO_BIN_EXE_rebar")).args(["report", "--help"]).output().unwrap();
    assert!(o.status.success());
    let t = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "<DIR>...",
        "--out <DIR>",
        "--group-by <FIELDS>",
        "[default: task,model,estimator,lr]",
        "best train ELBO",
        "standard error",
        "steps/s",
        "M MAC/example",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in:\n{t}");
    }
}
