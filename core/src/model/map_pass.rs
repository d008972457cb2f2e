//! The per-map steps the models compose their passes of: one map over a batch with its forward
//! values and adjoints ([`MapPass`]), their τ-tangents ([`MapTangent`]), the Bernoulli
//! likelihood at a map's output (of the data, or of the samples of the layer below), and the
//! encoder of a stochastic layer at the hard pass's inputs ([`Encoder`]) or at relaxed ones
//! ([`RelaxedEncoder`]). Each works on the first `n` rows.

use super::LayerScratch;
use super::bernoulli::{log_prob_rows, output_log_lik_rows};
use crate::math::simd::{
    bernoulli_logit_grad, bernoulli_logit_grad_tangent, bernoulli_mean_residual, bernoulli_mean_residual_tangent,
};
use crate::net::{BinaryRows, GradWrite, Net};
use bytemuck::Zeroable;

/// A map `M: I → O` in one pass over a batch: its output and intermediate values, and for the
/// reverse pass the output's adjoint (set by the likelihood above the map) and the intermediate
/// adjoints.
#[derive(Zeroable)]
#[repr(C)]
pub(super) struct MapPass<const I: usize, const O: usize, M: Net<I, O>, const B: usize> {
    pub out: [[f32; O]; B],
    pub h: M::Hidden<B>,
    pub adj: M::Hidden<B>,
    pub out_bar: [[f32; O]; B],
}

impl<const I: usize, const O: usize, M: Net<I, O>, const B: usize> MapPass<I, O, M, B> {
    /// out = map(x), through the binary form of `x` if given.
    pub fn forward(&mut self, map: &M, x: &[[f32; I]], x_bin: Option<BinaryRows<'_>>, n: usize) {
        map.forward_binary::<B>(&x[..n], x_bin, &mut self.out[..n], &mut self.h);
    }

    /// Reverse mode from `out_bar`: `x_bar += Jₓᵀ·out_bar` and the parameter gradient, each if
    /// asked for.
    pub fn backward(
        &mut self,
        map: &M,
        (x, x_bin): (&[[f32; I]], Option<BinaryRows<'_>>),
        x_bar: Option<&mut [[f32; I]]>,
        grad: Option<(&mut M, GradWrite)>,
        n: usize,
    ) {
        let x_bar = x_bar.map(|x_bar| &mut x_bar[..n]);
        map.backward_binary::<B>(
            &x[..n],
            x_bin,
            &self.out[..n],
            &self.h,
            &self.out_bar[..n],
            x_bar,
            grad,
            &mut self.adj,
        );
    }

    /// The data's log-likelihood at the output: `log_lik[r]` = log p(target_r | out_r + bias)
    /// and `prob` = σ(out + bias), the probabilities [`MapPass::data_adjoint`] takes.
    pub fn data_log_lik(&self, target: &[[f32; O]], bias: &[f32; O], prob: &mut [[f32; O]], log_lik: &mut [f32]) {
        let n = log_lik.len();
        let (target, out, prob) =
            (target[..n].as_flattened(), self.out[..n].as_flattened(), prob[..n].as_flattened_mut());
        output_log_lik_rows(target, out, bias, log_lik, prob);
    }

    /// `out_bar_r` = w_r·(target_r − prob_r): the adjoint of the output of Σ_r w_r·log p(target_r | ·).
    pub fn data_adjoint(&mut self, target: &[[f32; O]], prob: &[[f32; O]], weight: impl Fn(usize) -> f32, n: usize) {
        for r in 0..n {
            bernoulli_mean_residual(&target[r], &prob[r], weight(r), &mut self.out_bar[r]);
        }
    }

    /// The samples' log-likelihood at the output taken as logits: `log_lik[r]` = log p(sample_r | out_r).
    pub fn sample_log_lik(&self, sample: &[[f32; O]], log_lik: &mut [f32]) {
        let n = log_lik.len();
        log_prob_rows(sample[..n].as_flattened(), self.out[..n].as_flattened(), O, log_lik);
    }

    /// `out_bar_r` = w_r·(sample_r − σ(out_r)): the adjoint of the output of
    /// Σ_r w_r·log p(sample_r | out_r) (σ bit for bit the scalar one).
    pub fn sample_adjoint(&mut self, sample: &[[f32; O]], weight: impl Fn(usize) -> f32, n: usize) {
        for r in 0..n {
            bernoulli_logit_grad(&sample[r], &self.out[r], weight(r), &mut self.out_bar[r]);
        }
    }
}

/// The τ-tangents of a [`MapPass`]: of its output, its intermediate values, its output's adjoint
/// and its intermediate adjoints.
#[derive(Zeroable)]
#[repr(C)]
pub(super) struct MapTangent<const I: usize, const O: usize, M: Net<I, O>, const B: usize> {
    pub out_dot: [[f32; O]; B],
    pub h_dot: M::Hidden<B>,
    pub adj_dot: M::Hidden<B>,
    pub out_bar_dot: [[f32; O]; B],
}

impl<const I: usize, const O: usize, M: Net<I, O>, const B: usize> MapTangent<I, O, M, B> {
    /// `out_dot = Jₓ·x_dot` at the pass's point.
    pub fn forward(&mut self, map: &M, pass: &MapPass<I, O, M, B>, x: &[[f32; I]], x_dot: &[[f32; I]], n: usize) {
        self.out_dot[..n].fill([0.0; O]);
        map.tangent::<B>(
            &x[..n],
            &pass.out[..n],
            &pass.h,
            Some(&x_dot[..n]),
            None,
            &mut self.out_dot[..n],
            &mut self.h_dot,
        );
    }

