//! SIMD dense kernels, same contracts as [`super::scalar`].
//!
//! # Lane type and tiles
//! One implementation over a lane type [`Lanes`] chosen at compile time: `wide::f32x16` (one
//! zmm register) when `avx512f` is enabled, `wide::f32x8` otherwise (one ymm register with AVX,
//! two SSE halves in a portable x86_64 build, an array of scalars on microcontrollers). The
//! register tiles are sized per target (module `tiles`): with AVX-512 they hold 16–24
//! accumulators of the 32 zmm registers, with AVX 8–12 of the 16 ymm registers, in the portable
//! build 4 `f32x8` (8 xmm registers).
//!
//! # Kernels
//! - [`matmul_acc`] (`y += x·W`): `MR` rows × `NR` vectors of `y` (AVX-512: 8 × 3) stay in
//!   registers while the inputs stream past; each weight vector loaded feeds `MR` multiply-adds
//!   and each broadcast input `NR`. The block's inputs are packed input-major (`xt[k][r]`, by
//!   8×8 register transposes) so that the inner loop has no bounds checks or address arithmetic.
//! - [`matmul_t_acc`] (`dx += dy·Wᵀ`): `MR` rows of `dy` × `MI` weight rows (AVX-512: 8 × 2) of
//!   dot products: each weight load feeds `MR` multiply-adds. The block of `dy` is packed
//!   vector-interleaved; the `MR·MI ≤ N` accumulators are reduced to their lane sums together by
//!   a tree of two-source shuffles (`N − 1` shuffle pairs for `N` sums, instead of `N` full
//!   horizontal reductions), and the sums, staged input-major, go back to `dx` through 8×8
//!   transposes.
//! - [`outer_acc`] (`dW += xᵀ·dy`): a tile of `MI` weight rows × `NR` vectors of `dW` (AVX-512:
//!   8 × 3) stays in registers while the batch rows stream past (the loop over rows is
//!   innermost), so `dW` is read and written once per call.
//!
//! Ragged shapes: columns are covered by tiles of up to `NR` vectors where the last vector may
//! be a half (8 lanes of 16) or a quarter (4 lanes), then a scalar tail of at most three
//! columns; rows (and inputs) that do not fill a tile run through tiles of 4, 2 and 1. So any
//! `n_in`, `n_out` and row count is accepted. `n_out == 1` is a dot product per row
//! (`matmul_acc`) or an axpy per row (`matmul_t_acc`, `outer_acc`) and is vectorised along
//! `n_in` instead.
//!
//! Results differ from the scalar reference only by summation order (and FMA contraction).
//! Tile shapes depend on the target, so a native build and a portable build round differently;
//! each build is deterministic.
//!
//! # Binary inputs
//! [`matmul_acc_binary`] and [`outer_acc_binary`] take 0/1 inputs as lists of the active
//! (one-valued) indices per row ([`super::active_indices`] builds them): the forward pass adds the
//! selected weight rows, the weight gradient adds `dy` rows into the selected weight rows. Their
//! cost scales with the number of ones, but they cannot reuse a weight load across rows as the
//! dense kernels do. Measured at batch 24 with `cargo bench --bench kernels` (the binary
//! kernel's time against the dense kernel's at the same shape, n_out ≥ 100, best of several
//! runs; the crossover is the density of ones where they take the same time):
//!
//! | build | kernel | speed-up at 13% ones | at 50% ones | crossover |
//! |---|---|---|---|---|
//! | AVX-512 (`target-cpu=native`) | `matmul_acc_binary` | 1.6–2.5× | 0.4–0.6× | 20–33% |
//! | AVX-512 (`target-cpu=native`) | `outer_acc_binary` | 1.1–1.4× | 0.3–0.4× | 14–18% |
//! | portable x86_64 (SSE2) | `matmul_acc_binary` | 6.5–7.4× | 1.7–2.0× | > 75% |
//! | portable x86_64 (SSE2) | `outer_acc_binary` | 3.7–4.4× | 1.0–1.1× | ≈ 50% |
//!
//! So the binary path pays off for the data (≈ 13% ones on MNIST) everywhere, and for the latent
//! samples (≈ 50%) only in the portable build. Building the index lists
//! ([`super::active_indices`], 784 × 24 at 13%: ≈ 6 µs native) is shared by both kernels.

