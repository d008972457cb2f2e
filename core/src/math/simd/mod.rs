//! SIMD math through `wide::f32x8`: lane functions (`*_x8`) for fused loops elsewhere in the
//! core, and slice functions with the same names and signatures as [`super::scalar`].
//!
//! # Layout
//! One kernel family a file, each checked against its scalar reference by the one harness of
//! `core/src/math/mod.rs` (and the bit-for-bit ones against the function they mirror):
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` (this one) | [`LANES`], the load/store pair, the loops that run a lane function over slices of any length (`zip_map`, `zip_sum`, `map_in_place`, ...) |
//! | `exp_log.rs` | [`exp_x8`] (`wide`'s polynomial, faster), [`exp_libm_x8`] and [`logf_x8`] (bit for bit `libm`) |
//! | `logistic.rs` | σ, softplus, log σ, tanh and the logistic noise, lane-wise and over slices |
//! | `bernoulli.rs` | Bernoulli log-likelihoods and their logit gradients, the hard sample and the residual x − σ(a) |
//! | `relax.rs` | a relaxed layer's sample y = σ(α·(a + ε) + β·a), its reverse mode and that reverse mode's τ-tangent |
//! | `sums.rs` | [`dot`], the sums of squares (with f64 flushes) and [`logsumexp`] |
//!
//! Every slice function runs `chunks_exact(8)` over `f32x8` and finishes the tail with the
//! scalar reference or a zero-padded vector (as its docs say), so any length is accepted.
//!
//! # Lanes
//! [`LANES`] is 8 on every target, while the dense kernels of [`crate::linalg::simd`] use the
//! widest vector ([`crate::linalg::simd::WIDE_LANES`], 16 with AVX-512): the reductions here
//! ([`bernoulli_log_likelihood_sum`], [`dot`], [`zip_sum`], ...) sum lane by lane, so their
//! rounding depends on the lane count, and 8 lanes everywhere keeps a native AVX-512 build's
//! ELBOs, noise and gradients the values the golden and determinism tests hold. The two
//! families share one load/store pair, [`load_first`] and [`store_first`], generic in the vector
//! type; [`load`] and [`store`] are its 8-lane form.
//!
//! # Platforms
//! `wide` picks its backend at compile time: a default x86_64 build runs each `f32x8` as two
//! SSE2 halves and `mul_add` as a separate multiply and add; with `-C target-cpu=native` it is
//! one AVX register and a fused multiply-add, so results differ from the scalar path in the last
//! bits. `exp`, `ln`, `ln_1p` and `tanh` are `wide`'s polynomial approximations (≤ 2 ulp on
//! [−20, 20]). Tolerances are stated in the tests.

use bytemuck::Pod;
use wide::f32x8;

/// Lanes per SIMD vector in the elementwise kernels.
pub const LANES: usize = 8;

/// The first `K` lanes of a vector `V` from the front of `s`, the others zero: the one load of
/// every SIMD kernel of the core, for the 8-lane `f32x8` here and for the kernels of
/// [`crate::linalg::simd`] at their wide lane type (`K` below the lane count serves the 8- and
/// 4-lane ends of their rows). `s` must hold at least `K` elements.
#[inline(always)]
pub fn load_first<V: Pod, const K: usize>(s: &[f32]) -> V {
    let mut v = V::zeroed();
    // `V` is `f32` lanes and nothing else (`wide`'s vectors are `Pod`), so this view always fits.
    bytemuck::cast_slice_mut::<V, f32>(core::slice::from_mut(&mut v))[..K].copy_from_slice(&s[..K]);
    v
}

/// Stores the first `K` lanes of `v` to the front of `s` (the store of [`load_first`]).
#[inline(always)]
pub fn store_first<V: Pod, const K: usize>(s: &mut [f32], v: V) {
    s[..K].copy_from_slice(&bytemuck::cast_slice::<V, f32>(core::slice::from_ref(&v))[..K]);
}

/// Loads eight lanes from the front of `s` (which must hold at least eight elements).
#[inline]
pub fn load(s: &[f32]) -> f32x8 {
    load_first::<f32x8, LANES>(s)
}

/// Stores eight lanes to the front of `s` (which must hold at least eight elements).
#[inline]
pub fn store(s: &mut [f32], v: f32x8) {
    store_first::<f32x8, LANES>(s, v)
}

/// Loads up to eight lanes from the front of `s`, padding missing lanes with zero.
#[inline]
pub fn load_partial(s: &[f32]) -> f32x8 {
    if s.len() >= LANES {
        // A fixed-size copy is one vector load; a variable-length one is a call to `memcpy`.
        return load(s);
    }
    let mut a = [0.0; LANES];
    let k = s.len().min(LANES);
    a[..k].copy_from_slice(&s[..k]);
    f32x8::new(a)
}

/// Stores as many of the eight lanes as `s` holds (up to eight).
#[inline]
pub fn store_partial(s: &mut [f32], v: f32x8) {
    if s.len() >= LANES {
        return store(s, v);
    }
    let k = s.len().min(LANES);
    s[..k].copy_from_slice(&v.to_array()[..k]);
}

/// `out = f(a, b)` lane-wise over slices of any length; the last partial chunk runs through
/// the same vector code (padded with zeros), so every element gets identical arithmetic.
#[inline]
pub fn zip_map(a: &[f32], b: &[f32], out: &mut [f32], f: impl Fn(f32x8, f32x8) -> f32x8) {
    let n = a.len().min(b.len()).min(out.len());
    let full = n / LANES * LANES;
    // Whole chunks with fixed-size loads and stores (a variable-length copy would be a call to
    // `memcpy` per chunk), then one padded chunk for the tail.
    for ((ac, bc), oc) in
        a[..full].chunks_exact(LANES).zip(b[..full].chunks_exact(LANES)).zip(out.chunks_exact_mut(LANES))
    {
        store(oc, f(load(ac), load(bc)));
    }
    if full < n {
        store_partial(&mut out[full..n], f(load_partial(&a[full..n]), load_partial(&b[full..n])));
    }
}

/// `out = f(a, b, c)` lane-wise, as [`zip_map`].
#[inline]
pub fn zip3_map(a: &[f32], b: &[f32], c: &[f32], out: &mut [f32], f: impl Fn(f32x8, f32x8, f32x8) -> f32x8) {
    let n = a.len().min(b.len()).min(c.len()).min(out.len());
    let full = n / LANES * LANES;
    let chunks = a[..full].chunks_exact(LANES).zip(b[..full].chunks_exact(LANES)).zip(c[..full].chunks_exact(LANES));
    for (((ac, bc), cc), oc) in chunks.zip(out.chunks_exact_mut(LANES)) {
        store(oc, f(load(ac), load(bc), load(cc)));
    }
    if full < n {
        let (ac, bc, cc) = (&a[full..n], &b[full..n], &c[full..n]);
        store_partial(&mut out[full..n], f(load_partial(ac), load_partial(bc), load_partial(cc)));
    }
}

/// `out = f(a, b, c, d)` lane-wise, as [`zip_map`].
#[inline]
pub fn zip4_map(
    a: &[f32],
    b: &[f32],
    c: &[f32],
    d: &[f32],
    out: &mut [f32],
    f: impl Fn(f32x8, f32x8, f32x8, f32x8) -> f32x8,
) {
    let n = a.len().min(b.len()).min(c.len()).min(d.len()).min(out.len());
    let full = n / LANES * LANES;
    let chunks = a[..full]
        .chunks_exact(LANES)
        .zip(b[..full].chunks_exact(LANES))
        .zip(c[..full].chunks_exact(LANES))
        .zip(d[..full].chunks_exact(LANES));
    for ((((ac, bc), cc), dc), oc) in chunks.zip(out.chunks_exact_mut(LANES)) {
        store(oc, f(load(ac), load(bc), load(cc), load(dc)));
    }
    if full < n {
        let (ac, bc, cc, dc) = (&a[full..n], &b[full..n], &c[full..n], &d[full..n]);
        store_partial(&mut out[full..n], f(load_partial(ac), load_partial(bc), load_partial(cc), load_partial(dc)));
    }
}

/// Σ f(a, b) lane-wise over slices of any length (padding lanes must map to zero, or are
/// masked here: only the first `len` lanes of the last chunk are summed).
#[inline]
pub fn zip_sum(a: &[f32], b: &[f32], f: impl Fn(f32x8, f32x8) -> f32x8) -> f32 {
    let n = a.len().min(b.len());
    let mut acc = f32x8::ZERO;
    let mut chunks = a[..n].chunks_exact(LANES).zip(b[..n].chunks_exact(LANES));
    for (ac, bc) in &mut chunks {
        acc += f(load(ac), load(bc));
    }
    let full = n / LANES * LANES;
    let tail = f(load_partial(&a[full..n]), load_partial(&b[full..n])).to_array();
    acc.reduce_add() + tail[..n - full].iter().sum::<f32>()
}

/// `out = f8(x)` over whole chunks and `f1` over the tail: the slice functions whose tail must
/// be the scalar reference's values.
#[inline]
pub(super) fn map(x: &[f32], out: &mut [f32], f8: impl Fn(f32x8) -> f32x8, f1: impl Fn(f32) -> f32) {
    let n = x.len().min(out.len());
    let (x, out) = (&x[..n], &mut out[..n]);
    let mut xs = x.chunks_exact(LANES);
    let mut os = out.chunks_exact_mut(LANES);
    for (xc, oc) in (&mut xs).zip(&mut os) {
        store(oc, f8(load(xc)));
    }
    for (o, &v) in os.into_remainder().iter_mut().zip(xs.remainder()) {
        *o = f1(v);
    }
}

/// `x = f(x)` lane-wise, in place, over a slice of any length; the tail runs through the same
/// vector code (padded with zeros), so every element gets identical arithmetic.
#[inline]
pub fn map_in_place(x: &mut [f32], f: impl Fn(f32x8) -> f32x8) {
    let mut chunks = x.chunks_exact_mut(LANES);
    for c in &mut chunks {
        store(c, f(load(c)));
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        store_partial(tail, f(load_partial(tail)));
    }
}

mod bernoulli;
mod exp_log;
mod logistic;
mod relax;
mod sums;

pub use bernoulli::{
    bernoulli_log_likelihood_and_mean_x8, bernoulli_log_likelihood_sum, bernoulli_log_likelihood_sum_and_mean,
    bernoulli_log_likelihood_x8, bernoulli_logit_grad, bernoulli_logit_grad_tangent, bernoulli_mean_residual,
    bernoulli_mean_residual_tangent, bernoulli_sample, sigmoid_of_sum,
};
pub use exp_log::{exp_libm_x8, exp_x8, logf_x8};
pub use logistic::{
    log_sigmoid_slice, log_sigmoid_x8, logistic_noise_slice, logistic_noise_x8, sigmoid_libm_x8, sigmoid_slice,
    sigmoid_x8, softplus_slice, softplus_x8, tanh_in_place, tanh_slice, tanh_x8,
};
pub use relax::{relaxed_sample, relaxed_sample_adjoint_row, relaxed_sample_adjoint_tangent_row};
pub use sums::{axpy_sum_squares, axpy_sum_squares_dot, dot, logsumexp, sum_squares};
