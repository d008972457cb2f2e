//! `dW (+)= xᵀ·dy` ([`outer_acc`], and [`outer`] which overwrites): a tile of `MI` weight rows ×
//! `NR` vectors of `dW` (AVX-512: 8 × 3) stays in registers while the batch rows stream past (the
//! loop over rows is innermost), so `dW` is read and written once per call. `n_out == 1` is an
//! axpy per row, [`matmul_acc`] with one row of `rows` inputs.

use super::matmul_acc;
use super::tiles::{OUTER_INPUTS, OUTER_VECS};
use super::{N, V, tile_load, tile_store};

/// dW += xᵀ · dy
pub fn outer_acc(x: &[f32], dy: &[f32], dw: &mut [f32], n_in: usize, n_out: usize) {
    outer_into::<false>(x, dy, dw, n_in, n_out);
}

/// dW = xᵀ · dy: [`outer_acc`] into a zeroed dW (the same values; a zero may differ in sign),
/// without the zeroing pass and without reading dW — the first contribution to a gradient.
pub fn outer(x: &[f32], dy: &[f32], dw: &mut [f32], n_in: usize, n_out: usize) {
    outer_into::<true>(x, dy, dw, n_in, n_out);
}

/// [`outer_acc`] (`SET` false) or [`outer`] (`SET` true).
fn outer_into<const SET: bool>(x: &[f32], dy: &[f32], dw: &mut [f32], n_in: usize, n_out: usize) {
    let rows = (x.len() / n_in.max(1)).min(dy.len() / n_out.max(1));
    if n_out == 1 && n_in > 1 {
        // dw[i] += Σ_r dy[r]·x[r][i]: the forward kernel for one row of `rows` inputs.
        if SET {
            dw[..n_in].fill(0.0);
        }
        return matmul_acc(&dy[..rows], &x[..rows * n_in], &mut dw[..n_in], rows, n_in);
    }
    crate::ops::count(rows * n_in * n_out, rows * n_in * n_out);
    let dw = &mut dw[..n_in * n_out];
    if rows == 0 || n_out == 0 {
        if SET {
            dw.fill(0.0);
        }
        return;
    }
    let x = &x[..rows * n_in];
    let dy = &dy[..rows * n_out];
    row_blocks!(n_in, OUTER_INPUTS, |i, I| outer_rows::<I, SET>(x, dy, &mut dw[i * n_out..], i, n_in, n_out));
}

/// `dW[i..i + MI] (+)= x[.., i..i + MI]ᵀ · dy` over all columns (`=` if `SET`).
#[inline(never)]
fn outer_rows<const MI: usize, const SET: bool>(
    x: &[f32],
    dy: &[f32],
    dw: &mut [f32],
    i: usize,
    n_in: usize,
    n_out: usize,
) {
    let dw = &mut dw[..MI * n_out];
    let c = col_tiles!(n_out, OUTER_VECS, |c, NR, K| outer_tile::<MI, NR, K, SET>(x, dy, dw, i, c, n_in, n_out));
    if c < n_out {
        // At most three columns left.
        if SET {
            for m in 0..MI {
                dw[m * n_out + c..(m + 1) * n_out].fill(0.0);
            }
        }
        for (xr, dyr) in x.chunks_exact(n_in).zip(dy.chunks_exact(n_out)) {
            for (m, &xi) in xr[i..i + MI].iter().enumerate() {
                for (d, &g) in dw[m * n_out + c..(m + 1) * n_out].iter_mut().zip(&dyr[c..]) {
                    *d += xi * g;
                }
            }
        }
    }
}

/// `dW[i..i + MI][c..c + (NR − 1)·N + K] (+)= Σ_rows x[r][i..i + MI]ᵀ · dy[r][same columns]`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn outer_tile<const MI: usize, const NR: usize, const K: usize, const SET: bool>(
    x: &[f32],
    dy: &[f32],
    dw: &mut [f32],
    i: usize,
    c: usize,
    n_in: usize,
    n_out: usize,
) {
    let width = (NR - 1) * N + K;
    let mut acc = [[V::ZERO; NR]; MI];
    for (xr, dyr) in x.chunks_exact(n_in).zip(dy.chunks_exact(n_out)) {
        let xs: &[f32; MI] = xr[i..][..MI].try_into().unwrap();
        let g = &dyr[c..][..width];
        let gv: [V; NR] = core::array::from_fn(|j| tile_load::<NR, K>(g, j));
        for m in 0..MI {
            let b = V::splat(xs[m]);
            for j in 0..NR {
                acc[m][j] = b.mul_add(gv[j], acc[m][j]);
            }
        }
    }
    for m in 0..MI {
        let d = &mut dw[m * n_out + c..][..width];
        for j in 0..NR {
            let s = if SET { acc[m][j] } else { tile_load::<NR, K>(d, j) + acc[m][j] };
            tile_store::<NR, K>(d, j, s);
        }
    }
}
