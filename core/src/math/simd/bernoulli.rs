//! Bernoulli log-likelihoods y·a − softplus(a) and their gradient in the logits, lane-wise and
//! over slices.

use super::logistic::{sigmoid_from_exp, sigmoid_libm_x8, softplus_from_exp, softplus_x8};
use super::{LANES, exp_x8, load, zip_map, zip3_map};
use crate::math::scalar;
use wide::f32x8;

/// Lane-wise Bernoulli log-likelihood y·a − softplus(a).
#[inline]
pub fn bernoulli_log_likelihood_x8(y: f32x8, a: f32x8) -> f32x8 {
    y * a - softplus_x8(a)
}

/// Lane-wise ([`bernoulli_log_likelihood_x8`], [`super::sigmoid_x8`]) of the same logits `a`, with
/// one exponential for the two (the same values as the two calls: a separate call's exponential
/// is not merged with the other's by the compiler, for the range check's branch inside it).
#[inline]
pub fn bernoulli_log_likelihood_and_mean_x8(y: f32x8, a: f32x8) -> (f32x8, f32x8) {
    let e = exp_x8(-a.abs());
    (y * a - softplus_from_exp(a, e), sigmoid_from_exp(a, e))
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
