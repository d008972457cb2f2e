//! The logistic family, lane-wise and over slices: σ, softplus(x) = −log σ(−x), log σ,
//! tanh(x) = 2σ(2x) − 1 and the logistic noise σ⁻¹(u). The slice functions have the names and
//! signatures of [`crate::math::scalar`]'s, so that the harness of `core/src/math/mod.rs`
//! checks both paths with the same tests.

use super::exp_log::{exp_libm_x8, exp_x8, logf_x8};
use super::{LANES, load, map, store};
use crate::math::scalar;
use wide::f32x8;

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
pub(super) fn sigmoid_from_exp(x: f32x8, e: f32x8) -> f32x8 {
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
pub(super) fn softplus_from_exp(x: f32x8, e: f32x8) -> f32x8 {
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

/// Lane-wise logistic noise log(clip(u)) − log(clip(1 − u)), clip to `[1e-8, 1]`: bit for bit
/// [`scalar::logistic_noise`].
#[inline]
pub fn logistic_noise_x8(u: f32x8) -> f32x8 {
    let lo = f32x8::splat(scalar::LOG_CLIP);
    // `max`/`min` as `fmaxf`/`fminf`: a NaN u gives the clip bound.
    let clip = |v: f32x8| v.max(lo).min(f32x8::ONE);
    logf_x8(clip(u)) - logf_x8(clip(f32x8::ONE - u))
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
