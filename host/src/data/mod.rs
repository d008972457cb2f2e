//! Datasets: IDX reading, binarization, the bit-packed container and the embedded MNIST.
//!
//! # The built-in dataset
//!
//! [`Dataset::builtin`] loads a statically binarized MNIST compiled into the binary (the file
//! `host/data/mnist-binarized.rbin.gz`, 2.3 MB), so rebar needs no network and no data
//! directory. It was made from the four original MNIST IDX files by `rebar prepare-mnist`,
//! which anyone with those files can rerun to get the same bytes:
//!
//! * **Splits.** `train` = training-file images 0..50,000; `valid` = training-file images
//!   50,000..60,000 (the last 10,000); `test` = the 10,000 `t10k` images, in file order.
//! * **Binarization.** Pixel with grey level `p` → Bernoulli(`p/255`), drawn once (static).
//!   The random stream is `rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(MNIST_SEED)`
//!   ([`MNIST_SEED`] = `0x7265_6261_722d_6d6e`, ASCII `rebar-mn`); one `next_u32` is drawn per
//!   pixel, for training-file images 0..60,000 in order, each row-major, then `t10k` images
//!   0..10,000 likewise; the pixel is 1 iff `u·255 < p·2³²` ([`bernoulli_bit`], exact integer
//!   arithmetic). See [`binarize`] for the details.
//! * **Integrity.** The container stores the SHA-256 of its uncompressed payload, checked on
//!   every load (see [`container`]); `prepare-mnist` checks the IDX files against the
//!   published SHA-256 table in [`mnist::MNIST_FILES`].
//!
//! # Other datasets
//!
//! [`Dataset::from_idx_dir`] reads any directory holding the four MNIST-named IDX files of
//! 28×28 images (Fashion-MNIST, KMNIST, …), raw or gzip, and binarizes it statically with a
//! seed ([`Binarize::Static`]) or keeps the grey levels for fresh samples every batch
//! ([`Binarize::Dynamic`]). Files of 0/1 pixels are taken as already binary (1 is ink).
//!
//! [`Dataset::from_omniglot_mat`] reads Omniglot (28×28) from `chardata.mat`, the file of the
//! IWAE repository (github.com/yburda/iwae, `datasets/OMNIGLOT/chardata.mat`) that the REBAR
//! and RELAX reference code load, with a small MAT-file reader ([`mat`]). It lays out, splits
//! (23,000 / 1,345 / 8,070) and statically binarizes the images exactly as the REBAR reference
//! does, reproducing numpy's random streams, or keeps the grey levels for dynamic
//! binarization; see [`omniglot`]. On the command line, `--data omniglot:PATH` selects it
//! ([`Source`]).
//!
//! MNIST is by Yann LeCun, Corinna Cortes and Christopher J. C. Burges, distributed under
//! CC BY-SA 3.0; the embedded binarized copy is a derivative under the same licence.

use std::fmt;
use std::path::Path;

use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

pub mod binarize;
pub mod container;
mod error;
mod gz;
pub mod idx;
pub mod mat;
pub mod mnist;
mod numpy_rng;
pub mod omniglot;
mod source;

pub use binarize::bernoulli_bit;
pub use error::{ContainerProblem, DataError, IdxProblem, MatLocation, MatProblem, OmniglotProblem};
pub use gz::MAX_DECOMPRESSED_BYTES;
pub use omniglot::{OMNIGLOT_SEED, OMNIGLOT_URL};
pub use source::{OMNIGLOT_PREFIX, Source};

/// Side of an image in pixels.
pub const IMAGE_SIDE: usize = 28;
/// Pixels per image, 28 × 28.
pub const IMAGE_PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;
/// Bytes per bit-packed binary image, 784 / 8.
pub const IMAGE_BYTES: usize = IMAGE_PIXELS / 8;

/// The seed of the built-in MNIST binarization: the ASCII bytes `rebar-mn` read as a
/// big-endian `u64`, `0x7265_6261_722d_6d6e` = 8243102863638490478.
pub const MNIST_SEED: u64 = 0x7265_6261_722d_6d6e;

/// The IDX file names [`Dataset::from_idx_dir`] looks for, each as is or with `.gz` added:
/// training images, training labels, test images, test labels.
pub const IDX_FILE_NAMES: [&str; 4] =
    ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

/// How grey-level images become binary ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binarize {
    /// Binarize once, at load, from `Xoshiro256PlusPlus::seed_from_u64(seed)` in the documented
    /// order (training file, then test file, image after image, row-major); every later read
    /// of an image gives the same bits. Omniglot instead draws from numpy's `RandomState(seed)`,
    /// as the REBAR reference does (see [`omniglot`]).
    Static {
        /// The seed.
        seed: u64,
    },
    /// Keep the grey levels; [`Split::fill_batch`] draws a fresh binary sample at every call.
    Dynamic,
}

