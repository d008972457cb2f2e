//! SIMD dense kernels, same contracts as [`super::scalar`].
//!
//! # Layout
//! One kernel family a file, each checked against its scalar reference by the one harness of
//! `core/src/linalg/tests.rs`:
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` (this one) | the lane type [`Wide`], the register tiles per target, the load/store pair, the loops that cover ragged shapes with tiles (`row_blocks!`, `col_tiles!`) |
//! | `matmul.rs` | [`matmul_acc`], `y += x·W` |
//! | `matmul_t.rs` | [`matmul_t_acc`], `dx += dy·Wᵀ`, with its reduction of many dot products' lanes at once |
//! | `outer.rs` | [`outer_acc`] and [`outer`], `dW (+)= xᵀ·dy` |
//! | `binary.rs` | [`matmul_acc_binary`], [`outer_acc_binary`], [`outer_acc_binary_affine`], [`outer_binary_affine`] and the scan behind [`super::active_indices`] |
//!
//! The tile loops are macros rather than functions taking a closure because every tile shape is a
//! const generic of the tile function (the register arrays are sized by it), and a closure
//! cannot be generic.
//!
//! # Lane type and tiles
//! One implementation over a lane type [`Wide`] chosen at compile time: `wide::f32x16` (one
//! zmm register) when `avx512f` is enabled, `wide::f32x8` otherwise (one ymm register with AVX,
//! two SSE halves in a portable x86_64 build, an array of scalars on microcontrollers); it has
//! [`WIDE_LANES`] lanes. The elementwise math of [`crate::math::simd`] is written for `f32x8`
//! only, whose lane count is [`crate::math::simd::LANES`] (8 on every target, for its sums'
//! rounding; see that module's *Lanes*): the names differ because the numbers do. The register tiles are sized per target (module `tiles`): with
//! AVX-512 they hold 16–24 accumulators of the 32 zmm registers, with AVX 8–12 of the 16 ymm
//! registers, in the portable build 4 `f32x8` (8 xmm registers).
//!
//! Every kernel reads and writes [`Wide`] vectors through `load` and `store` (the first `K`
//! lanes, so that one pair serves full vectors and the 8- and 4-lane ends of a row), the
//! core's one load/store pair [`crate::math::simd::load_first`] and
//! [`crate::math::simd::store_first`] at the type [`Wide`]; `f32x8` code, such as the 8×8
//! transposes here, uses its 8-lane form [`crate::math::simd::load`] and
//! [`crate::math::simd::store`].
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

use crate::math::simd::{load_first, store_first};
use tiles::*;

/// The lane type of the dense kernels, the widest `f32` vector of the target: `f32x16` with
/// AVX-512, `f32x8` otherwise.
pub type Wide = V;
/// Lanes per vector of [`Wide`]: 16 with AVX-512, 8 otherwise.
pub const WIDE_LANES: usize = core::mem::size_of::<V>() / 4;
/// [`WIDE_LANES`], short for the kernels' index arithmetic.
const N: usize = WIDE_LANES;

// The transposed kernel reduces its `MT_ROWS × MT_INPUTS` accumulators as one vector of sums.
const _: () = assert!(MT_ROWS * MT_INPUTS <= N && MM_ROWS <= 8 && MT_ROWS <= 8 && MT_INPUTS <= 8 && OUTER_INPUTS <= 8);

/// Rows of `y` held in registers by [`matmul_acc`].
pub const ROW_BLOCK: usize = MM_ROWS;

/// The first `K` lanes of a [`Wide`] from the front of `s` (`K ≤ N`), the others zero: the
/// shared [`load_first`] at the wide lane type.
#[inline(always)]
pub(crate) fn load<const K: usize>(s: &[f32]) -> V {
    load_first::<V, K>(s)
}

/// Stores the first `K` lanes of `v` to the front of `s`: the shared [`store_first`].
#[inline(always)]
pub(crate) fn store<const K: usize>(s: &mut [f32], v: V) {
    store_first::<V, K>(s, v)
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

/// `{ const NR = $nr; const K = $k; body }`: one column tile of `col_tiles!`.
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

// The families come after the macros above: `macro_rules!` is in scope only below its
// definition, and that includes the modules declared there.
mod binary;
mod matmul;
mod matmul_t;
mod outer;

pub(super) use binary::active_row;
pub use binary::{matmul_acc_binary, outer_acc_binary, outer_acc_binary_affine, outer_binary_affine};
pub use matmul::matmul_acc;
pub use matmul_t::matmul_t_acc;
pub use outer::{outer, outer_acc};
