//! Helpers shared by the data tests: tiny synthetic IDX files and scratch directories.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

/// An IDX images file: header (magic 0x803, count, rows, cols) then `pixels`.
pub fn idx_images(count: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(16 + pixels.len());
    for w in [0x0803, count, rows, cols] {
        v.extend_from_slice(&u32::to_be_bytes(w));
    }
    v.extend_from_slice(pixels);
    v
}

/// An IDX labels file: header (magic 0x801, count) then `labels`.
pub fn idx_labels(count: u32, labels: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + labels.len());
    for w in [0x0801, count] {
        v.extend_from_slice(&u32::to_be_bytes(w));
    }
    v.extend_from_slice(labels);
    v
}

/// A well-formed 28×28 images file holding `pixels.len() / 784` images.
pub fn valid_images(pixels: &[u8]) -> Vec<u8> {
    assert_eq!(pixels.len() % 784, 0);
    idx_images((pixels.len() / 784) as u32, 28, 28, pixels)
}

/// Gzip-compresses `bytes`.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Deterministic pseudo-random grey levels (a small LCG; no dependency on the code under test).
pub fn grey_pixels(n_images: usize, salt: u64) -> Vec<u8> {
    let mut x = salt.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n_images * 784)
        .map(|j| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            // Mix in the extremes so 0 and 255 are exercised.
            match j % 7 {
                0 => 0,
                1 => 255,
                _ => (x >> 56) as u8,
            }
        })
        .collect()
}

/// A fresh, empty scratch directory, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("rebar-data-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A synthetic dataset directory: `n_train` training and `n_test` test images with labels
/// `i % 10`, the training files gzip-compressed and the test files raw (both forms are read).
pub fn synthetic_dir(name: &str, n_train: usize, n_test: usize) -> (Scratch, Vec<u8>, Vec<u8>) {
    let s = Scratch::new(name);
    let train = grey_pixels(n_train, 1);
    let test = grey_pixels(n_test, 2);
    let labels = |n: usize| (0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>();
    s.write("train-images-idx3-ubyte.gz", &gzip(&valid_images(&train)));
    s.write("train-labels-idx1-ubyte.gz", &gzip(&idx_labels(n_train as u32, &labels(n_train))));
    s.write("t10k-images-idx3-ubyte", &valid_images(&test));
    s.write("t10k-labels-idx1-ubyte", &idx_labels(n_test as u32, &labels(n_test)));
    (s, train, test)
}
