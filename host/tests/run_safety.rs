//! A run is never lost: a finished folder is not overwritten by accident, a running one is not
//! shared, SIGTERM and SIGHUP save a checkpoint that resumes bit-identically, a signal stops the
//! final evaluation, a logged run shows its progress, and `rebar sweep` resumes shorter runs and
//! refuses folders of other runs.

mod data_support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rebar_host::records::Summary;

/// The synthetic IDX data of `train_cli.rs` (21 steps per epoch at batch 24).
fn data_dir() -> &'static str {
    static DIR: OnceLock<data_support::Scratch> = OnceLock::new();
    DIR.get_or_init(|| data_support::synthetic_dir("run-safety", 600, 100).0).path().to_str().unwrap()
}

fn rebar() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rebar"));
    // Progress lines at every update, so that short runs print some.
    c.env("REBAR_PROGRESS_SECONDS", "0");
    c
}

fn run(args: &[&str]) -> Output {
    rebar().args(args).output().expect("run rebar")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A short run on the synthetic data into `dir`, checkpointed only at the end or when stopped.
fn args<'a>(dir: &'a Path, steps: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "train",
        "--data",
        data_dir(),
        "--steps",
        steps,
        "--out",
        dir.to_str().unwrap(),
        "--eval-examples",
        "48",
        "--iwae-samples",
        "4",
        "--checkpoint-every",
        "0",
    ];
    v.extend_from_slice(extra);
    v
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rebar-safety-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Every file of a folder, by name.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect()
}

fn summary(dir: &Path) -> Summary {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).expect("summary.json")).unwrap()
}

/// Starts a run in the background, its output discarded.
fn spawn(args: &[&str]) -> Child {
    rebar().args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
}

