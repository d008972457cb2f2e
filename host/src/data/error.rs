//! The data layer's error type. Every error names the file (or embedded artifact) it is about
//! and says what is wrong with it; no input makes the data layer panic.

use std::path::PathBuf;

/// Any failure while reading, checking, binarizing or writing a dataset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file could not be read or written.
    #[error("{}: cannot {action}: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// `"read"` or `"write"`.
        action: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A dataset directory lacks one of the four IDX files.
    #[error("{}: found neither {name} nor {name}.gz", dir.display())]
    Missing {
        /// The directory searched.
        dir: PathBuf,
        /// The IDX file's name without `.gz`, e.g. `train-images-idx3-ubyte`.
        name: &'static str,
    },
    /// An IDX file is malformed.
    #[error("{file}: {problem}")]
    Idx {
        /// The file's name or path.
        file: String,
        /// What is wrong with it.
        problem: IdxProblem,
    },
    /// An images file and its labels file disagree on the number of items.
    #[error("{images} holds {n_images} images but {labels} holds {n_labels} labels")]
    CountMismatch {
        /// The images file.
        images: String,
        /// Number of images in it.
        n_images: usize,
        /// The labels file.
        labels: String,
        /// Number of labels in it.
        n_labels: usize,
    },
    /// An IDX file holds too few images to make the splits.
    #[error("{file}: holds {count} images, at least {min} are needed")]
    TooFewImages {
        /// The images file.
        file: String,
        /// Number of images in it.
        count: usize,
        /// The minimum.
        min: usize,
    },
    /// A file's uncompressed contents do not have the published SHA-256.
    #[error(
        "{file}: SHA-256 of the uncompressed contents is {actual}, expected {expected} \
         (is this the original MNIST file?)"
    )]
    Checksum {
        /// The file.
        file: String,
        /// The published digest, lower-case hex.
        expected: &'static str,
        /// The digest found, lower-case hex.
        actual: String,
    },
    /// A bit-packed dataset container (`.rbin.gz`) is malformed or corrupt.
    #[error("{file}: {problem}")]
    Container {
        /// The container's file name, or `<builtin>` for the embedded artifact.
        file: String,
        /// What is wrong with it.
        problem: ContainerProblem,
    },
    /// Only statically binarized datasets can be written to a container.
    #[error("only a statically binarized dataset can be written to a container")]
    NotStatic,
    /// The Omniglot file does not exist.
    #[error(
        "{}: no such file; download chardata.mat from the IWAE repository \
         (https://github.com/yburda/iwae, datasets/OMNIGLOT/chardata.mat: {})",
        file.display(), super::omniglot::OMNIGLOT_URL
    )]
    MissingOmniglot {
        /// The path given.
        file: PathBuf,
    },
    /// A MAT-file is malformed, or lacks a variable that was asked for.
    #[error("{file}: {problem}")]
    Mat {
        /// The file's name or path.
        file: String,
        /// What is wrong with it.
        problem: MatProblem,
    },
    /// A MAT-file is well formed but does not hold Omniglot as `chardata.mat` does.
    #[error("{file}: {problem}")]
    Omniglot {
        /// The file's name or path.
        file: String,
        /// What is wrong with it.
        problem: OmniglotProblem,
    },
}

/// What is wrong with an IDX file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdxProblem {
    /// The file starts with the gzip magic bytes but does not decompress.
    #[error("corrupt gzip stream: {0}")]
    Gzip(#[source] std::io::Error),
    /// The file decompresses to more than the data layer accepts.
    #[error("decompresses to more than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The file is shorter than its header.
    #[error("truncated header: {len} bytes, an IDX {kind} header needs {need}")]
    TruncatedHeader {
        /// `"images"` or `"labels"`.
        kind: &'static str,
        /// Bytes present.
        len: usize,
        /// Header size.
        need: usize,
    },
    /// The magic number is not the one for this kind of file.
    #[error("wrong magic number 0x{found:08x}, expected 0x{expected:08x} for an IDX {kind} file{}",
        hint_for(*found))]
    WrongMagic {
        /// `"images"` or `"labels"`.
        kind: &'static str,
        /// The magic number found.
        found: u32,
        /// The magic number expected.
        expected: u32,
    },
    /// The images are not 28×28.
    #[error("images are {rows}x{cols}, rebar needs 28x28")]
    WrongDimensions {
        /// Rows per image, from the header.
        rows: u32,
        /// Columns per image, from the header.
        cols: u32,
    },
    /// The data is shorter than the header promises.
    #[error("truncated data: the header announces {count} items = {expected} bytes, found {found}")]
    TruncatedData {
        /// Item count from the header.
        count: u32,
        /// Data bytes the header announces.
        expected: u64,
        /// Data bytes present.
        found: u64,
    },
    /// Bytes follow the data the header announces.
    #[error("{extra} bytes of trailing garbage after the {expected} data bytes the header announces")]
    TrailingGarbage {
        /// Data bytes the header announces.
        expected: u64,
        /// Extra bytes.
        extra: u64,
    },
}

