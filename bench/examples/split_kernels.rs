//! How to split a dense kernel over two threads: the linear 1-layer model's decoder shapes at
//! batch 24 (x: 24×200, W: 200×784), each kernel on one thread, then on two threads split by
//! batch rows (what `rebar train --train-threads 2 --shards 2` does: each thread streams the
//! whole W, and a weight gradient needs one whole dW per thread, summed afterwards) or by output
//! columns (each thread streams half of W; this needs W stored as two column blocks, emulated
//! here by two separate 200×392 matrices).
//!
//! `cargo run --release -p rebar-bench --example split_kernels [-- ITERATIONS]`
//!
//! The threads are a two-thread rayon pool, joined once per kernel call, with the measuring loop
//! inside the pool (as `rebar train` runs its loop), so the join overhead is included. Prints
//! microseconds per call, the mean over ITERATIONS calls (default 5,000) after 200 warm-up calls.

use std::hint::black_box;
use std::time::Instant;

use rebar_bench::fill;

use rebar_core::linalg::simd::{matmul_acc, matmul_t_acc, outer_acc};

/// Mean microseconds per call of `f`, printed with `label`.
fn time(label: &str, iterations: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..200 {
        f();
    }
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    let us = start.elapsed().as_secs_f64() / iterations as f64 * 1e6;
    println!("  {label:<62} {us:7.1} µs");
    us
}

fn main() {
    let iterations: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(5000);
    let (rows, n_in, n_out) = (24usize, 200usize, 784usize);
    let (half_rows, half_out) = (rows / 2, n_out / 2);
    let x = fill(rows * n_in, 1);
    let w = fill(n_in * n_out, 2);
    let (w_left, w_right) = (fill(n_in * half_out, 3), fill(n_in * half_out, 4));
    let dy = fill(rows * n_out, 5);
    let (dy_left, dy_right) = (fill(rows * half_out, 6), fill(rows * half_out, 7));
    let mut y = vec![0.0f32; rows * n_out];
    let (mut y_left, mut y_right) = (vec![0.0f32; rows * half_out], vec![0.0f32; rows * half_out]);
    let (mut dw, mut dw_other) = (vec![0.0f32; n_in * n_out], vec![0.0f32; n_in * n_out]);
    let (mut dw_left, mut dw_right) = (vec![0.0f32; n_in * half_out], vec![0.0f32; n_in * half_out]);
    let (mut dx, mut dx_other) = (vec![0.0f32; rows * n_in], vec![0.0f32; rows * n_in]);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("two threads");
    let (xa, xb) = x.split_at(half_rows * n_in);
    let (dya, dyb) = dy.split_at(half_rows * n_out);
    pool.install(|| {
        println!("forward y += x·W ({rows}×{n_in} · {n_in}×{n_out})");
        time("1 thread", iterations, || matmul_acc(&x, &w, &mut y, n_in, n_out));
        time("2 threads, 12 rows each", iterations, || {
            let (ya, yb) = y.split_at_mut(half_rows * n_out);
            rayon::join(|| matmul_acc(xa, &w, ya, n_in, n_out), || matmul_acc(xb, &w, yb, n_in, n_out));
        });
        time("2 threads, 392 columns each", iterations, || {
            rayon::join(
                || matmul_acc(&x, &w_left, &mut y_left, n_in, half_out),
                || matmul_acc(&x, &w_right, &mut y_right, n_in, half_out),
            );
        });
        println!("weight gradient dW += xᵀ·dy");
        time("1 thread", iterations, || outer_acc(&x, &dy, &mut dw, n_in, n_out));
        time("2 threads, 12 rows each into a whole dW each (sum not included)", iterations, || {
            rayon::join(|| outer_acc(xa, dya, &mut dw, n_in, n_out), || outer_acc(xb, dyb, &mut dw_other, n_in, n_out));
        });
        time("2 threads, 392 columns each", iterations, || {
            rayon::join(
                || outer_acc(&x, &dy_left, &mut dw_left, n_in, half_out),
                || outer_acc(&x, &dy_right, &mut dw_right, n_in, half_out),
            );
        });
        println!("input gradient dx += dy·Wᵀ");
        time("1 thread", iterations, || matmul_t_acc(&dy, &w, &mut dx, n_in, n_out));
        time("2 threads, 392 columns each into a dx each (sum not included)", iterations, || {
            rayon::join(
                || matmul_t_acc(&dy_left, &w_left, &mut dx, n_in, half_out),
                || matmul_t_acc(&dy_right, &w_right, &mut dx_other, n_in, half_out),
            );
        });
    });
    let checksum: f32 = [&y, &y_left, &y_right, &dw, &dw_other, &dw_left, &dw_right, &dx, &dx_other]
        .iter()
        .map(|v| v.iter().sum::<f32>())
        .sum();
    black_box(checksum);
}
