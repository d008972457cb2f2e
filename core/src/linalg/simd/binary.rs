//! Kernels for 0/1 inputs given as lists of active indices (see the parent module's "Binary
//! inputs" for when they pay off): the forward pass [`matmul_acc_binary`] and the weight
//! gradients [`outer_acc_binary`] (row by row) and [`outer_acc_binary_affine`] /
//! [`outer_binary_affine`] (input by input, for centred and scaled inputs), and [`active_row`],
//! the scan that builds the lists.

use super::tiles::BIN_VECS;
use super::{N, V, load, store, tile_load, tile_store};
use crate::linalg::BinaryRows;

/// A binary kernel's work for [`crate::ops`]: one weight row added per active input.
#[inline(always)]
fn count_binary(counts: &[u16], n_in: usize, n_out: usize) {
    if crate::ops::ENABLED {
        let active: usize = counts.iter().map(|&c| usize::from(c)).sum();
        crate::ops::count(active * n_out, counts.len() * n_in * n_out);
    }
}

/// y += x · W for binary `x` given as active indices: `y[r] += Σ_{j < counts[r]} W[idx[r·n_in + j]]`.
///
/// `idx` holds each row's active (one-valued) inputs at a stride of `n_in` (row `r` in
/// `idx[r·n_in..r·n_in + counts[r]]`, any order, as [`crate::linalg::active_indices`] writes them);
/// `rows = min(counts.len(), y.len() / n_out)`. Panics if an index is `≥ n_in`.
pub fn matmul_acc_binary(idx: &[u16], counts: &[u16], w: &[f32], y: &mut [f32], n_in: usize, n_out: usize) {
    let rows = counts.len().min(y.len() / n_out.max(1));
    count_binary(&counts[..rows], n_in, n_out);
    if rows == 0 || n_out == 0 {
        return;
    }
    let w = &w[..n_in * n_out];
    for (r, (&cnt, yr)) in counts.iter().zip(y.chunks_exact_mut(n_out)).take(rows).enumerate() {
        let act = &idx[r * n_in..][..usize::from(cnt)];
        let mut c = 0;
        while c + BIN_VECS * N <= n_out {
            bin_add_tile::<BIN_VECS, N>(act, w, yr, n_out, c);
            c += BIN_VECS * N;
        }
        while c + N <= n_out {
            bin_add_tile::<1, N>(act, w, yr, n_out, c);
            c += N;
        }
        if N > 8 && c + 8 <= n_out {
            bin_add_tile::<1, 8>(act, w, yr, n_out, c);
            c += 8;
        }
        if c + 4 <= n_out {
            bin_add_tile::<1, 4>(act, w, yr, n_out, c);
            c += 4;
        }
        for (o, yo) in yr.iter_mut().enumerate().skip(c) {
            *yo += act.iter().map(|&i| w[usize::from(i) * n_out + o]).sum::<f32>();
        }
    }
}

/// `y[c..c + width] += Σ_{i ∈ act} W[i][c..c + width]`, two independent partial sums.
#[inline(always)]
fn bin_add_tile<const NR: usize, const K: usize>(act: &[u16], w: &[f32], y: &mut [f32], n_out: usize, c: usize) {
    let width = (NR - 1) * N + K;
    let y = &mut y[c..][..width];
    let mut a0: [V; NR] = core::array::from_fn(|j| tile_load::<NR, K>(y, j));
    let mut a1 = [V::ZERO; NR];
    let row = |i: u16| -> &[f32] { &w[usize::from(i) * n_out + c..][..width] };
    let mut pairs = act.chunks_exact(2);
    for p in &mut pairs {
        let (r0, r1) = (row(p[0]), row(p[1]));
        for j in 0..NR {
            a0[j] += tile_load::<NR, K>(r0, j);
            a1[j] += tile_load::<NR, K>(r1, j);
        }
    }
    if let [i] = *pairs.remainder() {
        let r0 = row(i);
        for j in 0..NR {
            a0[j] += tile_load::<NR, K>(r0, j);
        }
    }
    for j in 0..NR {
        tile_store::<NR, K>(y, j, a0[j] + a1[j]);
    }
}

