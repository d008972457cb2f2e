//! The per-unit algebra of a relaxed stochastic layer, one row at a time: the relaxed sample
//! y = σ(s) with s = α·(a + ε) + β·a, its reverse mode from ȳ and the τ-tangent of that reverse
//! mode (τ = log λ). The models compose these rows into their passes
//! (`core/src/model/layer.rs`).
//!
//! Every σ of an adjoint goes through [`sigmoid_libm_x8`], so the adjoints are the scalar
//! formulas' values bit for bit; the rest is lane-wise IEEE arithmetic in the scalar formulas'
//! order (no fused multiply-adds).

use super::{LANES, load_partial, sigmoid_libm_x8, sigmoid_x8, store_partial, zip_map};
use crate::model::RelaxCoefficients;
use wide::f32x8;

/// y = σ(α·(a + ε) + β·a) elementwise, from logits `a` and noise `ε`.
pub fn relaxed_sample(logits: &[f32], noise: &[f32], c: RelaxCoefficients, y: &mut [f32]) {
    let (al, be) = (f32x8::splat(c.alpha), f32x8::splat(c.beta));
    zip_map(logits, noise, y, |a, e| sigmoid_x8(al * (a + e) + be * a));
}

/// Reverse mode of one row of [`relaxed_sample`] from the adjoint `y_bar` of y:
/// `s_bar` = ȳ·y(1 − y) (the adjoint of s), `logits_bar` = s̄·(α + β) − w·(y − σ(a)) with the
/// log q term's weight `w` if given (the adjoint of a through s and through log q(y | a)), and
/// the returned Σ_j s̄_j·∂s_j/∂τ, summed in unit order.
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
    let (ab, da, db) = (f32x8::splat(c.alpha + c.beta), f32x8::splat(c.d_alpha), f32x8::splat(c.d_beta));
    let minus_w = f32x8::splat(-log_q_weight.unwrap_or(0.0));
    let n = y.len().min(logits.len()).min(noise.len()).min(y_bar.len()).min(s_bar.len()).min(logits_bar.len());
    let mut dtau = 0.0f32;
    for j in (0..n).step_by(LANES) {
        let (y, a, e) = (load_partial(&y[j..n]), load_partial(&logits[j..n]), load_partial(&noise[j..n]));
        let sb = load_partial(&y_bar[j..n]) * y * (f32x8::ONE - y);
        store_partial(&mut s_bar[j..n], sb);
        let direct = if log_q_weight.is_some() { minus_w * (y - sigmoid_libm_x8(a)) } else { f32x8::ZERO };
        store_partial(&mut logits_bar[j..n], sb * ab + direct);
        // The τ-terms one by one, in unit order, as the scalar loop summed them.
        let terms = (sb * (da * (a + e) + db * a)).to_array();
        for &t in &terms[..(n - j).min(LANES)] {
            dtau += t;
        }
    }
    dtau
}

/// The τ-tangent of [`relaxed_sample_adjoint_row`] for tangents `y_dot` of y and `logits_dot`
/// of a, given its `y_bar` and `s_bar`: on entry `s_bar_dot` holds the tangent of ȳ, on return
/// ṡ̄ = ȳ̇·y(1 − y) + ȳ·(1 − 2y)·ẏ, and `logits_bar_dot` = ṡ̄·(α + β) + s̄·(dα + dβ) −
/// w·(ẏ − σ'(a)·ȧ) with the log q term's weight `w` if given.
#[allow(clippy::too_many_arguments)]
pub fn relaxed_sample_adjoint_tangent_row(
    y: &[f32],
    y_dot: &[f32],
    logits: &[f32],
    logits_dot: &[f32],
    adjoints: (&[f32], &[f32]),
    c: RelaxCoefficients,
    log_q_weight: Option<f32>,
    s_bar_dot: &mut [f32],
    logits_bar_dot: &mut [f32],
) {
    let (y_bar, s_bar) = adjoints;
    let (ab, dadb) = (f32x8::splat(c.alpha + c.beta), f32x8::splat(c.d_alpha + c.d_beta));
    let (minus_w, two) = (f32x8::splat(-log_q_weight.unwrap_or(0.0)), f32x8::splat(2.0));
    let n = [y.len(), y_dot.len(), logits.len(), logits_dot.len(), y_bar.len(), s_bar.len(), s_bar_dot.len()]
        .into_iter()
        .fold(logits_bar_dot.len(), usize::min);
    for j in (0..n).step_by(LANES) {
        let lanes = |x: &[f32]| load_partial(&x[j..n]);
        let (yv, ydv) = (lanes(y), lanes(y_dot));
        let sbd = lanes(s_bar_dot) * yv * (f32x8::ONE - yv) + lanes(y_bar) * (f32x8::ONE - two * yv) * ydv;
        store_partial(&mut s_bar_dot[j..n], sbd);
        let direct = if log_q_weight.is_some() {
            let p = sigmoid_libm_x8(lanes(logits));
            minus_w * (ydv - p * (f32x8::ONE - p) * lanes(logits_dot))
        } else {
            f32x8::ZERO
        };
        store_partial(&mut logits_bar_dot[j..n], sbd * ab + lanes(s_bar) * dadb + direct);
    }
}
