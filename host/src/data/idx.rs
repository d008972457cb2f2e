//! IDX files: the format of MNIST and its drop-in relatives (Fashion-MNIST, KMNIST).
//!
//! An IDX file is a big-endian `u32` magic number, one big-endian `u32` per dimension, then the
//! items as `u8`, row-major. rebar reads two kinds:
//!
//! | kind   | magic        | header                       | data                    |
//! |--------|--------------|------------------------------|-------------------------|
//! | images | `0x00000803` | magic, count, rows, cols     | `count × rows × cols` u8 |
//! | labels | `0x00000801` | magic, count                 | `count` u8              |
//!
//! Every file may be stored raw or gzip-compressed; gzip is detected by its magic bytes
//! `1f 8b`, not by the file name. Validation is complete: a wrong magic number, a truncated
//! header or data, images that are not 28×28 and trailing bytes after the announced data are
//! all errors ([`IdxProblem`]) naming the file. No input makes these functions panic; the
//! property tests in `host/tests/data_idx_props.rs` and the fuzz target in `host/fuzz` check it.

use std::path::Path;

use super::error::{DataError, IdxProblem};
use super::gz::{self, GzError, MAX_DECOMPRESSED_BYTES};
use super::{IMAGE_PIXELS, IMAGE_SIDE};

/// Magic number of an IDX file of `u8` items in 3 dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of `u8` items in 1 dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// The images of one IDX images file: `count` 28×28 grey-level images, `u8` per pixel
/// (0 = background, 255 = ink), row-major, one after the other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxImages {
    pixels: Vec<u8>,
}

impl IdxImages {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.pixels.len() / IMAGE_PIXELS
    }

    /// True if the file holds no image.
    pub fn is_empty(&self) -> bool {
        self.pixels.is_empty()
    }

    /// All pixels, `len() × 784` bytes, image after image, each row-major.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// The 784 pixels of image `i`, row-major. Panics if `i >= len()`.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.pixels[i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS]
    }

    pub(crate) fn into_pixels(self) -> Vec<u8> {
        self.pixels
    }
}

/// Reads an IDX images file (raw or gzip) from `path`.
pub fn read_images(path: &Path) -> Result<IdxImages, DataError> {
    let bytes = read_file(path)?;
    parse_images(&bytes, &path.display().to_string())
}

/// Reads an IDX labels file (raw or gzip) from `path`.
pub fn read_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    let bytes = read_file(path)?;
    parse_labels(&bytes, &path.display().to_string())
}

/// Parses an IDX images file held in memory, raw or gzip-compressed. `file` names it in errors.
pub fn parse_images(bytes: &[u8], file: &str) -> Result<IdxImages, DataError> {
    let raw = decompress(bytes, file)?;
    parse_images_raw(&raw).map_err(|problem| idx_error(file, problem))
}

/// Parses an IDX labels file held in memory, raw or gzip-compressed. `file` names it in errors.
/// Label values are not restricted (MNIST's are 0..=9).
pub fn parse_labels(bytes: &[u8], file: &str) -> Result<Vec<u8>, DataError> {
    let raw = decompress(bytes, file)?;
    parse_labels_raw(&raw).map_err(|problem| idx_error(file, problem))
}

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| DataError::Io { file: path.to_path_buf(), action: "read", source })
}

/// Inflates a gzip file (detected by magic), or borrows a raw one.
pub(crate) fn decompress<'a>(bytes: &'a [u8], file: &str) -> Result<std::borrow::Cow<'a, [u8]>, DataError> {
    gz::maybe_gunzip(bytes, MAX_DECOMPRESSED_BYTES).map_err(|e| {
        idx_error(
            file,
            match e {
                GzError::Io(e) => IdxProblem::Gzip(e),
                GzError::TooLarge => IdxProblem::TooLarge { limit: MAX_DECOMPRESSED_BYTES },
            },
        )
    })
}

fn idx_error(file: &str, problem: IdxProblem) -> DataError {
    DataError::Idx { file: file.to_owned(), problem }
}

/// Big-endian `u32` number `k` of the header; the caller has checked the length.
fn be_u32(bytes: &[u8], k: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[4 * k..4 * k + 4]);
    u32::from_be_bytes(word)
}

/// Checks the magic number and that the whole header is present.
fn check_header(raw: &[u8], kind: &'static str, magic: u32, header_words: usize) -> Result<(), IdxProblem> {
    let need = 4 * header_words;
    // Check the magic as soon as its 4 bytes are there: a wrong file type is the more useful
    // report even when the file is also short.
    if raw.len() >= 4 && be_u32(raw, 0) != magic {
        return Err(IdxProblem::WrongMagic { kind, found: be_u32(raw, 0), expected: magic });
    }
    if raw.len() < need {
        return Err(IdxProblem::TruncatedHeader { kind, len: raw.len(), need });
    }
    Ok(())
}

/// Checks that `data` holds exactly `count × item_bytes` bytes.
fn check_data_len(count: u32, item_bytes: u64, data: &[u8]) -> Result<(), IdxProblem> {
    // u32 × 784 fits in u64, so this cannot overflow.
    let expected = u64::from(count) * item_bytes;
    let found = data.len() as u64;
    if found < expected {
        return Err(IdxProblem::TruncatedData { count, expected, found });
    }
    if found > expected {
        return Err(IdxProblem::TrailingGarbage { expected, extra: found - expected });
    }
    Ok(())
}

pub(crate) fn parse_images_raw(raw: &[u8]) -> Result<IdxImages, IdxProblem> {
    check_header(raw, "images", IMAGES_MAGIC, 4)?;
    let (count, rows, cols) = (be_u32(raw, 1), be_u32(raw, 2), be_u32(raw, 3));
    if (rows, cols) != (IMAGE_SIDE as u32, IMAGE_SIDE as u32) {
        return Err(IdxProblem::WrongDimensions { rows, cols });
    }
    let data = &raw[16..];
    check_data_len(count, IMAGE_PIXELS as u64, data)?;
    Ok(IdxImages { pixels: data.to_vec() })
}

pub(crate) fn parse_labels_raw(raw: &[u8]) -> Result<Vec<u8>, IdxProblem> {
    check_header(raw, "labels", LABELS_MAGIC, 2)?;
    let count = be_u32(raw, 1);
    let data = &raw[8..];
    check_data_len(count, 1, data)?;
    Ok(data.to_vec())
}
