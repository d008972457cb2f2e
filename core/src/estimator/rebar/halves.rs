//! REBAR's two halves: the score half A and the control-variate half B (coupled noise, or
//! independent noise's two relaxed passes), and the encoder tangents its variance gradient uses.

use super::*;

impl<M: Sbn<H, Input = [f32; X]>, const X: usize, const H: usize, const B: usize> Rebar<M, X, H, B> {
    /// B for layer k with independent v: separate relaxed passes at z and at z̃, each
    /// backpropagated to every parameter, plus the score term and the ∂z̃/∂a correction.
    pub(super) fn independent_layer<R: Rng + ?Sized>(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        k: usize,
        n: usize,
        rng: &mut R,
    ) {
        let relax = self.relaxation();
        let c = relax.coefficients();
        let inv_n = 1.0 / n as f32;
        // z-pass: B −= (1/n)·∇Σ f(σ(z)).
        model.relaxed_forward(s, k, relax);
        model.relaxed_backward(s, k, relax, -inv_n, Some((&mut self.cv_grad, GradWrite::Add)));
        // z̃ ~ p(z | b) from a fresh v, in the stable forms of docs/estimators.md (*REBAR: stable
        // forms of z̃*), stored as the noise z̃ − a of layer k (the model then differentiates with
        // ∂z̃/∂a = 1).
        let mut dz = [[0.0f32; H]; B];
        {
            let layer = M::layer_mut(s, k);
            for r in 0..n {
                for j in 0..H {
                    let (a, b) = (layer.logits[r][j], layer.sample[r][j]);
                    let lv = logistic_noise(uniform(rng));
                    let (z_tilde, dz_da) = if b > 0.5 {
                        let inner = lv + softplus(a);
                        (softplus(inner), sigmoid(inner) * sigmoid(a))
                    } else {
                        let inner = softplus(-a) - lv;
                        (-softplus(inner), sigmoid(inner) * sigmoid(-a))
                    };
                    layer.noise_alt[r][j] = z_tilde - a;
                    dz[r][j] = dz_da - 1.0;
                }
            }
            core::mem::swap(&mut layer.noise, &mut layer.noise_alt);
        }
        model.relaxed_forward(s, k, relax);
        model.relaxed_backward(s, k, relax, inv_n, Some((&mut self.cv_grad, GradWrite::Add)));
        let f_tilde = M::rows(s).relaxed_elbo;
        let layer = M::layer_mut(s, k);
        core::mem::swap(&mut layer.noise, &mut layer.noise_alt);
        for r in 0..n {
            for j in 0..H {
                let score = layer.sample[r][j] - layer.prob[r][j];
                // r_s_bar of the z̃-pass already carries the 1/n of its scale.
                layer.dlogits[r][j] = inv_n * f_tilde[r] * score + layer.r_s_bar[r][j] * c.alpha * dz[r][j];
            }
        }
        model.encoder_backward(s, k, &mut self.cv_grad, GradWrite::Add);
    }
}

/// One value per unit of each stochastic layer, per row: an encoder tangent of every layer.
pub(super) type Tangents<const H: usize, const B: usize> = [[[f32; H]; B]; 2];

/// Layer `l`'s encoder tangents of the gradient `grad` for the variance gradients, at the hard
/// pass in `s`: J_l·(scales[0] ⊙ grad) into `jg` and, if `learn` (a learned temperature),
/// J_l·(scales[1] ⊙ grad) into `tangent`, both from one [`Sbn::encoder_tangent_pair`].
pub(super) fn encoder_tangents<M: Sbn<H>, const H: usize, const B: usize>(
    model: &M,
    s: &mut M::Scratch<B>,
    l: usize,
    grad: &M,
    learn: bool,
    scales: [&[f32]; 2],
    jg: &mut [[f32; H]; B],
    tangent: &mut [[f32; H]; B],
) {
    let n = M::rows(s).n;
    if learn {
        model.encoder_tangent_pair(s, l, grad, scales, [&mut jg[..n], &mut tangent[..n]]);
    } else {
        model.encoder_tangent(s, l, grad, scales[0], &mut jg[..n]);
    }
}

/// The control-variate half B of a REBAR estimate: what it writes (B and B's τ-derivative) and
/// the settings it reads, apart from the score half's baseline.
pub(super) struct ControlVariateHalf<'a, M, const H: usize, const B: usize> {
    pub(super) relax: Relaxation,
    pub(super) learn: bool,
    pub(super) official: bool,
    pub(super) cv_grad: &'a mut M,
    pub(super) d_tau_logits: &'a mut [[[f32; H]; B]; 2],
}