    /// `x_bar_dot += d/dτ (Jₓᵀ·out_bar)` from `out_bar_dot` (the tangent of [`MapPass::backward`]).
    pub fn backward(&mut self, map: &M, pass: &MapPass<I, O, M, B>, x_bar_dot: &mut [[f32; I]], n: usize) {
        let (y, y_dot, dy, dy_dot) = (&pass.out[..n], &self.out_dot[..n], &pass.out_bar[..n], &self.out_bar_dot[..n]);
        let x_bar_dot = &mut x_bar_dot[..n];
        map.backward_tangent::<B>(y, &pass.h, y_dot, &self.h_dot, dy, &pass.adj, dy_dot, x_bar_dot, &mut self.adj_dot);
    }

    /// The tangent of [`MapPass::data_adjoint`] with weight `scale`: −scale·p(1 − p)·out_dot.
    pub fn data_adjoint(&mut self, prob: &[[f32; O]], scale: f32, n: usize) {
        for r in 0..n {
            bernoulli_mean_residual_tangent(&prob[r], &self.out_dot[r], scale, &mut self.out_bar_dot[r]);
        }
    }

    /// The tangent of [`MapPass::sample_adjoint`] with weight `scale` along a tangent of the
    /// samples: scale·(ṡ − σ'(out)·out_dot).
    pub fn sample_adjoint(&mut self, pass: &MapPass<I, O, M, B>, sample_dot: &[[f32; O]], scale: f32, n: usize) {
        for r in 0..n {
            bernoulli_logit_grad_tangent(
                &sample_dot[r],
                &pass.out[r],
                &self.out_dot[r],
                scale,
                &mut self.out_bar_dot[r],
            );
        }
    }
}

/// The encoder map of one stochastic layer at the hard pass's inputs: its intermediate values,
/// their adjoints (score-function terms) and tangents (variance-gradient terms). Its output is
/// the layer's `logits`.
#[derive(Zeroable)]
#[repr(C)]
pub(super) struct Encoder<const I: usize, const H: usize, M: Net<I, H>, const B: usize> {
    h: M::Hidden<B>,
    adj: M::Hidden<B>,
    h_dot: M::Hidden<B>,
}

impl<const I: usize, const H: usize, M: Net<I, H>, const B: usize> Encoder<I, H, M, B> {
    /// The layer's hard pass: logits = map(x), then its samples (with `noise_alt` if `alt`) and
    /// log q.
    pub fn encode(&mut self, map: &M, x: (&[[f32; I]], Option<BinaryRows<'_>>), l: &mut LayerScratch<H, B>, alt: bool) {
        let n = x.0.len();
        map.forward_binary::<B>(x.0, x.1, &mut l.logits[..n], &mut self.h);
        l.sample_hard(n, alt);
    }

    /// `grad (+)= Σ_r J_rᵀ·logits_bar_r` at the hard pass's inputs `x` (all of its rows).
    pub fn backward(
        &mut self,
        map: &M,
        x: (&[[f32; I]], Option<BinaryRows<'_>>),
        logits: &[[f32; H]],
        logits_bar: &[[f32; H]],
        grad: (&mut M, GradWrite),
    ) {
        let n = x.0.len();
        let (logits, logits_bar) = (&logits[..n], &logits_bar[..n]);
        map.backward_binary::<B>(x.0, x.1, logits, &self.h, logits_bar, None, Some(grad), &mut self.adj);
    }

    /// `out_r = J_r·(scales ⊙ dir)` at the hard pass's inputs (written, not added).
    pub fn tangent(
        &mut self,
        map: &M,
        x: (&[[f32; I]], Option<BinaryRows<'_>>),
        logits: &[[f32; H]],
        dir: (&M, &[f32]),
        out: &mut [[f32; H]],
    ) {
        let n = x.0.len();
        out[..n].fill([0.0; H]);
        map.tangent_binary::<B>(x.0, x.1, &logits[..n], &self.h, None, Some(dir), &mut out[..n], &mut self.h_dot);
    }

    /// [`Encoder::tangent`] for two sets of scales (see [`Net::tangent_binary_pair`]).
    pub fn tangent_pair(
        &mut self,
        map: &M,
        x: (&[[f32; I]], Option<BinaryRows<'_>>),
        logits: &[[f32; H]],
        dir: &M,
        scales: [&[f32]; 2],
        out: [&mut [[f32; H]]; 2],
    ) {
        let n = x.0.len();
        let out = out.map(|o| &mut o[..n]);
        map.tangent_binary_pair::<B>(x.0, x.1, &logits[..n], &self.h, dir, scales, out, &mut self.h_dot);
    }
}

/// The encoder map of a stochastic layer whose input is relaxed (E₁ at 2y₀ − 1, in a pass from
/// layer 0): its intermediate values, their adjoints and the τ-tangents of both. Its output is
/// the layer's `r_logits`, whose adjoint `r_logits_bar` and tangents the layer holds.
#[derive(Zeroable)]
#[repr(C)]
pub(super) struct RelaxedEncoder<const I: usize, const H: usize, M: Net<I, H>, const B: usize> {
    h: M::Hidden<B>,
    adj: M::Hidden<B>,
    h_dot: M::Hidden<B>,
    adj_dot: M::Hidden<B>,
}

impl<const I: usize, const H: usize, M: Net<I, H>, const B: usize> RelaxedEncoder<I, H, M, B> {
    /// r_logits = map(x).
    pub fn forward(&mut self, map: &M, x: &[[f32; I]], l: &mut LayerScratch<H, B>, n: usize) {
        map.forward::<B>(&x[..n], &mut l.r_logits[..n], &mut self.h);
    }

    /// Reverse mode from `r_logits_bar`: `x_bar += Jₓᵀ·r_logits_bar` and the parameter gradient
    /// if asked for.
    pub fn backward(
        &mut self,
        map: &M,
        x: &[[f32; I]],
        l: &LayerScratch<H, B>,
        x_bar: &mut [[f32; I]],
        grad: Option<(&mut M, GradWrite)>,
        n: usize,
    ) {
        let (y, dy, dx) = (&l.r_logits[..n], &l.r_logits_bar[..n], Some(&mut x_bar[..n]));
        map.backward::<B>(&x[..n], y, &self.h, dy, dx, grad, &mut self.adj);
    }

    /// `r_logits_dot += Jₓ·x_dot`.
    pub fn tangent(&mut self, map: &M, x: &[[f32; I]], x_dot: &[[f32; I]], l: &mut LayerScratch<H, B>, n: usize) {
        let (y, y_dot) = (&l.r_logits[..n], &mut l.r_logits_dot[..n]);
        map.tangent::<B>(&x[..n], y, &self.h, Some(&x_dot[..n]), None, y_dot, &mut self.h_dot);
    }

    /// `x_bar_dot += d/dτ (Jₓᵀ·r_logits_bar)` from `r_logits_bar_dot` (the tangent of
    /// [`RelaxedEncoder::backward`]).
    pub fn backward_tangent(&mut self, map: &M, l: &LayerScratch<H, B>, x_bar_dot: &mut [[f32; I]], n: usize) {
        let (y, y_dot) = (&l.r_logits[..n], &l.r_logits_dot[..n]);
        let (dy, dy_dot) = (&l.r_logits_bar[..n], &l.r_logits_bar_dot[..n]);
        let (h, h_dot, adj) = (&self.h, &self.h_dot, &self.adj);
        map.backward_tangent::<B>(y, h, y_dot, h_dot, dy, adj, dy_dot, &mut x_bar_dot[..n], &mut self.adj_dot);
    }
}
