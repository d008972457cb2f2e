//! The antithetic pair shared by ARM and DisARM (docs/estimators.md, *ARM and DisARM: the
//! antithetic pair*): for stochastic layer l, the samples b¹ = 1[u > σ(−a)] (the ordinary hard
//! sample, noise ε = L(u)) and b² = 1[u < σ(a)] (noise −ε), with every other layer's noise
//! shared. Layers below l are identical in both; layers above l are resampled from the same
//! noise, so f(b¹) and f(b²) are each unbiased for E[f | b_l], which is all the pair estimators
//! need.

use super::{Cost, Diagnostics, draw_noise};
use crate::math::simd::{LANES, load_partial, store_partial};
use crate::model::Sbn;
use crate::net::GradWrite;
use rand_core::Rng;
use wide::f32x8;

/// The per-unit logit gradient of a pair estimator for maximisation, from f(b¹) − f(b²), the
/// unit's logit a, its noise ε and its two samples; eight units at a time.
pub(crate) trait PairRule {
    fn logit_gradient(f_diff: f32x8, a: f32x8, eps: f32x8, b1: f32x8, b2: f32x8) -> f32x8;
}

/// Runs the pair estimator with rule `P`: decoder gradient averaged over b¹ and the layer-0 b²
/// (both distributed as q), encoder gradient per layer from its pair.
pub(crate) fn pair_estimate<P: PairRule, M: Sbn<H>, const H: usize, const B: usize, R: Rng + ?Sized>(
    model: &M,
    s: &mut M::Scratch<B>,
    rng: &mut R,
    grad: &mut M,
) -> Diagnostics {
    let n = M::rows(s).n;
    if n == 0 {
        grad.fill_zero();
        return Diagnostics::default();
    }
    let inv_n = 1.0 / n as f32;
    draw_noise::<M, H, B, R>(s, rng);
    model.hard_forward(s, 0);
    let f1 = M::rows(s).elbo;
    model.decoder_backward(s, &[-0.5 * inv_n; B][..n], grad, GradWrite::Set);
    let mut b1 = [[0.0f32; H]; B];
    for l in 0..M::LAYERS {
        // The antithetic pass for layer l (its noise negated, the others shared).
        let layer = M::layer_mut(s, l);
        b1[..n].copy_from_slice(&layer.sample[..n]);
        for (alt, e) in layer.noise_alt[..n].iter_mut().zip(&layer.noise[..n]) {
            for (a, &v) in alt.iter_mut().zip(e) {
                *a = -v;
            }
        }
        model.hard_forward(s, 1 << l);
        let f2 = M::rows(s).elbo;
        if l == 0 {
            model.decoder_backward(s, &[-0.5 * inv_n; B][..n], grad, GradWrite::Add);
        }
        // Layer l's logits and encoder inputs are the same in both passes.
        let layer = M::layer_mut(s, l);
        let minus_inv_n = f32x8::splat(-inv_n);
        for r in 0..n {
            let f_diff = f32x8::splat(f1[r] - f2[r]);
            for j in (0..H).step_by(LANES) {
                let lanes = |x: &[[f32; H]; B]| load_partial(&x[r][j..]);
                let (a, eps, b2) = (lanes(&layer.logits), lanes(&layer.noise), lanes(&layer.sample));
                let g = P::logit_gradient(f_diff, a, eps, lanes(&b1), b2);
                store_partial(&mut layer.dlogits[r][j..], minus_inv_n * g);
            }
        }
        model.encoder_backward(s, l, grad, GradWrite::Set);
        // Restore the base pass for the next layer's pair.
        if l + 1 < M::LAYERS {
            model.hard_forward(s, 0);
        }
    }
    Diagnostics { elbo: f1[..n].iter().sum::<f32>() * inv_n, ..Default::default() }
}

/// Cost of a pair estimator on `layers` stochastic layers: the base pass, one antithetic pass per
/// layer, and the base pass again between layers.
pub(crate) fn pair_cost(layers: usize) -> Cost {
    Cost { evaluations: (2 * layers) as u32, backward_passes: 0 }
}
