//! `rebar toy`: runs the binary and checks what it writes and prints.

use std::process::Command;

use rebar_host::records::ToyRow;

#[test]
fn toy_writes_csv_and_png_for_five_estimators() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("toy-out");
    let o = Command::new(env!("CARGO_BIN_EXE_rebar"))
        .args(["toy", "--steps", "300", "--seed", "7", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}{}", String::from_utf8_lossy(&o.stderr));

    let rows: Vec<ToyRow> =
        csv::Reader::from_path(out.join("toy.csv")).unwrap().deserialize().collect::<Result<_, _>>().unwrap();
    assert_eq!(rows.len(), 5 * 300);
    let names = ["exact", "reinforce", "concrete(0.5)", "rebar", "rebar-fixed"];
    for (k, name) in names.iter().enumerate() {
        let mine: Vec<&ToyRow> = rows.iter().filter(|r| r.estimator == *name).collect();
        assert_eq!(mine.len(), 300, "{name}");
        assert!(mine.iter().enumerate().all(|(i, r)| r.step == i as u64), "{name}: steps 0..300 in order");
        assert_eq!(mine[0].theta, 0.5, "{name} starts at θ = 0.5");
        assert!(mine.iter().all(|r| r.loss_average.is_finite() && (0.2..=0.31).contains(&r.loss_average)));
        // Rows are written estimator by estimator.
        assert_eq!(rows[k * 300].estimator, *name);
        let unbiased = k == 1 || k >= 3;
        assert_eq!(mine.iter().any(|r| r.log_variance.is_some()), unbiased, "{name}");
        assert!(summary_line(&stdout, name).is_some(), "no summary line for {name} in:\n{stdout}");
    }
    // The fixed REBAR keeps λ = 0.5 and η = 1; the learned one moves them.
    let fixed: Vec<&ToyRow> = rows.iter().filter(|r| r.estimator == "rebar-fixed").collect();
    assert!(fixed.iter().all(|r| r.temperature == 0.5 && r.eta == 1.0));
    let learned = rows.iter().rfind(|r| r.estimator == "rebar").unwrap();
    assert!(learned.temperature != 0.5 || learned.eta != 1.0);

    let png = std::fs::read(out.join("toy.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 10_000);
    assert!(stdout.contains("toy.csv (1500 rows)"), "{stdout}");
}

/// The summary line of estimator `name`.
fn summary_line<'a>(stdout: &'a str, name: &str) -> Option<&'a str> {
    stdout.lines().find(|l| l.split_whitespace().next() == Some(name))
}

#[test]
fn toy_is_reproducible_and_seeded() {
    let dir = tempfile::tempdir().unwrap();
    let run = |seed: &str, sub: &str| {
        let out = dir.path().join(sub);
        let o = Command::new(env!("CARGO_BIN_EXE_rebar"))
            .args(["toy", "--steps", "50", "--seed", seed, "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success());
        std::fs::read(out.join("toy.csv")).unwrap()
    };
    assert_eq!(run("3", "a"), run("3", "b"));
    assert_ne!(run("3", "a"), run("4", "c"));
}

#[test]
fn toy_help_explains_every_option_and_default() {
    let o = Command::new(env!("CARGO_BIN_EXE_rebar")).args(["toy", "--help"]).output().unwrap();
    assert!(o.status.success());
    let t = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "--steps <N>",
        "[default: 5000]",
        "--seed <SEED>",
        "[default: 0]",
        "--target <T>",
        "[default: 0.45]",
        "--out <DIR>",
        "[default: runs/toy]",
        "seed_from_u64",
        "toy.csv",
        "toy.png",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in:\n{t}");
    }
}

#[test]
fn toy_rejects_a_non_finite_target() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_rebar"))
        .args(["toy", "--steps", "5", "--target", "NaN", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--target"));
}
