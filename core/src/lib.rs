//! rebar-core: REBAR and peer gradient estimators for sigmoid belief networks.
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod estimator;
pub mod linalg;
pub mod math;
pub mod model;
pub mod net;
pub mod optim;
pub mod random;
pub mod tensors;
pub mod toy;

pub use estimator::{Diagnostics, Estimator};
pub use model::{Relaxation, Sbn};
pub use net::{Dense, Mlp1, Mlp2, Net, TanhDense, Then};
pub use optim::{Adam, AdamConfig};
pub use tensors::Tensors;
