//! One stochastic layer: q(b | x) = Bernoulli(σ(E(x − x̄))), p(b) = Bernoulli(σ(π)),
//! p(x | b) = Bernoulli(σ(G(2b − 1) + c₀)). With `E`, `G` affine this is the paper's "linear 1
//! layer" model; with two tanh hidden layers each it is the "nonlinear" model.
//!
//! ELBO per example (generative): f = log p(x | s) + log p(s) − log q(s | x), with s the hard
//! sample b or the relaxed sample y. Structured prediction: f = log p(x_bottom | s).

use super::bernoulli::{
    log_prob_rows, log_prob_rows_shared, mean_output, output_adjoint, output_adjoint_tangent, output_log_lik_rows,
    plus_minus_one, sample_hard,
};
use super::{BinaryBatch, LayerScratch, Relaxation, RowScratch, Sbn, Task};
use crate::math::scalar::sigmoid;
use crate::net::{GradWrite, Net};
use crate::tensors::{Tensors, impl_tensors_for_fields};
use bytemuck::Zeroable;
use core::marker::PhantomData;
use rand_core::Rng;

/// A sigmoid belief network with one stochastic layer of `H` units, encoder `E: X → H`,
/// decoder `G: H → Y` and task `T`.
#[derive(Zeroable)]
#[repr(C)]
pub struct OneLayer<const X: usize, const H: usize, const Y: usize, E, G, T> {
    /// Encoder: logits of q(b | x) from the centred input.
    pub enc: E,
    /// Decoder: output logits (before the fixed bias) from 2b − 1.
    pub dec: G,
    /// Prior logits π (unused for structured prediction).
    pub prior: [f32; H],
    /// Fixed input centring x̄ (not trained).
    pub input_mean: [f32; X],
    /// Fixed output bias logit(clip(x̄_target, 0.001, 0.999)) (not trained).
    pub output_bias: [f32; Y],
    task: PhantomData<T>,
}

impl_tensors_for_fields!(
    OneLayer<X, H, Y, E, G, T>,
    [(enc, E, "enc"), (dec, G, "dec"), (prior, [f32; H], "prior")],
    [const X: usize, const H: usize, const Y: usize, E, G, T]
    where [E: Tensors, G: Tensors]
);

/// Workspace of a [`OneLayer`] model for batches of at most `B` examples.
#[derive(Zeroable)]
#[repr(C)]
pub struct OneLayerScratch<const X: usize, const H: usize, const Y: usize, E: Net<X, H>, G: Net<H, Y>, const B: usize> {
    /// Per-example values.
    pub rows: RowScratch<B>,
    /// The stochastic layer.
    pub layer: LayerScratch<H, B>,
    enc_in: [[f32; X]; B],
    target: [[f32; Y]; B],
    enc_h: E::Hidden<B>,
    enc_adj: E::Hidden<B>,
    enc_h_dot: E::Hidden<B>,
    // Hard pass through the decoder.
    dec_in: [[f32; H]; B],
    dec_out: [[f32; Y]; B],
    /// σ(dec_out + output bias), kept from the forward pass for the adjoints.
    dec_prob: [[f32; Y]; B],
    dec_h: G::Hidden<B>,
    dec_adj: G::Hidden<B>,
    dec_out_bar: [[f32; Y]; B],
    // Relaxed pass through the decoder, its adjoints and their τ-tangents.
    r_dec_in: [[f32; H]; B],
    r_dec_out: [[f32; Y]; B],
    r_dec_prob: [[f32; Y]; B],
    r_dec_h: G::Hidden<B>,
    r_dec_adj: G::Hidden<B>,
    r_dec_out_bar: [[f32; Y]; B],
    r_dec_in_bar: [[f32; H]; B],
    r_dec_in_dot: [[f32; H]; B],
    r_dec_out_dot: [[f32; Y]; B],
    r_dec_h_dot: G::Hidden<B>,
    r_dec_adj_dot: G::Hidden<B>,
    r_dec_out_bar_dot: [[f32; Y]; B],
    r_dec_in_bar_dot: [[f32; H]; B],
    r_log_q: [f32; B],
    x_bin: BinaryBatch<X, B>,
    b_bin: BinaryBatch<H, B>,
    half: [f32; H],
}

