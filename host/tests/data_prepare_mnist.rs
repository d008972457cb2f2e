//! Regenerates the committed MNIST artifact from the original IDX files and checks that it is
//! byte-identical. Needs the four original MNIST IDX files, which the repository does not hold:
//! the tests are ignored unless asked for, and then read them from `REBAR_MNIST_DIR`, e.g. the
//! developers' copy beside the workspace:
//!
//! ```text
//! REBAR_MNIST_DIR=../shared/data/mnist cargo test -p rebar-host --test data_prepare_mnist -- --ignored
//! ```
//!
//! (a relative `REBAR_MNIST_DIR` is taken from the workspace root). Asked for without it, they
//! fail saying so: a test that cannot run does not pass.

mod data_support;

use std::path::PathBuf;
use std::process::Command;

use data_support::Scratch;
use rebar_host::data::{container, mnist};

/// Why the tests are ignored by default.
const NEEDS_MNIST: &str = "needs the four MNIST IDX files: set REBAR_MNIST_DIR";

/// The MNIST directory `REBAR_MNIST_DIR` names, relative to the workspace root.
fn mnist_dir() -> PathBuf {
    let Some(dir) = std::env::var_os("REBAR_MNIST_DIR") else { panic!("{NEEDS_MNIST}") };
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
    assert!(
        dir.join("train-images-idx3-ubyte.gz").is_file() || dir.join("train-images-idx3-ubyte").is_file(),
        "REBAR_MNIST_DIR={}: no train-images-idx3-ubyte(.gz) there",
        dir.display()
    );
    dir
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
#[ignore = "needs the four MNIST IDX files: set REBAR_MNIST_DIR"]
fn regenerated_artifact_is_byte_identical() {
    let dir = mnist_dir();
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
#[ignore = "needs the four MNIST IDX files: set REBAR_MNIST_DIR"]
fn cli_prepare_mnist_writes_the_same_bytes() {
    let dir = mnist_dir();
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