#[cfg(target_feature = "avx512f")]
mod tiles {
    /// The lane type.
    pub type V = wide::f32x16;
    pub const MM_ROWS: usize = 8;
    pub const MM_VECS: usize = 3;
    pub const MT_ROWS: usize = 8;
    pub const MT_INPUTS: usize = 2;
    pub const OUTER_INPUTS: usize = 8;
    pub const OUTER_VECS: usize = 3;
    pub const BIN_VECS: usize = 4;
}

#[cfg(all(not(target_feature = "avx512f"), target_feature = "avx"))]
mod tiles {
    /// The lane type.
    pub type V = wide::f32x8;
    pub const MM_ROWS: usize = 4;
    pub const MM_VECS: usize = 3;
    pub const MT_ROWS: usize = 4;
    pub const MT_INPUTS: usize = 2;
    pub const OUTER_INPUTS: usize = 4;
    pub const OUTER_VECS: usize = 3;
    pub const BIN_VECS: usize = 4;
}

#[cfg(all(not(target_feature = "avx"), any(target_arch = "x86", target_arch = "x86_64")))]
mod tiles {
    /// The lane type.
    pub type V = wide::f32x8;
    pub const MM_ROWS: usize = 4;
    pub const MM_VECS: usize = 1;
    pub const MT_ROWS: usize = 2;
    pub const MT_INPUTS: usize = 2;
    pub const OUTER_INPUTS: usize = 4;
    pub const OUTER_VECS: usize = 1;
    pub const BIN_VECS: usize = 2;
}

#[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
mod tiles {
    /// The lane type.
    pub type V = wide::f32x8;
    pub const MM_ROWS: usize = 2;
    pub const MM_VECS: usize = 1;
    pub const MT_ROWS: usize = 2;
    pub const MT_INPUTS: usize = 2;
    pub const OUTER_INPUTS: usize = 2;
    pub const OUTER_VECS: usize = 1;
    pub const BIN_VECS: usize = 1;
}

use tiles::*;

use super::BinaryRows;

/// The lane type of the dense kernels: `f32x16` with AVX-512, `f32x8` otherwise.
pub type Lanes = V;
/// Lanes per vector of [`Lanes`].
pub const LANES: usize = core::mem::size_of::<V>() / 4;
const N: usize = LANES;

// The transposed kernel reduces its `MT_ROWS × MT_INPUTS` accumulators as one vector of sums.
const _: () = assert!(MT_ROWS * MT_INPUTS <= N && MM_ROWS <= 8 && MT_ROWS <= 8 && MT_INPUTS <= 8 && OUTER_INPUTS <= 8);

/// Rows of `y` held in registers by [`matmul_acc`].
pub const ROW_BLOCK: usize = MM_ROWS;

/// The first `K` lanes from the front of `s` (`K ≤ N`), the others zero.
#[inline(always)]
fn load<const K: usize>(s: &[f32]) -> V {
    let mut a = [0.0f32; N];
    a[..K].copy_from_slice(&s[..K]);
    V::new(a)
}

/// Stores the first `K` lanes of `v` to the front of `s`.
#[inline(always)]
fn store<const K: usize>(s: &mut [f32], v: V) {
    s[..K].copy_from_slice(&v.to_array()[..K]);
}

/// Vector `j` of a tile of `NR` vectors whose last one has `K` lanes: `s[j·N..]`, `N` lanes
/// (or `K` for the last).
#[inline(always)]
fn tile_load<const NR: usize, const K: usize>(s: &[f32], j: usize) -> V {
    if j + 1 == NR { load::<K>(&s[j * N..]) } else { load::<N>(&s[j * N..]) }
}

/// Stores vector `j` of a tile (see [`tile_load`]).
#[inline(always)]
fn tile_store<const NR: usize, const K: usize>(s: &mut [f32], j: usize, v: V) {
    if j + 1 == NR { store::<K>(&mut s[j * N..], v) } else { store::<N>(&mut s[j * N..], v) }
}