/// The active indices of one 0/1 row (see [`crate::linalg::active_indices`]): writes the `i` with
/// `x[i] == 1` to the front of `idx` (which must be at least as long as `x`), returns their
/// number and whether every value was 0 or 1. A vector of `x` at a time: two compares to
/// bitmasks, then one write per set bit.
pub(in crate::linalg) fn active_row(x: &[f32], idx: &mut [u16]) -> (usize, bool) {
    let idx = &mut idx[..x.len()];
    let mut k = 0;
    let mut binary = true;
    let mut chunks = x.chunks_exact(N);
    for (q, c) in (&mut chunks).enumerate() {
        let v = load::<N>(c);
        let mut ones = v.simd_eq(V::ONE).to_bitmask();
        let zeros = v.simd_eq(V::ZERO).to_bitmask();
        binary &= (ones | zeros).count_ones() as usize == N;
        while ones != 0 {
            // k ≤ (index of this one) < x.len(): in bounds.
            if let Some(slot) = idx.get_mut(k) {
                *slot = (q * N) as u16 + ones.trailing_zeros() as u16;
            }
            k += 1;
            ones &= ones - 1;
        }
    }
    let base = x.len() - chunks.remainder().len();
    for (j, &v) in chunks.remainder().iter().enumerate() {
        if v == 1.0 {
            idx[k] = (base + j) as u16;
            k += 1;
        }
        binary &= v == 0.0 || v == 1.0;
    }
    (k, binary)
}

/// The weight gradient of a map whose input rows are `bin.scale·(b_r − bin.center)` with binary
/// `b_r`: `dW[i] += Σ_{r : b_ri = 1} scale·dy[r] − scale·center[i]·dy_sum` with
/// `dy_sum = Σ_r dy[r]` (the last term skipped where `center[i] = 0`).
///
/// Input by input, with the rows of each input from [`crate::linalg::active_rows`] (`bin.rows_of`,
/// `bin.counts_of`, `bin.stride`; rows past `dy.len() / n_out` are ignored; `bin.idx` and
/// `bin.counts` are not read): each weight row is read
/// and written once, its part of `dy` summed in registers, where the row-by-row
/// [`outer_acc_binary`] updates a weight row once per active row and then needs another pass
/// over all of `dW` for the centre. Each element gets exactly the same additions in the same
/// order as that pair (the rows in increasing order, then the centre term), so the two give
/// identical results.
pub fn outer_acc_binary_affine(
    bin: &BinaryRows<'_>,
    dy: &[f32],
    dy_sum: &[f32],
    dw: &mut [f32],
    n_in: usize,
    n_out: usize,
) {
    binary_affine_into::<false>(bin, dy, dy_sum, dw, n_in, n_out);
}

/// [`outer_acc_binary_affine`] into a zeroed dW (the same values; a zero may differ in sign),
/// without the zeroing pass and without reading dW — the first contribution to a gradient.
pub fn outer_binary_affine(
    bin: &BinaryRows<'_>,
    dy: &[f32],
    dy_sum: &[f32],
    dw: &mut [f32],
    n_in: usize,
    n_out: usize,
) {
    binary_affine_into::<true>(bin, dy, dy_sum, dw, n_in, n_out);
}

/// [`outer_acc_binary_affine`] (`SET` false) or [`outer_binary_affine`] (`SET` true).
fn binary_affine_into<const SET: bool>(
    bin: &BinaryRows<'_>,
    dy: &[f32],
    dy_sum: &[f32],
    dw: &mut [f32],
    n_in: usize,
    n_out: usize,
) {
    let (rows_of, counts_of, stride, center, scale) = (bin.rows_of, bin.counts_of, bin.stride, bin.center, bin.scale);
    let rows = dy.len() / n_out.max(1);
    if crate::ops::ENABLED {
        let active: usize = counts_of[..n_in].iter().map(|&c| usize::from(c)).sum();
        crate::ops::count(active * n_out, rows * n_in * n_out);
    }
    if n_out == 0 {
        return;
    }
    let (dy, dy_sum) = (&dy[..rows * n_out], &dy_sum[..n_out]);
    for (i, d) in dw[..n_in * n_out].chunks_exact_mut(n_out).enumerate() {
        let act = &rows_of[i * stride..][..usize::from(counts_of[i])];
        // Rows are increasing: those past the batch are at the end.
        let act = &act[..act.partition_point(|&r| usize::from(r) < rows)];
        let f = -scale * center[i];
        let mut c = 0;
        // Wide tiles first: the rows of `act` are walked once per tile.
        while c + 3 * BIN_VECS * N <= n_out {
            affine_tile::<{ 3 * BIN_VECS }, N, SET>(act, dy, dy_sum, scale, f, d, n_out, c);
            c += 3 * BIN_VECS * N;
        }
        while c + BIN_VECS * N <= n_out {
            affine_tile::<BIN_VECS, N, SET>(act, dy, dy_sum, scale, f, d, n_out, c);
            c += BIN_VECS * N;
        }
        while c + N <= n_out {
            affine_tile::<1, N, SET>(act, dy, dy_sum, scale, f, d, n_out, c);
            c += N;
        }
        if N > 8 && c + 8 <= n_out {
            affine_tile::<1, 8, SET>(act, dy, dy_sum, scale, f, d, n_out, c);
            c += 8;
        }
        if c + 4 <= n_out {
            affine_tile::<1, 4, SET>(act, dy, dy_sum, scale, f, d, n_out, c);
            c += 4;
        }
        for (o, v) in d.iter_mut().enumerate().skip(c) {
            if SET {
                *v = 0.0;
            }
            for &r in act {
                *v += scale * dy[usize::from(r) * n_out + o];
            }
            if f != 0.0 {
                *v += f * dy_sum[o];
            }
        }
    }
}

