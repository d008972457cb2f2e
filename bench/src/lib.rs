//! Benchmarks of rebar kernels and training steps (see benches/).
