//! Options checked before any work (issue 22, item 4): each bad option is refused by name with
//! its value before a step runs or a folder is made; a non-finite stop says whether a checkpoint
//! exists and which step it holds; a resume of another run names each differing option.

mod data_support;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::AtomicBool;

use rebar_core::model::{LATENT, Linear1, PIXELS};
use rebar_host::data::{Binarize, Dataset};
use rebar_host::train::feed::{Stream, stream_rng};
use rebar_host::train::{
    AnyEstimator, BATCH_CAPACITY, BinarizeKind, Checkpointed, EstimatorKind, EstimatorOptions, ModelKind,
    Output as RunOutput, Session, TaskKind, TildeKind, TrainConfig, TrainError,
};

/// 600 training images (500 train, 100 valid), 100 test.
fn data_dir() -> &'static str {
    static DIR: OnceLock<data_support::Scratch> = OnceLock::new();
    DIR.get_or_init(|| data_support::synthetic_dir("options", 600, 100).0).path().to_str().unwrap()
}

fn rebar(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rebar")).args(args).output().expect("run rebar")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rebar-options-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn bad_options_are_refused_by_name_before_any_work() {
    let d = tmp("refused");
    let out = d.to_str().unwrap();
    let cases: [(&[&str], &str); 8] = [
        (&["--lr=-1"], "--lr -1.0: the learning rate must be a finite number in (0, 1]"),
        (&["--lr", "nan"], "--lr NaN:"),
        (&["--lr", "1e9"], "--lr 1000000000.0:"),
        (&["--lr", "0"], "--lr 0.0:"),
        (&["--estimator", "concrete", "--temperature", "0"], "--temperature 0.0: the concrete estimator's temperature"),
        (&["--estimator", "rebar", "--temperature", "inf"], "--temperature inf: the rebar estimator's temperature"),
        (&["--steps", "0"], "--steps 0: a run needs at least one step"),
        (&["--binarize", "dynamic"], "--binarize dynamic needs --data"),
    ];
    for (extra, message) in cases {
        let mut args = vec!["train", "--out", out, "--quiet"];
        args.extend_from_slice(extra);
        let o = rebar(&args);
        assert_eq!(o.status.code(), Some(1), "{extra:?}: {}", text(&o));
        assert!(text(&o).contains(message), "{extra:?}: {}", text(&o));
        assert!(!d.exists(), "{extra:?}: a refused run made its folder");
    }
    // A temperature the estimator does not use is not checked.
    let o = rebar(&[
        "train",
        "--estimator",
        "nvil",
        "--temperature",
        "0",
        "--steps",
        "3",
        "--out",
        out,
        "--quiet",
        "--data",
        data_dir(),
        "--eval-examples",
        "8",
        "--iwae-samples",
        "2",
    ]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn a_batch_larger_than_the_training_set_is_refused() {
    // 7 images: 6 to train on, 1 to validate.
    let (small, _, _) = data_support::synthetic_dir("options-seven", 7, 2);
    let d = tmp("seven");
    let o = rebar(&["train", "--data", small.path().to_str().unwrap(), "--out", d.to_str().unwrap(), "--quiet"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("--batch 24 is larger than the 6 training images of"), "{}", text(&o));
    assert!(!d.exists());
}

#[test]
fn variance_refuses_a_biased_estimator_an_unfollowed_one_and_bad_numbers() {
    let d = tmp("variance");
    let cases: [(&[&str], &str); 4] = [
        (&["--estimators", "concrete,rebar"], "--estimators concrete: concrete is biased"),
        (&["--estimators", "nvil,rebar", "--follow", "muprop"], "--follow muprop: the followed estimator must be"),
        (&["--lr=-1"], "--lr -1.0:"),
        (&["--temperature", "0"], "--temperature 0.0: the rebar-fixed estimator's temperature"),
    ];
    for (extra, message) in cases {
        let mut args = vec!["variance", "--out", d.to_str().unwrap(), "--quiet", "--steps", "3"];
        args.extend_from_slice(extra);
        let o = rebar(&args);
        assert_eq!(o.status.code(), Some(1), "{extra:?}: {}", text(&o));
        assert!(text(&o).contains(message), "{extra:?}: {}", text(&o));
    }
    assert!(!d.exists());
}

fn diverging_config() -> TrainConfig {
    TrainConfig {
        model: ModelKind::Linear1,
        task: TaskKind::Gen,
        estimator: EstimatorKind::Reinforce,
        temperature: None,
        plain_relaxation: false,
        tilde: TildeKind::Coupled,
        // Far beyond what the command line accepts: the session itself does not check.
        learning_rate: 3e38,
        steps: 400,
        batch: 24,
        seed: 0,
        data: Some(data_dir().into()),
        binarize: BinarizeKind::Static,
        data_sha256: None,
        eval_every: 0,
        iwae_samples: 2,
        eval_examples: 8,
        train_threads: 1,
        shards: Some(1),
    }
}

/// Runs the diverging configuration in `dir` with checkpoints every `every` steps.
fn diverge(dir: &std::path::Path, every: u64) -> TrainError {
    let config = diverging_config();
    let data = Dataset::from_idx_dir(data_dir(), Binarize::MNIST).unwrap();
    let estimator = AnyEstimator::<Linear1, PIXELS, LATENT, BATCH_CAPACITY>::new(
        config.estimator,
        EstimatorOptions::default(),
        &mut stream_rng(0, Stream::Init, 1),
    )
    .unwrap();
    let out = RunOutput { dir: dir.to_path_buf(), checkpoint_every: every, progress: false, resume: false, threads: 1 };
    let mut session =
        Session::<Linear1, PIXELS, LATENT, PIXELS>::new(config, &data, estimator, Vec::new(), out).unwrap();
    session.run(&AtomicBool::new(false)).expect_err("a learning rate of 3e38 diverges")
}

#[test]
fn a_non_finite_stop_says_whether_a_checkpoint_exists_and_its_step() {
    let d = tmp("nan-none");
    let e = diverge(&d, 0);
    let TrainError::NonFinite { checkpoint, .. } = &e else { panic!("{e}") };
    assert!(matches!(checkpoint, Checkpointed::Nothing { .. }), "{e}");
    let t = e.to_string();
    assert!(t.contains("the reinforce estimator produced a non-finite"), "{t}");
    assert!(t.contains("no checkpoint was written") && !t.contains("intact"), "{t}");

    let d = tmp("nan-one");
    let e = diverge(&d, 1);
    let TrainError::NonFinite { step, checkpoint, .. } = &e else { panic!("{e}") };
    // A checkpoint after every finite step: it holds the step before the one that failed.
    assert_eq!(checkpoint, &Checkpointed::At { step: *step, file: d.join("checkpoint.rbck") }, "{e}");
    assert!(e.to_string().contains(&format!("holds the model at step {step}")), "{e}");

    // A command without checkpoints (`rebar variance`) says nothing of them.
    let e = TrainError::NonFinite {
        step: 3,
        estimator: "nvil",
        what: "gradient".into(),
        checkpoint: Checkpointed::NotKept,
    };
    assert_eq!(e.to_string(), "step 3: the nvil estimator produced a non-finite gradient; stopped");
}

#[test]
fn resuming_another_run_names_each_differing_option() {
    let d = tmp("mismatch");
    let base = [
        "train",
        "--data",
        data_dir(),
        "--out",
        d.to_str().unwrap(),
        "--quiet",
        "--eval-examples",
        "8",
        "--iwae-samples",
        "2",
        "--estimator",
        "nvil",
    ];
    let o = rebar(&[&base[..], &["--steps", "5"]].concat());
    assert!(o.status.success(), "{}", text(&o));
    let o = rebar(&[&base[..], &["--steps", "10", "--resume", "--lr", "1e-3", "--seed", "4"]].concat());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("it belongs to a different run: --lr 0.0003 in the checkpoint, 0.001 asked for"), "{t}");
    assert!(t.contains("--seed 0 in the checkpoint, 4 asked for"), "{t}");
    assert!(!t.contains("TrainConfig"), "{t}");
}
