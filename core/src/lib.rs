//! rebar-core: REBAR and peer gradient estimators for sigmoid belief networks.
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod linalg;
pub mod math;
pub mod net;
pub mod random;
pub mod tensors;

pub use net::{Dense, Mlp1, Mlp2, Net, TanhDense, Then};
pub use tensors::Tensors;
