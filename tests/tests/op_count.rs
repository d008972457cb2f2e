//! `rebar_core::ops`: every kernel adds exactly its multiply-adds, once (kernels that delegate to
//! another are not counted twice), and the binary kernels count the active rows they add against
//! the dense equivalent. Alone in its test binary: the counters are process-wide.

use rebar_core::linalg::simd as k;
use rebar_core::ops::{self, OpCount};

/// The counters' change over `f`, as (done, dense).
fn counted(f: impl FnOnce()) -> (usize, usize) {
    let before = ops::read();
    f();
    let OpCount { multiply_adds, dense_multiply_adds } = ops::read().since(before);
    (multiply_adds, dense_multiply_adds)
}

#[test]
fn kernels_count_their_multiply_adds() {
    const { assert!(ops::ENABLED, "this test crate enables count-ops") };
    let (n_in, n_out, rows) = (10, 7, 3);
    let x = vec![0.5f32; rows * n_in];
    let w = vec![0.25f32; n_in * n_out];
    let dy = vec![1.0f32; rows * n_out];
    let dense = rows * n_in * n_out;
    let (mut y, mut dx, mut dw) = (vec![0.0f32; rows * n_out], vec![0.0f32; rows * n_in], vec![0.0f32; n_in * n_out]);
    assert_eq!(counted(|| k::matmul_acc(&x, &w, &mut y, n_in, n_out)), (dense, dense));
    assert_eq!(counted(|| k::matmul_t_acc(&dy, &w, &mut dx, n_in, n_out)), (dense, dense));
    assert_eq!(counted(|| k::outer_acc(&x, &dy, &mut dw, n_in, n_out)), (dense, dense));
    // One output: matmul_t_acc and outer_acc hand over to matmul_acc, counted once.
    let (dy1, mut dw1) = (vec![1.0f32; rows], vec![0.0f32; n_in]);
    assert_eq!(counted(|| k::matmul_t_acc(&dy1, &w[..n_in], &mut dx, n_in, 1)), (rows * n_in, rows * n_in));
    assert_eq!(counted(|| k::outer_acc(&x, &dy1, &mut dw1, n_in, 1)), (rows * n_in, rows * n_in));

    // Binary rows with 2, 0 and 5 active inputs: 7 weight rows of n_out added.
    let mut bits = vec![0.0f32; rows * n_in];
    for i in [1, 4, 2 * n_in, 2 * n_in + 3, 2 * n_in + 5, 2 * n_in + 8, 2 * n_in + 9] {
        bits[i] = 1.0;
    }
    let (mut idx, mut counts) = (vec![0u16; rows * n_in], vec![0u16; rows]);
    assert_eq!(rebar_core::linalg::active_indices(&bits, n_in, &mut idx, &mut counts), Some(7));
    assert_eq!(counted(|| k::matmul_acc_binary(&idx, &counts, &w, &mut y, n_in, n_out)), (7 * n_out, dense));
    assert_eq!(counted(|| k::outer_acc_binary(&idx, &counts, &dy, &mut dw, n_in, n_out)), (7 * n_out, dense));
}
