//! Batch kernels for Bernoulli layers over flat row-major slices: sampling, relaxation,
//! log-likelihoods and their derivatives. All run through the SIMD lane functions.

use super::RelaxCoefficients;
use crate::math::scalar;
use crate::math::simd::{
    LANES, bernoulli_log_likelihood_and_mean_x8, bernoulli_log_likelihood_sum, load, sigmoid_x8, store, zip_map,
};
use wide::f32x8;

/// prob = σ(a), sample = 1[a + ε > 0].
pub(crate) fn sample_hard(logits: &[f32], noise: &[f32], prob: &mut [f32], sample: &mut [f32]) {
    zip_map(logits, noise, prob, |a, _| sigmoid_x8(a));
    zip_map(logits, noise, sample, |a, e| (a + e).simd_gt(f32x8::ZERO).select(f32x8::ONE, f32x8::ZERO));
}

/// out[r] = Σ_j s_rj·a_rj − softplus(a_rj): log-probability of (relaxed) samples `s` under
/// per-row logits `a`, `dim` units per row.
pub(crate) fn log_prob_rows(sample: &[f32], logits: &[f32], dim: usize, out: &mut [f32]) {
    for ((s, a), o) in sample.chunks_exact(dim).zip(logits.chunks_exact(dim)).zip(out.iter_mut()) {
        *o = bernoulli_log_likelihood_sum(s, a);
    }
}

/// out[r] = Σ_j s_rj·π_j − softplus(π_j): log-probability under logits `prior` shared by all rows.
pub(crate) fn log_prob_rows_shared(sample: &[f32], prior: &[f32], out: &mut [f32]) {
    let dim = prior.len();
    for (s, o) in sample.chunks_exact(dim).zip(out.iter_mut()) {
        *o = bernoulli_log_likelihood_sum(s, prior);
    }
}

/// out[r] = Σ_j x_rj·o_rj − softplus(o_rj) with o = g + bias (bias shared by all rows), and
/// mean = σ(o), the output probabilities that [`output_adjoint`] and [`output_adjoint_tangent`]
/// take: computed here, where o is at hand, they are the values those would compute from o.
pub(crate) fn output_log_lik_rows(target: &[f32], g: &[f32], bias: &[f32], out: &mut [f32], mean: &mut [f32]) {
    let dim = bias.len();
    let full = dim / LANES * LANES;
    let rows = target.chunks_exact(dim).zip(g.chunks_exact(dim)).zip(mean.chunks_exact_mut(dim));
    for (((x, gr), pr), o) in rows.zip(out.iter_mut()) {
        let mut acc = f32x8::ZERO;
        for c in (0..full).step_by(LANES) {
            let a = load(&gr[c..]) + load(&bias[c..]);
            let (log_lik, mean) = bernoulli_log_likelihood_and_mean_x8(load(&x[c..]), a);
            acc += log_lik;
            store(&mut pr[c..], mean);
        }
        let tail: f32 = (full..dim).map(|j| scalar::bernoulli_log_likelihood(x[j], gr[j] + bias[j])).sum();
        *o = acc.reduce_add() + tail;
        // The tail's probabilities as a padded vector (as `zip_map` computes them).
        zip_map(&gr[full..], &bias[full..], &mut pr[full..], |g, b| sigmoid_x8(g + b));
    }
}

/// d = scale·(x − p): the adjoint of the output logits of scale·log p(x | ·), from the output
/// probabilities p = σ(g + bias) of [`output_log_lik_rows`].
pub(crate) fn output_adjoint(target: &[f32], mean: &[f32], scale: f32, d: &mut [f32]) {
    let sc = f32x8::splat(scale);
    zip_map(target, mean, d, |x, p| sc * (x - p));
}

/// d_dot = −scale·p(1 − p)·g_dot: the τ-tangent of [`output_adjoint`] for a tangent of g (p the
/// output probabilities of [`output_log_lik_rows`]).
pub(crate) fn output_adjoint_tangent(mean: &[f32], g_dot: &[f32], scale: f32, d_dot: &mut [f32]) {
    let sc = f32x8::splat(-scale);
    zip_map(mean, g_dot, d_dot, |p, gd| sc * p * (f32x8::ONE - p) * gd);
}

/// out = σ(g + bias): the decoder's mean for one row.
pub(crate) fn mean_output(g: &[f32], bias: &[f32], out: &mut [f32]) {
    zip_map(g, bias, out, |g, b| sigmoid_x8(g + b));
}

/// y = σ(α·(a + ε) + β·a).
pub(crate) fn relax(logits: &[f32], noise: &[f32], c: RelaxCoefficients, y: &mut [f32]) {
    let (al, be) = (f32x8::splat(c.alpha), f32x8::splat(c.beta));
    zip_map(logits, noise, y, |a, e| sigmoid_x8(al * (a + e) + be * a));
}

/// out = 2x − 1 (the ±1 input of the next map).
pub(crate) fn plus_minus_one(x: &[f32], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = 2.0 * v - 1.0;
    }
}
