//! `y += x·W` ([`matmul_acc`]): `MR` rows × `NR` vectors of `y` (AVX-512: 8 × 3) stay in
//! registers while the inputs stream past; each weight vector loaded feeds `MR` multiply-adds and
//! each broadcast input `NR`. The block's inputs are packed input-major (`xt[k][r]`, by 8×8
//! register transposes) so that the inner loop has no bounds checks or address arithmetic.
//! `n_out == 1` is a dot product per row, vectorised along `n_in`.

use super::tiles::{MM_ROWS, MM_VECS};
use super::{N, V, load, tile_load, tile_store};
use crate::math::simd::{load as load_x8, store_partial as store_x8_partial};

/// y += x · W
pub fn matmul_acc(x: &[f32], w: &[f32], y: &mut [f32], n_in: usize, n_out: usize) {
    let rows = (y.len() / n_out.max(1)).min(x.len() / n_in.max(1));
    crate::ops::count(rows * n_in * n_out, rows * n_in * n_out);
    if n_out == 1 && n_in > 1 {
        // One dot product per row: y[r] += x[r]·w.
        let w = &w[..n_in];
        for (xr, yr) in x.chunks_exact(n_in).zip(y.iter_mut()).take(rows) {
            *yr += dot(xr, w);
        }
        return;
    }
    if rows == 0 || n_out == 0 {
        return;
    }
    let w = &w[..n_in * n_out];
    let x = &x[..rows * n_in];
    let y = &mut y[..rows * n_out];
    row_blocks!(rows, MM_ROWS, |r, R| mm_rows::<R, { mm_phases(R) }>(
        &x[r * n_in..],
        w,
        &mut y[r * n_out..],
        n_in,
        n_out
    ));
}