impl<const X: usize, const H: usize, const Y: usize, E, G, T> Sbn<H> for OneLayer<X, H, Y, E, G, T>
where
    E: Net<X, H>,
    G: Net<H, Y>,
    T: Task,
{
    const LAYERS: usize = 1;
    const ENCODER_TANGENT_PAIR_IN_ONE_PASS: bool = E::TANGENT_PAIR_IN_ONE_PASS;
    const STRUCTURED: bool = T::STRUCTURED;
    type Input = [f32; X];
    type Target = [f32; Y];
    type Scratch<const B: usize> = OneLayerScratch<X, H, Y, E, G, B>;

    fn init<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        self.enc.init(rng);
        self.dec.init(rng);
        self.prior = [0.0; H];
    }

    fn set_data_mean(&mut self, input_mean: &[f32; X], target_mean: &[f32; Y]) {
        self.input_mean = *input_mean;
        for (b, &m) in self.output_bias.iter_mut().zip(target_mean) {
            let p = m.clamp(0.001, 0.999);
            *b = libm::logf(p / (1.0 - p));
        }
    }

    fn visit_state(&mut self, v: &mut dyn crate::state::StateVisitor) {
        crate::state::visit_tensors(self, "model", v);
        v.f32s("input_mean", 0, &mut self.input_mean);
        v.f32s("output_bias", 0, &mut self.output_bias);
    }

    fn input_mean(&self) -> &[f32; X] {
        &self.input_mean
    }

    fn layer<const B: usize>(s: &Self::Scratch<B>, _: usize) -> &LayerScratch<H, B> {
        &s.layer
    }
    fn layer_mut<const B: usize>(s: &mut Self::Scratch<B>, _: usize) -> &mut LayerScratch<H, B> {
        &mut s.layer
    }
    fn rows<const B: usize>(s: &Self::Scratch<B>) -> &RowScratch<B> {
        &s.rows
    }
    fn rows_mut<const B: usize>(s: &mut Self::Scratch<B>) -> &mut RowScratch<B> {
        &mut s.rows
    }

    fn load_batch<const B: usize>(&self, inputs: &[[f32; X]], targets: &[[f32; Y]], s: &mut Self::Scratch<B>) -> usize {
        let n = inputs.len().min(targets.len()).min(B);
        for (dst, src) in s.enc_in.iter_mut().zip(&inputs[..n]) {
            for ((d, &x), &m) in dst.iter_mut().zip(src).zip(&self.input_mean) {
                *d = x - m;
            }
        }
        s.target[..n].copy_from_slice(&targets[..n]);
        s.rows.n = n;
        s.x_bin.set(inputs, n);
        s.half = [0.5; H];
        n
    }

    fn centered_inputs<const B: usize>(s: &Self::Scratch<B>) -> &[[f32; X]] {
        &s.enc_in[..s.rows.n]
    }

    fn binary_inputs<'a, const B: usize>(&'a self, s: &'a Self::Scratch<B>) -> Option<crate::net::BinaryRows<'a>> {
        s.x_bin.rows(s.rows.n, &self.input_mean, 1.0)
    }

    fn hard_encode<const B: usize>(&self, s: &mut Self::Scratch<B>, alt: u32) {
        let n = s.rows.n;
        let l = &mut s.layer;
        let x_bin = s.x_bin.rows(n, &self.input_mean, 1.0);
        self.enc.forward_binary::<B>(&s.enc_in[..n], x_bin, &mut l.logits[..n], &mut s.enc_h);
        let noise = if alt & 1 != 0 { &l.noise_alt } else { &l.noise };
        sample_hard(
            l.logits[..n].as_flattened(),
            noise[..n].as_flattened(),
            l.prob.as_flattened_mut(),
            l.sample.as_flattened_mut(),
        );
        log_prob_rows(l.sample[..n].as_flattened(), l.logits[..n].as_flattened(), H, &mut l.log_q[..n]);
    }

    fn hard_decode<const B: usize>(&self, s: &mut Self::Scratch<B>) {
        let n = s.rows.n;
        let l = &s.layer;
        plus_minus_one(l.sample[..n].as_flattened(), s.dec_in.as_flattened_mut());
        s.b_bin.set(&l.sample, n);
        let b_bin = s.b_bin.rows(n, &s.half, 2.0);
        self.dec.forward_binary::<B>(&s.dec_in[..n], b_bin, &mut s.dec_out[..n], &mut s.dec_h);
        let rows = &mut s.rows;
        output_log_lik_rows(
            s.target[..n].as_flattened(),
            s.dec_out[..n].as_flattened(),
            &self.output_bias,
            &mut rows.log_p[..n],
            s.dec_prob[..n].as_flattened_mut(),
        );
        if T::STRUCTURED {
            rows.elbo[..n].copy_from_slice(&rows.log_p[..n]);
        } else {
            let mut log_prior = [0.0f32; B];
            log_prob_rows_shared(l.sample[..n].as_flattened(), &self.prior, &mut log_prior[..n]);
            for r in 0..n {
                rows.log_p[r] += log_prior[r];
                rows.elbo[r] = rows.log_p[r] - l.log_q[r];
            }
        }
    }

    fn decoder_backward<const B: usize>(
        &self,
        s: &mut Self::Scratch<B>,
        weights: &[f32],
        grad: &mut Self,
        write: GradWrite,
    ) {
        let n = s.rows.n.min(weights.len());
        for r in 0..n {
            output_adjoint(&s.target[r], &s.dec_prob[r], weights[r], &mut s.dec_out_bar[r]);
        }
        self.dec.backward_binary::<B>(
            &s.dec_in[..n],
            s.b_bin.rows(n, &s.half, 2.0),
            &s.dec_out[..n],
            &s.dec_h,
            &s.dec_out_bar[..n],
            None,
            Some((&mut grad.dec, write)),
            &mut s.dec_adj,
        );
        if write == GradWrite::Set {
            grad.prior = [0.0; H];
        }
        if !T::STRUCTURED {
            // ∂/∂π Σ_j b_j·π_j − softplus(π_j) = b − σ(π).
            let sigma = self.prior.map(sigmoid);
            for r in 0..n {
                for ((g, &b), &p) in grad.prior.iter_mut().zip(&s.layer.sample[r]).zip(&sigma) {
                    *g += weights[r] * (b - p);
                }
            }
        }
    }

    fn encoder_backward<const B: usize>(&self, s: &mut Self::Scratch<B>, _: usize, grad: &mut Self, write: GradWrite) {
        let n = s.rows.n;
        let l = &s.layer;
        self.enc.backward_binary::<B>(
            &s.enc_in[..n],
            s.x_bin.rows(n, &self.input_mean, 1.0),
            &l.logits[..n],
            &s.enc_h,
            &l.dlogits[..n],
            None,
            Some((&mut grad.enc, write)),
            &mut s.enc_adj,
        );
    }

    fn encoder_tensors(_: usize) -> core::ops::Range<usize> {
        0..E::COUNT
    }

    fn encoder_tangent<const B: usize>(
        &self,
        s: &mut Self::Scratch<B>,
        _: usize,
        dir: &Self,
        scales: &[f32],
        out: &mut [[f32; H]],
    ) {
        let n = s.rows.n.min(out.len());
        out[..n].fill([0.0; H]);
        let scales = &scales[..E::COUNT.min(scales.len())];
        let l = &s.layer;
        self.enc.tangent_binary::<B>(
            &s.enc_in[..n],
            s.x_bin.rows(n, &self.input_mean, 1.0),
            &l.logits[..n],
            &s.enc_h,
            None,
            Some((&dir.enc, scales)),
            &mut out[..n],
            &mut s.enc_h_dot,
        );
    }

    fn encoder_tangent_pair<const B: usize>(
        &self,
        s: &mut Self::Scratch<B>,
        _: usize,
        dir: &Self,
        scales: [&[f32]; 2],
        out: [&mut [[f32; H]]; 2],
    ) {
        let n = s.rows.n.min(out[0].len()).min(out[1].len());
        let scales = scales.map(|sc| &sc[..E::COUNT.min(sc.len())]);
        let l = &s.layer;
        self.enc.tangent_binary_pair::<B>(
            &s.enc_in[..n],
            s.x_bin.rows(n, &self.input_mean, 1.0),
            &l.logits[..n],
            &s.enc_h,
            &dir.enc,
            scales,
            out.map(|o| &mut o[..n]),
            &mut s.enc_h_dot,
        );
    }

    fn reconstruct<const B: usize>(&self, s: &Self::Scratch<B>, out: &mut [[f32; Y]]) {
        for (o, g) in out.iter_mut().zip(&s.dec_out[..s.rows.n]) {
            mean_output(g, &self.output_bias, o);
        }
    }

    fn generate<const B: usize>(&self, s: &mut Self::Scratch<B>, n: usize, out: &mut [[f32; Y]]) -> bool {
        if T::STRUCTURED {
            return false;
        }
        let n = n.min(B).min(out.len());
        s.rows.n = n;
        let l = &mut s.layer;
        for r in 0..n {
            for j in 0..H {
                l.sample[r][j] = if self.prior[j] + l.noise[r][j] > 0.0 { 1.0 } else { 0.0 };
            }
        }
        plus_minus_one(l.sample[..n].as_flattened(), s.dec_in.as_flattened_mut());
        self.dec.forward::<B>(&s.dec_in[..n], &mut s.dec_out[..n], &mut s.dec_h);
        for ((o, p), g) in out.iter_mut().zip(&mut s.dec_prob[..n]).zip(&s.dec_out[..n]) {
            mean_output(g, &self.output_bias, o);
            *p = *o;
        }
        true
    }

    fn relaxed_forward<const B: usize>(&self, s: &mut Self::Scratch<B>, _from: usize, relaxation: Relaxation) {
        let n = s.rows.n;
        let c = relaxation.coefficients();
        let l = &mut s.layer;
        l.r_logits[..n].copy_from_slice(&l.logits[..n]);
        l.relax_forward(n, c);
        plus_minus_one(l.r_y[..n].as_flattened(), s.r_dec_in.as_flattened_mut());
        self.dec.forward::<B>(&s.r_dec_in[..n], &mut s.r_dec_out[..n], &mut s.r_dec_h);
        let f = &mut s.rows.relaxed_elbo;
        output_log_lik_rows(
            s.target[..n].as_flattened(),
            s.r_dec_out[..n].as_flattened(),
            &self.output_bias,
            &mut f[..n],
            s.r_dec_prob[..n].as_flattened_mut(),
        );
        if !T::STRUCTURED {
            let mut log_prior = [0.0f32; B];
            log_prob_rows_shared(l.r_y[..n].as_flattened(), &self.prior, &mut log_prior[..n]);
            log_prob_rows(l.r_y[..n].as_flattened(), l.logits[..n].as_flattened(), H, &mut s.r_log_q[..n]);
            for r in 0..n {
                f[r] += log_prior[r] - s.r_log_q[r];
            }
        }
    }

    fn relaxed_backward<const B: usize>(
        &self,
        s: &mut Self::Scratch<B>,
        _from: usize,
        relaxation: Relaxation,
        scale: f32,
        mut grad: Option<(&mut Self, GradWrite)>,
    ) {
        let n = s.rows.n;
        let c = relaxation.coefficients();
        let (x, p) = (s.target[..n].as_flattened(), s.r_dec_prob[..n].as_flattened());
        output_adjoint(x, p, scale, s.r_dec_out_bar[..n].as_flattened_mut());
        s.r_dec_in_bar[..n].fill([0.0; H]);
        self.dec.backward::<B>(
            &s.r_dec_in[..n],
            &s.r_dec_out[..n],
            &s.r_dec_h,
            &s.r_dec_out_bar[..n],
            Some(&mut s.r_dec_in_bar[..n]),
            grad.as_mut().map(|(g, w)| (&mut g.dec, *w)),
            &mut s.r_dec_adj,
        );
        let l = &mut s.layer;
        for r in 0..n {
            for j in 0..H {
                // y feeds the decoder as 2y − 1; generative: + prior term π, − log q term a.
                let prior_and_log_q = if T::STRUCTURED { 0.0 } else { scale * (self.prior[j] - l.logits[r][j]) };
                l.r_y_bar[r][j] = 2.0 * s.r_dec_in_bar[r][j] + prior_and_log_q;
            }
        }
        s.rows.relaxed_elbo_dtau[..n].fill(0.0);
        l.finish_adjoints(n, c, scale, !T::STRUCTURED, &mut s.rows.relaxed_elbo_dtau[..n]);
        if let Some((g, write)) = grad {
            if write == GradWrite::Set {
                g.prior = [0.0; H];
            }
            if !T::STRUCTURED {
                let sigma = self.prior.map(sigmoid);
                for r in 0..n {
                    for ((gp, &y), &p) in g.prior.iter_mut().zip(&l.r_y[r]).zip(&sigma) {
                        *gp += scale * (y - p);
                    }
                }
            }
            self.enc.backward_binary::<B>(
                &s.enc_in[..n],
                s.x_bin.rows(n, &self.input_mean, 1.0),
                &l.logits[..n],
                &s.enc_h,
                &l.r_logits_bar[..n],
                None,
                Some((&mut g.enc, write)),
                &mut s.enc_adj,
            );
        }
    }

    fn relaxed_tangent<const B: usize>(
        &self,
        s: &mut Self::Scratch<B>,
        _from: usize,
        relaxation: Relaxation,
        scale: f32,
    ) {
        let n = s.rows.n;
        let c = relaxation.coefficients();
        let l = &mut s.layer;
        // The logits do not depend on τ: ṡ = dα·z + dβ·a, ẏ = y(1 − y)·ṡ.
        l.r_logits_dot[..n].fill([0.0; H]);
        l.y_tangent(n, c, &mut s.r_dec_in_dot);
        s.r_dec_out_dot[..n].fill([0.0; Y]);
        self.dec.tangent::<B>(
            &s.r_dec_in[..n],
            &s.r_dec_out[..n],
            &s.r_dec_h,
            Some(&s.r_dec_in_dot[..n]),
            None,
            &mut s.r_dec_out_dot[..n],
            &mut s.r_dec_h_dot,
        );
        let (p, g_dot) = (s.r_dec_prob[..n].as_flattened(), s.r_dec_out_dot[..n].as_flattened());
        output_adjoint_tangent(p, g_dot, scale, s.r_dec_out_bar_dot[..n].as_flattened_mut());
        s.r_dec_in_bar_dot[..n].fill([0.0; H]);
        self.dec.backward_tangent::<B>(
            &s.r_dec_out[..n],
            &s.r_dec_h,
            &s.r_dec_out_dot[..n],
            &s.r_dec_h_dot,
            &s.r_dec_out_bar[..n],
            &s.r_dec_adj,
            &s.r_dec_out_bar_dot[..n],
            &mut s.r_dec_in_bar_dot[..n],
            &mut s.r_dec_adj_dot,
        );
        // ȳ = 2·(decoder input adjoint) + scale·(π − a): only the first term moves with τ.
        for (dst, src) in l.r_s_bar_dot[..n].iter_mut().zip(&s.r_dec_in_bar_dot[..n]) {
            for (d, &v) in dst.iter_mut().zip(src) {
                *d = 2.0 * v;
            }
        }
        l.finish_adjoint_tangents(n, c, scale, !T::STRUCTURED);
    }
}
