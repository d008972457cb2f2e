//! MNIST specifics: the published checksums of the original files, the embedded binarized
//! artifact, and [`prepare_mnist`], which regenerates that artifact bit for bit.

use std::path::Path;

use super::error::DataError;
use super::{Binarize, IDX_FILE_NAMES, gz, idx};

/// One original MNIST file: its name without `.gz`, its uncompressed size and the SHA-256 of
/// its uncompressed contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MnistFile {
    /// File name without `.gz`.
    pub name: &'static str,
    /// Uncompressed size in bytes.
    pub bytes: u64,
    /// SHA-256 of the uncompressed file, lower-case hex.
    pub sha256: &'static str,
}

/// The four original MNIST IDX files, in [`IDX_FILE_NAMES`] order.
pub const MNIST_FILES: [MnistFile; 4] = [
    MnistFile {
        name: IDX_FILE_NAMES[0],
        bytes: 47_040_016,
        sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    },
    MnistFile {
        name: IDX_FILE_NAMES[1],
        bytes: 60_008,
        sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    },
    MnistFile {
        name: IDX_FILE_NAMES[2],
        bytes: 7_840_016,
        sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    },
    MnistFile {
        name: IDX_FILE_NAMES[3],
        bytes: 10_008,
        sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
];

/// The embedded artifact, `host/data/mnist-binarized.rbin.gz`, as made by [`prepare_mnist`].
pub const BUILTIN_RBIN_GZ: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist-binarized.rbin.gz"));

/// Builds the built-in artifact from the original MNIST files in `dir` (each raw or `.gz`):
/// checks each file's uncompressed SHA-256 against [`MNIST_FILES`], binarizes with
/// [`Binarize::MNIST`] and returns the gzip-compressed container. With the original files
/// the result equals [`BUILTIN_RBIN_GZ`] byte for byte.
pub fn prepare_mnist(dir: impl AsRef<Path>) -> Result<Vec<u8>, DataError> {
    let dir = dir.as_ref();
    let mut files: Vec<(String, Vec<u8>)> = Vec::with_capacity(4);
    for spec in MNIST_FILES {
        let (path, bytes) = super::read_idx_file(dir, spec.name)?;
        let name = path.display().to_string();
        let raw = idx::decompress(&bytes, &name)?.into_owned();
        let actual = gz::hex(&gz::sha256(&raw));
        if actual != spec.sha256 {
            return Err(DataError::Checksum { file: name, expected: spec.sha256, actual });
        }
        files.push((name, raw));
    }
    let [a, b, c, d] = [0, 1, 2, 3].map(|k| (files[k].0.clone(), files[k].1.as_slice()));
    super::from_idx_bytes([a, b, c, d], Binarize::MNIST)?.to_rbin_gz()
}

/// Lower-case hex SHA-256 of `bytes`, for reporting artifacts' digests.
pub fn sha256_hex(bytes: &[u8]) -> String {
    gz::hex(&gz::sha256(bytes))
}