/// Columns `c..c + width` of one weight row of [`binary_affine_into`], in registers (starting
/// from zero if `SET`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn affine_tile<const NR: usize, const K: usize, const SET: bool>(
    act: &[u16],
    dy: &[f32],
    dy_sum: &[f32],
    scale: f32,
    f: f32,
    d: &mut [f32],
    n_out: usize,
    c: usize,
) {
    let width = (NR - 1) * N + K;
    let d = &mut d[c..][..width];
    let mut acc: [V; NR] = core::array::from_fn(|j| if SET { V::ZERO } else { tile_load::<NR, K>(d, j) });
    let sv = V::splat(scale);
    for &r in act {
        let row = &dy[usize::from(r) * n_out + c..][..width];
        for (j, a) in acc.iter_mut().enumerate() {
            *a += sv * tile_load::<NR, K>(row, j);
        }
    }
    if f != 0.0 {
        let (fv, sum) = (V::splat(f), &dy_sum[c..][..width]);
        for (j, a) in acc.iter_mut().enumerate() {
            *a += fv * tile_load::<NR, K>(sum, j);
        }
    }
    for (j, a) in acc.into_iter().enumerate() {
        tile_store::<NR, K>(d, j, a);
    }
}

/// dW += xᵀ · dy for binary `x` given as active indices: `dW[i] += Σ_{r : i active in r} dy[r]`.
///
/// Index layout as in [`matmul_acc_binary`]; `rows = min(counts.len(), dy.len() / n_out)`.
/// Panics if an index is `≥ n_in`.
pub fn outer_acc_binary(idx: &[u16], counts: &[u16], dy: &[f32], dw: &mut [f32], n_in: usize, n_out: usize) {
    let rows = counts.len().min(dy.len() / n_out.max(1));
    count_binary(&counts[..rows], n_in, n_out);
    if rows == 0 || n_out == 0 {
        return;
    }
    let dw = &mut dw[..n_in * n_out];
    if n_out == 1 {
        for (r, (&cnt, &g)) in counts.iter().zip(dy).take(rows).enumerate() {
            for &i in &idx[r * n_in..][..usize::from(cnt)] {
                dw[usize::from(i)] += g;
            }
        }
        return;
    }
    if n_out < N {
        // Narrow rows: plain scalar adds.
        for (r, (&cnt, dyr)) in counts.iter().zip(dy.chunks_exact(n_out)).take(rows).enumerate() {
            for &i in &idx[r * n_in..][..usize::from(cnt)] {
                for (d, &g) in dw[usize::from(i) * n_out..][..n_out].iter_mut().zip(dyr) {
                    *d += g;
                }
            }
        }
        return;
    }
    for (r, (&cnt, dyr)) in counts.iter().zip(dy.chunks_exact(n_out)).take(rows).enumerate() {
        let act = &idx[r * n_in..][..usize::from(cnt)];
        for &i in act {
            let d = &mut dw[usize::from(i) * n_out..][..n_out];
            let mut dc = d.chunks_exact_mut(N);
            let mut gc = dyr.chunks_exact(N);
            for (dv, gv) in (&mut dc).zip(&mut gc) {
                store::<N>(dv, load::<N>(dv) + load::<N>(gv));
            }
            for (dv, &g) in dc.into_remainder().iter_mut().zip(gc.remainder()) {
                *dv += g;
            }
        }
    }
}
