//! Row loops of Bernoulli layers over flat row-major slices: per-row log-likelihoods and the ±1
//! inputs of the next map. The lane work is the kernels of [`crate::math::simd`].

use crate::math::simd::{bernoulli_log_likelihood_sum, bernoulli_log_likelihood_sum_and_mean};

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
/// mean = σ(o), the output probabilities the adjoints take: computed here, where o is at hand,
/// they are the values those would compute from o.
pub(crate) fn output_log_lik_rows(target: &[f32], g: &[f32], bias: &[f32], out: &mut [f32], mean: &mut [f32]) {
    let dim = bias.len();
    let rows = target.chunks_exact(dim).zip(g.chunks_exact(dim)).zip(mean.chunks_exact_mut(dim));
    for (((x, gr), pr), o) in rows.zip(out.iter_mut()) {
        *o = bernoulli_log_likelihood_sum_and_mean(x, gr, bias, pr);
    }
}

/// out = 2x − 1 (the ±1 input of the next map).
pub(crate) fn plus_minus_one(x: &[f32], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = 2.0 * v - 1.0;
    }
}
