//! Bernoulli log-likelihoods y·a − softplus(a) and their gradient in the logits, lane-wise and
//! over slices, and the batch steps of a Bernoulli layer built on them: the hard sample, a row's
//! log-likelihood with its mean, and the adjoint of the logits and its tangent.

use super::logistic::{sigmoid_from_exp, sigmoid_libm_x8, softplus_from_exp, softplus_x8};
use super::{LANES, exp_x8, load, sigmoid_x8, store, zip_map, zip3_map};
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

/// prob = σ(a) and sample = 1[a + ε > 0] elementwise: a Bernoulli layer's hard pass from its
/// logits `a` and logistic noise `ε`.
pub fn bernoulli_sample(logits: &[f32], noise: &[f32], prob: &mut [f32], sample: &mut [f32]) {
    zip_map(logits, noise, prob, |a, _| sigmoid_x8(a));
    zip_map(logits, noise, sample, |a, e| (a + e).simd_gt(f32x8::ZERO).select(f32x8::ONE, f32x8::ZERO));
}

/// Σ_j x_j·o_j − softplus(o_j) for one row with logits o = g + bias, returned, and mean = σ(o)
/// (one exponential for the two, [`bernoulli_log_likelihood_and_mean_x8`]; the tail's sum is the
/// scalar one and its mean a zero-padded vector, as [`zip_map`] computes it).
pub fn bernoulli_log_likelihood_sum_and_mean(target: &[f32], g: &[f32], bias: &[f32], mean: &mut [f32]) -> f32 {
    let dim = bias.len();
    let (target, g, mean) = (&target[..dim], &g[..dim], &mut mean[..dim]);
    let full = dim / LANES * LANES;
    let mut acc = f32x8::ZERO;
    for c in (0..full).step_by(LANES) {
        let a = load(&g[c..]) + load(&bias[c..]);
        let (log_lik, m) = bernoulli_log_likelihood_and_mean_x8(load(&target[c..]), a);
        acc += log_lik;
        store(&mut mean[c..], m);
    }
    let tail: f32 = (full..dim).map(|j| scalar::bernoulli_log_likelihood(target[j], g[j] + bias[j])).sum();
    zip_map(&g[full..], &bias[full..], &mut mean[full..], |g, b| sigmoid_x8(g + b));
    acc.reduce_add() + tail
}

/// out = w·(x − p) elementwise: the adjoint of the logits of w·log p(x | logits) from the
/// probabilities p = σ(logits) (of [`bernoulli_log_likelihood_sum_and_mean`]).
pub fn bernoulli_mean_residual(x: &[f32], p: &[f32], w: f32, out: &mut [f32]) {
    let w = f32x8::splat(w);
    zip_map(x, p, out, |x, p| w * (x - p));
}

/// out = −w·p(1 − p)·ȧ elementwise: the tangent of [`bernoulli_mean_residual`] along a tangent
/// ȧ of the logits.
pub fn bernoulli_mean_residual_tangent(p: &[f32], a_dot: &[f32], w: f32, out: &mut [f32]) {
    let w = f32x8::splat(-w);
    zip_map(p, a_dot, out, |p, ad| w * p * (f32x8::ONE - p) * ad);
}

/// out = σ(g + bias) elementwise.
pub fn sigmoid_of_sum(g: &[f32], bias: &[f32], out: &mut [f32]) {
    zip_map(g, bias, out, |g, b| sigmoid_x8(g + b));
}
