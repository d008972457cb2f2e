//! The one harness of the kernels: each family of [`super::simd`] (a file of `simd/`) against
//! its scalar reference in [`super::scalar`], on shapes around every vector and tile width.

extern crate std;
use std::vec;
use std::vec::Vec;

use super::{scalar, simd};

fn fill(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
        })
        .collect()
}

/// Ragged sizes around every vector and tile width (4, 8, 16, 48) and the paper's 100.
const DIMS: [usize; 15] = [1, 2, 3, 4, 5, 8, 9, 12, 16, 17, 20, 33, 49, 61, 100];
const ROWS: [usize; 10] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
/// Summation order differs (and FMA may fuse): allow a few ulp of Σ|terms|.
const REL: f32 = 4e-6;

fn close(a: &[f32], b: &[f32], scale: &[f32]) {
    for ((x, y), s) in a.iter().zip(b).zip(scale) {
        assert!((x - y).abs() <= REL * (s + 1.0), "{x} vs {y} (scale {s})");
    }
}

/// Σ|terms| per output, from the scalar kernel on absolute values.
fn abs_of(v: &[f32]) -> Vec<f32> {
    v.iter().map(|x| x.abs()).collect()
}

/// Runs `check(n_in, n_out, rows, seed)` on every shape of the harness: `DIMS × DIMS × ROWS`
/// (lengths that are and are not multiples of 8 and 16 lanes, whole and partial tiles), then the
/// paper's layer shapes at batches of 1, 24 and 27 rows.
fn each_shape(check: impl Fn(usize, usize, usize, u64)) {
    let mut seed = 1;
    for &n_in in &DIMS {
        for &n_out in &DIMS {
            for &rows in &ROWS {
                seed += 1;
                check(n_in, n_out, rows, seed);
            }
        }
    }
    for (k, &(n_in, n_out)) in [(784, 200), (200, 784), (200, 200), (784, 100), (100, 1), (1, 100)].iter().enumerate() {
        for rows in [1, 24, 27] {
            check(n_in, n_out, rows, 7000 + k as u64);
        }
    }
}

// `simd/matmul.rs`: y += x·W.

fn check_matmul(n_in: usize, n_out: usize, rows: usize, seed: u64) {
    let x = fill(rows * n_in, seed);
    let w = fill(n_in * n_out, seed + 100);
    let y0 = fill(rows * n_out, seed + 200);
    let (mut ys, mut yv, mut scale) = (y0.clone(), y0.clone(), abs_of(&y0));
    scalar::matmul_acc(&x, &w, &mut ys, n_in, n_out);
    simd::matmul_acc(&x, &w, &mut yv, n_in, n_out);
    scalar::matmul_acc(&abs_of(&x), &abs_of(&w), &mut scale, n_in, n_out);
    close(&ys, &yv, &scale);
}

#[test]
fn matmul_matches_scalar_for_all_shapes_including_ragged_ones() {
    each_shape(check_matmul);
}

// `simd/matmul_t.rs`: dx += dy·Wᵀ.

fn check_matmul_t(n_in: usize, n_out: usize, rows: usize, seed: u64) {
    let w = fill(n_in * n_out, seed + 100);
    let dy = fill(rows * n_out, seed + 200);
    let dx0 = fill(rows * n_in, seed + 300);
    let (mut ds, mut dv, mut scale) = (dx0.clone(), dx0.clone(), abs_of(&dx0));
    scalar::matmul_t_acc(&dy, &w, &mut ds, n_in, n_out);
    simd::matmul_t_acc(&dy, &w, &mut dv, n_in, n_out);
    scalar::matmul_t_acc(&abs_of(&dy), &abs_of(&w), &mut scale, n_in, n_out);
    close(&ds, &dv, &scale);
}

#[test]
fn matmul_t_matches_scalar_for_all_shapes_including_ragged_ones() {
    each_shape(check_matmul_t);
}

// `simd/outer.rs`: dW (+)= xᵀ·dy.

fn check_outer(n_in: usize, n_out: usize, rows: usize, seed: u64) {
    let x = fill(rows * n_in, seed);
    let w = fill(n_in * n_out, seed + 100);
    let dy = fill(rows * n_out, seed + 200);
    let aw = abs_of(&w);
    let (mut gs, mut gv, mut scale) = (w.clone(), w.clone(), aw.clone());
    scalar::outer_acc(&x, &dy, &mut gs, n_in, n_out);
    simd::outer_acc(&x, &dy, &mut gv, n_in, n_out);
    scalar::outer_acc(&abs_of(&x), &abs_of(&dy), &mut scale, n_in, n_out);
    close(&gs, &gv, &scale);

    // The overwriting form: exactly `outer_acc` into zeros, whatever dW held (NaN here).
    let (mut zeroed, mut set, mut set_scalar) =
        (vec![0.0; n_in * n_out], vec![f32::NAN; n_in * n_out], vec![f32::NAN; n_in * n_out]);
    simd::outer_acc(&x, &dy, &mut zeroed, n_in, n_out);
    simd::outer(&x, &dy, &mut set, n_in, n_out);
    scalar::outer(&x, &dy, &mut set_scalar, n_in, n_out);
    assert_eq!(set, zeroed, "outer {n_in}x{n_out}, {rows} rows");
    close(&gs.iter().zip(&w).map(|(g, w)| g - w).collect::<Vec<_>>(), &set_scalar, &scale);
}

