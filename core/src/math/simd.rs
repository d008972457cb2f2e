//! SIMD math through `wide::f32x8`: lane functions (`*_x8`) for fused loops elsewhere in the
//! core, and slice functions with the same names and signatures as [`super::scalar`].
//!
//! Every slice function runs `chunks_exact(8)` over `f32x8` and finishes the tail with the
//! scalar reference, so any length is accepted.
//!
//! Platform notes (`wide` picks its backend at compile time): a default x86_64 build runs each
//! `f32x8` as two SSE2 halves and `mul_add` as a separate multiply and add; with
//! `-C target-cpu=native` it is one AVX register and a fused multiply-add, so results differ from
//! the scalar path in the last bits. `exp`, `ln`, `ln_1p` and `tanh` are `wide`'s polynomial
//! approximations (≤ 2 ulp on [−20, 20]). Tolerances are stated in the tests.

use super::scalar;
use wide::f32x8;

/// Lanes per SIMD vector in the elementwise kernels.
pub const LANES: usize = 8;

/// Lane-wise σ(x), stable for both signs (see [`scalar::sigmoid`]).
#[inline]
pub fn sigmoid_x8(x: f32x8) -> f32x8 {
    let e = (-x.abs()).exp();
    let s = f32x8::ONE / (f32x8::ONE + e);
    x.simd_ge(f32x8::ZERO).select(s, e * s)
}

/// Lane-wise softplus(x) = max(x, 0) + ln_1p(e^{−|x|}).
///
/// ln_1p(e) for e = e^{−|x|} ∈ (0, 1] is evaluated as 2·atanh(s) with s = e/(2 + e) ∈ (0, ⅓]:
/// the odd series 2s·(1 + s²/3 + … + s¹²/13) is within 2e-8 (relative) of ln_1p there, and is
/// exact to first order for tiny e (2s = e). One exp, one division and seven multiply-adds: about
/// 4× faster than `wide`'s general `ln_1p` (range reduction, a log and a division), and softplus
/// is in every Bernoulli log-likelihood, on every output pixel of every pass.
#[inline]
pub fn softplus_x8(x: f32x8) -> f32x8 {
    let e = (-x.abs()).exp();
    let s = e / (e + f32x8::splat(2.0));
    let s2 = s * s;
    let mut p = f32x8::splat(1.0 / 13.0);
    for c in [1.0 / 11.0, 1.0 / 9.0, 1.0 / 7.0, 1.0 / 5.0, 1.0 / 3.0, 1.0] {
        p = p.mul_add(s2, f32x8::splat(c));
    }
    x.max(f32x8::ZERO) + (s + s) * p
}

/// Lane-wise log σ(x) = −softplus(−x).
#[inline]
pub fn log_sigmoid_x8(x: f32x8) -> f32x8 {
    -softplus_x8(-x)
}

/// Lane-wise tanh(x).
#[inline]
pub fn tanh_x8(x: f32x8) -> f32x8 {
    x.tanh()
}

/// Lane-wise logistic noise log(clip(u)) − log(clip(1 − u)), clip to `[1e-8, 1]`.
#[inline]
pub fn logistic_noise_x8(u: f32x8) -> f32x8 {
    let lo = f32x8::splat(scalar::LOG_CLIP);
    let clip = |v: f32x8| v.max(lo).min(f32x8::ONE);
    clip(u).ln() - clip(f32x8::ONE - u).ln()
}

/// Lane-wise Bernoulli log-likelihood y·a − softplus(a).
#[inline]
pub fn bernoulli_log_likelihood_x8(y: f32x8, a: f32x8) -> f32x8 {
    y * a - softplus_x8(a)
}

/// Loads eight lanes from the front of `s` (which must hold at least eight elements).
#[inline]
pub fn load(s: &[f32]) -> f32x8 {
    let mut a = [0.0; LANES];
    a.copy_from_slice(&s[..LANES]);
    f32x8::new(a)
}

/// Stores eight lanes to the front of `s` (which must hold at least eight elements).
#[inline]
pub fn store(s: &mut [f32], v: f32x8) {
    s[..LANES].copy_from_slice(&v.to_array());
}

/// Loads up to eight lanes from the front of `s`, padding missing lanes with zero.
#[inline]
pub fn load_partial(s: &[f32]) -> f32x8 {
    let mut a = [0.0; LANES];
    let k = s.len().min(LANES);
    a[..k].copy_from_slice(&s[..k]);
    f32x8::new(a)
}

