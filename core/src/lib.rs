//! rebar-core: REBAR and peer gradient estimators for sigmoid belief networks.
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod math;
