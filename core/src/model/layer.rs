//! Per-layer and per-example workspaces shared by every model and read by the estimators.

use super::RelaxCoefficients;
use super::bernoulli::log_prob_rows;
use crate::math::scalar::sigmoid;
use crate::math::simd::{
    bernoulli_sample, relaxed_sample, relaxed_sample_adjoint_row, relaxed_sample_adjoint_tangent_row,
};
use bytemuck::Zeroable;

/// Everything one stochastic layer of `H` units holds for a batch of at most `B` examples.
///
/// Hard-pass values are written by [`super::Sbn::hard_forward`], relaxed values (`r_*`) by the
/// relaxed passes; `noise`, `noise_alt` and `dlogits` are the estimators' to fill.
#[derive(Zeroable)]
#[repr(C)]
pub struct LayerScratch<const H: usize, const B: usize> {
    /// Logistic noise ε = log u − log(1 − u) of the hard pass and of every relaxed pass.
    pub noise: [[f32; H]; B],
    /// Alternative noise (antithetic samples, conditional z̃ − a, ...), chosen per pass.
    pub noise_alt: [[f32; H]; B],
    /// Hard-pass logits a.
    pub logits: [[f32; H]; B],
    /// Hard-pass probabilities θ = σ(a).
    pub prob: [[f32; H]; B],
    /// Hard samples b ∈ {0, 1}.
    pub sample: [[f32; H]; B],
    /// log q(b | input) per example (Σ over units).
    pub log_q: [f32; B],
    /// Relaxed-pass logits a' (equal to `logits` for the layer the relaxation starts at).
    pub r_logits: [[f32; H]; B],
    /// Relaxed samples y = σ(s).
    pub r_y: [[f32; H]; B],
    /// Adjoint of y in the relaxed reverse pass.
    pub r_y_bar: [[f32; H]; B],
    /// Adjoint of s (pre-sigmoid) in the relaxed reverse pass.
    pub r_s_bar: [[f32; H]; B],
    /// Adjoint of the relaxed logits a' (with ∂z/∂a' = 1), including the direct log q term.
    pub r_logits_bar: [[f32; H]; B],
    /// Tangent of `r_logits_bar` in τ.
    pub r_logits_bar_dot: [[f32; H]; B],
    /// Tangent of the relaxed logits in τ = log λ.
    pub r_logits_dot: [[f32; H]; B],
    /// Tangent of y in τ.
    pub r_y_dot: [[f32; H]; B],
    /// Tangent of `r_s_bar` in τ.
    pub r_s_bar_dot: [[f32; H]; B],
    /// Logit gradients an estimator passes to [`super::Sbn::encoder_backward`].
    pub dlogits: [[f32; H]; B],
}

/// Per-example values of the current batch.
#[derive(Zeroable)]
#[repr(C)]
pub struct RowScratch<const B: usize> {
    /// Number of examples loaded (≤ B).
    pub n: usize,
    /// Single-sample ELBO f(b) of the last hard pass (log p(x_bottom | b) for structured
    /// prediction).
    pub elbo: [f32; B],
    /// log p(x, b) of the last hard pass: the ELBO without the log q terms.
    pub log_p: [f32; B],
    /// Relaxed ELBO of the last relaxed pass.
    pub relaxed_elbo: [f32; B],
    /// ∂(scale · relaxed ELBO)/∂log λ of the last relaxed reverse pass.
    pub relaxed_elbo_dtau: [f32; B],
}

/// The per-unit steps of a stochastic layer, shared by every model. Each works on the first `n`
/// rows; `c` are the relaxation's coefficients (s = α·z + β·a', z = a' + ε). The lane loops are
/// the kernels of [`crate::math::simd`] (`relax.rs`, `bernoulli.rs`).
impl<const H: usize, const B: usize> LayerScratch<H, B> {
    /// The hard pass from `logits` (filled by the layer's encoder): prob = σ(a), sample =
    /// 1[a + ε > 0] with ε the `noise`, or `noise_alt` if `alt`, and log q(sample | a) per row.
    pub(crate) fn sample_hard(&mut self, n: usize, alt: bool) {
        let noise = if alt { &self.noise_alt } else { &self.noise };
        let logits = self.logits[..n].as_flattened();
        bernoulli_sample(
            logits,
            noise[..n].as_flattened(),
            self.prob.as_flattened_mut(),
            self.sample.as_flattened_mut(),
        );
        log_prob_rows(self.sample[..n].as_flattened(), logits, H, &mut self.log_q[..n]);
    }

