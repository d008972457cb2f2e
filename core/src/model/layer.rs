//! Per-layer and per-example workspaces shared by every model and read by the estimators.

use super::RelaxCoefficients;
use crate::math::simd::{LANES, load_partial, sigmoid_libm_x8, store_partial};
use bytemuck::Zeroable;
use wide::f32x8;

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

/// The per-unit algebra of a relaxed layer, shared by every model. Each works on the first `n`
/// rows; `c` are the relaxation's coefficients (s = α·z + β·a', z = a' + ε).
impl<const H: usize, const B: usize> LayerScratch<H, B> {
    /// y = σ(α·(a' + ε) + β·a') from `r_logits` and `noise`.
    pub(crate) fn relax_forward(&mut self, n: usize, c: RelaxCoefficients) {
        super::bernoulli::relax(
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
        let (ab, da, db) = (f32x8::splat(c.alpha + c.beta), f32x8::splat(c.d_alpha), f32x8::splat(c.d_beta));
        let minus_scale = f32x8::splat(-scale);
        for (r, dtau) in dtau.iter_mut().enumerate().take(n) {
            // Eight units at a time (σ bit for bit the scalar one); the τ-terms are summed in
            // unit order afterwards, as the scalar loop summed them.
            let mut terms = [0.0f32; H];
            for j in (0..H).step_by(LANES) {
                let lanes = |x: &[[f32; H]; B]| load_partial(&x[r][j..]);
                let (y, a, e) = (lanes(&self.r_y), lanes(&self.r_logits), lanes(&self.noise));
                let s_bar = lanes(&self.r_y_bar) * y * (f32x8::ONE - y);
                store_partial(&mut self.r_s_bar[r][j..], s_bar);
                let direct = if log_q_term { minus_scale * (y - sigmoid_libm_x8(a)) } else { f32x8::ZERO };
                store_partial(&mut self.r_logits_bar[r][j..], s_bar * ab + direct);
                store_partial(&mut terms[j..], s_bar * (da * (a + e) + db * a));
            }
            *dtau += terms.iter().fold(0.0, |acc, &t| acc + t);
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
        let (ab, dadb, minus_scale) =
            (f32x8::splat(c.alpha + c.beta), f32x8::splat(c.d_alpha + c.d_beta), f32x8::splat(-scale));
        let two = f32x8::splat(2.0);
        for r in 0..n {
            for j in (0..H).step_by(LANES) {
                let lanes = |x: &[[f32; H]; B]| load_partial(&x[r][j..]);
                let (y, y_dot) = (lanes(&self.r_y), lanes(&self.r_y_dot));
                let s_bar_dot = lanes(&self.r_s_bar_dot) * y * (f32x8::ONE - y)
                    + lanes(&self.r_y_bar) * (f32x8::ONE - two * y) * y_dot;
                store_partial(&mut self.r_s_bar_dot[r][j..], s_bar_dot);
                let direct = if log_q_term {
                    let p = sigmoid_libm_x8(lanes(&self.r_logits));
                    minus_scale * (y_dot - p * (f32x8::ONE - p) * lanes(&self.r_logits_dot))
                } else {
                    f32x8::ZERO
                };
                store_partial(
                    &mut self.r_logits_bar_dot[r][j..],
                    s_bar_dot * ab + lanes(&self.r_s_bar) * dadb + direct,
                );
            }
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
