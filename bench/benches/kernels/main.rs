//! Dense-kernel benchmarks: this core's FMA peak, and every kernel of `rebar_core::linalg` at the
//! paper's shapes, as GFLOP/s and as a fraction of that peak.
//!
//! # Running
//! ```text
//! # Portable build (x86_64: SSE2, no FMA; `f32x8` is two SSE halves):
//! cargo bench -p rebar-bench --bench kernels
//! # This machine's ISA (AVX-512 + FMA: `f32x16` is one zmm register). Use its own target dir:
//! RUSTFLAGS="-C target-cpu=native" CARGO_TARGET_DIR=target/native cargo bench -p rebar-bench --bench kernels
//! # A subset (criterion's filter is a regex on the names below), e.g. only batch 24 SIMD:
//! cargo bench -p rebar-bench --bench kernels -- 'simd/.*/b24$'
//! # Quick run (shorter measurement), other batch sizes:
//! KERNELS_QUICK=1 KERNELS_BATCHES=8,24,128 cargo bench -p rebar-bench --bench kernels -- '^simd/'
//! # Other dense shapes (n_in x n_out):
//! KERNELS_SHAPES=784x200,16x200 cargo bench -p rebar-bench --bench kernels -- '^simd/'
//! ```
//!
//! # What is measured
//! - `peak/f32x16`, `peak/f32x8`: a register-only loop of [`CHAINS`] independent `mul_add`
//!   chains (enough to hide the FMA latency on two FMA ports), 2 flops per lane per `mul_add`.
//!   The larger of the two is "the peak" below. In the portable build `mul_add` is a multiply and
//!   an add (no FMA), and the measured peak is that of SSE2.
//! - `{simd,baseline,scalar}/{kernel}/{n_in}x{n_out}/b{rows}`: one call of a dense kernel,
//!   counted as 2·rows·n_in·n_out flops (one multiply-add per weight and row). `simd` is
//!   `rebar_core::linalg::simd`, `scalar` the reference `rebar_core::linalg::scalar`, and
//!   `baseline` the SIMD kernels as they were before the register-blocking rewrite (kept in this
//!   bench, [`baseline`]), so that before/after come from the same run.
//! - `binary/{kernel}/{n_in}x{n_out}/b24/d{percent}`: the binary-input kernels on random 0/1
//!   rows of the given density (one-valued fraction), counted at the *dense-equivalent* flops
//!   so that GFLOP/s compare directly with the dense kernel; `binary/index/...` is building the
//!   index lists from the 0/1 rows.
//!
//! Criterion prints its own statistics; at the end a table repeats every benchmark's median and
//! best time per call (best = the fastest of criterion's samples, each a mean over many calls;
//! the least disturbed by other processes), its GFLOP/s, its fraction of the measured peak
//! (best against best) and of the peak measured right after it ("local": the best of 200 short
//! peak runs, steadier when the machine's speed drifts), then the crossover densities of the
//! binary kernels.
//! Timings on a shared machine are noisy: compare within one run, repeat, or count instructions
//! with `valgrind --tool=callgrind`.

mod baseline;
mod binary_kernels;
mod dense;
mod harness;
mod inputs;
mod peak;
mod summary;

use binary_kernels::binary_kernels;
use criterion::Criterion;
use dense::dense;
use peak::peak;
use summary::summary;

/// Independent accumulator chains in the peak loop (FMA latency 4 × 2 ports = 8 needed).
const CHAINS: usize = 12;
/// The paper's dense shapes, (n_in, n_out).
const SHAPES: [(usize, usize); 5] = [(784, 200), (200, 784), (200, 200), (784, 100), (100, 1)];
const BATCHES: [usize; 2] = [24, 1];

/// The shapes of the dense benchmarks: [`SHAPES`], or `KERNELS_SHAPES=784x200,16x200`.
fn shapes() -> Vec<(usize, usize)> {
    match std::env::var("KERNELS_SHAPES") {
        Ok(v) => v
            .split(',')
            .filter_map(|s| {
                let (a, b) = s.trim().split_once('x')?;
                Some((a.parse().ok()?, b.parse().ok()?))
            })
            .collect(),
        Err(_) => SHAPES.to_vec(),
    }
}

/// The batch sizes of the dense benchmarks: [`BATCHES`], or `KERNELS_BATCHES=8,24,128`.
fn batches() -> Vec<usize> {
    match std::env::var("KERNELS_BATCHES") {
        Ok(v) => v.split(',').filter_map(|b| b.trim().parse().ok()).collect(),
        Err(_) => BATCHES.to_vec(),
    }
}
/// Densities (fraction of ones) of the binary benchmarks, in percent.
const DENSITIES: [usize; 6] = [5, 13, 25, 38, 50, 75];

fn main() {
    let mut c = Criterion::default().configure_from_args();
    peak(&mut c);
    dense(&mut c);
    binary_kernels(&mut c);
    c.final_summary();
    summary();
}
