//! Omniglot, 28×28, from the `chardata.mat` of the IWAE repository, loaded as the REBAR and
//! RELAX reference code loads it.
//!
//! # The file
//!
//! `chardata.mat` is `datasets/OMNIGLOT/chardata.mat` in the IWAE repository
//! (github.com/yburda/iwae, downloadable from [`OMNIGLOT_URL`]); the REBAR download script
//! (tensorflow/models, `research/rebar/download_data.py`, also copied into duvenaud/relax as
//! `rebar_baseline/download_data.py`) fetches that URL and saves it under the name
//! `omniglot_07-19-2017.mat` (`research/rebar/config.py`). It is a Level 5 MAT-file read with
//! `scipy.io.loadmat` ([`mat`] reads it here). Of its variables the reference
//! code reads two, both of class double with grey levels in [0, 1]:
//!
//! * `data`: 784 × 24,345, one training image per column;
//! * `testdata`: 784 × 8,070, one test image per column.
//!
//! The labels beside them (`target`, `testtarget`: one-hot alphabets; `targetchar`,
//! `testtargetchar`: characters) are not read, so the splits have no labels.
//!
//! # What the reference code does
//!
//! tensorflow/models `research/rebar/datasets.py`, `read_omniglot` (the same function is in
//! duvenaud/relax `datasets.py`, `load_omniglot`, and in the IWAE repository's `datasets.py`,
//! `binarized_shuffled_omniglot`, apart from the binarization):
//!
//! 1. **Layout.** `omni_raw['data'].T.astype('float32')`, then
//!    `reshape((-1, 28, 28)).reshape((-1, 28*28), order='fortran')`. The transpose makes one
//!    row per image, holding the 784 values of the file's column; the two reshapes transpose
//!    each 28×28 image. So the file stores each image column-major (as MATLAB stores a 28×28
//!    image), and the result is row-major: pixel (row `r`, column `c`) of image `n` is the
//!    file's `data(c·28 + r + 1, n + 1)` (MATLAB's 1-based indices). rebar's images come out
//!    row-major like MNIST's, the same way. The values are rounded to `f32` first, as the
//!    reference's `astype('float32')` does.
//! 2. **Binarization** (when `dynamic_b` is off, the default): `np.random.seed(5)`, then
//!    `train_data = (np.random.rand(*train_data.shape) < train_data)` and the same for
//!    `test_data`: one static draw per pixel of numpy's global `RandomState`, for all 24,345
//!    training images in file order, each row-major, then the 8,070 test images. With
//!    `dynamic_b` the grey levels are kept (and sampled afresh per batch by the model code).
//! 3. **Splits.** `np.random.RandomState(seed=123).permutation(24345)` shuffles the training
//!    images (after binarizing them); the last 1,345 are `x_valid`, the first 23,000 `x_train`;
//!    `x_test` is `testdata` in file order.
//!
//! # What rebar does
//!
//! The same, bit for bit: numpy's `RandomState` streams are fixed across numpy versions, and
//! rebar reproduces the two it needs (MT19937 seeded with `init_genrand`, `random_sample` and
//! the legacy `permutation`, in the private module `numpy_rng`, whose tests check them
//! against numpy's own output). So [`Dataset::from_omniglot_mat`] with
//! `Binarize::Static { seed: OMNIGLOT_SEED }` ([`OMNIGLOT_SEED`] = 5) gives the REBAR
//! reference's `x_train`, `x_valid` and `x_test`, image for image and pixel for pixel.
//!
//! For Omniglot the static seed is therefore numpy's (it must fit in 32 bits), not the
//! xoshiro seed of the IDX datasets, and a pixel with grey level `p` is 1 iff numpy's double
//! `u` satisfies `u < p` — not the integer [`bernoulli_bit`](super::bernoulli_bit) test,
//! which could not give the reference's bits. [`Binarize::Dynamic`] keeps the grey levels,
//! rounded to the nearest of the 256 levels `k/255` that a [`Split`] stores (at most 1/510
//! off), and draws a fresh sample per batch as for any dataset.
//!
//! The split sizes are the reference's: `train` 23,000, `valid` 1,345, `test` 8,070.
//!
//! ```no_run
//! use rebar_host::data::{Binarize, Dataset, OMNIGLOT_SEED};
//!
//! let data = Dataset::from_omniglot_mat("chardata.mat", Binarize::Static { seed: OMNIGLOT_SEED })?;
//! assert_eq!((data.train.len(), data.valid.len(), data.test.len()), (23_000, 1_345, 8_070));
//! # Ok::<(), rebar_host::data::DataError>(())
//! ```
//!
//! On the command line: `rebar train --data omniglot:path/to/chardata.mat` (add
//! `--binarize dynamic` for dynamic binarization).

