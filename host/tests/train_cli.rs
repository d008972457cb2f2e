//! `rebar train` end to end on the built-in data: the run folder, determinism of the metrics,
//! bit-identical resumption (after a clean stop and after SIGKILL), clear errors for corrupt or
//! foreign checkpoints, and the non-finite guard.

mod data_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rebar_host::records::{EpochRow, Summary};

/// A small synthetic IDX dataset (600 training images: 500 train + 100 valid, so 21 steps per
/// epoch at batch 24; 100 test), shared by the tests.
fn data_dir() -> &'static str {
    static DIR: OnceLock<data_support::Scratch> = OnceLock::new();
    DIR.get_or_init(|| data_support::synthetic_dir("train-cli", 600, 100).0).path().to_str().unwrap()
}

fn rebar(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rebar")).args(args).output().expect("run rebar")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A short run on the synthetic data, evaluated on 48 examples with 4 samples.
fn args<'a>(dir: &'a str, steps: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "train",
        "--data",
        data_dir(),
        "--steps",
        steps,
        "--out",
        dir,
        "--quiet",
        "--eval-examples",
        "48",
        "--iwae-samples",
        "4",
        "--checkpoint-every",
        "10",
    ];
    v.extend_from_slice(extra);
    v
}

fn metrics(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("metrics.csv")).expect("metrics.csv")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rebar-train-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn a_run_writes_its_folder_and_the_same_seed_gives_the_same_metrics() {
    let (a, b) = (tmp("a"), tmp("b"));
    for d in [&a, &b] {
        let o = rebar(&args(d.to_str().unwrap(), "50", &["--estimator", "nvil", "--model", "linear2"]));
        assert!(o.status.success(), "{}", text(&o));
        assert!(text(&o).contains("Trained gen linear2 with nvil for 50 steps"), "{}", text(&o));
    }
    for f in ["metrics.csv", "progress.csv", "timing.csv", "summary.json", "curves.png", "checkpoint.rbck"] {
        assert!(a.join(f).exists(), "{f} missing");
    }
    assert_eq!(metrics(&a), metrics(&b), "same seed, same build, different metrics.csv");
    // The checkpoint holds no wall-clock figure (those go to clock.json): byte for byte.
    let ckpt = |d: &Path| std::fs::read(d.join("checkpoint.rbck")).unwrap();
    assert!(ckpt(&a) == ckpt(&b), "same seed, same build, different checkpoints");
    assert!(a.join("clock.json").is_file());
    let s: Summary = serde_json::from_slice(&std::fs::read(a.join("summary.json")).unwrap()).unwrap();
    assert_eq!((s.steps_completed, s.estimator.as_str(), s.model.as_str()), (50, "nvil", "linear2"));
    assert!(
        s.final_metrics.valid_iwae.unwrap() >= s.final_metrics.valid_elbo.unwrap() - 1e-6,
        "IWAE bound below the ELBO"
    );
    // 21 steps per epoch: two full epochs and a partial third.
    let rows: Vec<EpochRow> =
        csv::Reader::from_path(a.join("metrics.csv")).unwrap().deserialize().map(Result::unwrap).collect();
    assert_eq!(rows.iter().map(|r| r.step).collect::<Vec<_>>(), [21, 42, 50]);
    assert!(rows.iter().all(|r| r.train_elbo < 0.0 && r.log_variance.is_finite()));
}