    /// The relaxed pass of a layer whose logits are the hard ones: r_logits = logits, and y
    /// relaxed from the noise if `relaxed`, else the hard sample.
    pub(crate) fn relax_at_hard_logits(&mut self, n: usize, c: RelaxCoefficients, relaxed: bool) {
        self.r_logits[..n].copy_from_slice(&self.logits[..n]);
        if relaxed {
            self.relax_forward(n, c);
        } else {
            self.r_y[..n].copy_from_slice(&self.sample[..n]);
        }
    }

    /// y = σ(α·(a' + ε) + β·a') from `r_logits` and `noise`.
    pub(crate) fn relax_forward(&mut self, n: usize, c: RelaxCoefficients) {
        relaxed_sample(
            self.r_logits[..n].as_flattened(),
            self.noise[..n].as_flattened(),
            c,
            self.r_y.as_flattened_mut(),
        );
    }

    /// From ȳ (in `r_y_bar`, assembled by the model): s̄ = ȳ·y(1 − y) and
    /// ā' = s̄·(α + β) − [log q term] scale·(y − σ(a')), and adds Σ_j s̄·∂s/∂τ to `dtau` per row.
    pub(crate) fn finish_adjoints(
        &mut self,
        n: usize,
        c: RelaxCoefficients,
        scale: f32,
        log_q_term: bool,
        dtau: &mut [f32],
    ) {
        let log_q_weight = log_q_term.then_some(scale);
        for (r, dtau) in dtau.iter_mut().enumerate().take(n) {
            let (y, a, e, y_bar) = (&self.r_y[r], &self.r_logits[r], &self.noise[r], &self.r_y_bar[r]);
            let (s_bar, a_bar) = (&mut self.r_s_bar[r], &mut self.r_logits_bar[r]);
            *dtau += relaxed_sample_adjoint_row(y, a, e, y_bar, c, log_q_weight, s_bar, a_bar);
        }
    }

    /// ȳ = 2·`input_bar` + `extra(self, r, j)`: the adjoint of y from the adjoint of the next
    /// maps' input 2y − 1 and the model's direct terms (prior, log q, the layer above's
    /// likelihood), into `r_y_bar`.
    pub(crate) fn set_y_bar(&mut self, n: usize, input_bar: &[[f32; H]], extra: impl Fn(&Self, usize, usize) -> f32) {
        for r in 0..n {
            for j in 0..H {
                let e = extra(self, r, j);
                self.r_y_bar[r][j] = 2.0 * input_bar[r][j] + e;
            }
        }
    }

    /// The adjoints of a layer kept hard (y = b) in a relaxed pass: no s̄, and ā = the log q
    /// term −scale·(b − σ(a)) if `log_q_term`, else 0.
    pub(crate) fn hard_adjoints(&mut self, n: usize, scale: f32, log_q_term: bool) {
        for r in 0..n {
            for j in 0..H {
                self.r_s_bar[r][j] = 0.0;
                self.r_logits_bar[r][j] = if log_q_term { -scale * (self.sample[r][j] - self.prob[r][j]) } else { 0.0 };
            }
        }
    }

    /// ẏ = y(1 − y)·ṡ with ṡ = dα·z + dβ·a' + (α + β)·ȧ' (ȧ' in `r_logits_dot`); writes `r_y_dot`
    /// and `out = 2ẏ`, the tangent of the next map's input 2y − 1.
    pub(crate) fn y_tangent(&mut self, n: usize, c: RelaxCoefficients, out: &mut [[f32; H]]) {
        for r in 0..n {
            for j in 0..H {
                let (y, a, e) = (self.r_y[r][j], self.r_logits[r][j], self.noise[r][j]);
                let s_dot = c.d_alpha * (a + e) + c.d_beta * a + (c.alpha + c.beta) * self.r_logits_dot[r][j];
                let y_dot = y * (1.0 - y) * s_dot;
                self.r_y_dot[r][j] = y_dot;
                out[r][j] = 2.0 * y_dot;
            }
        }
    }