use std::path::Path;

use super::error::OmniglotProblem;
use super::mat::{self, Matrix};
use super::numpy_rng::NumpyRng;
use super::{Binarize, DataError, Dataset, IMAGE_BYTES, IMAGE_PIXELS, IMAGE_SIDE, Split, binarize, idx};

/// Where to download `chardata.mat`: the IWAE repository's copy, the URL the REBAR download
/// script uses.
pub const OMNIGLOT_URL: &str = "https://github.com/yburda/iwae/raw/master/datasets/OMNIGLOT/chardata.mat";

/// The REBAR reference's binarization seed for Omniglot, `np.random.seed(5)`: with
/// [`Binarize::Static`] it reproduces the reference's bits.
pub const OMNIGLOT_SEED: u64 = 5;

/// The seed of the reference's shuffle of the training images, `RandomState(seed=123)`.
pub const OMNIGLOT_SHUFFLE_SEED: u32 = 123;

/// Shuffled training images the reference keeps for validation: the last 1,345.
pub const OMNIGLOT_VALID: usize = 1_345;

/// The variables read: the training and the test images, 784 × N each.
pub const OMNIGLOT_VARIABLES: [&str; 2] = ["data", "testdata"];

impl Dataset {
    /// Reads Omniglot from `chardata.mat` (see the [module docs](super::omniglot)) and splits
    /// and binarizes it as the REBAR reference does: `train` 23,000 and `valid` 1,345 images
    /// from the shuffled `data`, `test` the 8,070 of `testdata`. With [`Binarize::Static`]
    /// the seed is numpy's ([`OMNIGLOT_SEED`] gives the reference's bits) and must fit in 32
    /// bits.
    ///
    /// A missing file is [`DataError::MissingOmniglot`], which says where to get it; a
    /// malformed one is [`DataError::Mat`]; wrong contents (not 784 rows, grey levels outside
    /// [0, 1], too few images) are [`DataError::Omniglot`].
    pub fn from_omniglot_mat(path: impl AsRef<Path>, binarize: Binarize) -> Result<Dataset, DataError> {
        load(path.as_ref(), binarize, OMNIGLOT_VALID)
    }
}

/// [`Dataset::from_omniglot_mat`] with `n_valid` validation images (tests use small files).
fn load(path: &Path, binarize: Binarize, n_valid: usize) -> Result<Dataset, DataError> {
    if !path.is_file() {
        return Err(DataError::MissingOmniglot { file: path.to_path_buf() });
    }
    let bytes = idx::read_file(path)?;
    from_mat_bytes(&bytes, &path.display().to_string(), binarize, n_valid)
}

fn from_mat_bytes(bytes: &[u8], file: &str, binarize: Binarize, n_valid: usize) -> Result<Dataset, DataError> {
    let problem = |problem| DataError::Omniglot { file: file.to_string(), problem };
    // Checked before the file is parsed, which takes a while for the real one.
    let seed = match binarize {
        Binarize::Static { seed } => {
            Some(u32::try_from(seed).map_err(|_| problem(OmniglotProblem::SeedTooLarge { seed }))?)
        }
        Binarize::Dynamic => None,
    };
    let [data, testdata] = mat::read_matrices(bytes, file, OMNIGLOT_VARIABLES)?;
    let train = grey_images(data, "data").map_err(problem)?;
    let test = grey_images(testdata, "testdata").map_err(problem)?;
    let n = train.len();
    if n <= n_valid {
        return Err(problem(OmniglotProblem::TooFewImages { name: "data", count: n, min: n_valid + 1 }));
    }
    if test.is_empty() {
        return Err(problem(OmniglotProblem::TooFewImages { name: "testdata", count: 0, min: 1 }));
    }
    // MAT dimensions are 32-bit, so the count fits.
    let order = NumpyRng::new(OMNIGLOT_SHUFFLE_SEED).permutation(n as u32);
    let n_train = n - n_valid;
    let (train, valid, test) = match seed {
        Some(seed) => {
            // Training images first, in file order, then the test images: one stream.
            let mut rng = NumpyRng::new(seed);
            let train_bits = binarize_all(&train, &mut rng);
            let test_bits = binarize_all(&test, &mut rng);
            let mut shuffled = shuffle(&train_bits, &order, IMAGE_BYTES);
            let valid_bits = shuffled.split_off(n_train * IMAGE_BYTES);
            (Split::from_bits(shuffled, None), Split::from_bits(valid_bits, None), Split::from_bits(test_bits, None))
        }
        None => {
            let mut shuffled = shuffle(&quantize(&train), &order, IMAGE_PIXELS);
            let valid_grey = shuffled.split_off(n_train * IMAGE_PIXELS);
            (
                Split::from_grey(shuffled, None),
                Split::from_grey(valid_grey, None),
                Split::from_grey(quantize(&test), None),
            )
        }
    };
    Ok(Dataset { train, valid, test, binarization: binarize })
}

