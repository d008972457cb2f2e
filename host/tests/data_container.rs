//! The bit-packed container: round trip, determinism, and a clear error for every kind of
//! corruption. Also the embedded MNIST artifact.

mod data_support;

use std::io::Read;

use data_support::*;
use rebar_host::data::container::{MAGIC, VERSION, payload, stored_checksum};
use rebar_host::data::{Binarize, ContainerProblem, DataError, Dataset, IMAGE_PIXELS, MNIST_SEED, mnist};
use sha2::Digest;

fn tiny(seed: u64) -> Dataset {
    let (dir, _, _) = synthetic_dir(&format!("container-{seed}"), 12, 3);
    Dataset::from_idx_dir(dir.path(), Binarize::Static { seed }).unwrap()
}

fn gunzip(gz: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(gz).read_to_end(&mut out).unwrap();
    out
}

/// Replaces the trailing checksum so that only the deliberate change is wrong.
fn reseal(mut p: Vec<u8>) -> Vec<u8> {
    let n = p.len() - 32;
    let d = sha2::Sha256::digest(&p[..n]);
    p[n..].copy_from_slice(&d);
    p
}

fn problem(r: Result<Dataset, DataError>) -> ContainerProblem {
    match r {
        Err(DataError::Container { problem, .. }) => problem,
        other => panic!("expected a container error, got {other:?}"),
    }
}

#[test]
fn round_trip_and_determinism() {
    let ds = tiny(11);
    let gz = ds.to_rbin_gz().unwrap();
    assert_eq!(gz, tiny(11).to_rbin_gz().unwrap(), "same dataset, same bytes");
    assert_eq!(&gz[..2], &[0x1f, 0x8b]);
    let back = Dataset::from_rbin_bytes(&gz, "tiny").unwrap();
    assert_eq!(back, ds);
    // A raw (uncompressed) payload loads too.
    let raw = gunzip(&gz);
    assert_eq!(Dataset::from_rbin_bytes(&raw, "raw").unwrap(), ds);
    // Header and size: 44 header bytes, 98 bytes + 1 label per image, 32 checksum bytes.
    assert_eq!(&raw[..8], &MAGIC);
    assert_eq!(raw.len(), 44 + 15 * 99 + 32);
    assert_eq!(u32::from_le_bytes(raw[8..12].try_into().unwrap()), VERSION);
    assert_eq!(u64::from_le_bytes(raw[24..32].try_into().unwrap()), 11);
    assert_eq!(stored_checksum(&raw).unwrap(), mnist::sha256_hex(&raw[..raw.len() - 32]));
    assert_eq!(sha2::Sha256::digest(&raw[..raw.len() - 32]).as_slice(), &raw[raw.len() - 32..]);
    // Through a file.
    let s = Scratch::new("container-file");
    let path = s.write("tiny.rbin.gz", &gz);
    assert_eq!(Dataset::load(&path).unwrap(), ds);
}

#[test]
fn dynamic_datasets_cannot_be_written() {
    let (dir, _, _) = synthetic_dir("container-dynamic", 6, 1);
    let ds = Dataset::from_idx_dir(dir.path(), Binarize::Dynamic).unwrap();
    assert!(matches!(ds.to_rbin_gz(), Err(DataError::NotStatic)));
}

#[test]
fn every_flipped_byte_is_detected() {
    let raw = gunzip(&tiny(12).to_rbin_gz().unwrap());
    for at in 0..raw.len() {
        let mut bad = raw.clone();
        bad[at] ^= 0x10;
        let r = Dataset::from_rbin_bytes(&bad, "flipped");
        assert!(r.is_err(), "flip at {at} went unnoticed");
    }
    let mut bad = raw.clone();
    bad[44] ^= 1; // the first image byte
    assert!(matches!(problem(Dataset::from_rbin_bytes(&bad, "x")), ContainerProblem::Checksum { .. }));
}