#[test]
fn outer_matches_scalar_for_all_shapes_including_ragged_ones() {
    each_shape(check_outer);
}

// All three dense families: the length contract of `scalar.rs`.

#[test]
fn kernels_ignore_extra_elements_and_leave_the_rest_untouched() {
    // Two rows of work; the buffers hold more than that and must keep their tails.
    let (n_in, n_out) = (5, 20);
    let x = fill(2 * n_in + 3, 1);
    let w = fill(n_in * n_out + 7, 2);
    let mut y = fill(2 * n_out + 1, 3);
    let tail = y[2 * n_out];
    simd::matmul_acc(&x, &w, &mut y, n_in, n_out);
    assert_eq!(y[2 * n_out], tail);
    let mut dx = fill(2 * n_in + 1, 4);
    let tail = dx[2 * n_in];
    simd::matmul_t_acc(&y[..2 * n_out], &w, &mut dx, n_in, n_out);
    assert_eq!(dx[2 * n_in], tail);
    let mut dw = fill(n_in * n_out + 5, 5);
    let tail = dw[n_in * n_out..].to_vec();
    simd::outer_acc(&x[..2 * n_in], &y[..2 * n_out], &mut dw, n_in, n_out);
    assert_eq!(&dw[n_in * n_out..], &tail[..]);
}

// `simd/binary.rs`: the kernels for 0/1 inputs and the active-index lists they take.

/// 0/1 values with the given probability of a one.
fn binary(len: usize, density: f32, seed: u64) -> Vec<f32> {
    fill(len, seed).into_iter().map(|v| f32::from(v * 0.25 + 0.5 < density)).collect()
}

fn check_binary(n_in: usize, n_out: usize, rows: usize, density: f32, seed: u64) {
    let x = binary(rows * n_in, density, seed);
    let w = fill(n_in * n_out, seed + 100);
    let y0 = fill(rows * n_out, seed + 200);
    let (mut idx, mut counts) = (vec![0u16; rows * n_in], vec![0u16; rows]);
    let total = super::active_indices(&x, n_in, &mut idx, &mut counts).unwrap();
    assert_eq!(total, x.iter().filter(|&&v| v == 1.0).count());
    for r in 0..rows {
        let act = &idx[r * n_in..r * n_in + usize::from(counts[r])];
        let expect: Vec<u16> = (0..n_in as u16).filter(|&i| x[r * n_in + usize::from(i)] == 1.0).collect();
        assert_eq!(act, &expect[..]);
    }
    let aw = abs_of(&w);

    let (mut yd, mut yb, mut ys, mut scale) = (y0.clone(), y0.clone(), y0.clone(), abs_of(&y0));
    simd::matmul_acc(&x, &w, &mut yd, n_in, n_out);
    simd::matmul_acc_binary(&idx, &counts, &w, &mut yb, n_in, n_out);
    scalar::matmul_acc_binary(&idx, &counts, &w, &mut ys, n_in, n_out);
    scalar::matmul_acc(&x, &aw, &mut scale, n_in, n_out);
    close(&yd, &yb, &scale);
    close(&yd, &ys, &scale);

    let (mut gd, mut gb, mut gs, mut scale) = (w.clone(), w.clone(), w.clone(), aw.clone());
    simd::outer_acc(&x, &y0, &mut gd, n_in, n_out);
    simd::outer_acc_binary(&idx, &counts, &y0, &mut gb, n_in, n_out);
    scalar::outer_acc_binary(&idx, &counts, &y0, &mut gs, n_in, n_out);
    scalar::outer_acc(&x, &abs_of(&y0), &mut scale, n_in, n_out);
    close(&gd, &gb, &scale);
    close(&gd, &gs, &scale);

    // Input by input, with a centre and a scale: bit for bit the row-by-row kernel on the
    // scaled rows followed by the centre pass, on the SIMD and the scalar path, including
    // rows listed past the end of `dy` (ignored).
    let (center, s) = (fill(n_in, seed + 300), 2.0);
    let center: Vec<f32> = center.iter().enumerate().map(|(i, &c)| if i % 3 == 0 { 0.0 } else { c }).collect();
    let (mut rows_of, mut counts_of) = (vec![0u16; n_in * (rows + 1)], vec![0u16; n_in]);
    super::active_rows(&idx, &counts, n_in, rows + 1, &mut rows_of, &mut counts_of);
    let used = rows.saturating_sub(1);
    let dy: Vec<f32> = y0[..used * n_out].iter().map(|v| s * v).collect();
    let mut sum = vec![0.0f32; n_out];
    for r in 0..used {
        for (t, v) in sum.iter_mut().zip(&y0[r * n_out..][..n_out]) {
            *t += v;
        }
    }
    let mut want = w.clone();
    simd::outer_acc_binary(&idx, &counts[..used], &dy, &mut want, n_in, n_out);
    for (i, row) in want.chunks_exact_mut(n_out.max(1)).enumerate().take(n_in) {
        let f = -s * center[i];
        if f != 0.0 {
            for (g, &t) in row.iter_mut().zip(&sum) {
                *g += f * t;
            }
        }
    }
    let (mut ga, mut gsa) = (w.clone(), w.clone());
    let y_used = &y0[..used * n_out];
    let bin = super::BinaryRows {
        idx: &idx,
        counts: &counts,
        rows_of: &rows_of,
        counts_of: &counts_of,
        stride: rows + 1,
        center: &center,
        scale: s,
    };
    simd::outer_acc_binary_affine(&bin, y_used, &sum, &mut ga, n_in, n_out);
    scalar::outer_acc_binary_affine(&bin, y_used, &sum, &mut gsa, n_in, n_out);
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&ga), bits(&want), "outer_acc_binary_affine {n_in}x{n_out}, {rows} rows");
    assert_eq!(bits(&gsa), bits(&want), "scalar outer_acc_binary_affine {n_in}x{n_out}, {rows} rows");

    // The overwriting form: the accumulating one into zeros (equal values; only a zero's
    // sign may differ), whatever dW held (NaN here).
    let (mut zeroed, mut set, mut set_scalar) =
        (vec![0.0; n_in * n_out], vec![f32::NAN; n_in * n_out], vec![f32::NAN; n_in * n_out]);
    simd::outer_acc_binary_affine(&bin, y_used, &sum, &mut zeroed, n_in, n_out);
    simd::outer_binary_affine(&bin, y_used, &sum, &mut set, n_in, n_out);
    scalar::outer_binary_affine(&bin, y_used, &sum, &mut set_scalar, n_in, n_out);
    assert_eq!(set, zeroed, "outer_binary_affine {n_in}x{n_out}, {rows} rows");
    assert_eq!(set_scalar, zeroed, "scalar outer_binary_affine {n_in}x{n_out}, {rows} rows");
}