/// The images of a 784 × N variable, each turned from the file's column-major order into
/// row-major and rounded to `f32` (the reference's `astype('float32')`), after checking
/// the shape and that every grey level is in [0, 1].
fn grey_images(m: Matrix, name: &'static str) -> Result<Vec<[f32; IMAGE_PIXELS]>, OmniglotProblem> {
    let rows = m.dims[0];
    let cols = m.dims[1..].iter().product::<usize>();
    if rows != IMAGE_PIXELS {
        return Err(OmniglotProblem::WrongPixels { name, rows, cols });
    }
    let mut images = Vec::with_capacity(cols);
    for (image, column) in m.data.chunks_exact(IMAGE_PIXELS).enumerate() {
        let mut out = [0f32; IMAGE_PIXELS];
        for (pixel, &value) in column.iter().enumerate() {
            // NaN fails this test too.
            if !(0.0..=1.0).contains(&value) {
                return Err(OmniglotProblem::OutOfRange { name, image, pixel, value });
            }
            // File position c·28 + r holds pixel (r, c).
            let (r, c) = (pixel % IMAGE_SIDE, pixel / IMAGE_SIDE);
            out[r * IMAGE_SIDE + c] = value as f32;
        }
        images.push(out);
    }
    Ok(images)
}

/// Static binarization as the reference's `np.random.rand(*x.shape) < x`: one double per
/// pixel, image after image, row-major; the pixel is 1 iff the draw is below its grey level.
fn binarize_all(images: &[[f32; IMAGE_PIXELS]], rng: &mut NumpyRng) -> Vec<u8> {
    let mut out = Vec::with_capacity(images.len() * IMAGE_BYTES);
    for image in images {
        let bits = image.map(|p| rng.next_f64() < f64::from(p));
        binarize::push_packed(&bits, &mut out);
    }
    out
}

/// Grey levels in [0, 1] as the 8-bit levels `k/255` a [`Split`] stores, rounded to nearest.
fn quantize(images: &[[f32; IMAGE_PIXELS]]) -> Vec<u8> {
    images.iter().flatten().map(|&p| (p * 255.0).round() as u8).collect()
}