fn hint_for(found: u32) -> &'static str {
    match found {
        0x0000_0803 => " (this is an IDX images file)",
        0x0000_0801 => " (this is an IDX labels file)",
        _ => "",
    }
}

/// What is wrong with a bit-packed dataset container.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContainerProblem {
    /// The gzip stream is corrupt or truncated.
    #[error("corrupt or truncated gzip stream: {0}")]
    Gzip(#[source] std::io::Error),
    /// The container decompresses to more than the data layer accepts.
    #[error("decompresses to more than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The payload is shorter than a header plus checksum.
    #[error("truncated: {len} bytes, the header and checksum alone need {need}")]
    TruncatedHeader {
        /// Bytes present.
        len: usize,
        /// Bytes needed.
        need: usize,
    },
    /// The payload does not start with the container magic.
    #[error("not a rebar dataset container (wrong magic)")]
    WrongMagic,
    /// The container was written by a format version this build cannot read.
    #[error("unsupported container version {found}, this build reads version {supported}")]
    UnsupportedVersion {
        /// Version found.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
    /// The images are not 28×28.
    #[error("images are {rows}x{cols}, rebar needs 28x28")]
    WrongDimensions {
        /// Rows per image.
        rows: u32,
        /// Columns per image.
        cols: u32,
    },
    /// Unknown flag bits are set.
    #[error("unknown flag bits 0x{0:08x}")]
    UnknownFlags(u32),
    /// The payload length does not match the counts in the header.
    #[error("payload is {found} bytes, the header's counts need {expected}")]
    LengthMismatch {
        /// Bytes the header implies.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// The stored SHA-256 does not match the payload.
    #[error("checksum mismatch: stored SHA-256 {stored}, payload hashes to {actual}")]
    Checksum {
        /// Stored digest, hex.
        stored: String,
        /// Computed digest, hex.
        actual: String,
    },
}

/// Where in a MAT-file something is: a byte offset in the file, or in the inflated contents
/// of a compressed element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatLocation {
    /// Offset in the file, or in the inflated data of the element at `compressed_at`.
    pub offset: usize,
    /// The file offset of the enclosing compressed element, if any.
    pub compressed_at: Option<usize>,
}

impl std::fmt::Display for MatLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.compressed_at {
            None => write!(f, "byte {}", self.offset),
            Some(c) => write!(f, "byte {} of the inflated compressed element at byte {c}", self.offset),
        }
    }
}