#[test]
fn binary_kernels_match_the_dense_ones_on_random_binary_inputs() {
    let mut seed = 1;
    for &n_in in &DIMS {
        for &n_out in &DIMS {
            for &rows in &ROWS {
                for density in [0.0, 0.13, 0.5, 1.0] {
                    seed += 1;
                    check_binary(n_in, n_out, rows, density, seed);
                }
            }
        }
    }
    check_binary(784, 200, 24, 0.13, 9001);
    check_binary(200, 784, 24, 0.5, 9002);
}

#[test]
fn active_indices_rejects_non_binary_values() {
    let (mut idx, mut counts) = ([0u16; 6], [0u16; 2]);
    assert_eq!(super::active_indices(&[0.0, 1.0, 1.0, 1.0, 0.0, 0.0], 3, &mut idx, &mut counts), Some(3));
    assert_eq!(counts, [2, 1]);
    assert_eq!((&idx[..2], idx[3]), (&[1, 2][..], 0));
    assert_eq!(super::active_indices(&[0.0, 1.0, 0.5, 1.0, 0.0, 0.0], 3, &mut idx, &mut counts), None);
    assert_eq!(super::active_indices(&[0.0, 1.0, 0.0, 1.0, f32::NAN, 0.0], 3, &mut idx, &mut counts), None);
}

#[test]
fn scalar_kernels_match_hand_computed_values() {
    // x = [[1, 2]], W = [[1, 2, 3], [4, 5, 6]] (input-major): y = [9, 12, 15].
    let x = [1.0, 2.0];
    let w = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let mut y = [0.0; 3];
    scalar::matmul_acc(&x, &w, &mut y, 2, 3);
    assert_eq!(y, [9.0, 12.0, 15.0]);
    // dx = dy·Wᵀ with dy = [1, 0, -1]: [1 − 3, 4 − 6] = [−2, −2].
    let mut dx = [0.0; 2];
    scalar::matmul_t_acc(&[1.0, 0.0, -1.0], &w, &mut dx, 2, 3);
    assert_eq!(dx, [-2.0, -2.0]);
    // dW = xᵀ·dy.
    let mut dw = [0.0; 6];
    scalar::outer_acc(&x, &[1.0, 0.0, -1.0], &mut dw, 2, 3);
    assert_eq!(dw, [1.0, 0.0, -1.0, 2.0, 0.0, -2.0]);
}