/// Runs `block::<R>` over `rows` in blocks of `$mr`, then 4, 2 and 1 (for `$mr ≤ 8`).
macro_rules! row_blocks {
    ($rows:expr, $mr:expr, |$r:ident, $R:ident| $body:expr) => {{
        let rows = $rows;
        let mut $r = 0;
        {
            const $R: usize = $mr;
            while $r + $R <= rows {
                $body;
                $r += $R;
            }
        }
        if $mr > 4 && $r + 4 <= rows {
            const $R: usize = 4;
            $body;
            $r += 4;
        }
        if $mr > 2 && $r + 2 <= rows {
            const $R: usize = 2;
            $body;
            $r += 2;
        }
        if $mr > 1 && $r < rows {
            const $R: usize = 1;
            $body;
        }
    }};
}

/// `{ const NR = $nr; const K = $k; body }`: one column tile of [`col_tiles`].
macro_rules! tile {
    ($NR:ident, $K:ident, $nr:expr, $k:expr, $body:expr) => {{
        const $NR: usize = $nr;
        const $K: usize = $k;
        $body
    }};
}

/// Covers the columns `0..n_out` with tiles of up to `$vecs` (≤ 3) vectors: `body::<NR, K>(c)`
/// runs a tile of `NR` vectors at column `c`, the first `NR − 1` full and the last with `K`
/// lanes (`K` is `N` except in the tile holding the partial vector of the last 8 or 4 columns).
/// Tiles of 2 replace a tile of 1 wherever possible (a one-vector tile reuses each broadcast
/// least). Then at most one 4-lane tile, and the column where the (< 4 column) scalar tail
/// starts is returned.
macro_rules! col_tiles {
    ($n_out:expr, $vecs:expr, |$c:ident, $NR:ident, $K:ident| $body:expr) => {{
        let n_out: usize = $n_out;
        let rem = n_out % N;
        let kp = if N > 8 && rem >= 8 {
            8
        } else if rem >= 4 {
            4
        } else {
            0
        };
        let mut left = n_out / N + usize::from(kp > 0);
        let mut $c = 0;
        while left > 0 {
            let nr = if $vecs >= 3 && (left >= 5 || left == 3) {
                3
            } else if $vecs >= 2 && left >= 2 {
                2
            } else {
                1
            };
            let k = if nr == left && kp > 0 { kp } else { N };
            #[allow(unreachable_patterns)]
            match (nr, k) {
                (3, N) => tile!($NR, $K, 3, N, $body),
                (3, 8) => tile!($NR, $K, 3, 8, $body),
                (3, _) => tile!($NR, $K, 3, 4, $body),
                (2, N) => tile!($NR, $K, 2, N, $body),
                (2, 8) => tile!($NR, $K, 2, 8, $body),
                (2, _) => tile!($NR, $K, 2, 4, $body),
                (_, N) => tile!($NR, $K, 1, N, $body),
                (_, 8) => tile!($NR, $K, 1, 8, $body),
                (_, _) => tile!($NR, $K, 1, 4, $body),
            }
            $c += (nr - 1) * N + k;
            left -= nr;
        }
        if $c + 4 <= n_out {
            tile!($NR, $K, 1, 4, $body);
            $c += 4;
        }
        $c
    }};
}

