//! rebar-host: the std side of rebar.
//!
//! This crate holds everything that needs an operating system: reading datasets from disk,
//! binarizing them, and the `rebar` command-line program built on top. The numeric kernels
//! and estimators live in the `no_std` crate `rebar-core`.
//!
//! # Data
//!
//! [`data`] reads IDX files (the MNIST format, raw or gzip-compressed), binarizes them and
//! ships a statically binarized MNIST inside the binary, so `rebar` runs with no network and
//! no data directory:
//!
//! ```
//! use rand_core::SeedableRng;
//! use rebar_host::data::{Dataset, IMAGE_PIXELS};
//!
//! let data = Dataset::builtin().expect("the embedded dataset is verified on load");
//! assert_eq!((data.train.len(), data.valid.len(), data.test.len()), (50_000, 10_000, 10_000));
//! let x_bar = data.train_mean(); // per-pixel mean of the training images
//! let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(0);
//! let mut batch = vec![[0.0f32; IMAGE_PIXELS]; 2];
//! data.train.fill_batch(&[0, 1], &mut batch, &mut rng); // static data: rng is not used
//! assert!(batch.iter().flatten().all(|&x| x == 0.0 || x == 1.0));
//! # assert!(x_bar.iter().all(|&m| (0.0..=1.0).contains(&m)));
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod data;
pub mod export;
pub mod footprint;
pub mod paper;
pub mod plot;
pub mod records;
pub mod report;
pub mod run_dir;
pub mod stop;
pub mod table1;
pub mod train;
