//! The bit-packed dataset container (`.rbin`, normally gzip-compressed as `.rbin.gz`).
//!
//! The uncompressed payload, all integers little-endian:
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 8 | magic `REBARBIN` (ASCII) |
//! | 8 | 4 | format version, `1` |
//! | 12 | 4 | rows per image, `28` |
//! | 16 | 4 | columns per image, `28` |
//! | 20 | 4 | flags: bit 0 = labels present; other bits 0 |
//! | 24 | 8 | seed of the static binarization |
//! | 32 | 4 | `n_train` |
//! | 36 | 4 | `n_valid` |
//! | 40 | 4 | `n_test` |
//! | 44 | 98 × (`n_train` + `n_valid` + `n_test`) | images: train, valid, test, 98 bytes each, packed as in [`super::binarize`] |
//! | … | `n_train` + `n_valid` + `n_test` if flag 0 | labels, one byte each, same order |
//! | end − 32 | 32 | SHA-256 of every byte before it |
//!
//! The gzip wrapper (deflate level 9, mtime 0, OS byte 255, no file name) adds CRC-32
//! protection of its own. Loading checks everything: magic, version, dimensions, flags, the
//! length implied by the counts, and the SHA-256; any mismatch is a [`ContainerProblem`] that
//! names the file. No input makes the decoder panic.

use std::io::Write;

use super::error::{ContainerProblem, DataError};
use super::gz::{self, GzError, MAX_DECOMPRESSED_BYTES};
use super::{Binarize, Dataset, IMAGE_BYTES, IMAGE_SIDE, Split};

/// The first 8 bytes of every container payload.
pub const MAGIC: [u8; 8] = *b"REBARBIN";
/// The format version this build writes and reads.
pub const VERSION: u32 = 1;
const HEADER_BYTES: usize = 44;
const CHECKSUM_BYTES: usize = 32;
const FLAG_LABELS: u32 = 1;

/// Serialises a static dataset into the uncompressed payload, checksum included.
pub(crate) fn encode(ds: &Dataset) -> Result<Vec<u8>, DataError> {
    let Binarize::Static { seed } = ds.binarization else {
        return Err(DataError::NotStatic);
    };
    let splits = [&ds.train, &ds.valid, &ds.test];
    let mut bits = Vec::with_capacity(3);
    for s in splits {
        bits.push(s.bits().ok_or(DataError::NotStatic)?);
    }
    let labels: Option<Vec<&[u8]>> = splits.iter().map(|s| s.labels()).collect();
    // Splits come from IDX files, whose counts are u32, so this cannot fail.
    let count = |s: &Split| u32::try_from(s.len()).unwrap_or(u32::MAX);

    let n_total: usize = splits.iter().map(|s| s.len()).sum();
    let mut out = Vec::with_capacity(HEADER_BYTES + n_total * (IMAGE_BYTES + 1) + CHECKSUM_BYTES);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(IMAGE_SIDE as u32).to_le_bytes());
    out.extend_from_slice(&(IMAGE_SIDE as u32).to_le_bytes());
    let flags = if labels.is_some() { FLAG_LABELS } else { 0 };
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&seed.to_le_bytes());
    for s in splits {
        out.extend_from_slice(&count(s).to_le_bytes());
    }
    for b in bits {
        out.extend_from_slice(b);
    }
    for l in labels.into_iter().flatten() {
        out.extend_from_slice(l);
    }
    let digest = gz::sha256(&out);
    out.extend_from_slice(&digest);
    Ok(out)
}