impl Binarize {
    /// The built-in dataset's binarization: static with [`MNIST_SEED`].
    pub const MNIST: Binarize = Binarize::Static { seed: MNIST_SEED };
}

/// Images stored as packed bits (static) or grey levels (dynamic).
#[derive(Clone, PartialEq, Eq)]
enum Pixels {
    /// 98 bytes per image, see [`binarize`].
    Bits(Vec<u8>),
    /// 784 grey levels per image.
    Grey(Vec<u8>),
}

/// One split (train, valid or test): a sequence of 28×28 images with their labels.
#[derive(Clone, PartialEq, Eq)]
pub struct Split {
    pixels: Pixels,
    labels: Option<Vec<u8>>,
}

impl fmt::Debug for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Split")
            .field("len", &self.len())
            .field("static", &self.is_static())
            .field("labels", &self.labels.is_some())
            .finish()
    }
}

impl Split {
    pub(crate) fn from_bits(bits: Vec<u8>, labels: Option<Vec<u8>>) -> Split {
        debug_assert_eq!(bits.len() % IMAGE_BYTES, 0);
        Split { pixels: Pixels::Bits(bits), labels }
    }

    pub(crate) fn from_grey(grey: Vec<u8>, labels: Option<Vec<u8>>) -> Split {
        debug_assert_eq!(grey.len() % IMAGE_PIXELS, 0);
        Split { pixels: Pixels::Grey(grey), labels }
    }

    /// The packed bits of a static split.
    pub(crate) fn bits(&self) -> Option<&[u8]> {
        match &self.pixels {
            Pixels::Bits(b) => Some(b),
            Pixels::Grey(_) => None,
        }
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        match &self.pixels {
            Pixels::Bits(b) => b.len() / IMAGE_BYTES,
            Pixels::Grey(g) => g.len() / IMAGE_PIXELS,
        }
    }

    /// True if the split holds no image.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if the images are fixed binary images (static binarization), false if they are
    /// grey levels sampled afresh by every [`fill_batch`](Self::fill_batch) (dynamic).
    pub fn is_static(&self) -> bool {
        matches!(self.pixels, Pixels::Bits(_))
    }

    /// The class labels (0..=9 for MNIST), one per image, if the source had them.
    pub fn labels(&self) -> Option<&[u8]> {
        self.labels.as_deref()
    }

    /// Image `i`'s pixel probabilities, row-major: the fixed 0.0/1.0 values of a static split,
    /// or the grey levels `p/255` (the Bernoulli means) of a dynamic one.
    ///
    /// # Panics
    /// If `i >= len()`.
    pub fn image(&self, i: usize) -> [f32; IMAGE_PIXELS] {
        let mut out = [0.0; IMAGE_PIXELS];
        match &self.pixels {
            Pixels::Bits(b) => binarize::unpack_into(&b[i * IMAGE_BYTES..(i + 1) * IMAGE_BYTES], &mut out),
            Pixels::Grey(g) => {
                for (o, &p) in out.iter_mut().zip(&g[i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS]) {
                    *o = f32::from(p) / 255.0;
                }
            }
        }
        out
    }

    /// Fills `out[k]` with image `indices[k]` as binary 0.0/1.0 values, row-major.
    ///
    /// A static split copies its fixed bits and draws nothing from `rng`. A dynamic split draws
    /// a fresh Bernoulli sample at every call: for `k` in order, for each pixel row-major, one
    /// `rng.next_u32()` compared as in [`bernoulli_bit`] — so the same `rng` state and indices
    /// give the same batch.
    ///
    /// # Panics
    /// If `indices.len() != out.len()` or an index is `>= len()`.
    pub fn fill_batch<R: Rng + ?Sized>(&self, indices: &[usize], out: &mut [[f32; IMAGE_PIXELS]], rng: &mut R) {
        assert_eq!(indices.len(), out.len(), "fill_batch: {} indices for {} output rows", indices.len(), out.len());
        for (&i, row) in indices.iter().zip(out.iter_mut()) {
            match &self.pixels {
                Pixels::Bits(b) => binarize::unpack_into(&b[i * IMAGE_BYTES..(i + 1) * IMAGE_BYTES], row),
                Pixels::Grey(g) => binarize::sample_into(&g[i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS], rng, row),
            }
        }
    }