/// Stores as many of the eight lanes as `s` holds (up to eight).
#[inline]
pub fn store_partial(s: &mut [f32], v: f32x8) {
    let k = s.len().min(LANES);
    s[..k].copy_from_slice(&v.to_array()[..k]);
}

/// `out = f(a, b)` lane-wise over slices of any length; the last partial chunk runs through
/// the same vector code (padded with zeros), so every element gets identical arithmetic.
#[inline]
pub fn zip_map(a: &[f32], b: &[f32], out: &mut [f32], f: impl Fn(f32x8, f32x8) -> f32x8) {
    let n = a.len().min(b.len()).min(out.len());
    for ((ac, bc), oc) in a[..n].chunks(LANES).zip(b[..n].chunks(LANES)).zip(out[..n].chunks_mut(LANES)) {
        store_partial(oc, f(load_partial(ac), load_partial(bc)));
    }
}

/// `out = f(a, b, c)` lane-wise, as [`zip_map`].
#[inline]
pub fn zip3_map(a: &[f32], b: &[f32], c: &[f32], out: &mut [f32], f: impl Fn(f32x8, f32x8, f32x8) -> f32x8) {
    let n = a.len().min(b.len()).min(c.len()).min(out.len());
    let chunks = a[..n].chunks(LANES).zip(b[..n].chunks(LANES)).zip(c[..n].chunks(LANES));
    for (((ac, bc), cc), oc) in chunks.zip(out[..n].chunks_mut(LANES)) {
        store_partial(oc, f(load_partial(ac), load_partial(bc), load_partial(cc)));
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
    let chunks = a[..n].chunks(LANES).zip(b[..n].chunks(LANES)).zip(c[..n].chunks(LANES)).zip(d[..n].chunks(LANES));
    for ((((ac, bc), cc), dc), oc) in chunks.zip(out[..n].chunks_mut(LANES)) {
        store_partial(oc, f(load_partial(ac), load_partial(bc), load_partial(cc), load_partial(dc)));
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

/// Σ a_j·b_j, with f32x8 partial sums flushed to f64 every 1024 elements (so that sums over
/// hundreds of thousands of parameters keep their precision).
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    let mut total = 0.0f64;
    for (ac, bc) in a[..n].chunks(1024).zip(b[..n].chunks(1024)) {
        total += zip_sum(ac, bc, |x, y| x * y) as f64;
    }
    total
}

/// y += a·x elementwise, returning Σ y_j² of the result (f64, flushed as in [`dot`]).
pub fn axpy_sum_squares(y: &mut [f32], a: f32, x: &[f32]) -> f64 {
    let n = y.len().min(x.len());
    let av = f32x8::splat(a);
    let mut total = 0.0f64;
    for (yc, xc) in y[..n].chunks_mut(1024).zip(x[..n].chunks(1024)) {
        let mut acc = f32x8::ZERO;
        let mut ys = yc.chunks_exact_mut(LANES);
        let mut xs = xc.chunks_exact(LANES);
        for (y8, x8) in (&mut ys).zip(&mut xs) {
            let v = av.mul_add(load(x8), load(y8));
            store(y8, v);
            acc = v.mul_add(v, acc);
        }
        let mut tail = 0.0f32;
        for (yv, &xv) in ys.into_remainder().iter_mut().zip(xs.remainder()) {
            *yv += a * xv;
            tail += *yv * *yv;
        }
        total += (acc.reduce_add() + tail) as f64;
    }
    total
}

/// Σ y_j², accumulated exactly as [`axpy_sum_squares`] accumulates it (so that a tensor whose
/// `x` is known to be zero can skip the axpy and get the identical sum).
pub fn sum_squares(y: &[f32]) -> f64 {
    let mut total = 0.0f64;
    for yc in y.chunks(1024) {
        let mut acc = f32x8::ZERO;
        let mut ys = yc.chunks_exact(LANES);
        for y8 in &mut ys {
            let v = load(y8);
            acc = v.mul_add(v, acc);
        }
        let mut tail = 0.0f32;
        for &yv in ys.remainder() {
            tail += yv * yv;
        }
        total += (acc.reduce_add() + tail) as f64;
    }
    total
}

/// [`axpy_sum_squares`] and then [`dot`]`(y, x)` of the result, in one pass over `y` and `x`
/// and with bit-identical results to the two calls: returns (Σ y_j², Σ y_j·x_j).
pub fn axpy_sum_squares_dot(y: &mut [f32], a: f32, x: &[f32]) -> (f64, f64) {
    let n = y.len().min(x.len());
    let av = f32x8::splat(a);
    let (mut squares, mut products) = (0.0f64, 0.0f64);
    for (yc, xc) in y[..n].chunks_mut(1024).zip(x[..n].chunks(1024)) {
        let (mut acc, mut acc_dot) = (f32x8::ZERO, f32x8::ZERO);
        let mut ys = yc.chunks_exact_mut(LANES);
        let mut xs = xc.chunks_exact(LANES);
        for (y8, x8) in (&mut ys).zip(&mut xs) {
            let x8 = load(x8);
            let v = av.mul_add(x8, load(y8));
            store(y8, v);
            acc = v.mul_add(v, acc);
            acc_dot += v * x8;
        }
        let (mut tail, mut tail_products) = (0.0f32, [0.0f32; LANES]);
        for ((yv, &xv), p) in ys.into_remainder().iter_mut().zip(xs.remainder()).zip(&mut tail_products) {
            *yv += a * xv;
            tail += *yv * *yv;
            *p = *yv * xv;
        }
        let tail_len = yc.len() % LANES;
        squares += (acc.reduce_add() + tail) as f64;
        products += (acc_dot.reduce_add() + tail_products[..tail_len].iter().sum::<f32>()) as f64;
    }
    (squares, products)
}

#[inline]
fn map(x: &[f32], out: &mut [f32], f8: impl Fn(f32x8) -> f32x8, f1: impl Fn(f32) -> f32) {
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

/// `out[i] = sigmoid(x[i])`.
pub fn sigmoid_slice(x: &[f32], out: &mut [f32]) {
    map(x, out, sigmoid_x8, scalar::sigmoid)
}

/// `out[i] = softplus(x[i])`.
pub fn softplus_slice(x: &[f32], out: &mut [f32]) {
    map(x, out, softplus_x8, scalar::softplus)
}

/// `out[i] = log_sigmoid(x[i])`.
pub fn log_sigmoid_slice(x: &[f32], out: &mut [f32]) {
    map(x, out, log_sigmoid_x8, scalar::log_sigmoid)
}

/// `out[i] = tanh(x[i])`.
pub fn tanh_slice(x: &[f32], out: &mut [f32]) {
    map(x, out, tanh_x8, scalar::tanh)
}

/// `x[i] = tanh(x[i])`, in place.
pub fn tanh_in_place(x: &mut [f32]) {
    let mut chunks = x.chunks_exact_mut(LANES);
    for c in &mut chunks {
        store(c, tanh_x8(load(c)));
    }
    for v in chunks.into_remainder() {
        *v = scalar::tanh(*v);
    }
}

/// `out[i] = logistic_noise(u[i])`.
pub fn logistic_noise_slice(u: &[f32], out: &mut [f32]) {
    map(u, out, logistic_noise_x8, scalar::logistic_noise)
}

/// Σ_j y_j·a_j − softplus(a_j) over two slices of equal length.
pub fn bernoulli_log_likelihood_sum(y: &[f32], a: &[f32]) -> f32 {
    let n = y.len().min(a.len());
    let (y, a) = (&y[..n], &a[..n]);
    let mut ys = y.chunks_exact(LANES);
    let mut as_ = a.chunks_exact(LANES);
    let mut acc = f32x8::ZERO;
    for (yc, ac) in (&mut ys).zip(&mut as_) {
        acc += bernoulli_log_likelihood_x8(load(yc), load(ac));
    }
    acc.reduce_add() + scalar::bernoulli_log_likelihood_sum(ys.remainder(), as_.remainder())
}

/// log Σ_j e^{x_j}, shifted by the maximum. Empty input gives −∞.
pub fn logsumexp(x: &[f32]) -> f32 {
    let mut chunks = x.chunks_exact(LANES);
    let mut vmax = f32x8::splat(f32::NEG_INFINITY);
    for c in &mut chunks {
        vmax = vmax.max(load(c));
    }
    let m = chunks
        .remainder()
        .iter()
        .copied()
        .fold(vmax.to_array().into_iter().fold(f32::NEG_INFINITY, libm::fmaxf), libm::fmaxf);
    if !m.is_finite() {
        return m;
    }
    let vm = f32x8::splat(m);
    let mut acc = f32x8::ZERO;
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        acc += (load(c) - vm).exp();
    }
    let tail: f32 = chunks.remainder().iter().map(|&v| libm::expf(v - m)).sum();
    m + libm::logf(acc.reduce_add() + tail)
}
