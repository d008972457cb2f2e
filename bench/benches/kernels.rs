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
//!   file, [`baseline`]), so that before/after come from the same run.
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

use criterion::{BenchmarkId, Criterion, Throughput};
use rebar_core::linalg::{self, scalar, simd};
use std::cell::RefCell;
use std::hint::black_box;
use std::time::{Duration, Instant};
use wide::{f32x8, f32x16};

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

/// One finished benchmark: name, flops per call, median and best seconds per call.
struct Row {
    name: String,
    flops: f64,
    median: f64,
    best: f64,
    /// The FMA peak (flop/s) measured right after this benchmark, see [`local_peak`].
    local_peak: f64,
}

thread_local! {
    static ROWS: RefCell<Vec<Row>> = const { RefCell::new(Vec::new()) };
    /// (iterations, elapsed) of every call criterion made to the current routine.
    static SAMPLES: RefCell<Vec<(u64, Duration)>> = const { RefCell::new(Vec::new()) };
}

fn quick() -> bool {
    std::env::var_os("KERNELS_QUICK").is_some()
}

fn sample_size() -> usize {
    if quick() { 10 } else { 20 }
}

/// Benchmarks `f` as `group/name`, with `flops` per call, and records its median and best time.
fn run(c: &mut Criterion, group: &str, name: &str, flops: f64, mut f: impl FnMut()) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(flops as u64)).sample_size(sample_size());
    if quick() {
        g.warm_up_time(Duration::from_millis(100)).measurement_time(Duration::from_millis(300));
    } else {
        g.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    }
    SAMPLES.with(|s| s.borrow_mut().clear());
    g.bench_function(BenchmarkId::from_parameter(name), |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            let d = t.elapsed();
            SAMPLES.with(|s| s.borrow_mut().push((iters, d)));
            d
        })
    });
    g.finish();
    // The last `sample_size` calls are the measurement (the earlier ones are the warm-up). When
    // the filter skips this benchmark, nothing was recorded.
    let mut per_call: Vec<f64> = SAMPLES.with(|s| {
        let s = s.borrow();
        s[s.len().saturating_sub(sample_size())..].iter().map(|&(i, d)| d.as_secs_f64() / i.max(1) as f64).collect()
    });
    if per_call.is_empty() {
        return;
    }
    per_call.sort_by(f64::total_cmp);
    let (median, best) = (per_call[per_call.len() / 2], per_call[0]);
    let local_peak = local_peak();
    ROWS.with(|r| r.borrow_mut().push(Row { name: format!("{group}/{name}"), flops, median, best, local_peak }));
}

