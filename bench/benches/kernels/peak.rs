//! The FMA peak: a register-only loop of independent `mul_add` chains.

use criterion::Criterion;
use std::hint::black_box;
use std::time::Instant;
use wide::{f32x8, f32x16};

use super::CHAINS;
use super::harness::run;

macro_rules! peak_loop {
    ($v:ty, $iters:expr) => {{
        let a = black_box(<$v>::splat(0.999_999));
        let b = black_box(<$v>::splat(1e-7));
        let mut acc: [$v; CHAINS] = core::array::from_fn(|j| black_box(<$v>::splat(j as f32)));
        for _ in 0..black_box($iters) {
            for x in &mut acc {
                *x = x.mul_add(a, b);
            }
        }
        black_box(acc);
    }};
}

/// The FMA peak now: the best of 100 short runs (≈ 3 µs each) of the peak loop on both lane
/// types. The machine's speed drifts when it is shared; a kernel's fraction of this peak,
/// measured next to it, is steadier than its fraction of the run's overall peak.
pub(super) fn local_peak() -> f64 {
    const STEPS: usize = 1000;
    let mut best: f64 = 0.0;
    for _ in 0..50 {
        let t = Instant::now();
        peak_loop!(f32x16, STEPS);
        best = best.max((STEPS * CHAINS * 16 * 2) as f64 / t.elapsed().as_secs_f64());
        let t = Instant::now();
        peak_loop!(f32x8, STEPS);
        best = best.max((STEPS * CHAINS * 8 * 2) as f64 / t.elapsed().as_secs_f64());
    }
    best
}

/// The peak: [`CHAINS`] independent `mul_add` chains, 1000 steps per call.
pub(super) fn peak(c: &mut Criterion) {
    const STEPS: usize = 1000;
    run(c, "peak", "f32x16", (STEPS * CHAINS * 16 * 2) as f64, || peak_loop!(f32x16, STEPS));
    run(c, "peak", "f32x8", (STEPS * CHAINS * 8 * 2) as f64, || peak_loop!(f32x8, STEPS));
}