/// `a · b` over the common length: four independent vector accumulators, then the tail.
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [V::ZERO; 4];
    let mut ac = a.chunks_exact(4 * N);
    let mut bc = b.chunks_exact(4 * N);
    for (x, y) in (&mut ac).zip(&mut bc) {
        for (j, s) in acc.iter_mut().enumerate() {
            *s = load::<N>(&x[j * N..]).mul_add(load::<N>(&y[j * N..]), *s);
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    let mut ac = ac.remainder().chunks_exact(N);
    let mut bc = bc.remainder().chunks_exact(N);
    for (x, y) in (&mut ac).zip(&mut bc) {
        s = load::<N>(x).mul_add(load::<N>(y), s);
    }
    s.reduce_add() + ac.remainder().iter().zip(bc.remainder()).map(|(&x, &y)| x * y).sum::<f32>()
}

/// Independent partial sums over the inputs (1, or 2 split by input parity) for blocks of `MR`
/// rows: enough accumulator chains to hide the multiply-add latency.
const fn mm_phases(mr: usize) -> usize {
    if mr >= 4 { 1 } else { 2 }
}

/// Vectors per column tile of [`matmul_acc`] for blocks of `mr` rows: at least two for one or
/// two rows (a one-vector tile would broadcast each input for a single multiply-add).
const fn mm_vecs(mr: usize) -> usize {
    if mr <= 2 && MM_VECS < 2 { 2 } else { MM_VECS }
}

/// Inputs per packed chunk of `x` in [`matmul_acc`].
const MM_KC: usize = 128;

/// `y[..MR] += x[..MR] · W` for one block of rows, over all columns. The block's inputs are
/// packed input-major (`xt[k][r]`), `MM_KC` at a time, so that the inner loop reads them from
/// one pointer with fixed offsets and no bounds checks.
#[inline(never)]
fn mm_rows<const MR: usize, const KU: usize>(x: &[f32], w: &[f32], y: &mut [f32], n_in: usize, n_out: usize) {
    let y = &mut y[..MR * n_out];
    let mut xt = [[0.0f32; MR]; MM_KC];
    let mut k0 = 0;
    while k0 < n_in {
        let kc = MM_KC.min(n_in - k0);
        pack_transposed(&x[k0..], n_in, &mut xt[..kc]);
        let xt = &xt[..kc];
        let w = &w[k0 * n_out..(k0 + kc) * n_out];
        let c = col_tiles!(n_out, mm_vecs(MR), |c, NR, K| mm_tile::<MR, NR, K, KU>(xt, w, y, n_out, c));
        // At most three columns left.
        for o in c..n_out {
            for r in 0..MR {
                let s: f32 = xt.iter().zip(w[o..].iter().step_by(n_out)).map(|(xk, &b)| xk[r] * b).sum();
                y[r * n_out + o] += s;
            }
        }
        k0 += kc;
    }
}

/// `xt[k][r] = x[r·n_in + k]` for `k < xt.len()`, `r < MR`. Blocks of 8 rows × 8 inputs go
/// through an 8×8 register transpose when AVX has one (a scalar copy would store each value
/// separately, a sizeable fraction of the multiply-adds it feeds).
#[inline(always)]
fn pack_transposed<const MR: usize>(x: &[f32], n_in: usize, xt: &mut [[f32; MR]]) {
    let kc = xt.len();
    let mut t = 0;
    // Without AVX `f32x8::transpose` is lane by lane, no faster than the scalar loop. Blocks of
    // fewer than 8 rows transpose with zero rows below them and keep their first `MR` lanes.
    if (4..=8).contains(&MR) && cfg!(target_feature = "avx") {
        use wide::f32x8;
        while t + 8 <= kc {
            let rows: [f32x8; 8] =
                core::array::from_fn(|r| if r < MR { load_x8(&x[r * n_in + t..]) } else { f32x8::ZERO });
            for (dst, col) in xt[t..t + 8].iter_mut().zip(f32x8::transpose(rows)) {
                store_x8_partial(dst, col);
            }
            t += 8;
        }
    }
    for r in 0..MR {
        for (col, &v) in xt[t..].iter_mut().zip(&x[r * n_in + t..r * n_in + kc]) {
            col[r] = v;
        }
    }
}

/// `y[..MR][c..c + (NR − 1)·N + K] += xt[k][..MR] · W[k][same columns]` over the chunk's
/// inputs: `MR × NR` vectors of `y` in registers (the last of each row holding `K` lanes), `KU`
/// independent partial sums (inputs taken `KU` at a time).
#[inline(always)]
fn mm_tile<const MR: usize, const NR: usize, const K: usize, const KU: usize>(
    xt: &[[f32; MR]],
    w: &[f32],
    y: &mut [f32],
    n_out: usize,
    c: usize,
) {
    let width = (NR - 1) * N + K;
    // Two separate accumulator sets (not an array of them: LLVM then keeps them in memory).
    let mut a0 = [[V::ZERO; NR]; MR];
    let mut a1 = [[V::ZERO; NR]; MR];
    let ws = w.chunks_exact(n_out);
    if KU == 2 {
        let mut xs = xt.chunks_exact(2);
        let mut ws = w.chunks_exact(2 * n_out);
        for (xk, wk) in (&mut xs).zip(&mut ws) {
            mm_step::<MR, NR, K>(&xk[0], &wk[c..c + width], &mut a0);
            mm_step::<MR, NR, K>(&xk[1], &wk[n_out + c..n_out + c + width], &mut a1);
        }
        for (xk, wk) in xs.remainder().iter().zip(ws.remainder().chunks_exact(n_out)) {
            mm_step::<MR, NR, K>(xk, &wk[c..c + width], &mut a0);
        }
    } else {
        for (xk, wk) in xt.iter().zip(ws) {
            mm_step::<MR, NR, K>(xk, &wk[c..c + width], &mut a0);
        }
    }
    for r in 0..MR {
        let yr = &mut y[r * n_out + c..][..width];
        for j in 0..NR {
            let mut s = tile_load::<NR, K>(yr, j) + a0[r][j];
            if KU == 2 {
                s += a1[r][j];
            }
            tile_store::<NR, K>(yr, j, s);
        }
    }
}

/// One input of [`mm_tile`]: `acc[r] += xk[r] · wk`.
#[inline(always)]
fn mm_step<const MR: usize, const NR: usize, const K: usize>(xk: &[f32; MR], wk: &[f32], acc: &mut [[V; NR]; MR]) {
    let wv: [V; NR] = core::array::from_fn(|j| tile_load::<NR, K>(wk, j));
    for r in 0..MR {
        let b = V::splat(xk[r]);
        for j in 0..NR {
            acc[r][j] = b.mul_add(wv[j], acc[r][j]);
        }
    }
}