#[test]
fn the_default_run_trains_on_the_built_in_data() {
    let d = tmp("builtin");
    let o = rebar(&[
        "train",
        "--steps",
        "30",
        "--out",
        d.to_str().unwrap(),
        "--quiet",
        "--eval-examples",
        "24",
        "--iwae-samples",
        "2",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("Trained gen linear1 with rebar for 30 steps") && t.contains("temperature λ"), "{t}");
}

#[test]
fn resuming_continues_bit_identically_after_a_stop_and_after_sigkill() {
    let (whole, stopped, killed) = (tmp("whole"), tmp("stopped"), tmp("killed"));
    let extra = ["--estimator", "rebar", "--model", "linear2", "--eval-every", "2"];
    let o = rebar(&args(whole.to_str().unwrap(), "130", &extra));
    assert!(o.status.success(), "{}", text(&o));

    // A run stopped at 55 steps (inside its third epoch), then extended to 130 from its checkpoint.
    let o = rebar(&args(stopped.to_str().unwrap(), "55", &extra));
    assert!(o.status.success(), "{}", text(&o));
    let mut resume = args(stopped.to_str().unwrap(), "130", &extra);
    resume.push("--resume");
    let o = rebar(&resume);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(metrics(&whole), metrics(&stopped), "resumed after a stop: metrics differ");

    // A run killed (SIGKILL, no chance to clean up) after it wrote a checkpoint.
    let mut child =
        Command::new(env!("CARGO_BIN_EXE_rebar")).args(args(killed.to_str().unwrap(), "130", &extra)).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !killed.join("checkpoint.rbck").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    child.kill().unwrap();
    child.wait().unwrap();
    let mut resume = args(killed.to_str().unwrap(), "130", &extra);
    resume.push("--resume");
    let o = rebar(&resume);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(metrics(&whole), metrics(&killed), "resumed after SIGKILL: metrics differ");
    let (a, b): (Summary, Summary) = (
        serde_json::from_slice(&std::fs::read(whole.join("summary.json")).unwrap()).unwrap(),
        serde_json::from_slice(&std::fs::read(killed.join("summary.json")).unwrap()).unwrap(),
    );
    assert_eq!(a.final_metrics, b.final_metrics);
}

#[test]
fn data_parallel_runs_repeat_and_resume_bit_identically() {
    let (a, b, stopped) = (tmp("dp-a"), tmp("dp-b"), tmp("dp-stopped"));
    let extra = ["--estimator", "rebar", "--train-threads", "2", "--shards", "2"];
    for d in [&a, &b] {
        let o = rebar(&args(d.to_str().unwrap(), "50", &extra));
        assert!(o.status.success(), "{}", text(&o));
    }
    assert_eq!(metrics(&a), metrics(&b), "same seed and shard count, different metrics.csv");
    let o = rebar(&args(stopped.to_str().unwrap(), "25", &extra));
    assert!(o.status.success(), "{}", text(&o));
    // Resumed on one thread: the threads are not part of the run, the shards are.
    let mut resume = args(stopped.to_str().unwrap(), "50", &["--estimator", "rebar", "--shards", "2"]);
    resume.push("--resume");
    let o = rebar(&resume);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(metrics(&a), metrics(&stopped), "resumed data-parallel run: metrics differ");

    // The shard count is part of the run: resuming with another is refused, saying which.
    let mut other = args(stopped.to_str().unwrap(), "60", &["--estimator", "rebar", "--train-threads", "2"]);
    other.push("--resume");
    let o = rebar(&other);
    assert!(!o.status.success() && text(&o).contains("--shards 2 in the checkpoint, 1 asked for"), "{}", text(&o));
    // A batch smaller than the shard count is refused.
    let o = rebar(&args(tmp("dp-no").to_str().unwrap(), "5", &["--batch", "2", "--shards", "3"]));
    assert!(!o.status.success() && text(&o).contains("needs a batch of at least 3"), "{}", text(&o));
}

#[test]
fn threads_without_shards_give_the_single_threaded_numbers() {
    let (one, two) = (tmp("threads-1"), tmp("threads-2"));
    for (d, extra) in [
        (&one, vec!["--estimator", "rebar", "--train-threads", "1"]),
        (&two, vec!["--estimator", "rebar", "--train-threads", "2"]),
    ] {
        let o = rebar(&args(d.to_str().unwrap(), "40", &extra));
        assert!(o.status.success(), "{}", text(&o));
    }
    assert_eq!(metrics(&one), metrics(&two), "one shard on two threads: other numbers than on one");
    let progress = |d: &Path| std::fs::read(d.join("progress.csv")).expect("progress.csv");
    assert_eq!(progress(&one), progress(&two), "one shard on two threads: other progress than on one");
    // The work per example is the estimator's, not the threads': REBAR's second thread repeats
    // the hard pass, and that repeat is not counted.
    let work = |d: &Path| {
        let s: Summary = serde_json::from_slice(&std::fs::read(d.join("summary.json")).unwrap()).unwrap();
        s.work.map(|w| (w.multiply_adds_per_example, w.dense_multiply_adds_per_example))
    };
    assert_eq!(work(&one), work(&two), "one shard on two threads: other work per example than on one");
}

#[test]
fn corrupt_or_foreign_checkpoints_are_refused_clearly() {
    let d = tmp("corrupt");
    let o = rebar(&args(d.to_str().unwrap(), "30", &["--estimator", "disarm"]));
    assert!(o.status.success(), "{}", text(&o));
    // Another estimator cannot resume this run.
    let mut other = args(d.to_str().unwrap(), "300", &["--estimator", "arm"]);
    other.push("--resume");
    let o = rebar(&other);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("belongs to a different run"), "{}", text(&o));
    // A flipped byte is caught by the checksum.
    let path = d.join("checkpoint.rbck");
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    let mut same = args(d.to_str().unwrap(), "300", &["--estimator", "disarm"]);
    same.push("--resume");
    let o = rebar(&same);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("checksum mismatch"), "{}", text(&o));
    // A truncated file too.
    std::fs::write(&path, &bytes[..100]).unwrap();
    let o = rebar(&same);
    assert!(text(&o).contains("checkpoint"), "{}", text(&o));
}

#[test]
fn a_learning_rate_that_would_diverge_is_refused_before_any_step() {
    // It used to run into a NaN; the stop on a non-finite step is tested in options.rs.
    let d = tmp("nan");
    let o = rebar(&args(d.to_str().unwrap(), "400", &["--estimator", "reinforce", "--lr", "3e38"]));
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(t.contains("--lr 3e38: the learning rate must be"), "{t}");
    assert!(!d.exists(), "a refused run created its folder");
}