// ---------------------------------------------------------------------------------------------
// y += x · W

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
            let rows: [f32x8; 8] = core::array::from_fn(|r| {
                if r < MR {
                    let a: [f32; 8] = x[r * n_in + t..][..8].try_into().unwrap();
                    f32x8::new(a)
                } else {
                    f32x8::ZERO
                }
            });
            for (dst, col) in xt[t..t + 8].iter_mut().zip(f32x8::transpose(rows)) {
                dst[..MR].copy_from_slice(&col.as_array()[..MR]);
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

// ---------------------------------------------------------------------------------------------
// dx += dy · Wᵀ

/// dx += dy · Wᵀ
pub fn matmul_t_acc(dy: &[f32], w: &[f32], dx: &mut [f32], n_in: usize, n_out: usize) {
    if n_out == 1 && n_in > 1 {
        // dx[r] += dy[r]·w: the forward kernel with one input.
        return matmul_acc(dy, w, dx, 1, n_in);
    }
    let rows = (dx.len() / n_in.max(1)).min(dy.len() / n_out.max(1));
    crate::ops::count(rows * n_in * n_out, rows * n_in * n_out);
    if rows == 0 || n_in == 0 {
        return;
    }
    let w = &w[..n_in * n_out];
    let dy = &dy[..rows * n_out];
    let dx = &mut dx[..rows * n_in];
    row_blocks!(rows, MT_ROWS, |r, R| mt_rows::<R>(&dy[r * n_out..], w, &mut dx[r * n_in..], n_in, n_out));
}

/// Vectors of each `dy` row packed at a time by [`matmul_t_acc`] (a chunk of `MT_OC · N`
/// columns; the packed block is `MT_OC × MR` vectors on the stack).
const MT_OC: usize = 32;

/// `dx[..MR] += dy[..MR] · Wᵀ` for one block of rows, over all inputs. The block of `dy` is
/// packed vector-interleaved (`dyp[v][r]` = columns `v·N..` of row `r`), `MT_OC` vectors at a
/// time, so that the inner loop reads it from one pointer with fixed offsets; a last partial
/// vector (8 or 4 columns) is packed zero-padded.
#[inline(never)]
fn mt_rows<const MR: usize>(dy: &[f32], w: &[f32], dx: &mut [f32], n_in: usize, n_out: usize) {
    let dx = &mut dx[..MR * n_in];
    let mut dyp = [[V::ZERO; MR]; MT_OC];
    // The tiles' sums, input-major (`stage[i][r]`): each tile writes one contiguous vector.
    let mut stage = [[0.0f32; MR]; MT_IC];
    let mut o0 = 0;
    while o0 < n_out {
        let o1 = n_out.min(o0 + MT_OC * N);
        let full = (o1 - o0) / N;
        let rem = (o1 - o0) % N;
        let kp = if N > 8 && rem >= 8 {
            8
        } else if rem >= 4 {
            4
        } else {
            0
        };
        for r in 0..MR {
            let d = &dy[r * n_out + o0..r * n_out + o1];
            for (v, p) in dyp[..full].iter_mut().enumerate() {
                p[r] = load::<N>(&d[v * N..]);
            }
            match kp {
                8 => dyp[full][r] = load::<8>(&d[full * N..]),
                4 => dyp[full][r] = load::<4>(&d[full * N..]),
                _ => {}
            }
        }
        // At most three columns left (only in the last chunk), as scalars.
        let tail = o0 + full * N + kp..o1;
        let chunk = Chunk { dyp: &dyp[..full], kp, last: &dyp[full.min(MT_OC - 1)], o0, tail, dy };
        let mut i0 = 0;
        while i0 < n_in {
            let ic = MT_IC.min(n_in - i0);
            let st = &mut stage[..ic];
            let w = &w[i0 * n_out..];
            row_blocks!(ic, MT_INPUTS, |i, I| mt_tile::<MR, I>(&chunk, &w[i * n_out..], &mut st[i..i + I], n_out));
            unstage(st, &mut dx[i0..], n_in);
            i0 += ic;
        }
        o0 = o1;
    }
}

/// Inputs staged at a time by [`mt_rows`].
const MT_IC: usize = 64;

/// `dx[r·n_in + k] += st[k][r]`: the staged sums back to row-major `dx`, through 8×8 register
/// transposes when AVX has them.
#[inline(always)]
fn unstage<const MR: usize>(st: &[[f32; MR]], dx: &mut [f32], n_in: usize) {
    let kc = st.len();
    let mut t = 0;
    // Without AVX `f32x8::transpose` is lane by lane, no faster than the scalar loop.
    if MR == 8 && cfg!(target_feature = "avx") {
        use wide::f32x8;
        while t + 8 <= kc {
            let cols: [f32x8; 8] = core::array::from_fn(|u| {
                let a: [f32; 8] = st[t + u][..8].try_into().unwrap();
                f32x8::new(a)
            });
            for (r, v) in f32x8::transpose(cols).into_iter().enumerate() {
                let d: &mut [f32; 8] = (&mut dx[r * n_in + t..][..8]).try_into().unwrap();
                *d = (f32x8::new(*d) + v).to_array();
            }
            t += 8;
        }
    }
    for r in 0..MR {
        for (d, s) in dx[r * n_in + t..r * n_in + kc].iter_mut().zip(&st[t..]) {
            *d += s[r];
        }
    }
}

/// One packed chunk of `dy` columns for [`mt_tile`].
struct Chunk<'a, const MR: usize> {
    /// Full vectors, `dyp[v][r]`.
    dyp: &'a [[V; MR]],
    /// Lanes (8 or 4) of the partial vector `last`, or 0 if there is none.
    kp: usize,
    last: &'a [V; MR],
    /// First column of the chunk.
    o0: usize,
    /// Columns after the vectors (fewer than four), taken from `dy` itself.
    tail: core::ops::Range<usize>,
    dy: &'a [f32],
}

