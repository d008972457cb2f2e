//! # rebar-core
//!
//! Low-variance, unbiased gradient estimators for sigmoid belief networks — REBAR (Tucker et al.,
//! NIPS 2017) with its learned temperature, and its peers (REINFORCE, NVIL, MuProp, Concrete,
//! RELAX, ARM, DisARM, RLOO) — in `no_std` Rust with no allocation, for firmware as much as for
//! a laptop.
//!
//! ## The contract
//! - **No allocation, ever**: the crate does not link `alloc`. The caller owns every buffer: the
//!   parameters, gradients and optimiser state are plain fixed-size types ([`model`],
//!   [`optim::Adam`]), and every pass works in a caller-owned scratch ([`Sbn::Scratch`]). The
//!   paper's models are megabytes: put them in a `static` or a `Box` (they are all
//!   [`bytemuck::Zeroable`], so `bytemuck::zeroed_box` builds them on the heap directly).
//! - **No unsafe code** (`#![forbid(unsafe_code)]`), no panics on the hot paths for well-typed
//!   input: shapes are const generics, and mismatched shapes do not compile.
//! - **Deterministic**: randomness comes only from the `rand_core::Rng` you pass; the same seed
//!   gives bit-identical results on the same build.
//! - **Proven**: every hand-written derivative is checked against finite differences, and every
//!   unbiased estimator against the exact gradient by enumeration of all latent states (see the
//!   workspace's `tests/`).
//!
//! ## Layout
//! [`math`] (scalar reference and SIMD elementwise functions), [`linalg`] (dense kernels),
//! [`net`] (affine and tanh maps with forward, reverse and second-order modes), [`model`]
//! (one- and two-layer SBNs, the paper's models), [`estimator`] (every estimator behind one
//! trait), [`optim`] (Adam), [`toy`] (the paper's toy problem), [`random`], [`tensors`],
//! [`ops`] (multiply-add counters).
//!
//! ## Features
//! - `defmt`: log through `defmt` (firmware; log calls compile only for `target_os = "none"`).
//! - `count-ops`: every SIMD kernel counts its multiply-adds in two process-wide atomics
//!   ([`ops`]), so a host can state the work per example. Off by default.
//!
//! ## Example: train a small SBN with learned-temperature REBAR
//! ```
//! use rand_core::SeedableRng;
//! use rand_xoshiro::Xoshiro256PlusPlus;
//! use rebar_core::estimator::{Estimator, Rebar, RebarConfig};
//! use rebar_core::model::{Generative, OneLayer};
//! use rebar_core::net::Dense;
//! use rebar_core::{Adam, AdamConfig, Sbn};
//!
//! // 16 binary pixels, 4 latent units, batches of up to 8.
//! type Model = OneLayer<16, 4, 16, Dense<16, 4>, Dense<4, 16>, Generative>;
//! const B: usize = 8;
//!
//! let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
//! // Zeroable values, built in place on the heap (a `static` works as well on firmware).
//! let mut model: Box<Model> = bytemuck::zeroed_box();
//! let mut grad: Box<Model> = bytemuck::zeroed_box();
//! let mut adam: Box<Adam<Model>> = bytemuck::zeroed_box();
//! let mut scratch: Box<<Model as Sbn<4>>::Scratch<B>> = bytemuck::zeroed_box();
//! let mut rebar: Box<Rebar<Model, 16, 4, B>> = bytemuck::zeroed_box();
//! rebar.init(RebarConfig::LEARNED, &mut rng).unwrap();
//!
//! // Two stripes patterns as data.
//! let data: Vec<[f32; 16]> = (0..B).map(|i| core::array::from_fn(|j| ((i + j) % 2) as f32)).collect();
//! let mean = [0.5f32; 16];
//! model.init(&mut rng);
//! model.set_data_mean(&mean, &mean);
//!
//! let mut first = None;
//! let mut last = 0.0;
//! for _ in 0..300 {
//!     model.load_batch(&data, &data, &mut scratch);
//!     let d = rebar.estimate(&model, &mut scratch, &mut rng, &mut grad);
//!     adam.step(&mut model, &grad, 3e-2, AdamConfig::REBAR);
//!     rebar.update_control_variates(3e-1);
//!     first.get_or_insert(d.elbo);
//!     last = d.elbo;
//! }
//! assert!(last > first.unwrap() + 1.0, "the ELBO improves: {first:?} → {last}");
//! ```
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod estimator;
pub mod fork;
pub mod linalg;
pub mod math;
pub mod model;
pub mod net;
pub mod ops;
pub mod optim;
pub mod random;
pub mod state;
pub mod tensors;
pub mod toy;

pub use estimator::{Diagnostics, Estimator};
pub use fork::{Fork, Serial};
pub use model::{Relaxation, Sbn};
pub use net::{Dense, GradWrite, Mlp1, Mlp2, Net, TanhDense, Then};
pub use optim::{Adam, AdamConfig, AdamStep};
pub use tensors::Tensors;
