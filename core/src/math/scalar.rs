//! Scalar reference math through `libm`: the ground truth the SIMD path is tested against,
//! and the tail loop of every SIMD kernel.
//!
//! Every function is total on finite input: no NaN or infinity comes out for finite `x`,
//! however large `|x|` is (1e4, 1e30, `f32::MAX`).

use crate::model::RelaxCoefficients;

/// Clip for the arguments of `log` in the logistic noise, as the official code's
/// `safe_log_prob` (docs/estimators.md, *Noise and relaxations*): `log(clip(u, 1e-8, 1))`.
pub const LOG_CLIP: f32 = 1e-8;

/// σ(x) = 1 / (1 + e^{−x}), evaluated as e^{x}/(1 + e^{x}) for negative x so that small outputs keep
/// their relative precision (σ(−100) ≈ 3.7e−44 rather than 0).
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    let e = libm::expf(-libm::fabsf(x));
    let s = 1.0 / (1.0 + e);
    if x >= 0.0 { s } else { e * s }
}

/// softplus(x) = log(1 + e^{x}) = max(x, 0) + log1p(e^{−|x|}): no overflow for any finite x.
#[inline]
pub fn softplus(x: f32) -> f32 {
    libm::fmaxf(x, 0.0) + libm::log1pf(libm::expf(-libm::fabsf(x)))
}

/// log σ(x) = −softplus(−x).
#[inline]
pub fn log_sigmoid(x: f32) -> f32 {
    -softplus(-x)
}

/// tanh(x).
#[inline]
pub fn tanh(x: f32) -> f32 {
    libm::tanhf(x)
}

/// Logistic noise L(u) = log u − log(1 − u), each log argument clipped to `[1e-8, 1]` as the
/// official code does, so that u ∈ {0, 1} gives ±18.42 instead of ±∞.
#[inline]
pub fn logistic_noise(u: f32) -> f32 {
    let lo = libm::logf(clip_log_arg(u));
    let hi = libm::logf(clip_log_arg(1.0 - u));
    lo - hi
}

#[inline]
fn clip_log_arg(u: f32) -> f32 {
    // `fmaxf`/`fminf` ignore NaN: a NaN u gives the clip bound, never a panic.
    libm::fminf(libm::fmaxf(u, LOG_CLIP), 1.0)
}

/// Bernoulli log-likelihood of a (possibly soft) target `y ∈ [0, 1]` under logit `a`:
/// y·log σ(a) + (1 − y)·log(1 − σ(a)) = y·a − softplus(a).
#[inline]
pub fn bernoulli_log_likelihood(y: f32, a: f32) -> f32 {
    y * a - softplus(a)
}

/// Σ_j bernoulli_log_likelihood(y_j, a_j) over two slices of equal length (extra elements of the
/// longer one are ignored).
pub fn bernoulli_log_likelihood_sum(y: &[f32], a: &[f32]) -> f32 {
    y.iter().zip(a).map(|(&y, &a)| bernoulli_log_likelihood(y, a)).sum()
}

/// `out[i] = w·(y[i] − σ(a[i]))`: `w` times the derivative of
/// [`bernoulli_log_likelihood`]`(y, a)` in the logit `a`.
pub fn bernoulli_logit_grad(y: &[f32], a: &[f32], w: f32, out: &mut [f32]) {
    for ((o, &y), &a) in out.iter_mut().zip(y).zip(a) {
        *o = w * (y - sigmoid(a));
    }
}

/// The tangent of [`bernoulli_logit_grad`] along `(ẏ, ȧ)`: `out[i] = w·(ẏ[i] − p·(1 − p)·ȧ[i])`
/// with `p = σ(a[i])`.
pub fn bernoulli_logit_grad_tangent(y_dot: &[f32], a: &[f32], a_dot: &[f32], w: f32, out: &mut [f32]) {
    for (((o, &yd), &a), &ad) in out.iter_mut().zip(y_dot).zip(a).zip(a_dot) {
        let p = sigmoid(a);
        *o = w * (yd - p * (1.0 - p) * ad);
    }
}

/// log Σ_j e^{x_j}, shifted by the maximum so that no term overflows. Empty input gives −∞
/// (the log of an empty sum).
pub fn logsumexp(x: &[f32]) -> f32 {
    let m = x.iter().copied().fold(f32::NEG_INFINITY, libm::fmaxf);
    if m == f32::NEG_INFINITY || !m.is_finite() {
        return m;
    }
    let s: f32 = x.iter().map(|&v| libm::expf(v - m)).sum();
    m + libm::logf(s)
}