/// The images of `items` (each `size` bytes) in the order `order`: item `i` of the result is
/// item `order[i]`, as numpy's `x[permutation]`.
fn shuffle(items: &[u8], order: &[u32], size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(items.len());
    for &i in order {
        let i = i as usize;
        out.extend_from_slice(&items[i * size..(i + 1) * size]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::gz::{hex, sha256};
    use crate::data::mat::writer::{Storage, Var, write_mat};

    /// Grey levels of the synthetic file: the file's value at row `j` of column `n` is
    /// `((offset + 784·n + j)·7919 mod 1000) / 999`.
    fn synthetic(images: usize, offset: usize) -> Vec<f64> {
        (0..images * IMAGE_PIXELS).map(|k| ((offset + k) * 7919 % 1000) as f64 / 999.0).collect()
    }

    /// A `chardata.mat`-like file: `data` 784 × 30 compressed, `testdata` 784 × 10 not.
    fn chardata_like(train: &[f64], test: &[f64]) -> Vec<u8> {
        let (n_train, n_test) = ((train.len() / 784) as i32, (test.len() / 784) as i32);
        write_mat(
            &[
                Var { name: "data", dims: &[784, n_train], values: train, storage: Storage::Double, compressed: true },
                Var { name: "target", dims: &[2, 3], values: &[1.0; 6], storage: Storage::Uint8, compressed: false },
                Var {
                    name: "testdata",
                    dims: &[784, n_test],
                    values: test,
                    storage: Storage::Double,
                    compressed: false,
                },
            ],
            false,
        )
    }

    fn write(dir: &tempfile::TempDir, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.path().join("chardata.mat");
        std::fs::write(&path, bytes).unwrap();
        path
    }

    const STATIC: Binarize = Binarize::Static { seed: OMNIGLOT_SEED };

    #[test]
    fn static_binarization_and_splits_are_the_reference_bits() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, &chardata_like(&synthetic(30, 0), &synthetic(10, 30 * 784)));
        let ds = load(&path, STATIC, 5).unwrap();
        assert_eq!((ds.train.len(), ds.valid.len(), ds.test.len()), (25, 5, 10));
        assert_eq!(ds.binarization, STATIC);
        // The reference's read_omniglot on the same values with n_validation = 5, numpy 2.4.6:
        // sha256(np.packbits(x.astype(np.uint8), axis=1).tobytes()) for x_train, x_valid, x_test.
        let digest = |s: &Split| hex(&sha256(s.bits().unwrap()));
        assert_eq!(digest(&ds.train), "6e6f4ef0e48d7ebb295e21dc77ec9d4e9230426ec06cc02ffa7f3e430e0b7f2f");
        assert_eq!(digest(&ds.valid), "975bd9135fb37aa30d9c437d3c649183bb796b2e22a20128a5c3680e1222b256");
        assert_eq!(digest(&ds.test), "1bf012f163b72daf8457249a1f7c60fca5123caafed2a89f223c2a7065c7b4d1");
        assert!(ds.train.labels().is_none());
    }

    /// File values for images whose row-major pixel `mark(n)` is ink and the rest blank, plus
    /// a stroke along row 0 of every image: asymmetric, so a missing transpose shows.
    fn marked(images: usize, mark: impl Fn(usize) -> usize) -> Vec<f64> {
        let mut v = vec![0.0; images * IMAGE_PIXELS];
        for n in 0..images {
            let (r, c) = (mark(n) / IMAGE_SIDE, mark(n) % IMAGE_SIDE);
            v[n * IMAGE_PIXELS + c * IMAGE_SIDE + r] = 1.0;
            for c in 0..IMAGE_SIDE {
                v[n * IMAGE_PIXELS + c * IMAGE_SIDE] = 1.0;
            }
        }
        v
    }

    fn ink(image: &[f32; IMAGE_PIXELS]) -> Vec<usize> {
        (0..IMAGE_PIXELS).filter(|&j| image[j] > 0.0).collect()
    }

    #[test]
    fn images_come_out_row_major_in_the_reference_order() {
        // Training image n is marked at row-major pixel 100 + n, test image n at 500 + n.
        let train = marked(30, |n| 100 + n);
        let test = marked(10, |n| 500 + n);
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, &chardata_like(&train, &test));
        // np.random.RandomState(seed=123).permutation(30)
        let order = [
            7, 29, 5, 26, 8, 27, 12, 21, 11, 23, 18, 4, 3, 24, 16, 14, 20, 9, 15, 25, 0, 1, 22, 10, 19, 17, 6, 28, 2,
            13,
        ];
        for binarize in [STATIC, Binarize::Dynamic] {
            let ds = load(&path, binarize, 5).unwrap();
            let row0: Vec<usize> = (0..IMAGE_SIDE).collect();
            let expect = |mark: usize| [row0.clone(), vec![mark]].concat();
            for (i, &n) in order.iter().enumerate() {
                let image = if i < 25 { ds.train.image(i) } else { ds.valid.image(i - 25) };
                assert_eq!(ink(&image), expect(100 + n), "{binarize:?}: shuffled training image {i}");
            }
            for n in 0..10 {
                assert_eq!(ink(&ds.test.image(n)), expect(500 + n), "{binarize:?}: test image {n}");
            }
        }
    }

    #[test]
    fn dynamic_binarization_keeps_8_bit_grey_levels() {
        let mut train = vec![0.5; 30 * IMAGE_PIXELS];
        train[0] = 0.2;
        let test = vec![1.0; 10 * IMAGE_PIXELS];
        let dir = tempfile::tempdir().unwrap();
        let ds = load(&write(&dir, &chardata_like(&train, &test)), Binarize::Dynamic, 5).unwrap();
        assert_eq!(ds.binarization, Binarize::Dynamic);
        assert!(!ds.train.is_static());
        // 0.5·255 = 127.5 rounds to 128; 0.2·255 = 51. File image 0 is training image 20.
        assert_eq!(ds.train.image(0)[0], 128.0 / 255.0);
        assert_eq!(ds.train.image(20)[0], 51.0 / 255.0);
        assert!(ds.test.image(9).iter().all(|&p| p == 1.0));
    }

    fn error(bytes: &[u8], binarize: Binarize) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, bytes);
        let e = load(&path, binarize, 5).unwrap_err().to_string();
        assert!(e.contains(&path.display().to_string()), "{e}");
        e
    }

    #[test]
    fn missing_file_says_where_to_get_it() {
        let e = Dataset::from_omniglot_mat("/nonexistent/chardata.mat", STATIC).unwrap_err();
        assert!(matches!(e, DataError::MissingOmniglot { .. }));
        let e = e.to_string();
        assert!(e.contains("/nonexistent/chardata.mat") && e.contains("yburda/iwae"), "{e}");
        assert!(e.contains("datasets/OMNIGLOT/chardata.mat"), "{e}");
    }

    #[test]
    fn truncated_file_is_an_error() {
        let bytes = chardata_like(&synthetic(30, 0), &synthetic(10, 0));
        let e = error(&bytes[..bytes.len() - 100], STATIC);
        assert!(e.contains("truncated"), "{e}");
        let e = error(&bytes[..60], STATIC);
        assert!(e.contains("not a MAT-file") && e.contains("60 bytes"), "{e}");
    }

    #[test]
    fn bad_header_is_an_error() {
        let mut bytes = chardata_like(&synthetic(30, 0), &synthetic(10, 0));
        bytes[126..128].copy_from_slice(b"XY");
        assert!(error(&bytes, STATIC).contains("endian indicator"));
        bytes[126..128].copy_from_slice(b"IM");
        bytes[124..126].copy_from_slice(&0x0200u16.to_le_bytes());
        let e = error(&bytes, STATIC);
        assert!(e.contains("version 0x0200") && e.contains("-v7.3"), "{e}");
    }

    #[test]
    fn missing_variable_is_named() {
        let train = synthetic(30, 0);
        let var = Var { name: "data", dims: &[784, 30], values: &train, storage: Storage::Double, compressed: true };
        let e = error(&write_mat(&[var], false), STATIC);
        assert!(e.contains("no variable `testdata`") && e.contains("holds: data"), "{e}");
    }

    #[test]
    fn wrong_pixel_count_is_an_error() {
        let train = vec![0.5; 100 * 30];
        let test = synthetic(10, 0);
        let bytes = write_mat(
            &[
                Var { name: "data", dims: &[100, 30], values: &train, storage: Storage::Double, compressed: false },
                Var { name: "testdata", dims: &[784, 10], values: &test, storage: Storage::Double, compressed: false },
            ],
            false,
        );
        let e = error(&bytes, STATIC);
        assert!(e.contains("`data` is 100×30, expected 784 rows"), "{e}");
    }

    #[test]
    fn grey_levels_outside_0_1_are_an_error() {
        for bad in [1.5, -0.25, f64::NAN] {
            let mut test = synthetic(10, 0);
            test[3 * 784 + 17] = bad;
            let e = error(&chardata_like(&synthetic(30, 0), &test), Binarize::Dynamic);
            assert!(e.contains("`testdata`: image 3 pixel 17") && e.contains("must be in [0, 1]"), "{bad}: {e}");
        }
    }

    #[test]
    fn corrupt_zlib_data_is_an_error() {
        let mut bytes = chardata_like(&synthetic(30, 0), &synthetic(10, 0));
        // The first element is the compressed `data`: keep its tag and the zlib header, spoil
        // the deflate stream.
        for b in &mut bytes[128 + 8 + 2..128 + 8 + 40] {
            *b ^= 0x5a;
        }
        let e = error(&bytes, STATIC);
        assert!(e.contains("corrupt zlib data in the compressed element at byte 128"), "{e}");
    }

    #[test]
    fn too_few_images_and_a_large_seed_are_errors() {
        let bytes = chardata_like(&synthetic(5, 0), &synthetic(10, 0));
        let e = error(&bytes, STATIC);
        assert!(e.contains("`data` holds 5 images, at least 6"), "{e}");
        let e = error(&bytes, Binarize::Static { seed: 1 << 32 });
        assert!(e.contains("does not fit in 32 bits"), "{e}");
    }
}
