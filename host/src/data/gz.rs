//! Gzip detection and bounded decompression.

use std::borrow::Cow;
use std::io::Read;

/// The two bytes every gzip member starts with.
pub(crate) const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The most bytes a file may decompress to (1 GiB): far above any 28×28 IDX dataset in use
/// (MNIST's training images are 47 MB) and a guard against decompression bombs.
pub const MAX_DECOMPRESSED_BYTES: u64 = 1 << 30;

/// Why a gzip stream could not be inflated.
pub(crate) enum GzError {
    /// Corrupt or truncated stream.
    Io(std::io::Error),
    /// More than [`MAX_DECOMPRESSED_BYTES`].
    TooLarge,
}

/// True if `bytes` starts with the gzip magic `1f 8b`.
pub(crate) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// Inflates `bytes` if it starts with the gzip magic (all members of a multi-member stream,
/// checking each member's CRC-32 and length), and borrows it unchanged otherwise.
pub(crate) fn maybe_gunzip(bytes: &[u8], limit: u64) -> Result<Cow<'_, [u8]>, GzError> {
    if !is_gzip(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(GzError::Io)?;
    if out.len() as u64 > limit {
        return Err(GzError::TooLarge);
    }
    Ok(Cow::Owned(out))
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// SHA-256 of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(&digest);
    out
}