/// `st[m][r] = dy[r][chunk] · W[i + m][chunk]` for `m < MI`, `r < MR` (`MR × MI ≤ N`): partial
/// dot products accumulated lane-wise, then reduced together by [`lane_sums`] into one vector
/// whose lanes are already in the order of `st`.
#[inline(always)]
fn mt_tile<const MR: usize, const MI: usize>(ch: &Chunk<'_, MR>, w: &[f32], st: &mut [[f32; MR]], n_out: usize) {
    let ws: [&[f32]; MI] = core::array::from_fn(|m| &w[m * n_out + ch.o0..(m + 1) * n_out]);
    let mut acc = [[V::ZERO; MI]; MR];
    if MI == 2 {
        // Zipped iterators: no bounds checks in the loop (it is front-end bound otherwise).
        let (w0, w1) = (ws[0].chunks_exact(N), ws[MI - 1].chunks_exact(N));
        for ((d, a), b) in ch.dyp.iter().zip(w0).zip(w1) {
            let wv: [V; MI] = core::array::from_fn(|m| load::<N>(if m == 0 { a } else { b }));
            mt_step(d, &wv, &mut acc);
        }
    } else {
        for (v, d) in ch.dyp.iter().enumerate() {
            let wv: [V; MI] = core::array::from_fn(|m| load::<N>(&ws[m][v * N..]));
            mt_step(d, &wv, &mut acc);
        }
    }
    let o = ch.dyp.len() * N;
    match ch.kp {
        8 => mt_step(ch.last, &core::array::from_fn(|m| load::<8>(&ws[m][o..])), &mut acc),
        4 => mt_step(ch.last, &core::array::from_fn(|m| load::<4>(&ws[m][o..])), &mut acc),
        _ => {}
    }
    // Lane m·MR + r holds (r, m).
    let mut sums = [0.0f32; N];
    if MR * MI * 4 <= N {
        // Few sums (a block of one or two rows): the padded tree would be mostly empty.
        for (t, v) in sums.iter_mut().enumerate().take(MR * MI) {
            *v = acc[t % MR][t / MR].reduce_add();
        }
    } else {
        let flat: [V; N] = core::array::from_fn(|t| if t < MR * MI { acc[t % MR][t / MR] } else { V::ZERO });
        sums = lane_sums(flat).to_array();
    }
    if !ch.tail.is_empty() {
        let t = ch.tail.clone();
        for m in 0..MI {
            let wt = &w[m * n_out + t.start..m * n_out + t.end];
            for r in 0..MR {
                let dt = &ch.dy[r * n_out + t.start..r * n_out + t.end];
                sums[m * MR + r] += dt.iter().zip(wt).map(|(&a, &b)| a * b).sum::<f32>();
            }
        }
    }
    st[..MI].as_flattened_mut().copy_from_slice(&sums[..MR * MI]);
}

#[inline(always)]
fn mt_step<const MR: usize, const MI: usize>(d: &[V; MR], wv: &[V; MI], acc: &mut [[V; MI]; MR]) {
    for r in 0..MR {
        for m in 0..MI {
            acc[r][m] = d[r].mul_add(wv[m], acc[r][m]);
        }
    }
}