#[test]
fn truncation_is_detected() {
    let gz = tiny(13).to_rbin_gz().unwrap();
    for len in [0, 1, 2, 10, gz.len() / 2, gz.len() - 1] {
        assert!(Dataset::from_rbin_bytes(&gz[..len], "cut").is_err(), "len {len}");
    }
    let raw = gunzip(&gz);
    for len in [0, 8, 43, 75, 76, 100, raw.len() - 1] {
        assert!(Dataset::from_rbin_bytes(&raw[..len], "cut").is_err(), "len {len}");
    }
    assert!(matches!(
        problem(Dataset::from_rbin_bytes(&raw[..50], "cut")),
        ContainerProblem::TruncatedHeader { len: 50, need: 76 }
    ));
    assert!(matches!(problem(Dataset::from_rbin_bytes(&gz[..gz.len() - 3], "cut")), ContainerProblem::Gzip(_)));
    let msg = Dataset::from_rbin_bytes(&gz[..gz.len() - 3], "my.rbin.gz").unwrap_err().to_string();
    assert!(msg.starts_with("my.rbin.gz: "), "{msg}");
}

#[test]
fn header_problems_are_named() {
    let raw = gunzip(&tiny(14).to_rbin_gz().unwrap());
    let set = |at: usize, v: u32| {
        let mut p = raw.clone();
        p[at..at + 4].copy_from_slice(&v.to_le_bytes());
        reseal(p)
    };
    let load = |p: &[u8]| problem(Dataset::from_rbin_bytes(p, "h"));
    let mut p = raw.clone();
    p[0] = b'X';
    assert!(matches!(load(&p), ContainerProblem::WrongMagic));
    assert!(matches!(load(b"not a container"), ContainerProblem::WrongMagic));
    assert!(matches!(load(&set(8, 2)), ContainerProblem::UnsupportedVersion { found: 2, supported: 1 }));
    assert!(matches!(load(&set(12, 32)), ContainerProblem::WrongDimensions { rows: 32, cols: 28 }));
    assert!(matches!(load(&set(20, 3)), ContainerProblem::UnknownFlags(2)));
    assert!(matches!(load(&set(32, 11)), ContainerProblem::LengthMismatch { .. }));
    assert!(matches!(load(&set(32, u32::MAX)), ContainerProblem::LengthMismatch { .. }));
    // Labels are optional: clear the flag and drop the label bytes.
    let mut p = set(20, 0);
    let n_img = 44 + 15 * 98;
    p.drain(n_img..n_img + 15);
    let ds = Dataset::from_rbin_bytes(&reseal(p), "no-labels").unwrap();
    assert!(ds.train.labels().is_none());
    assert_eq!(ds.train.len(), 10);
}

#[test]
fn payload_reports_gzip_errors() {
    assert!(matches!(
        payload(&[0x1f, 0x8b, 0, 0], "bad"),
        Err(DataError::Container { problem: ContainerProblem::Gzip(_), .. })
    ));
}

#[test]
fn builtin_mnist() {
    let ds = Dataset::builtin().unwrap();
    assert_eq!((ds.train.len(), ds.valid.len(), ds.test.len()), (50_000, 10_000, 10_000));
    assert_eq!(ds.binarization, Binarize::MNIST);
    assert_eq!(ds.binarization, Binarize::Static { seed: MNIST_SEED });
    assert!(ds.train.is_static() && ds.valid.is_static() && ds.test.is_static());
    // MNIST's first training labels, per the data README.
    assert_eq!(&ds.train.labels().unwrap()[..10], &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    for s in [&ds.train, &ds.valid, &ds.test] {
        assert!(s.labels().unwrap().iter().all(|&l| l < 10));
    }
    // Mean grey level of MNIST's training images is 0.1307; the binarized mean is close.
    let mean = ds.train_mean();
    let avg = mean.iter().map(|&m| f64::from(m)).sum::<f64>() / IMAGE_PIXELS as f64;
    assert!((avg - 0.1307).abs() < 0.002, "mean {avg}");
    // Corners are blank in MNIST.
    assert_eq!(mean[0], 0.0);
    assert_eq!(mean[IMAGE_PIXELS - 1], 0.0);
    assert!(ds.test.image(9_999).iter().all(|&x| x == 0.0 || x == 1.0));
    // The embedded bytes are the committed file.
    let committed = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist-binarized.rbin.gz")).unwrap();
    assert_eq!(committed, mnist::BUILTIN_RBIN_GZ);
}