/// `out[i] = sigmoid(x[i])`.
pub fn sigmoid_slice(x: &[f32], out: &mut [f32]) {
    map(x, out, sigmoid)
}

/// `out[i] = softplus(x[i])`.
pub fn softplus_slice(x: &[f32], out: &mut [f32]) {
    map(x, out, softplus)
}

/// `out[i] = log_sigmoid(x[i])`.
pub fn log_sigmoid_slice(x: &[f32], out: &mut [f32]) {
    map(x, out, log_sigmoid)
}

/// `out[i] = tanh(x[i])`.
pub fn tanh_slice(x: &[f32], out: &mut [f32]) {
    map(x, out, tanh)
}

/// `out[i] = logistic_noise(u[i])`.
pub fn logistic_noise_slice(u: &[f32], out: &mut [f32]) {
    map(u, out, logistic_noise)
}

#[inline]
fn map(x: &[f32], out: &mut [f32], f: impl Fn(f32) -> f32) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = f(v);
    }
}

/// Reverse mode of one row of a relaxed sample y = σ(α·(a + ε) + β·a) from the adjoint `y_bar`
/// of y: `s_bar` = ȳ·y(1 − y), `logits_bar` = s̄·(α + β) − w·(y − σ(a)) with the log q term's
/// weight `w` if given, and the returned Σ_j s̄_j·(dα·(a_j + ε_j) + dβ·a_j), in unit order.
#[allow(clippy::too_many_arguments)]
pub fn relaxed_sample_adjoint_row(
    y: &[f32],
    logits: &[f32],
    noise: &[f32],
    y_bar: &[f32],
    c: RelaxCoefficients,
    log_q_weight: Option<f32>,
    s_bar: &mut [f32],
    logits_bar: &mut [f32],
) -> f32 {
    let n = y.len().min(logits.len()).min(noise.len()).min(y_bar.len()).min(s_bar.len()).min(logits_bar.len());
    let mut dtau = 0.0f32;
    for j in 0..n {
        let (y, a, e) = (y[j], logits[j], noise[j]);
        s_bar[j] = y_bar[j] * y * (1.0 - y);
        let direct = log_q_weight.map_or(0.0, |w| -w * (y - sigmoid(a)));
        logits_bar[j] = s_bar[j] * (c.alpha + c.beta) + direct;
        dtau += s_bar[j] * (c.d_alpha * (a + e) + c.d_beta * a);
    }
    dtau
}

/// The τ-tangent of [`relaxed_sample_adjoint_row`] for tangents `y_dot` of y and `logits_dot`
/// of a, given its (`y_bar`, `s_bar`): on entry `s_bar_dot` holds the tangent of ȳ, on return
/// ṡ̄ = ȳ̇·y(1 − y) + ȳ·(1 − 2y)·ẏ; `logits_bar_dot` = ṡ̄·(α + β) + s̄·(dα + dβ) −
/// w·(ẏ − σ'(a)·ȧ) with the log q term's weight `w` if given.
#[allow(clippy::too_many_arguments)]
pub fn relaxed_sample_adjoint_tangent_row(
    y: &[f32],
    y_dot: &[f32],
    logits: &[f32],
    logits_dot: &[f32],
    (y_bar, s_bar): (&[f32], &[f32]),
    c: RelaxCoefficients,
    log_q_weight: Option<f32>,
    s_bar_dot: &mut [f32],
    logits_bar_dot: &mut [f32],
) {
    let n = [y.len(), y_dot.len(), logits.len(), logits_dot.len(), y_bar.len(), s_bar.len(), s_bar_dot.len()]
        .into_iter()
        .fold(logits_bar_dot.len(), usize::min);
    for j in 0..n {
        let (y, y_dot) = (y[j], y_dot[j]);
        s_bar_dot[j] = s_bar_dot[j] * y * (1.0 - y) + y_bar[j] * (1.0 - 2.0 * y) * y_dot;
        let direct = log_q_weight.map_or(0.0, |w| {
            let p = sigmoid(logits[j]);
            -w * (y_dot - p * (1.0 - p) * logits_dot[j])
        });
        logits_bar_dot[j] = s_bar_dot[j] * (c.alpha + c.beta) + s_bar[j] * (c.d_alpha + c.d_beta) + direct;
    }
}
