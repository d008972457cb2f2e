//! `dx += dy·Wᵀ` ([`matmul_t_acc`]): `MR` rows of `dy` × `MI` weight rows (AVX-512: 8 × 2) of
//! dot products: each weight load feeds `MR` multiply-adds. The block of `dy` is packed
//! vector-interleaved; the `MR·MI ≤ N` accumulators are reduced to their lane sums together by a
//! tree of two-source shuffles ([`lane_sums`]: `N − 1` shuffle pairs for `N` sums, instead of `N`
//! full horizontal reductions), and the sums, staged input-major, go back to `dx` through 8×8
//! transposes. `n_out == 1` is an axpy per row, [`matmul_acc`] with one input.

use super::matmul_acc;
use super::tiles::{MT_INPUTS, MT_ROWS};
use super::{N, V, load};
use crate::math::simd::{load as load_x8, store as store_x8};

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
            let cols: [f32x8; 8] = core::array::from_fn(|u| load_x8(&st[t + u]));
            for (r, v) in f32x8::transpose(cols).into_iter().enumerate() {
                let d = &mut dx[r * n_in + t..];
                store_x8(d, load_x8(d) + v);
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
