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