impl<M: Sbn<H>, const H: usize, const B: usize> ControlVariateHalf<'_, M, H, B> {
    /// B for layer k with coupled noise: one relaxed pass and its reverse mode give f̃_k and s̄_k;
    /// the logit gradient is (1/n)·(f̃_k·(b − θ) + s̄_k·α·(∂z̃/∂a − 1)).
    pub(super) fn coupled_layer(&mut self, model: &M, s: &mut M::Scratch<B>, k: usize, n: usize) {
        let relax = self.relax;
        let c = relax.coefficients();
        model.relaxed_forward(s, k, relax);
        model.relaxed_backward(s, k, relax, 1.0, None);
        if self.learn {
            model.relaxed_tangent(s, k, relax, 1.0);
        }
        let inv_n = 1.0 / n as f32;
        let rows = M::rows(s);
        let (f_tilde, f_tilde_dtau) = (rows.relaxed_elbo, rows.relaxed_elbo_dtau);
        let learn = self.learn;
        let layer = M::layer_mut(s, k);
        let (alpha, d_alpha) = (f32x8::splat(c.alpha), f32x8::splat(c.d_alpha));
        for r in 0..n {
            let (f, f_dot) = (f32x8::splat(f_tilde[r] * inv_n), f32x8::splat(f_tilde_dtau[r]));
            for j in (0..H).step_by(LANES) {
                let lanes = |x: &[[f32; H]; B]| load_partial(&x[r][j..]);
                let (a, e, b, theta) =
                    (lanes(&layer.logits), lanes(&layer.noise), lanes(&layer.sample), lanes(&layer.prob));
                let (score, d, s_bar) = (b - theta, coupled_dz_tilde_minus_one_x8(a, e, b), lanes(&layer.r_s_bar));
                store_partial(&mut layer.dlogits[r][j..], f * score + f32x8::splat(inv_n) * s_bar * alpha * d);
                if learn {
                    let s_bar_dot = lanes(&layer.r_s_bar_dot);
                    let acc = load_partial(&self.d_tau_logits[k][r][j..]);
                    let v = acc + f_dot * score + (s_bar_dot * alpha + s_bar * d_alpha) * d;
                    store_partial(&mut self.d_tau_logits[k][r][j..], v);
                }
            }
        }
        // Layer k's encoder gets its first contribution here, unless the official z̃-pass of a
        // lower layer (below) came first.
        let own = GradWrite::first(!(self.official && k > 0));
        model.encoder_backward(s, k, self.cv_grad, own);
        if self.official {
            // The official z̃-pass also differentiates higher layers' coupled ũ_l through their
            // hard logits: + s̄_l·α·(∂z̃/∂a − 1) at a_l, with no score term to match.
            for l in k + 1..M::LAYERS {
                let layer = M::layer_mut(s, l);
                for r in 0..n {
                    for j in 0..H {
                        let d = coupled_dz_tilde_minus_one(layer.logits[r][j], layer.noise[r][j], layer.sample[r][j]);
                        layer.dlogits[r][j] = inv_n * layer.r_s_bar[r][j] * c.alpha * d;
                        if learn {
                            self.d_tau_logits[l][r][j] +=
                                (layer.r_s_bar_dot[r][j] * c.alpha + layer.r_s_bar[r][j] * c.d_alpha) * d;
                        }
                    }
                }
                model.encoder_backward(s, l, self.cv_grad, GradWrite::first(k == 0));
            }
        }
    }
}

/// The score half A of a REBAR estimate (the NVIL part), after the hard pass in `s`: the
/// baseline's values c(x), then `grad` = −∇[(f(b) − c(x))·Σ_l log q(b_l) + log p(x, b)] as a mean
/// over the `n` rows.
pub(super) fn score_half<M: Sbn<H, Input = [f32; X]>, const X: usize, const H: usize, const B: usize>(
    baseline: &mut Baseline<X, B>,
    model: &M,
    s: &mut M::Scratch<B>,
    grad: &mut M,
    n: usize,
) {
    let inv_n = 1.0 / n as f32;
    let f = M::rows(s).elbo;
    baseline.forward(M::centered_inputs(s), model.binary_inputs(s));
    let c = *baseline.values();
    model.decoder_backward(s, &[-inv_n; B][..n], grad, GradWrite::Set);
    let mut w = [0.0f32; B];
    for r in 0..n {
        w[r] = -(f[r] - c[r]) * inv_n;
    }
    for l in 0..M::LAYERS {
        set_score_dlogits::<M, H, B>(s, l, &w[..n]);
        model.encoder_backward(s, l, grad, GradWrite::Set);
    }
}