/// What is wrong with a MAT-file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MatProblem {
    /// Shorter than the 128-byte header.
    #[error("not a MAT-file: {len} bytes, the Level 5 header alone is 128")]
    TooShort {
        /// Bytes present.
        len: usize,
    },
    /// The endian indicator (bytes 126..128) is neither `IM` nor `MI`.
    #[error("not a Level 5 MAT-file: endian indicator {found:?} at byte 126, expected \"IM\" or \"MI\"")]
    BadEndian {
        /// The two bytes found, lossily as text.
        found: String,
    },
    /// The header's version is not 0x0100.
    #[error(
        "unsupported MAT-file version 0x{found:04x} (rebar reads Level 5, version 0x0100: \
         files saved with -v6 or -v7, not -v7.3)"
    )]
    Version {
        /// The version found.
        found: u16,
    },
    /// An element runs past the end of the file (or of its enclosing element).
    #[error("truncated at {at}: {what} needs {need} bytes, {left} remain")]
    Truncated {
        /// Where the element starts.
        at: MatLocation,
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        need: u64,
        /// Bytes left.
        left: u64,
    },
    /// A small data element (type and count packed in one word) claims more than 4 bytes.
    #[error("{what} at {at} is a small data element of {bytes} bytes, at most 4 fit")]
    BadSmallElement {
        /// Where the element is.
        at: MatLocation,
        /// What was being read.
        what: &'static str,
        /// The byte count claimed.
        bytes: usize,
    },
    /// A data type code this reader does not know.
    #[error("unknown data type {code} at {at}")]
    UnknownType {
        /// Where the tag is.
        at: MatLocation,
        /// The type code.
        code: u32,
    },
    /// A known data type where the format wants another.
    #[error("{what} at {at} has data type {found}, expected {expected}")]
    UnexpectedType {
        /// Where the tag is.
        at: MatLocation,
        /// What was being read.
        what: &'static str,
        /// The type code found.
        found: u32,
        /// The type(s) expected.
        expected: &'static str,
    },
    /// A byte count that is not a multiple of its element size.
    #[error("{what} at {at} holds {bytes} bytes, not a multiple of {size}")]
    Ragged {
        /// Where the element is.
        at: MatLocation,
        /// What was being read.
        what: &'static str,
        /// Its byte count.
        bytes: u32,
        /// The element size.
        size: usize,
    },
    /// The zlib data of a compressed element does not inflate.
    #[error("corrupt zlib data in the compressed element at {at}: {source}")]
    Zlib {
        /// Where the compressed element is.
        at: MatLocation,
        /// The decoder's error.
        #[source]
        source: std::io::Error,
    },
    /// A compressed element inflates to more than the data layer accepts.
    #[error("the compressed element at {at} inflates to more than {limit} bytes")]
    TooLarge {
        /// Where the compressed element is.
        at: MatLocation,
        /// The limit in bytes.
        limit: u64,
    },
    /// A variable's dimensions are unusable.
    #[error("variable `{name}` has dimensions {dims:?}: {why}")]
    BadDimensions {
        /// The variable.
        name: String,
        /// The dimensions as stored.
        dims: Vec<i64>,
        /// What is wrong.
        why: &'static str,
    },
    /// A variable stores a different number of values than its dimensions say.
    #[error("variable `{name}` is {dims} = {expected} values but stores {found}")]
    SizeMismatch {
        /// The variable.
        name: String,
        /// Its dimensions, e.g. `784×30`.
        dims: String,
        /// Values the dimensions imply.
        expected: u64,
        /// Values stored.
        found: u64,
    },
    /// A variable that was asked for is not a real numeric matrix.
    #[error("variable `{name}` is a {kind}, a real numeric matrix was expected")]
    NotNumeric {
        /// The variable.
        name: String,
        /// What it is: `cell array`, `sparse matrix`, `complex matrix`, ...
        kind: String,
    },
    /// A variable that was asked for is not in the file.
    #[error("no variable `{name}` (the file holds: {})", if found.is_empty() { "nothing".to_string() } else { found.join(", ") })]
    MissingVariable {
        /// The variable asked for.
        name: String,
        /// The variables the file holds.
        found: Vec<String>,
    },
}

/// What is wrong with an Omniglot MAT-file's contents.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OmniglotProblem {
    /// A variable is not 784 × N (one 28×28 image per column).
    #[error("variable `{name}` is {rows}×{cols}, expected 784 rows (one 28×28 image per column, as in chardata.mat)")]
    WrongPixels {
        /// The variable.
        name: &'static str,
        /// Its rows.
        rows: usize,
        /// Its columns.
        cols: usize,
    },
    /// A grey level outside [0, 1] (or NaN).
    #[error("variable `{name}`: image {image} pixel {pixel} is {value}, grey levels must be in [0, 1]")]
    OutOfRange {
        /// The variable.
        name: &'static str,
        /// The image (column, 0-based).
        image: usize,
        /// The pixel (row, 0-based, in the file's column-major order).
        pixel: usize,
        /// The value found.
        value: f64,
    },
    /// Too few images for the splits.
    #[error("variable `{name}` holds {count} images, at least {min} are needed")]
    TooFewImages {
        /// The variable.
        name: &'static str,
        /// Images present.
        count: usize,
        /// The minimum.
        min: usize,
    },
    /// The static binarization seed does not fit numpy's 32-bit seeds.
    #[error("binarization seed {seed} does not fit in 32 bits (Omniglot draws numpy's MT19937 stream)")]
    SeedTooLarge {
        /// The seed given.
        seed: u64,
    },
}