    /// From ȳ̇ (placed in `r_s_bar_dot` by the model, overwritten here):
    /// ṡ̄ = ȳ̇·y(1 − y) + ȳ·(1 − 2y)·ẏ into `r_s_bar_dot`, and the
    /// logits' adjoint tangent ā̇' = ṡ̄·(α + β) + s̄·(dα + dβ) − [log q term] scale·(ẏ − σ'(a')·ȧ')
    /// into `r_logits_bar_dot`.
    pub(crate) fn finish_adjoint_tangents(&mut self, n: usize, c: RelaxCoefficients, scale: f32, log_q_term: bool) {
        let log_q_weight = log_q_term.then_some(scale);
        for r in 0..n {
            let (y, y_dot) = (&self.r_y[r], &self.r_y_dot[r]);
            let (a, a_dot) = (&self.r_logits[r], &self.r_logits_dot[r]);
            let adjoints = (&self.r_y_bar[r][..], &self.r_s_bar[r][..]);
            let (s_bar_dot, a_bar_dot) = (&mut self.r_s_bar_dot[r], &mut self.r_logits_bar_dot[r]);
            relaxed_sample_adjoint_tangent_row(y, y_dot, a, a_dot, adjoints, c, log_q_weight, s_bar_dot, a_bar_dot);
        }
    }
}

/// `grad_prior += Σ_r weight(r)·(s_r − σ(π))`: the gradient of Σ_r weight(r)·log p(s_r) under
/// the factorised prior with logits π, for hard or relaxed samples `s`.
pub(crate) fn prior_gradient<const H: usize>(
    prior: &[f32; H],
    samples: &[[f32; H]],
    weight: impl Fn(usize) -> f32,
    grad_prior: &mut [f32; H],
) {
    let sigma = prior.map(sigmoid);
    for (r, sample) in samples.iter().enumerate() {
        for ((g, &s), &p) in grad_prior.iter_mut().zip(sample).zip(&sigma) {
            *g += weight(r) * (s - p);
        }
    }
}

/// `sample[r][j]` = 1[logits(r, j) + noise[r][j] > 0] for the rows of `noise`: ancestral
/// sampling of a layer given its logits.
pub(crate) fn sample_at<const H: usize>(
    noise: &[[f32; H]],
    logits: impl Fn(usize, usize) -> f32,
    sample: &mut [[f32; H]],
) {
    for (r, (noise, sample)) in noise.iter().zip(sample).enumerate() {
        for (j, (&e, b)) in noise.iter().zip(sample).enumerate() {
            *b = if logits(r, j) + e > 0.0 { 1.0 } else { 0.0 };
        }
    }
}

/// The density of ones above which the binary kernels lose to the dense ones (measured by
/// `cargo bench -p rebar-bench --bench kernels`): with AVX-512 FMA the dense kernels are so fast
/// that only sparse inputs (MNIST's ~13% of ones) gain; with SSE2 the binary kernels win up to
/// about half ones.
pub const BINARY_MAX_DENSITY: f32 = if cfg!(target_feature = "avx512f") { 0.15 } else { 0.45 };

/// The ones of a binary batch (`N` values per row), for the binary forms of the maps
/// ([`crate::net::BinaryRows`]).
#[derive(Zeroable)]
#[repr(C)]
pub struct BinaryBatch<const N: usize, const B: usize> {
    idx: [[u16; N]; B],
    counts: [u16; B],
    /// The same ones input by input: the rows where input i is one (for the weight gradient).
    rows_of: [[u16; B]; N],
    counts_of: [u16; N],
    valid: bool,
}

impl<const N: usize, const B: usize> BinaryBatch<N, B> {
    /// Indexes the first `n` rows of `x`. [`BinaryBatch::rows`] then gives `None` (the dense
    /// kernels run) if some value is not 0 or 1, or if more than [`BINARY_MAX_DENSITY`] of the
    /// values are ones, where summing rows stops paying off.
    pub(crate) fn set(&mut self, x: &[[f32; N]], n: usize) {
        let n = n.min(B).min(x.len());
        let ones =
            crate::linalg::active_indices(x[..n].as_flattened(), N, self.idx.as_flattened_mut(), &mut self.counts[..n]);
        self.valid = ones.is_some_and(|k| (k as f32) <= BINARY_MAX_DENSITY * (n * N) as f32);
        if self.valid {
            let (idx, counts) = (self.idx.as_flattened(), &self.counts[..n]);
            crate::linalg::active_rows(idx, counts, N, B, self.rows_of.as_flattened_mut(), &mut self.counts_of);
        }
    }

    /// The first `n` rows as `scale·(b − center)`.
    pub(crate) fn rows<'a>(&'a self, n: usize, center: &'a [f32; N], scale: f32) -> Option<crate::net::BinaryRows<'a>> {
        let n = n.min(B);
        self.valid.then(|| crate::net::BinaryRows {
            idx: self.idx[..n].as_flattened(),
            counts: &self.counts[..n],
            rows_of: self.rows_of.as_flattened(),
            counts_of: &self.counts_of,
            stride: B,
            center,
            scale,
        })
    }
}
