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
use wide::{f32x8, i32x8};

/// Lanes per SIMD vector in the elementwise kernels.
pub const LANES: usize = 8;

/// Lane-wise e^x, bit for bit `wide`'s `f32x8::exp` (the same range reduction and polynomial),
/// about 1.8× faster: when every lane is in [−87, 88] — always, for the e^{−|x|} of sigmoid and
/// softplus, unless |x| > 87 — 2^r is built directly from its exponent bits and none of
/// `wide`'s underflow, overflow, infinity and NaN selects are needed; otherwise the whole vector
/// goes through `wide`.
#[inline]
pub fn exp_x8(x: f32x8) -> f32x8 {
    if !(x.simd_ge(f32x8::splat(-87.0)) & x.simd_le(f32x8::splat(88.0))).all() {
        return x.exp();
    }
    // x = r·ln 2 + y with |y| ≤ ln 2 / 2, ln 2 split in two so that r·ln2_hi is exact.
    let r = (x * f32x8::splat(core::f32::consts::LOG2_E)).round_ties_even();
    let y = r.mul_neg_add(f32x8::splat(0.693_359_4), x);
    let y = r.mul_neg_add(f32x8::splat(-2.121_944_4e-4), y);
    // e^y − 1 − y = y²·(1/2 + y/6 + … + y⁵/5040), in `wide`'s evaluation order.
    let c = |v: f32| f32x8::splat(v);
    let (y2, y4) = (y * y, y * y * (y * y));
    let p = c(1.0 / 120.0)
        .mul_add(y, c(1.0 / 24.0))
        .mul_add(y2, c(1.0 / 5040.0).mul_add(y, c(1.0 / 720.0)).mul_add(y4, c(1.0 / 6.0).mul_add(y, c(1.0 / 2.0))));
    let em1 = p.mul_add(y2, y);
    // 2^r for r ∈ [−126, 127]: r + 127 in the exponent field (the float sum leaves it in the
    // low mantissa bits, as `wide` does).
    let biased: i32x8 = bytemuck::cast(r + f32x8::splat(127.0 + 8_388_608.0));
    let pow2: f32x8 = bytemuck::cast(biased << 23);
    (em1 + f32x8::ONE) * pow2
}

/// Lane-wise e^x, bit for bit `libm::expf` (FreeBSD's `e_expf.c`: the same three argument
/// ranges, reduction, rational approximation and f32 operations in the same order), for the
/// loops whose scalar form calls [`scalar::sigmoid`] and must keep its exact values. Vectors
/// with a lane of |x| ≥ 87.3 (or NaN) take `libm` lane by lane.
#[inline]
pub fn exp_libm_x8(x: f32x8) -> f32x8 {
    let bits = bytemuck::cast::<f32x8, i32x8>(x);
    let hx = bits & i32x8::splat(0x7fff_ffff);
    if !hx.simd_lt(i32x8::splat(0x42ae_ac50)).all() {
        return f32x8::new(x.to_array().map(libm::expf));
    }
    const LN2_HI: f32 = f32::from_bits(0x3f31_7200);
    const LN2_LO: f32 = f32::from_bits(0x35bf_be8e);
    const INV_LN2: f32 = f32::from_bits(0x3fb8_aa3b);
    const P1: f32 = f32::from_bits(0x3e2a_aa8f);
    const P2: f32 = f32::from_bits(0xbb35_5215);
    let c = |v: f32| f32x8::splat(v);
    let negative = x.simd_lt(f32x8::ZERO);
    // k = round(x/ln 2) for |x| > 1.04, ±1 down to |x| > 0.35, else 0 (then hi = x, lo = 0).
    let half = negative.select(c(-0.5), c(0.5));
    let k_big = (c(INV_LN2) * x + half).trunc_int();
    let negative_i = bytemuck::cast::<f32x8, i32x8>(negative); // −1 where negative, else 0
    let k_one = negative_i + negative_i + i32x8::splat(1);
    let big = hx.simd_gt(i32x8::splat(0x3f85_1592));
    let mid = hx.simd_gt(i32x8::splat(0x3eb1_7218));
    let k = big.select(k_big, mid.select(k_one, i32x8::ZERO));
    let kf = k.round_float();
    let hi = x - kf * c(LN2_HI);
    let lo = kf * c(LN2_LO);
    let r = hi - lo;
    let rr = r * r;
    let cr = r - rr * (c(P1) + rr * c(P2));
    let y = c(1.0) + (r * cr / (c(2.0) - cr) - lo + hi);
    // y·2^k with k ∈ [−126, 126] here: one multiply, as `scalbnf` does in that range.
    let pow2: f32x8 = bytemuck::cast((k + i32x8::splat(0x7f)) << 23_i32);
    let tiny = hx.simd_le(i32x8::splat(0x3900_0000));
    bytemuck::cast::<i32x8, f32x8>(tiny).select(c(1.0) + x, y * pow2)
}