/// [`encode`], gzip-compressed deterministically.
pub(crate) fn encode_gz(ds: &Dataset) -> Result<Vec<u8>, DataError> {
    let payload = encode(ds)?;
    let mut enc =
        flate2::GzBuilder::new().mtime(0).operating_system(255).write(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    enc.write_all(&payload).and_then(|()| enc.finish()).map_err(|source| DataError::Io {
        file: "<memory>".into(),
        action: "write",
        source,
    })
}

/// The SHA-256 (hex) stored in a payload, i.e. of the payload without its last 32 bytes.
/// `None` if the payload is too short to hold one.
pub fn stored_checksum(payload: &[u8]) -> Option<String> {
    let at = payload.len().checked_sub(CHECKSUM_BYTES)?;
    Some(gz::hex(&payload[at..]))
}

/// Decompresses a container (gzip detected by its magic; a raw payload is accepted too).
pub fn payload(bytes: &[u8], file: &str) -> Result<Vec<u8>, DataError> {
    let err = |problem| DataError::Container { file: file.to_owned(), problem };
    gz::maybe_gunzip(bytes, MAX_DECOMPRESSED_BYTES).map(|c| c.into_owned()).map_err(|e| {
        err(match e {
            GzError::Io(e) => ContainerProblem::Gzip(e),
            GzError::TooLarge => ContainerProblem::TooLarge { limit: MAX_DECOMPRESSED_BYTES },
        })
    })
}

/// Decodes a container (gzip or raw) named `file` in errors.
pub(crate) fn decode_gz(bytes: &[u8], file: &str) -> Result<Dataset, DataError> {
    let payload = payload(bytes, file)?;
    decode(&payload).map_err(|problem| DataError::Container { file: file.to_owned(), problem })
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

/// Decodes an uncompressed payload.
pub(crate) fn decode(p: &[u8]) -> Result<Dataset, ContainerProblem> {
    let need = HEADER_BYTES + CHECKSUM_BYTES;
    if p.len() < need {
        if p.len() >= MAGIC.len() && p[..MAGIC.len()] != MAGIC {
            return Err(ContainerProblem::WrongMagic);
        }
        return Err(ContainerProblem::TruncatedHeader { len: p.len(), need });
    }
    if p[..MAGIC.len()] != MAGIC {
        return Err(ContainerProblem::WrongMagic);
    }
    let version = le_u32(p, 8);
    if version != VERSION {
        return Err(ContainerProblem::UnsupportedVersion { found: version, supported: VERSION });
    }
    let (body, stored) = p.split_at(p.len() - CHECKSUM_BYTES);
    let actual = gz::sha256(body);
    if actual != stored {
        return Err(ContainerProblem::Checksum { stored: gz::hex(stored), actual: gz::hex(&actual) });
    }
    let (rows, cols) = (le_u32(p, 12), le_u32(p, 16));
    if (rows, cols) != (IMAGE_SIDE as u32, IMAGE_SIDE as u32) {
        return Err(ContainerProblem::WrongDimensions { rows, cols });
    }
    let flags = le_u32(p, 20);
    if flags & !FLAG_LABELS != 0 {
        return Err(ContainerProblem::UnknownFlags(flags & !FLAG_LABELS));
    }
    let mut seed = [0u8; 8];
    seed.copy_from_slice(&p[24..32]);
    let seed = u64::from_le_bytes(seed);
    let counts = [le_u32(p, 32), le_u32(p, 36), le_u32(p, 40)].map(u64::from);
    let n_total: u64 = counts.iter().sum();
    let per_image = IMAGE_BYTES as u64 + u64::from(flags & FLAG_LABELS);
    let expected = HEADER_BYTES as u64 + n_total * per_image + CHECKSUM_BYTES as u64;
    if expected != p.len() as u64 {
        return Err(ContainerProblem::LengthMismatch { expected, found: p.len() as u64 });
    }
    // The length check bounds every count by the payload length, so these fit in usize.
    let counts = counts.map(|c| c as usize);
    let n_total = n_total as usize;
    let images = &body[HEADER_BYTES..HEADER_BYTES + n_total * IMAGE_BYTES];
    let labels = &body[HEADER_BYTES + n_total * IMAGE_BYTES..];
    let (mut img_at, mut lab_at) = (0, 0);
    let [train, valid, test] = counts.map(|n| {
        let bits = images[img_at..img_at + n * IMAGE_BYTES].to_vec();
        let lab = (flags & FLAG_LABELS != 0).then(|| labels[lab_at..lab_at + n].to_vec());
        img_at += n * IMAGE_BYTES;
        lab_at += n;
        Split::from_bits(bits, lab)
    });
    Ok(Dataset { train, valid, test, binarization: Binarize::Static { seed } })
}
