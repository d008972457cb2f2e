//! The `rebar` program's data-related surface: help text and
//! `prepare-mnist` errors. Needs no dataset on disk.

mod data_support;

use std::process::{Command, Output};

use data_support::*;

fn rebar(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rebar")).args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn help_lists_subcommands_and_options() {
    let o = rebar(&["--help"]);
    assert!(o.status.success());
    let t = text(&o);
    assert!(t.contains("prepare-mnist") && t.contains("train"), "{t}");

    let o = rebar(&["prepare-mnist", "--help"]);
    assert!(o.status.success());
    let t = text(&o);
    for needle in ["--from <DIR>", "--out <FILE>", "[default: mnist-binarized.rbin.gz]", "0x72656261722d6d6e"] {
        assert!(t.contains(needle), "missing {needle:?} in:\n{t}");
    }
}

#[test]
fn prepare_mnist_requires_from() {
    let o = rebar(&["prepare-mnist"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("--from"));
}

#[test]
fn prepare_mnist_reports_missing_and_wrong_files() {
    let s = Scratch::new("cli-missing");
    let out = s.path().join("out.rbin.gz");
    let o = rebar(&["prepare-mnist", "--from", s.path().to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(t.contains("found neither train-images-idx3-ubyte"), "{t}");
    assert!(!out.exists());

    // Well-formed files that are not the original MNIST fail the checksum.
    let (dir, _, _) = synthetic_dir("cli-not-mnist", 6, 1);
    let o = rebar(&["prepare-mnist", "--from", dir.path().to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(t.contains("SHA-256") && t.contains("train-images-idx3-ubyte.gz"), "{t}");
    assert!(!out.exists());
}
