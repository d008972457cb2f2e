//! Regenerates the committed MNIST artifact from the original IDX files and checks that it is
//! byte-identical. Needs the developers' copy of MNIST (`../shared/data/mnist` beside the
//! workspace, or `/work/shared/data/mnist`); skipped, with a message, where neither exists.

mod data_support;

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use data_support::Scratch;
use rebar_host::data::{container, mnist};

fn mnist_dir() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    [root.join("../shared/data/mnist"), PathBuf::from("/work/shared/data/mnist")]
        .into_iter()
        .find(|d| d.join("train-images-idx3-ubyte.gz").is_file())
}

/// Printed past the test harness's output capture, so a skip is visible in a normal run.
fn say(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

fn committed() -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist-binarized.rbin.gz")).unwrap()
}

fn explain_mismatch(regenerated: &[u8], committed: &[u8]) -> String {
    let p = |b: &[u8]| container::payload(b, "x").ok().and_then(|p| container::stored_checksum(&p)).unwrap_or_default();
    if p(regenerated) == p(committed) {
        "the payloads are identical, only the gzip bytes differ: the deflate backend \
         (flate2 / miniz_oxide version or features) changed"
            .to_owned()
    } else {
        "the payloads differ: the binarization (seed, order, RNG crate) or the container \
         format changed"
            .to_owned()
    }
}

#[test]
fn regenerated_artifact_is_byte_identical() {
    let Some(dir) = mnist_dir() else {
        say("SKIPPED regenerated_artifact_is_byte_identical: no MNIST IDX files at \
             ../shared/data/mnist or /work/shared/data/mnist");
        return;
    };
    let regenerated = mnist::prepare_mnist(&dir).unwrap();
    let committed = committed();
    assert!(
        regenerated == committed,
        "regenerated artifact ({} bytes, sha256 {}) differs from host/data/mnist-binarized.rbin.gz \
         ({} bytes, sha256 {}): {}",
        regenerated.len(),
        mnist::sha256_hex(&regenerated),
        committed.len(),
        mnist::sha256_hex(&committed),
        explain_mismatch(&regenerated, &committed)
    );
    assert_eq!(regenerated, mnist::BUILTIN_RBIN_GZ);
}

#[test]
fn cli_prepare_mnist_writes_the_same_bytes() {
    let Some(dir) = mnist_dir() else {
        say("SKIPPED cli_prepare_mnist_writes_the_same_bytes: no MNIST IDX files at \
             ../shared/data/mnist or /work/shared/data/mnist");
        return;
    };
    let s = Scratch::new("cli-prepare");
    let out = s.path().join("out.rbin.gz");
    let run = Command::new(env!("CARGO_BIN_EXE_rebar"))
        .arg("prepare-mnist")
        .arg("--from")
        .arg(&dir)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains("identical to the built-in artifact"), "{stdout}");
    assert_eq!(std::fs::read(&out).unwrap(), committed());
}