/// Uniform values in [−1, 1) from a fixed xorshift stream.
fn fill(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// 0/1 values, one with probability `percent`/100.
fn binary(len: usize, percent: usize, seed: u64) -> Vec<f32> {
    fill(len, seed).into_iter().map(|v| f32::from((v * 50.0 + 50.0) < percent as f32)).collect()
}

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
fn local_peak() -> f64 {
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
fn peak(c: &mut Criterion) {
    const STEPS: usize = 1000;
    run(c, "peak", "f32x16", (STEPS * CHAINS * 16 * 2) as f64, || peak_loop!(f32x16, STEPS));
    run(c, "peak", "f32x8", (STEPS * CHAINS * 8 * 2) as f64, || peak_loop!(f32x8, STEPS));
}

type Kernel = fn(&[f32], &[f32], &mut [f32], usize, usize);

/// The three dense kernels of one implementation.
fn kernels(imp: &str) -> [(&'static str, Kernel); 3] {
    match imp {
        "simd" => {
            [("matmul_acc", simd::matmul_acc), ("matmul_t_acc", simd::matmul_t_acc), ("outer_acc", simd::outer_acc)]
        }
        "baseline" => [
            ("matmul_acc", baseline::matmul_acc),
            ("matmul_t_acc", baseline::matmul_t_acc),
            ("outer_acc", baseline::outer_acc),
        ],
        _ => [
            ("matmul_acc", scalar::matmul_acc),
            ("matmul_t_acc", scalar::matmul_t_acc),
            ("outer_acc", scalar::outer_acc),
        ],
    }
}

fn dense(c: &mut Criterion) {
    for imp in ["simd", "baseline", "scalar"] {
        for (name, kernel) in kernels(imp) {
            for (n_in, n_out) in shapes() {
                for rows in batches() {
                    let x = fill(rows * n_in, 1);
                    let w = fill(n_in * n_out, 2);
                    let dy = fill(rows * n_out, 3);
                    let mut y = vec![0.0; rows * n_out];
                    let mut dx = vec![0.0; rows * n_in];
                    let mut dw = vec![0.0; n_in * n_out];
                    let flops = (2 * rows * n_in * n_out) as f64;
                    let (group, id) = (format!("{imp}/{name}"), format!("{n_in}x{n_out}/b{rows}"));
                    match name {
                        "matmul_acc" => run(c, &group, &id, flops, || {
                            kernel(black_box(&x), black_box(&w), black_box(&mut y), n_in, n_out)
                        }),
                        "matmul_t_acc" => run(c, &group, &id, flops, || {
                            kernel(black_box(&dy), black_box(&w), black_box(&mut dx), n_in, n_out)
                        }),
                        _ => run(c, &group, &id, flops, || {
                            kernel(black_box(&x), black_box(&dy), black_box(&mut dw), n_in, n_out)
                        }),
                    }
                }
            }
        }
    }
}

/// The binary kernels at batch 24 over [`DENSITIES`], at dense-equivalent flops, and building
/// the index lists.
fn binary_kernels(c: &mut Criterion) {
    const ROWS: usize = 24;
    for (n_in, n_out) in SHAPES {
        for percent in DENSITIES {
            let x = binary(ROWS * n_in, percent, 4);
            let w = fill(n_in * n_out, 2);
            let dy = fill(ROWS * n_out, 3);
            let (mut idx, mut counts) = (vec![0u16; ROWS * n_in], vec![0u16; ROWS]);
            linalg::active_indices(&x, n_in, &mut idx, &mut counts).unwrap();
            let mut y = vec![0.0; ROWS * n_out];
            let mut dw = vec![0.0; n_in * n_out];
            let flops = (2 * ROWS * n_in * n_out) as f64;
            let id = format!("{n_in}x{n_out}/b{ROWS}/d{percent}");
            run(c, "binary/matmul_acc", &id, flops, || {
                simd::matmul_acc_binary(
                    black_box(&idx),
                    black_box(&counts),
                    black_box(&w),
                    black_box(&mut y),
                    n_in,
                    n_out,
                )
            });
            run(c, "binary/outer_acc", &id, flops, || {
                simd::outer_acc_binary(
                    black_box(&idx),
                    black_box(&counts),
                    black_box(&dy),
                    black_box(&mut dw),
                    n_in,
                    n_out,
                )
            });
            // The weight gradient input by input, with the centre term (as the encoder uses it).
            let (mut rows_of, mut counts_of) = (vec![0u16; n_in * ROWS], vec![0u16; n_in]);
            linalg::active_rows(&idx, &counts, n_in, ROWS, &mut rows_of, &mut counts_of);
            let (center, sum) = (fill(n_in, 5), fill(n_out, 6));
            let bin = linalg::BinaryRows {
                idx: &idx,
                counts: &counts,
                rows_of: &rows_of,
                counts_of: &counts_of,
                stride: ROWS,
                center: &center,
                scale: 1.0,
            };
            run(c, "binary/outer_acc_affine", &id, flops, || {
                simd::outer_acc_binary_affine(
                    black_box(&bin),
                    black_box(&dy),
                    black_box(&sum),
                    black_box(&mut dw),
                    n_in,
                    n_out,
                )
            });
            if n_out == SHAPES[0].1 || n_in == 200 && n_out == 200 {
                run(c, "binary/index", &format!("{n_in}/b{ROWS}/d{percent}"), 0.0, || {
                    black_box(linalg::active_indices(black_box(&x), n_in, &mut idx, &mut counts));
                });
            }
        }
    }
}

fn summary() {
    ROWS.with(|rows| {
        let rows = rows.borrow();
        let peak = rows.iter().filter(|r| r.name.starts_with("peak/")).map(|r| r.flops / r.best).fold(0.0, f64::max);
        println!();
        println!(
            "{:<40} {:>11} {:>11} {:>9} {:>9} {:>8} {:>8}",
            "benchmark", "median", "best", "GFLOP/s", "(median)", "of peak", "(local)"
        );
        for r in rows.iter() {
            let (g, gm) = (r.flops / r.best / 1e9, r.flops / r.median / 1e9);
            let pct = |p: f64| {
                if p > 0.0 && r.flops > 0.0 { format!("{:.1}%", 100.0 * r.flops / r.best / p) } else { "-".into() }
            };
            println!(
                "{:<40} {:>8.2} µs {:>8.2} µs {:>9.2} {:>9.2} {:>8} {:>8}",
                r.name,
                r.median * 1e6,
                r.best * 1e6,
                g,
                gm,
                pct(peak),
                pct(r.local_peak)
            );
        }
        if peak > 0.0 {
            println!("measured single-core FMA peak: {:.1} GFLOP/s", peak / 1e9);
        }
        // Crossover: the lowest density at which a binary kernel is no faster than the dense one.
        let best = |name: &str| rows.iter().find(|r| r.name == name).map(|r| r.best);
        for (kernel, dense) in [("matmul_acc", "simd/matmul_acc"), ("outer_acc", "simd/outer_acc")] {
            for (n_in, n_out) in SHAPES {
                let Some(d) = best(&format!("{dense}/{n_in}x{n_out}/b24")) else { continue };
                let times: Vec<(usize, f64)> = DENSITIES
                    .iter()
                    .filter_map(|&p| best(&format!("binary/{kernel}/{n_in}x{n_out}/b24/d{p}")).map(|t| (p, t)))
                    .collect();
                if times.is_empty() {
                    continue;
                }
                let ratios: Vec<String> = times.iter().map(|&(p, t)| format!("d{p}: {:.2}", d / t)).collect();
                let cross = times.windows(2).find(|w| w[0].1 < d && w[1].1 >= d).map(|w| {
                    let (p0, t0, p1, t1) = (w[0].0 as f64, w[0].1, w[1].0 as f64, w[1].1);
                    p0 + (d - t0) / (t1 - t0) * (p1 - p0)
                });
                let cross = match (cross, times.first(), times.last()) {
                    (Some(p), _, _) => format!("≈ {p:.0}%"),
                    (None, Some(&(p, t)), _) if t >= d => format!("< {p}%"),
                    (None, _, Some(&(p, _))) => format!("> {p}%"),
                    _ => "-".into(),
                };
                println!(
                    "binary {kernel} {n_in}x{n_out} b24: speed-up over dense [{}], crossover {cross}",
                    ratios.join(", ")
                );
            }
        }
    });
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    peak(&mut c);
    dense(&mut c);
    binary_kernels(&mut c);
    c.final_summary();
    summary();
}

/// The kernels as they were before the register-blocking rewrite (`f32x8`, 4 rows × 16
/// columns), kept verbatim as the "before" of the comparison.
mod baseline {
    use rebar_core::math::simd::{load, store};
    use wide::f32x8;
    /// Rows processed together in one register block.
    const ROW_BLOCK: usize = 4;

    /// y += x · W
    pub fn matmul_acc(x: &[f32], w: &[f32], y: &mut [f32], n_in: usize, n_out: usize) {
        let rows = (y.len() / n_out.max(1)).min(x.len() / n_in.max(1));
        let w = &w[..n_in * n_out];
        let mut r = 0;
        while r + ROW_BLOCK <= rows {
            matmul_acc_block::<ROW_BLOCK>(&x[r * n_in..], w, &mut y[r * n_out..], n_in, n_out);
            r += ROW_BLOCK;
        }
        while r < rows {
            matmul_acc_block::<1>(&x[r * n_in..], w, &mut y[r * n_out..], n_in, n_out);
            r += 1;
        }
    }

    #[inline(always)]
    fn matmul_acc_block<const R: usize>(x: &[f32], w: &[f32], y: &mut [f32], n_in: usize, n_out: usize) {
        let x = &x[..R * n_in];
        let y = &mut y[..R * n_out];
        let mut c = 0;
        while c + 16 <= n_out {
            let mut acc0 = [f32x8::ZERO; R];
            let mut acc1 = [f32x8::ZERO; R];
            for r in 0..R {
                acc0[r] = load(&y[r * n_out + c..]);
                acc1[r] = load(&y[r * n_out + c + 8..]);
            }
            for (i, wi) in w.chunks_exact(n_out).enumerate() {
                let w0 = load(&wi[c..]);
                let w1 = load(&wi[c + 8..]);
                for r in 0..R {
                    let xr = f32x8::splat(x[r * n_in + i]);
                    acc0[r] = xr.mul_add(w0, acc0[r]);
                    acc1[r] = xr.mul_add(w1, acc1[r]);
                }
            }
            for r in 0..R {
                store(&mut y[r * n_out + c..], acc0[r]);
                store(&mut y[r * n_out + c + 8..], acc1[r]);
            }
            c += 16;
        }
        if c + 8 <= n_out {
            let mut acc = [f32x8::ZERO; R];
            for r in 0..R {
                acc[r] = load(&y[r * n_out + c..]);
            }
            for (i, wi) in w.chunks_exact(n_out).enumerate() {
                let w0 = load(&wi[c..]);
                for r in 0..R {
                    acc[r] = f32x8::splat(x[r * n_in + i]).mul_add(w0, acc[r]);
                }
            }
            for r in 0..R {
                store(&mut y[r * n_out + c..], acc[r]);
            }
            c += 8;
        }
        if c < n_out {
            for r in 0..R {
                let xr = &x[r * n_in..(r + 1) * n_in];
                let yr = &mut y[r * n_out + c..(r + 1) * n_out];
                for (&xi, wi) in xr.iter().zip(w.chunks_exact(n_out)) {
                    for (yo, &wio) in yr.iter_mut().zip(&wi[c..]) {
                        *yo += xi * wio;
                    }
                }
            }
        }
    }

    /// dx += dy · Wᵀ
    pub fn matmul_t_acc(dy: &[f32], w: &[f32], dx: &mut [f32], n_in: usize, n_out: usize) {
        let rows = (dx.len() / n_in.max(1)).min(dy.len() / n_out.max(1));
        let w = &w[..n_in * n_out];
        let mut r = 0;
        while r + ROW_BLOCK <= rows {
            matmul_t_acc_block::<ROW_BLOCK>(&dy[r * n_out..], w, &mut dx[r * n_in..], n_in, n_out);
            r += ROW_BLOCK;
        }
        while r < rows {
            matmul_t_acc_block::<1>(&dy[r * n_out..], w, &mut dx[r * n_in..], n_in, n_out);
            r += 1;
        }
    }

    #[inline(always)]
    fn matmul_t_acc_block<const R: usize>(dy: &[f32], w: &[f32], dx: &mut [f32], n_in: usize, n_out: usize) {
        let dy = &dy[..R * n_out];
        let dx = &mut dx[..R * n_in];
        let full = n_out / 8 * 8;
        for (i, wi) in w.chunks_exact(n_out).enumerate() {
            let mut acc = [f32x8::ZERO; R];
            let mut c = 0;
            while c < full {
                let wv = load(&wi[c..]);
                for r in 0..R {
                    acc[r] = load(&dy[r * n_out + c..]).mul_add(wv, acc[r]);
                }
                c += 8;
            }
            for r in 0..R {
                let tail: f32 =
                    dy[r * n_out + full..(r + 1) * n_out].iter().zip(&wi[full..]).map(|(&d, &v)| d * v).sum();
                dx[r * n_in + i] += acc[r].reduce_add() + tail;
            }
        }
    }

    /// dW += xᵀ · dy
    pub fn outer_acc(x: &[f32], dy: &[f32], dw: &mut [f32], n_in: usize, n_out: usize) {
        let rows = (x.len() / n_in.max(1)).min(dy.len() / n_out.max(1));
        let x = &x[..rows * n_in];
        let dy = &dy[..rows * n_out];
        let full = n_out / 8 * 8;
        for (i, dwi) in dw.chunks_exact_mut(n_out).take(n_in).enumerate() {
            let mut c = 0;
            while c + 16 <= full {
                let mut a0 = load(&dwi[c..]);
                let mut a1 = load(&dwi[c + 8..]);
                for r in 0..rows {
                    let xr = f32x8::splat(x[r * n_in + i]);
                    a0 = xr.mul_add(load(&dy[r * n_out + c..]), a0);
                    a1 = xr.mul_add(load(&dy[r * n_out + c + 8..]), a1);
                }
                store(&mut dwi[c..], a0);
                store(&mut dwi[c + 8..], a1);
                c += 16;
            }
            if c < full {
                let mut a0 = load(&dwi[c..]);
                for r in 0..rows {
                    a0 = f32x8::splat(x[r * n_in + i]).mul_add(load(&dy[r * n_out + c..]), a0);
                }
                store(&mut dwi[c..], a0);
            }
            for r in 0..rows {
                let xi = x[r * n_in + i];
                for (d, &g) in dwi[full..].iter_mut().zip(&dy[r * n_out + full..(r + 1) * n_out]) {
                    *d += xi * g;
                }
            }
        }
    }
}
