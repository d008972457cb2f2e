//! Bookkeeping that survives resume (issue 22, item 5): timing.csv keeps the earlier processes'
//! rows, summary.json's wall time and steps/s cover every process, a step budget below the
//! steps done is refused, the data path is stored absolute so the run's folder works from any
//! directory, and the data's digest lets a moved copy of the same data resume.

mod data_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use rebar_host::records::{EpochRow, Summary, TimingRow};

/// 600 training images (500 train + 100 valid: 21 steps per epoch at batch 24), 100 test.
fn data() -> &'static data_support::Scratch {
    static DIR: OnceLock<data_support::Scratch> = OnceLock::new();
    DIR.get_or_init(|| data_support::synthetic_dir("bookkeeping", 600, 100).0)
}

fn rebar_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rebar")).current_dir(cwd).args(args).output().expect("run rebar")
}

fn rebar(args: &[&str]) -> Output {
    rebar_in(&std::env::temp_dir(), args)
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rebar-bookkeeping-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn train<'a>(dir: &'a str, steps: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let data = data().path().to_str().unwrap();
    let mut v = vec![
        "train",
        "--data",
        data,
        "--steps",
        steps,
        "--out",
        dir,
        "--quiet",
        "--eval-examples",
        "8",
        "--iwae-samples",
        "2",
        "--estimator",
        "nvil",
    ];
    v.extend_from_slice(extra);
    v
}

fn rows<T: serde::de::DeserializeOwned>(path: PathBuf) -> Vec<T> {
    csv::Reader::from_path(path).unwrap().deserialize().map(Result::unwrap).collect()
}

fn summary(dir: &Path) -> Summary {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn a_resumed_run_keeps_its_timing_rows_and_sums_its_wall_time() {
    let d = tmp("timing");
    let dir = d.to_str().unwrap();
    let o = rebar(&train(dir, "50", &[]));
    assert!(o.status.success(), "{}", text(&o));
    let first: Vec<TimingRow> = rows(d.join("timing.csv"));
    let first_wall = summary(&d).wall_seconds;
    let o = rebar(&train(dir, "100", &["--resume"]));
    assert!(o.status.success(), "{}", text(&o));
    // One timing row per metrics row: epochs 1 and 2 from the first process, 3 to 5 from this one.
    let metrics: Vec<EpochRow> = rows(d.join("metrics.csv"));
    let timing: Vec<TimingRow> = rows(d.join("timing.csv"));
    assert_eq!(timing.iter().map(|r| r.epoch).collect::<Vec<_>>(), metrics.iter().map(|r| r.epoch).collect::<Vec<_>>());
    assert_eq!(timing[..2], first[..2], "the first process's rows changed");
    assert!(timing.windows(2).all(|w| w[0].seconds <= w[1].seconds), "{timing:?}");
    // The wall time goes on from the first process's, which trained for epochs 1 and 2.
    let s = summary(&d);
    assert!(s.wall_seconds >= first[1].seconds, "{} s after resuming, {} s before", s.wall_seconds, first[1].seconds);
    assert!(first_wall > 0.0 && s.steps_per_second > 0.0);

    // Resumed at its own budget, the run trains no step: its rate is still the run's.
    let o = rebar(&train(dir, "100", &["--resume"]));
    assert!(o.status.success(), "{}", text(&o));
    let again = summary(&d);
    assert!(again.steps_per_second > 0.0 && !text(&o).contains("(0 steps/s)"), "{}", text(&o));
    assert!(again.wall_seconds >= s.wall_seconds - 1.0, "{} then {}", s.wall_seconds, again.wall_seconds);
}

#[test]
fn a_step_budget_below_the_steps_done_is_refused() {
    let d = tmp("fewer");
    let dir = d.to_str().unwrap();
    let o = rebar(&train(dir, "30", &[]));
    assert!(o.status.success(), "{}", text(&o));
    let before = std::fs::read(d.join("summary.json")).unwrap();
    let o = rebar(&train(dir, "20", &["--resume"]));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("--steps 20 is below the 30 steps the run in"), "{}", text(&o));
    assert_eq!(std::fs::read(d.join("summary.json")).unwrap(), before, "a refused resume rewrote the summary");
}

#[test]
fn a_relative_data_path_is_stored_absolute() {
    let parent = data().path().parent().unwrap();
    let name = data().path().file_name().unwrap().to_str().unwrap();
    let d = tmp("relative");
    let dir = d.to_str().unwrap();
    let args = [
        "train",
        "--data",
        name,
        "--steps",
        "5",
        "--out",
        dir,
        "--quiet",
        "--eval-examples",
        "8",
        "--iwae-samples",
        "2",
    ];
    let o = rebar_in(parent, &args);
    assert!(o.status.success(), "{}", text(&o));
    let absolute = data().path().canonicalize().unwrap();
    assert_eq!(Path::new(&summary(&d).data.source), absolute);
    // eval from another directory finds the data ...
    let o = rebar_in(Path::new("/"), &["eval", dir, "--samples", "2", "--examples", "8"]);
    assert!(o.status.success(), "{}", text(&o));
    // ... and a resume that spells the data folder absolute is the same run.
    let mut resume = args.to_vec();
    resume[2] = absolute.to_str().unwrap();
    resume[4] = "8";
    resume.push("--resume");
    let o = rebar(&resume);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn a_moved_copy_of_the_data_resumes_and_other_data_is_refused() {
    // Two copies of the same images in different folders, and other images.
    let (first, _, _) = data_support::synthetic_dir("bookkeeping-first-copy", 600, 100);
    let (moved, _, _) = data_support::synthetic_dir("bookkeeping-moved-copy", 600, 100);
    let (other, _, _) = data_support::synthetic_dir("bookkeeping-other", 601, 100);
    let d = tmp("moved");
    let dir = d.to_str().unwrap();
    let with = |data: &Path, steps: &'static str, resume: bool| {
        let mut args = train(dir, steps, if resume { &["--resume"] } else { &[] });
        args[2] = data.to_str().unwrap().to_owned().leak();
        rebar(&args)
    };
    let o = with(first.path(), "10", false);
    assert!(o.status.success(), "{}", text(&o));
    let o = with(other.path(), "20", true);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("--data (SHA-256 of its images)"), "{}", text(&o));
    let o = with(moved.path(), "20", true);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(summary(&d).steps_completed, 20);
}
