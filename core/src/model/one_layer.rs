//! One stochastic layer: q(b | x) = Bernoulli(σ(E(x − x̄))), p(b) = Bernoulli(σ(π)),
//! p(x | b) = Bernoulli(σ(G(2b − 1) + c₀)). With `E`, `G` affine this is the paper's "linear 1
//! layer" model; with two tanh hidden layers each it is the "nonlinear" model.
//!
//! ELBO per example (generative): f = log p(x | s) + log p(s) − log q(s | x), with s the hard
//! sample b or the relaxed sample y. Structured prediction: f = log p(x_bottom | s).

use super::bernoulli::{log_prob_rows, log_prob_rows_shared, plus_minus_one};
use super::data::{DataBatch, output_bias};
use super::layer::{prior_gradient, sample_at};
use super::map_pass::{Encoder, MapPass, MapTangent};
use super::{BinaryBatch, LayerScratch, Relaxation, RowScratch, Sbn, Task};
use crate::math::simd::sigmoid_of_sum;
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
    data: DataBatch<X, Y, H, B>,
    enc: Encoder<X, H, E, B>,
    // Hard pass through the decoder: its input 2b − 1 and output probabilities σ(out + bias).
    dec_in: [[f32; H]; B],
    dec: MapPass<H, Y, G, B>,
    dec_prob: [[f32; Y]; B],
    // Relaxed pass through the decoder, its adjoints and their τ-tangents.
    r_dec_in: [[f32; H]; B],
    r_dec_in_bar: [[f32; H]; B],
    r_dec_in_dot: [[f32; H]; B],
    r_dec_in_bar_dot: [[f32; H]; B],
    r_dec: MapPass<H, Y, G, B>,
    r_dec_prob: [[f32; Y]; B],
    r_dec_tangent: MapTangent<H, Y, G, B>,
    r_log_q: [f32; B],
    b_bin: BinaryBatch<H, B>,
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
        output_bias(target_mean, &mut self.output_bias);
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
        s.rows.n = s.data.load(inputs, targets, &self.input_mean);
        s.rows.n
    }

    fn centered_inputs<const B: usize>(s: &Self::Scratch<B>) -> &[[f32; X]] {
        &s.data.enc_in[..s.rows.n]
    }

    fn binary_inputs<'a, const B: usize>(&'a self, s: &'a Self::Scratch<B>) -> Option<crate::net::BinaryRows<'a>> {
        s.data.x_rows(s.rows.n, &self.input_mean)
    }

    fn hard_encode<const B: usize>(&self, s: &mut Self::Scratch<B>, alt: u32) {
        let (n, d) = (s.rows.n, &s.data);
        s.enc.encode(&self.enc, (&d.enc_in[..n], d.x_rows(n, &self.input_mean)), &mut s.layer, alt & 1 != 0);
    }

    fn hard_decode<const B: usize>(&self, s: &mut Self::Scratch<B>) {
        let (n, l, rows) = (s.rows.n, &s.layer, &mut s.rows);
        plus_minus_one(l.sample[..n].as_flattened(), s.dec_in.as_flattened_mut());
        s.b_bin.set(&l.sample, n);
        s.dec.forward(&self.dec, &s.dec_in, s.data.sample_rows(&s.b_bin, n), n);
        s.dec.data_log_lik(&s.data.target, &self.output_bias, &mut s.dec_prob, &mut rows.log_p[..n]);
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
        s.dec.data_adjoint(&s.data.target, &s.dec_prob, |r| weights[r], n);
        let dec_in = (&s.dec_in[..], s.data.sample_rows(&s.b_bin, n));
        s.dec.backward(&self.dec, dec_in, None, Some((&mut grad.dec, write)), n);
        if write == GradWrite::Set {
            grad.prior = [0.0; H];
        }
        if !T::STRUCTURED {
            prior_gradient(&self.prior, &s.layer.sample[..n], |r| weights[r], &mut grad.prior);
        }
    }

    fn encoder_backward<const B: usize>(&self, s: &mut Self::Scratch<B>, _: usize, grad: &mut Self, write: GradWrite) {
        let (n, d, l) = (s.rows.n, &s.data, &s.layer);
        let x = (&d.enc_in[..n], d.x_rows(n, &self.input_mean));
        s.enc.backward(&self.enc, x, &l.logits, &l.dlogits, (&mut grad.enc, write));
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
        let (n, d) = (s.rows.n.min(out.len()), &s.data);
        let scales = &scales[..E::COUNT.min(scales.len())];
        let x = (&d.enc_in[..n], d.x_rows(n, &self.input_mean));
        s.enc.tangent(&self.enc, x, &s.layer.logits, (&dir.enc, scales), out);
    }

    fn encoder_tangent_pair<const B: usize>(
        &self,
        s: &mut Self::Scratch<B>,
        _: usize,
        dir: &Self,
        scales: [&[f32]; 2],
        out: [&mut [[f32; H]]; 2],
    ) {
        let (n, d) = (s.rows.n.min(out[0].len()).min(out[1].len()), &s.data);
        let scales = scales.map(|sc| &sc[..E::COUNT.min(sc.len())]);
        let x = (&d.enc_in[..n], d.x_rows(n, &self.input_mean));
        s.enc.tangent_pair(&self.enc, x, &s.layer.logits, &dir.enc, scales, out);
    }

    fn reconstruct<const B: usize>(&self, s: &Self::Scratch<B>, out: &mut [[f32; Y]]) {
        for (o, g) in out.iter_mut().zip(&s.dec.out[..s.rows.n]) {
            sigmoid_of_sum(g, &self.output_bias, o);
        }
    }

    fn generate<const B: usize>(&self, s: &mut Self::Scratch<B>, n: usize, out: &mut [[f32; Y]]) -> bool {
        if T::STRUCTURED {
            return false;
        }
        let n = n.min(B).min(out.len());
        s.rows.n = n;
        let l = &mut s.layer;
        sample_at(&l.noise[..n], |_, j| self.prior[j], &mut l.sample);
        plus_minus_one(l.sample[..n].as_flattened(), s.dec_in.as_flattened_mut());
        s.dec.forward(&self.dec, &s.dec_in, None, n);
        for ((o, p), g) in out.iter_mut().zip(&mut s.dec_prob[..n]).zip(&s.dec.out[..n]) {
            sigmoid_of_sum(g, &self.output_bias, o);
            *p = *o;
        }
        true
    }

    fn relaxed_forward<const B: usize>(&self, s: &mut Self::Scratch<B>, _from: usize, relaxation: Relaxation) {
        let (n, l) = (s.rows.n, &mut s.layer);
        l.relax_at_hard_logits(n, relaxation.coefficients(), true);
        plus_minus_one(l.r_y[..n].as_flattened(), s.r_dec_in.as_flattened_mut());
        s.r_dec.forward(&self.dec, &s.r_dec_in, None, n);
        let f = &mut s.rows.relaxed_elbo[..n];
        s.r_dec.data_log_lik(&s.data.target, &self.output_bias, &mut s.r_dec_prob, f);
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
        s.r_dec.data_adjoint(&s.data.target, &s.r_dec_prob, |_| scale, n);
        s.r_dec_in_bar[..n].fill([0.0; H]);
        let dec_grad = grad.as_mut().map(|(g, w)| (&mut g.dec, *w));
        s.r_dec.backward(&self.dec, (&s.r_dec_in, None), Some(&mut s.r_dec_in_bar[..]), dec_grad, n);
        let l = &mut s.layer;
        // y feeds the decoder as 2y − 1; generative: + prior term π, − log q term a.
        let prior_and_log_q = |l: &LayerScratch<H, B>, r: usize, j: usize| {
            if T::STRUCTURED { 0.0 } else { scale * (self.prior[j] - l.logits[r][j]) }
        };
        l.set_y_bar(n, &s.r_dec_in_bar, prior_and_log_q);
        s.rows.relaxed_elbo_dtau[..n].fill(0.0);
        l.finish_adjoints(n, relaxation.coefficients(), scale, !T::STRUCTURED, &mut s.rows.relaxed_elbo_dtau[..n]);
        if let Some((g, write)) = grad {
            if write == GradWrite::Set {
                g.prior = [0.0; H];
            }
            if !T::STRUCTURED {
                prior_gradient(&self.prior, &l.r_y[..n], |_| scale, &mut g.prior);
            }
            let x = (&s.data.enc_in[..n], s.data.x_rows(n, &self.input_mean));
            s.enc.backward(&self.enc, x, &l.logits, &l.r_logits_bar, (&mut g.enc, write));
        }
    }

    fn relaxed_tangent<const B: usize>(
        &self,
        s: &mut Self::Scratch<B>,
        _from: usize,
        relaxation: Relaxation,
        scale: f32,
    ) {
        let (n, c, l) = (s.rows.n, relaxation.coefficients(), &mut s.layer);
        // The logits do not depend on τ: ṡ = dα·z + dβ·a, ẏ = y(1 − y)·ṡ.
        l.r_logits_dot[..n].fill([0.0; H]);
        l.y_tangent(n, c, &mut s.r_dec_in_dot);
        let t = &mut s.r_dec_tangent;
        t.forward(&self.dec, &s.r_dec, &s.r_dec_in, &s.r_dec_in_dot, n);
        t.data_adjoint(&s.r_dec_prob, scale, n);
        s.r_dec_in_bar_dot[..n].fill([0.0; H]);
        t.backward(&self.dec, &s.r_dec, &mut s.r_dec_in_bar_dot, n);
        // ȳ = 2·(decoder input adjoint) + scale·(π − a): only the first term moves with τ.
        for (dst, src) in l.r_s_bar_dot[..n].iter_mut().zip(&s.r_dec_in_bar_dot[..n]) {
            for (d, &v) in dst.iter_mut().zip(src) {
                *d = 2.0 * v;
            }
        }
        l.finish_adjoint_tangents(n, c, scale, !T::STRUCTURED);
    }
}