/// Waits until `dir`'s metrics.csv has a row (the run is training).
fn wait_for_a_row(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::fs::read_to_string(dir.join("metrics.csv")).map_or(0, |s| s.lines().count()) < 2 {
        assert!(Instant::now() < deadline, "no metrics row after two minutes");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, name: &str) {
    let s = Command::new("kill").args([&format!("-{name}"), &child.id().to_string()]).status().unwrap();
    assert!(s.success(), "kill -{name} failed");
}

fn wait(child: &mut Child, within: Duration) -> Option<i32> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        assert!(Instant::now() < deadline, "the run did not stop within {within:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_rerun_into_a_finished_folder_is_refused_and_keeps_it_byte_for_byte() {
    let d = tmp("rerun");
    let o = run(&args(&d, "60", &[]));
    assert!(o.status.success(), "{}", text(&o));
    // The run's stderr is a pipe, not a terminal: plain progress lines.
    let err = String::from_utf8_lossy(&o.stderr);
    let line = err.lines().find(|l| l.starts_with("step ")).unwrap_or_else(|| panic!("no progress line: {err}"));
    for part in ["/60 (", "steps/s", "ETA", "ELBO", "log var", "λ"] {
        assert!(line.contains(part), "{part} missing from {line}");
    }
    let first = files(&d);
    for extra in [&[][..], &["--lr", "1e-3"]] {
        let o = run(&args(&d, "60", extra));
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        let t = text(&o);
        assert!(
            t.contains(&format!("run folder {} already holds a run", d.display()))
                && t.contains("--resume")
                && t.contains("--overwrite"),
            "{t}"
        );
        assert!(files(&d) == first, "a refused rerun changed the folder");
    }
    // --overwrite replaces it; --quiet prints no progress.
    let o = run(&args(&d, "40", &["--lr", "1e-3", "--overwrite", "--quiet"]));
    assert!(o.status.success(), "{}", text(&o));
    assert!(!String::from_utf8_lossy(&o.stderr).lines().any(|l| l.starts_with("step ")), "{}", text(&o));
    let s = summary(&d);
    assert_eq!((s.steps_completed, s.learning_rate as f32), (40, 1e-3));
}

#[test]
fn the_default_folder_is_named_by_the_options_that_make_a_different_run() {
    let work = tmp("default-name");
    std::fs::create_dir_all(&work).unwrap();
    let o = rebar()
        .current_dir(&work)
        .args(["train", "--estimator", "nvil", "--lr", "1e-3", "--steps", "20", "--batch", "12"])
        .args(["--eval-examples", "12", "--iwae-samples", "1", "--quiet", "--data", data_dir()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    // The data folder's name first, as `rebar sweep` puts omniglot- first.
    let data = Path::new(data_dir()).file_name().unwrap().to_str().unwrap();
    let name = format!("{data}-gen-linear1-nvil-lr1e-3-seed0-steps20-batch12");
    assert!(work.join("runs").join(name).join("summary.json").exists(), "{}", text(&o));
}

#[test]
fn a_second_process_on_a_running_folder_is_refused_naming_its_pid_and_sighup_saves() {
    let d = tmp("locked");
    let mut first = spawn(&args(&d, "100000", &[]));
    wait_for_a_row(&d);
    let o = run(&args(&d, "50", &["--overwrite"]));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains(&format!("run folder {} is in use by pid {}", d.display(), first.id())), "{}", text(&o));
    signal(&first, "HUP");
    assert_eq!(wait(&mut first, Duration::from_secs(60)), Some(129));
    assert!(d.join("checkpoint.rbck").exists(), "SIGHUP left no checkpoint");
    // The lock went with the process.
    let o = run(&args(&d, "50", &["--overwrite", "--quiet"]));
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn sigterm_saves_a_checkpoint_that_resumes_bit_identically() {
    let (whole, stopped) = (tmp("whole"), tmp("term"));
    let extra = ["--estimator", "rebar", "--quiet"];
    let o = run(&args(&whole, "1500", &extra));
    assert!(o.status.success(), "{}", text(&o));

    // Without periodic checkpoints: only the signal's saves the work.
    let mut child = spawn(&args(&stopped, "1500", &extra));
    wait_for_a_row(&stopped);
    signal(&child, "TERM");
    assert_eq!(wait(&mut child, Duration::from_secs(60)), Some(143), "stopped by SIGTERM: exit 143");
    let left = files(&stopped);
    assert!(left.contains_key("checkpoint.rbck") && !left.contains_key("summary.json"), "{:?}", left.keys());
    assert!(!left.keys().any(|f| f.ends_with(".tmp")), "a temporary file was left: {:?}", left.keys());
    let mut resume = args(&stopped, "1500", &extra);
    resume.push("--resume");
    let o = run(&resume);
    assert!(o.status.success(), "{}", text(&o));
    for f in ["metrics.csv", "progress.csv"] {
        assert!(files(&whole)[f] == files(&stopped)[f], "resumed after SIGTERM: {f} differs");
    }
    assert_eq!(summary(&whole).final_metrics, summary(&stopped).final_metrics);
}

#[test]
fn a_signal_stops_the_final_evaluation_and_a_resumed_run_evaluates_again() {
    // The built-in data's 10,000 validation images with 100 samples each, on one thread: an
    // evaluation long enough to interrupt.
    let d = tmp("eval-stop");
    let mut child = rebar()
        .args(["train", "--estimator", "nvil", "--steps", "30", "--threads", "1", "--out", d.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    assert!(lines.any(|l| l.unwrap().starts_with("evaluating valid and test")), "no evaluation line");
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, "INT");
    assert_eq!(wait(&mut child, Duration::from_secs(20)), Some(130), "Ctrl-C during the evaluation: exit 130");
    assert!(d.join("checkpoint.rbck").exists() && !d.join("summary.json").exists());

    // A finished run without its summary (as the stop leaves it) is evaluated again on resume.
    let e = tmp("eval-again");
    let o = run(&args(&e, "30", &["--quiet"]));
    assert!(o.status.success(), "{}", text(&o));
    let before = summary(&e);
    std::fs::remove_file(e.join("summary.json")).unwrap();
    let o = run(&args(&e, "30", &["--quiet", "--resume"]));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(summary(&e).final_metrics, before.final_metrics);
}

#[test]
fn sweep_resumes_a_shorter_run_and_refuses_another_configuration() {
    let d = tmp("sweep");
    let sweep = |steps: &str, batch: &str| {
        run(&[
            "sweep",
            "--estimators",
            "nvil",
            "--seeds",
            "1",
            "--iwae-samples",
            "1",
            "--jobs",
            "1",
            "--steps",
            steps,
            "--batch",
            batch,
            "--out",
            d.to_str().unwrap(),
        ])
    };
    let o = sweep("60", "24");
    assert!(o.status.success(), "{}", text(&o));
    let run_dir = d.join("gen-linear1-nvil-lr3e-4-seed0");
    assert_eq!(summary(&run_dir).steps_completed, 60);
    // The child's progress lines went to its train.log.
    let log = std::fs::read_to_string(run_dir.join("train.log")).unwrap();
    assert!(log.lines().any(|l| l.starts_with("step ") && l.contains("/60")), "{log}");

    let o = sweep("60", "24");
    assert!(o.status.success() && text(&o).contains("0 runs to do (1 already finished)"), "{}", text(&o));
    let o = sweep("120", "24");
    assert!(o.status.success() && text(&o).contains("1 runs to do (0 already finished)"), "{}", text(&o));
    assert_eq!(summary(&run_dir).steps_completed, 120, "{}", text(&o));

    let kept = files(&run_dir);
    let o = sweep("120", "12");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("{}: its summary.json records batch 24, not 12", run_dir.display())),
        "{}",
        text(&o)
    );
    assert!(files(&run_dir) == kept, "a refused sweep changed the folder");
}

#[test]
fn the_slurm_script_asks_for_sigterm_before_the_limit_and_hands_it_to_rebar() {
    let d = tmp("plan");
    let o = run(&["sweep", "--estimators", "nvil", "--seeds", "1", "--plan", "--out", d.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let script = std::fs::read_to_string(d.join("sweep.slurm")).unwrap();
    assert!(script.contains("#SBATCH --signal=B:TERM@120"), "{script}");
    assert!(script.contains("exec rebar train"), "{script}");
    let jobs = std::fs::read_to_string(d.join("jobs.txt")).unwrap();
    assert!(jobs.contains(" --resume; else rebar train") && jobs.contains(" --overwrite; fi"), "{jobs}");
    assert!(!jobs.contains("--quiet"), "the runs' progress lines belong in their logs: {jobs}");
}

#[test]
fn a_sweep_stopped_or_killed_stops_its_runs_which_save_their_checkpoints() {
    let d = tmp("sweep-stop");
    let run_dir = d.join("gen-linear1-nvil-lr3e-4-seed0");
    let log = run_dir.join("train.log");
    let count = |needle: &str| std::fs::read_to_string(&log).map_or(0, |s| s.matches(needle).count());
    // The n-th process of the run (each starts with a banner) has printed a progress line.
    let training = |n: usize| {
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        let banners: Vec<_> = log.match_indices("rebar train: gen linear1 with nvil").collect();
        banners.len() == n && log[banners[n - 1].0..].contains("\nstep ")
    };
    let until = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !done() {
            assert!(Instant::now() < deadline, "{what}: {}", std::fs::read_to_string(&log).unwrap_or_default());
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let sweep = || {
        let mut c = rebar();
        c.args(["sweep", "--estimators", "nvil", "--seeds", "1", "--iwae-samples", "1", "--jobs", "1"]);
        c.args(["--steps", "1000000", "--out", d.to_str().unwrap()]).stdout(Stdio::null()).stderr(Stdio::null());
        c.spawn().unwrap()
    };
    // SIGTERM to the driver reaches the run, which saves; the driver exits 143 after it.
    let mut driver = sweep();
    until("the run trains", &|| training(1));
    signal(&driver, "TERM");
    assert_eq!(wait(&mut driver, Duration::from_secs(60)), Some(143));
    assert_eq!(count("SIGTERM: interrupted"), 1);
    assert!(run_dir.join("checkpoint.rbck").exists());
    // A driver killed outright (SIGKILL): its run stops too (Linux), resumed and saved again.
    let mut driver = sweep();
    until("the run resumes", &|| training(2));
    signal(&driver, "KILL");
    driver.wait().unwrap();
    if cfg!(target_os = "linux") {
        until("the orphaned run stops", &|| count("SIGTERM: interrupted") == 2);
    }
}