    /// The mean image: per pixel, the fraction of images with that pixel on (static), or the
    /// mean of `p/255` (dynamic: the expected value of a sample). All zeros if the split is
    /// empty.
    pub fn mean(&self) -> [f32; IMAGE_PIXELS] {
        let mut sums = [0u64; IMAGE_PIXELS];
        let n = self.len();
        let scale = match &self.pixels {
            Pixels::Bits(b) => {
                for img in b.chunks_exact(IMAGE_BYTES) {
                    for (j, s) in sums.iter_mut().enumerate() {
                        *s += u64::from((img[j / 8] >> (7 - j % 8)) & 1);
                    }
                }
                n as f64
            }
            Pixels::Grey(g) => {
                for img in g.chunks_exact(IMAGE_PIXELS) {
                    for (s, &p) in sums.iter_mut().zip(img) {
                        *s += u64::from(p);
                    }
                }
                n as f64 * 255.0
            }
        };
        let mut out = [0.0f32; IMAGE_PIXELS];
        if n > 0 {
            for (o, &s) in out.iter_mut().zip(&sums) {
                *o = (s as f64 / scale) as f32;
            }
        }
        out
    }
}

/// A dataset in three splits. `train`, `valid` and `test` are binarized alike, as
/// `binarization` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    /// Training images (MNIST: the first 50,000 of the training file).
    pub train: Split,
    /// Validation images (MNIST: the last 10,000 of the training file).
    pub valid: Split,
    /// Test images (MNIST: the 10,000 `t10k` images).
    pub test: Split,
    /// How the images were (or are to be) binarized.
    pub binarization: Binarize,
}

impl Dataset {
    /// Lower-case hex SHA-256 of the images as loaded (each split's pixels, in order, and how
    /// they are binarized; not the labels, which training never reads): the same data gives the
    /// same digest wherever its files are, so a resumed run can tell a moved copy from other data.
    pub fn sha256(&self) -> String {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(format!("{:?}", self.binarization).as_bytes());
        for split in [&self.train, &self.valid, &self.test] {
            let (kind, bytes) = match &split.pixels {
                Pixels::Bits(b) => (b'b', b),
                Pixels::Grey(g) => (b'g', g),
            };
            h.update([kind]);
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        }
        gz::hex(h.finalize().as_slice())
    }

    /// The mean training image x̄ (see [`Split::mean`]), e.g. to initialise output biases as
    /// `logit(x̄)` or to centre inputs.
    pub fn train_mean(&self) -> [f32; IMAGE_PIXELS] {
        self.train.mean()
    }

    /// The statically binarized MNIST embedded in the binary (see the [module docs](self)).
    /// Its checksum is verified at every call, which takes some tens of milliseconds; an
    /// error means the binary itself is corrupt.
    pub fn builtin() -> Result<Dataset, DataError> {
        container::decode_gz(mnist::BUILTIN_RBIN_GZ, "<builtin mnist-binarized.rbin.gz>")
    }

    /// Loads a bit-packed container written by [`to_rbin_gz`](Self::to_rbin_gz) or
    /// `rebar prepare-mnist`, verifying its checksum.
    pub fn load(path: impl AsRef<Path>) -> Result<Dataset, DataError> {
        let path = path.as_ref();
        let bytes = idx::read_file(path)?;
        Dataset::from_rbin_bytes(&bytes, &path.display().to_string())
    }

    /// Decodes a bit-packed container held in memory (gzip-compressed or raw), verifying its
    /// checksum; `name` names it in errors.
    pub fn from_rbin_bytes(bytes: &[u8], name: &str) -> Result<Dataset, DataError> {
        container::decode_gz(bytes, name)
    }

    /// Writes a static dataset as a gzip-compressed bit-packed container (see [`container`]).
    /// Deterministic: the same dataset always gives the same bytes.
    pub fn to_rbin_gz(&self) -> Result<Vec<u8>, DataError> {
        container::encode_gz(self)
    }

    /// Reads the four IDX files named in [`IDX_FILE_NAMES`] from `dir` (each raw, or with
    /// `.gz` added; the `.gz` one is used when both exist), checks them, and splits and
    /// binarizes them as `binarize` says.
    ///
    /// The training file (N images) is split into `train` = its first N − ⌊N/6⌋ images and
    /// `valid` = its last ⌊N/6⌋ (MNIST: 50,000 and 10,000); `test` is the whole test file.
    /// The training file needs at least 6 images and the test file at least 1. Static
    /// binarization draws for the whole training file, then the whole test file.
    ///
    /// Files whose pixels are all 0 or 1 (a set binarized beforehand) are recognised as already
    /// binary: 1 is read as 255, ink with probability 1, so both binarizations give back exactly
    /// the stored images (static still draws its numbers, which then decide nothing).
    pub fn from_idx_dir(dir: impl AsRef<Path>, binarize: Binarize) -> Result<Dataset, DataError> {
        let dir = dir.as_ref();
        let read = |name| read_idx_file(dir, name).map(|(p, b)| (p.display().to_string(), b));
        let [a, b, c, d] = IDX_FILE_NAMES;
        let (a, b, c, d) = (read(a)?, read(b)?, read(c)?, read(d)?);
        from_idx_bytes([(a.0, &a.1), (b.0, &b.1), (c.0, &c.1), (d.0, &d.1)], binarize)
    }
}