/// Lane picks for one level of the reduction tree (see [`fold`]): entity width `w`, the first
/// (`hi = false`) or second half of each entity.
const fn fold_picks(w: usize, hi: bool) -> [usize; N] {
    // Widths above the lane count never occur (the arm exists for the other lane type).
    let w = if w > N { N } else { w };
    let h = w / 2;
    let m = N / w;
    let mut idx = [0; N];
    let mut l = 0;
    while l < N {
        let s = l / h;
        let t = l % h;
        let src = if s < m { 0 } else { N };
        idx[l] = src + (s % m) * w + t + if hi { h } else { 0 };
        l += 1;
    }
    idx
}

/// `out[l] = (p ‖ q)[idx[l]]`: a two-source shuffle. Written out lane by lane (no loop) so that
/// LLVM sees constant lanes and emits one shuffle instruction.
#[inline(always)]
fn pick(p: V, q: V, idx: &[usize; N]) -> V {
    let (pa, qa) = (p.to_array(), q.to_array());
    macro_rules! lanes {
        ($($l:literal)*) => {
            V::new([$(if idx[$l] < N { pa[idx[$l]] } else { qa[idx[$l] - N] }),*])
        };
    }
    #[cfg(target_feature = "avx512f")]
    let v = lanes!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15);
    #[cfg(not(target_feature = "avx512f"))]
    let v = lanes!(0 1 2 3 4 5 6 7);
    v
}

/// One level of the reduction tree. `p` and `q` each hold `N / W` partial sums ("entities")
/// of width `W` lanes; the result holds the `2N / W` entities of both, each folded to width
/// `W / 2`, in order (those of `p` first): two two-source shuffles and one add.
#[inline(always)]
fn fold<const W: usize>(p: V, q: V) -> V {
    let lo: [usize; N] = const { fold_picks(W, false) };
    let hi: [usize; N] = const { fold_picks(W, true) };
    pick(p, q, &lo) + pick(p, q, &hi)
}

/// The lane sums of `N` vectors as one vector (`out[j] = Σ lanes of acc[j]`), by a tree of
/// [`fold`]s: `N − 1` folds, against `N` full horizontal reductions.
#[inline(always)]
fn lane_sums(a: [V; N]) -> V {
    // Written out level by level (no loops), so that every shuffle has constant lanes.
    #[cfg(target_feature = "avx512f")]
    let d = {
        let b = [
            fold::<16>(a[0], a[1]),
            fold::<16>(a[2], a[3]),
            fold::<16>(a[4], a[5]),
            fold::<16>(a[6], a[7]),
            fold::<16>(a[8], a[9]),
            fold::<16>(a[10], a[11]),
            fold::<16>(a[12], a[13]),
            fold::<16>(a[14], a[15]),
        ];
        let c = [fold::<8>(b[0], b[1]), fold::<8>(b[2], b[3]), fold::<8>(b[4], b[5]), fold::<8>(b[6], b[7])];
        [fold::<4>(c[0], c[1]), fold::<4>(c[2], c[3])]
    };
    #[cfg(not(target_feature = "avx512f"))]
    let d = {
        let c = [fold::<8>(a[0], a[1]), fold::<8>(a[2], a[3]), fold::<8>(a[4], a[5]), fold::<8>(a[6], a[7])];
        [fold::<4>(c[0], c[1]), fold::<4>(c[2], c[3])]
    };
    fold::<2>(d[0], d[1])
}

// ---------------------------------------------------------------------------------------------
// dW += xᵀ · dy

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

// ---------------------------------------------------------------------------------------------
// Binary inputs

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
/// `idx[r·n_in..r·n_in + counts[r]]`, any order, as [`super::active_indices`] writes them);
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

/// The active indices of one 0/1 row (see [`super::active_indices`]): writes the `i` with
/// `x[i] == 1` to the front of `idx` (which must be at least as long as `x`), returns their
/// number and whether every value was 0 or 1. A vector of `x` at a time: two compares to
/// bitmasks, then one write per set bit.
pub(super) fn active_row(x: &[f32], idx: &mut [u16]) -> (usize, bool) {
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
/// Input by input, with the rows of each input from [`super::active_rows`] (`bin.rows_of`,
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