/// Lane-wise σ(x), bit for bit [`scalar::sigmoid`] (through [`exp_libm_x8`]); [`sigmoid_x8`] is
/// the faster form for code that does not need the scalar values.
#[inline]
pub fn sigmoid_libm_x8(x: f32x8) -> f32x8 {
    let e = exp_libm_x8(-x.abs());
    let s = f32x8::ONE / (f32x8::ONE + e);
    x.simd_ge(f32x8::ZERO).select(s, e * s)
}

/// Lane-wise σ(x), stable for both signs (see [`scalar::sigmoid`]).
#[inline]
pub fn sigmoid_x8(x: f32x8) -> f32x8 {
    sigmoid_from_exp(x, exp_x8(-x.abs()))
}

/// σ(x) given e = e^{−|x|}.
#[inline(always)]
fn sigmoid_from_exp(x: f32x8, e: f32x8) -> f32x8 {
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
    softplus_from_exp(x, exp_x8(-x.abs()))
}

/// softplus(x) given e = e^{−|x|}.
#[inline(always)]
fn softplus_from_exp(x: f32x8, e: f32x8) -> f32x8 {
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

/// Lane-wise ln x, bit for bit `libm::logf` (FreeBSD's `e_logf.c`: the same reduction to
/// [√2/2, √2], the same polynomial, the same f32 operations in the same order, no fused
/// multiply-adds), so that vector and scalar code draw identical noise on every platform.
/// Lanes that are not positive normal finite numbers take the whole vector through `libm`.
#[inline]
pub fn logf_x8(x: f32x8) -> f32x8 {
    if !(x.simd_ge(f32x8::splat(f32::MIN_POSITIVE)) & x.simd_le(f32x8::splat(f32::MAX))).all() {
        return f32x8::new(x.to_array().map(libm::logf));
    }
    // libm's constants, by their bits.
    const LN2_HI: f32 = f32::from_bits(0x3f31_7180);
    const LN2_LO: f32 = f32::from_bits(0x3717_f7d1);
    const LG1: f32 = f32::from_bits(0x3f2a_aaaa);
    const LG2: f32 = f32::from_bits(0x3ecc_ce13);
    const LG3: f32 = f32::from_bits(0x3e91_e9ee);
    const LG4: f32 = f32::from_bits(0x3e78_9e26);
    let c = |v: f32| f32x8::splat(v);
    // x = 2^k·m with m ∈ [√2/2, √2].
    let ix = bytemuck::cast::<f32x8, i32x8>(x) + i32x8::splat(0x3f80_0000 - 0x3f35_04f3);
    let k = (ix >> 23_i32) - i32x8::splat(0x7f);
    let m: f32x8 = bytemuck::cast((ix & i32x8::splat(0x007f_ffff)) + i32x8::splat(0x3f35_04f3));
    let f = m - f32x8::ONE;
    let s = f / (c(2.0) + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (c(LG2) + w * c(LG4));
    let t2 = z * (c(LG1) + w * c(LG3));
    let r = t2 + t1;
    let hfsq = c(0.5) * f * f;
    let dk = k.round_float();
    s * (hfsq + r) + dk * c(LN2_LO) - hfsq + f + dk * c(LN2_HI)
}

/// Lane-wise logistic noise log(clip(u)) − log(clip(1 − u)), clip to `[1e-8, 1]`: bit for bit
/// [`scalar::logistic_noise`].
#[inline]
pub fn logistic_noise_x8(u: f32x8) -> f32x8 {
    let lo = f32x8::splat(scalar::LOG_CLIP);
    // `max`/`min` as `fmaxf`/`fminf`: a NaN u gives the clip bound.
    let clip = |v: f32x8| v.max(lo).min(f32x8::ONE);
    logf_x8(clip(u)) - logf_x8(clip(f32x8::ONE - u))
}

/// Lane-wise Bernoulli log-likelihood y·a − softplus(a).
#[inline]
pub fn bernoulli_log_likelihood_x8(y: f32x8, a: f32x8) -> f32x8 {
    y * a - softplus_x8(a)
}

/// Lane-wise ([`bernoulli_log_likelihood_x8`], [`sigmoid_x8`]) of the same logits `a`, with
/// one exponential for the two (the same values as the two calls: a separate call's exponential
/// is not merged with the other's by the compiler, for the range check's branch inside it).
#[inline]
pub fn bernoulli_log_likelihood_and_mean_x8(y: f32x8, a: f32x8) -> (f32x8, f32x8) {
    let e = exp_x8(-a.abs());
    (y * a - softplus_from_exp(a, e), sigmoid_from_exp(a, e))
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

/// `out[i] = w·(y[i] − σ(a[i]))` over slices of any length, bit for bit
/// [`scalar::bernoulli_logit_grad`] (σ through [`sigmoid_libm_x8`]): the adjoint of a Bernoulli
/// layer's logits, which the models' backward passes must keep at the scalar values.
#[inline]
pub fn bernoulli_logit_grad(y: &[f32], a: &[f32], w: f32, out: &mut [f32]) {
    let w = f32x8::splat(w);
    zip_map(y, a, out, |y, a| w * (y - sigmoid_libm_x8(a)));
}

/// The tangent of [`bernoulli_logit_grad`] along `(ẏ, ȧ)`, `out[i] = w·(ẏ[i] − p·(1 − p)·ȧ[i])`
/// with `p = σ(a[i])`, bit for bit [`scalar::bernoulli_logit_grad_tangent`].
#[inline]
pub fn bernoulli_logit_grad_tangent(y_dot: &[f32], a: &[f32], a_dot: &[f32], w: f32, out: &mut [f32]) {
    let w = f32x8::splat(w);
    zip3_map(y_dot, a, a_dot, out, |yd, a, ad| {
        let p = sigmoid_libm_x8(a);
        w * (yd - p * (f32x8::ONE - p) * ad)
    });
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
        acc += exp_x8(load(c) - vm);
    }
    let tail: f32 = chunks.remainder().iter().map(|&v| libm::expf(v - m)).sum();
    m + libm::logf(acc.reduce_add() + tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `exp_x8` is `wide`'s exp bit for bit: every 61st float of both signs (≈ 70 million values,
    /// every exponent, both paths, ±∞ and NaN included), each lane a different input.
    #[test]
    fn exp_matches_wide_bit_for_bit() {
        let mut lanes = [0.0f32; LANES];
        let mut filled = 0;
        let check = |lanes: &[f32; LANES]| {
            let (ours, theirs) = (exp_x8(f32x8::new(*lanes)).to_array(), f32x8::new(*lanes).exp().to_array());
            for ((o, t), x) in ours.iter().zip(&theirs).zip(lanes) {
                assert!(o.to_bits() == t.to_bits() || (o.is_nan() && t.is_nan()), "exp({x:e}): {o:e} vs {t:e}");
            }
        };
        for bits in (0..=u32::MAX).step_by(61).chain([0x7F80_0000, 0xFF80_0000, 0x7FC0_0000]) {
            lanes[filled] = f32::from_bits(bits);
            filled += 1;
            if filled == LANES {
                check(&lanes);
                filled = 0;
            }
        }
        // A vector that mixes the fast range with one lane outside it takes `wide`'s path.
        check(&[-1.0, 0.5, -100.0, 3.0, 0.0, -0.0, 88.5, -86.9]);
    }

    /// `exp_libm_x8` is `libm::expf` and `sigmoid_libm_x8` is `scalar::sigmoid`, bit for bit:
    /// every 61st float of both signs (both paths, every range of the reduction).
    #[test]
    fn libm_exp_and_sigmoid_match_the_scalar_ones_bit_for_bit() {
        let same = |o: f32, t: f32| o.to_bits() == t.to_bits() || (o.is_nan() && t.is_nan());
        let mut lanes = [0.0f32; LANES];
        for (i, bits) in (0..=u32::MAX).step_by(61).chain([0x7F80_0000, 0xFF80_0000, 0x7FC0_0000]).enumerate() {
            lanes[i % LANES] = f32::from_bits(bits);
            if i % LANES == LANES - 1 {
                let (e, s) = (exp_libm_x8(f32x8::new(lanes)).to_array(), sigmoid_libm_x8(f32x8::new(lanes)).to_array());
                for ((x, e), s) in lanes.iter().zip(e).zip(s) {
                    assert!(same(e, libm::expf(*x)), "exp({x:e}): {e:e} vs {:e}", libm::expf(*x));
                    assert!(same(s, scalar::sigmoid(*x)), "sigmoid({x:e}): {s:e} vs {:e}", scalar::sigmoid(*x));
                }
            }
        }
    }

    /// `logf_x8` is `libm::logf` bit for bit: every 61st float (both signs, zeros, subnormals,
    /// ±∞ and NaN included), and every point of the uniform grid's first and last 2¹⁶ steps,
    /// where the noise's logs are largest.
    #[test]
    fn logf_matches_libm_bit_for_bit() {
        let check = |lanes: [f32; LANES]| {
            for (o, x) in logf_x8(f32x8::new(lanes)).to_array().iter().zip(&lanes) {
                let t = libm::logf(*x);
                assert!(o.to_bits() == t.to_bits() || (o.is_nan() && t.is_nan()), "logf({x:e}): {o:e} vs {t:e}");
            }
        };
        let grid = |k: u32| (k as f32 + 0.5) / (1u32 << 24) as f32;
        let values = (0..=u32::MAX).step_by(61).map(f32::from_bits).chain((0..1 << 16).map(grid));
        let values = values.chain(((1 << 24) - (1 << 16)..1 << 24).map(grid));
        let mut lanes = [1.0f32; LANES];
        for (i, v) in values.enumerate() {
            lanes[i % LANES] = v;
            if i % LANES == LANES - 1 {
                check(lanes);
            }
        }
        // And the noise built on it is the scalar noise, at the clip bounds too.
        for u in [0.0f32, 1.0, 0.5, 1e-9, 3e-8, 1.0 - 6e-8, f32::NAN, 0.25] {
            let (o, t) = (logistic_noise_x8(f32x8::splat(u)).to_array()[0], scalar::logistic_noise(u));
            assert_eq!(o.to_bits(), t.to_bits(), "logistic_noise({u:e})");
        }
    }
}