/// Reads `dir/name.gz`, or `dir/name` if that does not exist.
pub(crate) fn read_idx_file(dir: &Path, name: &'static str) -> Result<(std::path::PathBuf, Vec<u8>), DataError> {
    let gz = dir.join(format!("{name}.gz"));
    let plain = dir.join(name);
    let path = if gz.is_file() {
        gz
    } else if plain.is_file() {
        plain
    } else {
        return Err(DataError::Missing { dir: dir.to_path_buf(), name });
    };
    let bytes = idx::read_file(&path)?;
    Ok((path, bytes))
}

/// Builds a dataset from the four IDX files' contents (raw or gzip, in [`IDX_FILE_NAMES`]
/// order), each with the name to report in errors.
pub(crate) fn from_idx_bytes(files: [(String, &[u8]); 4], binarize: Binarize) -> Result<Dataset, DataError> {
    let [(tr_img_name, tr_img), (tr_lab_name, tr_lab), (te_img_name, te_img), (te_lab_name, te_lab)] = files;
    let train_images = idx::parse_images(tr_img, &tr_img_name)?;
    let train_labels = idx::parse_labels(tr_lab, &tr_lab_name)?;
    let test_images = idx::parse_images(te_img, &te_img_name)?;
    let test_labels = idx::parse_labels(te_lab, &te_lab_name)?;
    from_parsed(
        (train_images, train_labels, tr_img_name, tr_lab_name),
        (test_images, test_labels, te_img_name, te_lab_name),
        binarize,
    )
}

type Parsed = (idx::IdxImages, Vec<u8>, String, String);

/// True if every pixel of both files is 0 or 1: images binarized before they were written, which
/// [`Dataset::from_idx_dir`] reads as binary (1 is ink, as 255 would be).
fn already_binary(train: &[u8], test: &[u8]) -> bool {
    train.iter().chain(test).all(|&p| p <= 1)
}

fn from_parsed(train: Parsed, test: Parsed, binarize: Binarize) -> Result<Dataset, DataError> {
    for (images, labels, img_name, lab_name) in [&train, &test] {
        if images.len() != labels.len() {
            return Err(DataError::CountMismatch {
                images: img_name.clone(),
                n_images: images.len(),
                labels: lab_name.clone(),
                n_labels: labels.len(),
            });
        }
    }
    for ((images, _, name, _), min) in [(&train, 6), (&test, 1)] {
        if images.len() < min {
            return Err(DataError::TooFewImages { file: name.clone(), count: images.len(), min });
        }
    }
    let (train_images, mut train_labels, _, _) = train;
    let (test_images, test_labels, _, _) = test;
    let n = train_images.len();
    let n_train = n - n / 6;
    let valid_labels = train_labels.split_off(n_train);
    let (mut train_px, mut test_px) = (train_images.into_pixels(), test_images.into_pixels());
    if already_binary(&train_px, &test_px) {
        // A set binarized beforehand stores ink as 1: read as a grey level that would be 1/255,
        // almost always 0. As 255 it is ink with probability 1, so either binarization keeps
        // the images exactly as they are.
        for p in train_px.iter_mut().chain(test_px.iter_mut()) {
            *p *= 255;
        }
    }
    let (train, valid, test) = match binarize {
        Binarize::Static { seed } => {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
            let mut train_bits = Vec::new();
            binarize::binarize_packed(&train_px, &mut rng, &mut train_bits);
            let mut test_bits = Vec::new();
            binarize::binarize_packed(&test_px, &mut rng, &mut test_bits);
            let valid_bits = train_bits.split_off(n_train * IMAGE_BYTES);
            (
                Split::from_bits(train_bits, Some(train_labels)),
                Split::from_bits(valid_bits, Some(valid_labels)),
                Split::from_bits(test_bits, Some(test_labels)),
            )
        }
        Binarize::Dynamic => {
            let valid_px = train_px.split_off(n_train * IMAGE_PIXELS);
            (
                Split::from_grey(train_px, Some(train_labels)),
                Split::from_grey(valid_px, Some(valid_labels)),
                Split::from_grey(test_px, Some(test_labels)),
            )
        }
    };
    Ok(Dataset { train, valid, test, binarization: binarize })
}
