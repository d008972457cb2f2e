//! Compile-fail proofs for rebar-core: see `tests/compile_fail.rs` and `cases/`.
