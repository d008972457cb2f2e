//! Two stochastic layers: q(b₀ | x) q(b₁ | b₀) with encoder maps E₀: x − x̄ → a₀ and
//! E₁: 2b₀ − 1 → a₁; generative p(b₁) p(b₀ | b₁) p(x | b₀) with G₁: 2b₁ − 1 → logits of b₀ and
//! G₀: 2b₀ − 1 → logits of x (plus the fixed bias). With affine maps this is the paper's "linear
//! 2 layer" model.
//!
//! Structured prediction follows the official code (docs/estimators.md, *Models: structured prediction*): the
//! top layer's sample feeds G₀ directly, f = log p(x_bottom | b₁), and G₁ is unused (use
//! [`crate::net::Absent`]).
//!
//! A relaxed pass from layer 1 keeps b₀ hard and relaxes layer 1 at its hard logits; from layer
//! 0 it relaxes layer 0, recomputes layer 1's logits from 2y₀ − 1 and relaxes them too
//! (docs/estimators.md, *REBAR: several stochastic layers*).

use super::bernoulli::{
    log_prob_rows, log_prob_rows_shared, mean_output, output_adjoint, output_adjoint_tangent, output_log_lik_rows,
    plus_minus_one, sample_hard,
};
use super::{BinaryBatch, LayerScratch, Relaxation, RowScratch, Sbn, Task};
use crate::math::scalar::sigmoid;
use crate::math::simd::{bernoulli_logit_grad, bernoulli_logit_grad_tangent};
use crate::net::{GradWrite, Net};
use crate::tensors::{Tensors, impl_tensors_for_fields};
use bytemuck::Zeroable;
use core::marker::PhantomData;
use rand_core::Rng;

/// A sigmoid belief network with two stochastic layers of `H` units.
#[derive(Zeroable)]
#[repr(C)]
pub struct TwoLayer<const X: usize, const H: usize, const Y: usize, E0, E1, G1, G0, T> {
    /// Encoder of layer 0: logits of q(b₀ | x) from the centred input.
    pub enc0: E0,
    /// Encoder of layer 1: logits of q(b₁ | b₀) from 2b₀ − 1.
    pub enc1: E1,
    /// Generative map of layer 1: logits of p(b₀ | b₁) from 2b₁ − 1.
    pub dec1: G1,
    /// Generative map to the data: logits of p(x | b₀) (before the fixed bias) from 2b₀ − 1,
    /// or from 2b₁ − 1 for structured prediction.
    pub dec0: G0,
    /// Prior logits of the top layer (unused for structured prediction).
    pub prior: [f32; H],
    /// Fixed input centring x̄ (not trained).
    pub input_mean: [f32; X],
    /// Fixed output bias logit(clip(x̄_target, 0.001, 0.999)) (not trained).
    pub output_bias: [f32; Y],
    task: PhantomData<T>,
}

impl_tensors_for_fields!(
    TwoLayer<X, H, Y, E0, E1, G1, G0, T>,
    [(enc0, E0, "enc0"), (enc1, E1, "enc1"), (dec1, G1, "dec1"), (dec0, G0, "dec0"), (prior, [f32; H], "prior")],
    [const X: usize, const H: usize, const Y: usize, E0, E1, G1, G0, T]
    where [E0: Tensors, E1: Tensors, G1: Tensors, G0: Tensors]
);

/// Workspace of a [`TwoLayer`] model for batches of at most `B` examples.
#[derive(Zeroable)]
#[repr(C)]
pub struct TwoLayerScratch<
    const X: usize,
    const H: usize,
    const Y: usize,
    E0: Net<X, H>,
    E1: Net<H, H>,
    G1: Net<H, H>,
    G0: Net<H, Y>,
    const B: usize,
> {
    /// Per-example values.
    pub rows: RowScratch<B>,
    /// Stochastic layer 0 (next to the data).
    pub l0: LayerScratch<H, B>,
    /// Stochastic layer 1 (top).
    pub l1: LayerScratch<H, B>,
    enc_in: [[f32; X]; B],
    target: [[f32; Y]; B],
    enc0_h: E0::Hidden<B>,
    enc0_adj: E0::Hidden<B>,
    enc0_h_dot: E0::Hidden<B>,
    // Hard pass: in1 = 2b₀ − 1 feeds E₁ (and G₀), top_in = 2b₁ − 1 feeds G₁ (or G₀ for SP).
    in1: [[f32; H]; B],
    top_in: [[f32; H]; B],
    enc1_h: E1::Hidden<B>,
    enc1_adj: E1::Hidden<B>,
    enc1_h_dot: E1::Hidden<B>,
    d1_out: [[f32; H]; B],
    d1_h: G1::Hidden<B>,
    d1_adj: G1::Hidden<B>,
    d1_out_bar: [[f32; H]; B],
    d0_out: [[f32; Y]; B],
    /// σ(d0_out + output bias), kept from the forward pass for the adjoints.
    d0_prob: [[f32; Y]; B],
    d0_h: G0::Hidden<B>,
    d0_adj: G0::Hidden<B>,
    d0_out_bar: [[f32; Y]; B],
    // Relaxed pass: the same quantities, their adjoints (`_bar`) and τ-tangents (`_dot`).
    r_in1: [[f32; H]; B],
    r_in1_bar: [[f32; H]; B],
    r_in1_dot: [[f32; H]; B],
    r_in1_bar_dot: [[f32; H]; B],
    r_top_in: [[f32; H]; B],
    r_top_in_bar: [[f32; H]; B],
    r_top_in_dot: [[f32; H]; B],
    r_top_in_bar_dot: [[f32; H]; B],
    r_enc1_h: E1::Hidden<B>,
    r_enc1_adj: E1::Hidden<B>,
    r_enc1_h_dot: E1::Hidden<B>,
    r_enc1_adj_dot: E1::Hidden<B>,
    r_d1_out: [[f32; H]; B],
    r_d1_out_bar: [[f32; H]; B],
    r_d1_out_dot: [[f32; H]; B],
    r_d1_out_bar_dot: [[f32; H]; B],
    r_d1_h: G1::Hidden<B>,
    r_d1_adj: G1::Hidden<B>,
    r_d1_h_dot: G1::Hidden<B>,
    r_d1_adj_dot: G1::Hidden<B>,
    r_d0_out: [[f32; Y]; B],
    r_d0_prob: [[f32; Y]; B],
    r_d0_out_bar: [[f32; Y]; B],
    r_d0_out_dot: [[f32; Y]; B],
    r_d0_out_bar_dot: [[f32; Y]; B],
    r_d0_h: G0::Hidden<B>,
    r_d0_adj: G0::Hidden<B>,
    r_d0_h_dot: G0::Hidden<B>,
    r_d0_adj_dot: G0::Hidden<B>,
    tmp: [f32; B],
    x_bin: BinaryBatch<X, B>,
    b0_bin: BinaryBatch<H, B>,
    b1_bin: BinaryBatch<H, B>,
    half: [f32; H],
}

impl<const X: usize, const H: usize, const Y: usize, E0, E1, G1, G0, T> Sbn<H> for TwoLayer<X, H, Y, E0, E1, G1, G0, T>
where
    E0: Net<X, H>,
    E1: Net<H, H>,
    G1: Net<H, H>,
    G0: Net<H, Y>,
    T: Task,
{
    const LAYERS: usize = 2;
    const ENCODER_TANGENT_PAIR_IN_ONE_PASS: bool = E0::TANGENT_PAIR_IN_ONE_PASS && E1::TANGENT_PAIR_IN_ONE_PASS;
    const STRUCTURED: bool = T::STRUCTURED;
    type Input = [f32; X];
    type Target = [f32; Y];
    type Scratch<const B: usize> = TwoLayerScratch<X, H, Y, E0, E1, G1, G0, B>;

    fn init<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        self.enc0.init(rng);
        self.enc1.init(rng);
        self.dec1.init(rng);
        self.dec0.init(rng);
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

    fn layer<const B: usize>(s: &Self::Scratch<B>, l: usize) -> &LayerScratch<H, B> {
        if l == 0 { &s.l0 } else { &s.l1 }
    }
    fn layer_mut<const B: usize>(s: &mut Self::Scratch<B>, l: usize) -> &mut LayerScratch<H, B> {
        if l == 0 { &mut s.l0 } else { &mut s.l1 }
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
        // Layer 0.
        let l0 = &mut s.l0;
        self.enc0.forward_binary::<B>(
            &s.enc_in[..n],
            s.x_bin.rows(n, &self.input_mean, 1.0),
            &mut l0.logits[..n],
            &mut s.enc0_h,
        );
        let noise = if alt & 1 != 0 { &l0.noise_alt } else { &l0.noise };
        sample_hard(
            l0.logits[..n].as_flattened(),
            noise[..n].as_flattened(),
            l0.prob.as_flattened_mut(),
            l0.sample.as_flattened_mut(),
        );
        log_prob_rows(l0.sample[..n].as_flattened(), l0.logits[..n].as_flattened(), H, &mut l0.log_q[..n]);
        plus_minus_one(l0.sample[..n].as_flattened(), s.in1.as_flattened_mut());
        s.b0_bin.set(&l0.sample, n);
        // Layer 1.
        let l1 = &mut s.l1;
        self.enc1.forward_binary::<B>(&s.in1[..n], s.b0_bin.rows(n, &s.half, 2.0), &mut l1.logits[..n], &mut s.enc1_h);
        let noise = if alt & 2 != 0 { &l1.noise_alt } else { &l1.noise };
        sample_hard(
            l1.logits[..n].as_flattened(),
            noise[..n].as_flattened(),
            l1.prob.as_flattened_mut(),
            l1.sample.as_flattened_mut(),
        );
        log_prob_rows(l1.sample[..n].as_flattened(), l1.logits[..n].as_flattened(), H, &mut l1.log_q[..n]);
    }

    fn hard_decode<const B: usize>(&self, s: &mut Self::Scratch<B>) {
        let n = s.rows.n;
        let (l0, l1) = (&s.l0, &s.l1);
        plus_minus_one(l1.sample[..n].as_flattened(), s.top_in.as_flattened_mut());
        s.b1_bin.set(&l1.sample, n);
        let (b0_bin, b1_bin) = (s.b0_bin.rows(n, &s.half, 2.0), s.b1_bin.rows(n, &s.half, 2.0));
        let rows = &mut s.rows;
        if T::STRUCTURED {
            self.dec0.forward_binary::<B>(&s.top_in[..n], b1_bin, &mut s.d0_out[..n], &mut s.d0_h);
            output_log_lik_rows(
                s.target[..n].as_flattened(),
                s.d0_out[..n].as_flattened(),
                &self.output_bias,
                &mut rows.log_p[..n],
                s.d0_prob[..n].as_flattened_mut(),
            );
            rows.elbo[..n].copy_from_slice(&rows.log_p[..n]);
        } else {
            self.dec0.forward_binary::<B>(&s.in1[..n], b0_bin, &mut s.d0_out[..n], &mut s.d0_h);
            output_log_lik_rows(
                s.target[..n].as_flattened(),
                s.d0_out[..n].as_flattened(),
                &self.output_bias,
                &mut rows.log_p[..n],
                s.d0_prob[..n].as_flattened_mut(),
            );
            self.dec1.forward_binary::<B>(&s.top_in[..n], b1_bin, &mut s.d1_out[..n], &mut s.d1_h);
            log_prob_rows(l0.sample[..n].as_flattened(), s.d1_out[..n].as_flattened(), H, &mut s.tmp[..n]);
            for r in 0..n {
                rows.log_p[r] += s.tmp[r];
            }
            log_prob_rows_shared(l1.sample[..n].as_flattened(), &self.prior, &mut s.tmp[..n]);
            for r in 0..n {
                rows.log_p[r] += s.tmp[r];
                rows.elbo[r] = rows.log_p[r] - l0.log_q[r] - l1.log_q[r];
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
            output_adjoint(&s.target[r], &s.d0_prob[r], weights[r], &mut s.d0_out_bar[r]);
        }
        if T::STRUCTURED {
            self.dec0.backward_binary::<B>(
                &s.top_in[..n],
                s.b1_bin.rows(n, &s.half, 2.0),
                &s.d0_out[..n],
                &s.d0_h,
                &s.d0_out_bar[..n],
                None,
                Some((&mut grad.dec0, write)),
                &mut s.d0_adj,
            );
            if write == GradWrite::Set {
                // No generative path between the layers and no prior (see the struct docs).
                grad.dec1.fill_zero();
                grad.prior = [0.0; H];
            }
            return;
        }
        self.dec0.backward_binary::<B>(
            &s.in1[..n],
            s.b0_bin.rows(n, &s.half, 2.0),
            &s.d0_out[..n],
            &s.d0_h,
            &s.d0_out_bar[..n],
            None,
            Some((&mut grad.dec0, write)),
            &mut s.d0_adj,
        );
        // ∂/∂g Σ b₀·g − softplus(g) = b₀ − σ(g).
        for r in 0..n {
            bernoulli_logit_grad(&s.l0.sample[r], &s.d1_out[r], weights[r], &mut s.d1_out_bar[r]);
        }
        self.dec1.backward_binary::<B>(
            &s.top_in[..n],
            s.b1_bin.rows(n, &s.half, 2.0),
            &s.d1_out[..n],
            &s.d1_h,
            &s.d1_out_bar[..n],
            None,
            Some((&mut grad.dec1, write)),
            &mut s.d1_adj,
        );
        if write == GradWrite::Set {
            grad.prior = [0.0; H];
        }
        let sigma = self.prior.map(sigmoid);
        for r in 0..n {
            for ((g, &b), &p) in grad.prior.iter_mut().zip(&s.l1.sample[r]).zip(&sigma) {
                *g += weights[r] * (b - p);
            }
        }
    }

    fn encoder_backward<const B: usize>(&self, s: &mut Self::Scratch<B>, l: usize, grad: &mut Self, write: GradWrite) {
        let n = s.rows.n;
        if l == 0 {
            let l0 = &s.l0;
            self.enc0.backward_binary::<B>(
                &s.enc_in[..n],
                s.x_bin.rows(n, &self.input_mean, 1.0),
                &l0.logits[..n],
                &s.enc0_h,
                &l0.dlogits[..n],
                None,
                Some((&mut grad.enc0, write)),
                &mut s.enc0_adj,
            );
        } else {
            let l1 = &s.l1;
            self.enc1.backward_binary::<B>(
                &s.in1[..n],
                s.b0_bin.rows(n, &s.half, 2.0),
                &l1.logits[..n],
                &s.enc1_h,
                &l1.dlogits[..n],
                None,
                Some((&mut grad.enc1, write)),
                &mut s.enc1_adj,
            );
        }
    }

    fn encoder_tensors(l: usize) -> core::ops::Range<usize> {
        if l == 0 { 0..E0::COUNT } else { E0::COUNT..E0::COUNT + E1::COUNT }
    }

    fn encoder_tangent<const B: usize>(
        &self,
        s: &mut Self::Scratch<B>,
        l: usize,
        dir: &Self,
        scales: &[f32],
        out: &mut [[f32; H]],
    ) {
        let n = s.rows.n.min(out.len());
        out[..n].fill([0.0; H]);
        let k0 = E0::COUNT.min(scales.len());
        let k1 = (E0::COUNT + E1::COUNT).min(scales.len());
        if l == 0 {
            self.enc0.tangent_binary::<B>(
                &s.enc_in[..n],
                s.x_bin.rows(n, &self.input_mean, 1.0),
                &s.l0.logits[..n],
                &s.enc0_h,
                None,
                Some((&dir.enc0, &scales[..k0])),
                &mut out[..n],
                &mut s.enc0_h_dot,
            );
        } else {
            self.enc1.tangent_binary::<B>(
                &s.in1[..n],
                s.b0_bin.rows(n, &s.half, 2.0),
                &s.l1.logits[..n],
                &s.enc1_h,
                None,
                Some((&dir.enc1, &scales[k0..k1])),
                &mut out[..n],
                &mut s.enc1_h_dot,
            );
        }
    }

    fn encoder_tangent_pair<const B: usize>(
        &self,
        s: &mut Self::Scratch<B>,
        l: usize,
        dir: &Self,
        scales: [&[f32]; 2],
        out: [&mut [[f32; H]]; 2],
    ) {
        let n = s.rows.n.min(out[0].len()).min(out[1].len());
        let out = out.map(|o| &mut o[..n]);
        let (k0, k1) = (E0::COUNT, E0::COUNT + E1::COUNT);
        if l == 0 {
            self.enc0.tangent_binary_pair::<B>(
                &s.enc_in[..n],
                s.x_bin.rows(n, &self.input_mean, 1.0),
                &s.l0.logits[..n],
                &s.enc0_h,
                &dir.enc0,
                scales.map(|sc| &sc[..k0.min(sc.len())]),
                out,
                &mut s.enc0_h_dot,
            );
        } else {
            self.enc1.tangent_binary_pair::<B>(
                &s.in1[..n],
                s.b0_bin.rows(n, &s.half, 2.0),
                &s.l1.logits[..n],
                &s.enc1_h,
                &dir.enc1,
                scales.map(|sc| &sc[k0.min(sc.len())..k1.min(sc.len())]),
                out,
                &mut s.enc1_h_dot,
            );
        }
    }

    fn reconstruct<const B: usize>(&self, s: &Self::Scratch<B>, out: &mut [[f32; Y]]) {
        for (o, g) in out.iter_mut().zip(&s.d0_out[..s.rows.n]) {
            mean_output(g, &self.output_bias, o);
        }
    }

    fn generate<const B: usize>(&self, s: &mut Self::Scratch<B>, n: usize, out: &mut [[f32; Y]]) -> bool {
        if T::STRUCTURED {
            return false;
        }
        let n = n.min(B).min(out.len());
        s.rows.n = n;
        let (l0, l1) = (&mut s.l0, &mut s.l1);
        for r in 0..n {
            for j in 0..H {
                l1.sample[r][j] = if self.prior[j] + l1.noise[r][j] > 0.0 { 1.0 } else { 0.0 };
            }
        }
        plus_minus_one(l1.sample[..n].as_flattened(), s.top_in.as_flattened_mut());
        self.dec1.forward::<B>(&s.top_in[..n], &mut s.d1_out[..n], &mut s.d1_h);
        for r in 0..n {
            for j in 0..H {
                l0.sample[r][j] = if s.d1_out[r][j] + l0.noise[r][j] > 0.0 { 1.0 } else { 0.0 };
            }
        }
        plus_minus_one(l0.sample[..n].as_flattened(), s.in1.as_flattened_mut());
        self.dec0.forward::<B>(&s.in1[..n], &mut s.d0_out[..n], &mut s.d0_h);
        for ((o, p), g) in out.iter_mut().zip(&mut s.d0_prob[..n]).zip(&s.d0_out[..n]) {
            mean_output(g, &self.output_bias, o);
            *p = *o;
        }
        true
    }

    fn relaxed_forward<const B: usize>(&self, s: &mut Self::Scratch<B>, from: usize, relaxation: Relaxation) {
        let n = s.rows.n;
        let c = relaxation.coefficients();
        // Layer 0: relaxed at its hard logits, or kept hard.
        let l0 = &mut s.l0;
        l0.r_logits[..n].copy_from_slice(&l0.logits[..n]);
        if from == 0 {
            l0.relax_forward(n, c);
        } else {
            l0.r_y[..n].copy_from_slice(&l0.sample[..n]);
        }
        plus_minus_one(l0.r_y[..n].as_flattened(), s.r_in1.as_flattened_mut());
        // Layer 1: logits recomputed from the relaxed layer 0, or the hard ones.
        let l1 = &mut s.l1;
        if from == 0 {
            self.enc1.forward::<B>(&s.r_in1[..n], &mut l1.r_logits[..n], &mut s.r_enc1_h);
        } else {
            l1.r_logits[..n].copy_from_slice(&l1.logits[..n]);
        }
        l1.relax_forward(n, c);
        plus_minus_one(l1.r_y[..n].as_flattened(), s.r_top_in.as_flattened_mut());
        // The ELBO with relaxed values in every term.
        let f = &mut s.rows.relaxed_elbo;
        if T::STRUCTURED {
            self.dec0.forward::<B>(&s.r_top_in[..n], &mut s.r_d0_out[..n], &mut s.r_d0_h);
            output_log_lik_rows(
                s.target[..n].as_flattened(),
                s.r_d0_out[..n].as_flattened(),
                &self.output_bias,
                &mut f[..n],
                s.r_d0_prob[..n].as_flattened_mut(),
            );
            return;
        }
        self.dec0.forward::<B>(&s.r_in1[..n], &mut s.r_d0_out[..n], &mut s.r_d0_h);
        output_log_lik_rows(
            s.target[..n].as_flattened(),
            s.r_d0_out[..n].as_flattened(),
            &self.output_bias,
            &mut f[..n],
            s.r_d0_prob[..n].as_flattened_mut(),
        );
        self.dec1.forward::<B>(&s.r_top_in[..n], &mut s.r_d1_out[..n], &mut s.r_d1_h);
        let terms: [(&[[f32; H]], &[[f32; H]], f32); 3] =
            [(&l0.r_y, &s.r_d1_out, 1.0), (&l0.r_y, &l0.r_logits, -1.0), (&l1.r_y, &l1.r_logits, -1.0)];
        for (sample, logits, sign) in terms {
            log_prob_rows(sample[..n].as_flattened(), logits[..n].as_flattened(), H, &mut s.tmp[..n]);
            for r in 0..n {
                f[r] += sign * s.tmp[r];
            }
        }
        log_prob_rows_shared(l1.r_y[..n].as_flattened(), &self.prior, &mut s.tmp[..n]);
        for r in 0..n {
            f[r] += s.tmp[r];
        }
    }

    fn relaxed_backward<const B: usize>(
        &self,
        s: &mut Self::Scratch<B>,
        from: usize,
        relaxation: Relaxation,
        scale: f32,
        mut grad: Option<(&mut Self, GradWrite)>,
    ) {
        let n = s.rows.n;
        let c = relaxation.coefficients();
        let generative = !T::STRUCTURED;
        for r in 0..n {
            output_adjoint(&s.target[r], &s.r_d0_prob[r], scale, &mut s.r_d0_out_bar[r]);
        }
        s.r_in1_bar[..n].fill([0.0; H]);
        s.r_top_in_bar[..n].fill([0.0; H]);
        if generative {
            self.dec0.backward::<B>(
                &s.r_in1[..n],
                &s.r_d0_out[..n],
                &s.r_d0_h,
                &s.r_d0_out_bar[..n],
                Some(&mut s.r_in1_bar[..n]),
                grad.as_mut().map(|(g, w)| (&mut g.dec0, *w)),
                &mut s.r_d0_adj,
            );
            // log p(s₀ | g): ∂/∂g = s₀ − σ(g), ∂/∂s₀ = g.
            for r in 0..n {
                bernoulli_logit_grad(&s.l0.r_y[r], &s.r_d1_out[r], scale, &mut s.r_d1_out_bar[r]);
            }
            self.dec1.backward::<B>(
                &s.r_top_in[..n],
                &s.r_d1_out[..n],
                &s.r_d1_h,
                &s.r_d1_out_bar[..n],
                Some(&mut s.r_top_in_bar[..n]),
                grad.as_mut().map(|(g, w)| (&mut g.dec1, *w)),
                &mut s.r_d1_adj,
            );
        } else {
            if let Some((g, GradWrite::Set)) = grad.as_mut() {
                g.dec1.fill_zero();
            }
            self.dec0.backward::<B>(
                &s.r_top_in[..n],
                &s.r_d0_out[..n],
                &s.r_d0_h,
                &s.r_d0_out_bar[..n],
                Some(&mut s.r_top_in_bar[..n]),
                grad.as_mut().map(|(g, w)| (&mut g.dec0, *w)),
                &mut s.r_d0_adj,
            );
        }
        // Layer 1: ȳ₁ = 2·(adjoint of 2y₁ − 1) + [prior π − log q a₁'].
        s.rows.relaxed_elbo_dtau[..n].fill(0.0);
        let l1 = &mut s.l1;
        for r in 0..n {
            for j in 0..H {
                let extra = if generative { scale * (self.prior[j] - l1.r_logits[r][j]) } else { 0.0 };
                l1.r_y_bar[r][j] = 2.0 * s.r_top_in_bar[r][j] + extra;
            }
        }
        l1.finish_adjoints(n, c, scale, generative, &mut s.rows.relaxed_elbo_dtau[..n]);
        if let Some((g, write)) = grad.as_mut() {
            if *write == GradWrite::Set {
                g.prior = [0.0; H];
            }
            if generative {
                let sigma = self.prior.map(sigmoid);
                for r in 0..n {
                    for ((gp, &y), &p) in g.prior.iter_mut().zip(&l1.r_y[r]).zip(&sigma) {
                        *gp += scale * (y - p);
                    }
                }
            }
        }
        let l0 = &mut s.l0;
        if from == 0 {
            // Layer 1's logits came from 2y₀ − 1: backpropagate into it.
            self.enc1.backward::<B>(
                &s.r_in1[..n],
                &l1.r_logits[..n],
                &s.r_enc1_h,
                &l1.r_logits_bar[..n],
                Some(&mut s.r_in1_bar[..n]),
                grad.as_mut().map(|(g, w)| (&mut g.enc1, *w)),
                &mut s.r_enc1_adj,
            );
            for r in 0..n {
                for j in 0..H {
                    let extra = if generative { scale * (s.r_d1_out[r][j] - l0.logits[r][j]) } else { 0.0 };
                    l0.r_y_bar[r][j] = 2.0 * s.r_in1_bar[r][j] + extra;
                }
            }
            l0.finish_adjoints(n, c, scale, generative, &mut s.rows.relaxed_elbo_dtau[..n]);
        } else {
            // Layer 0 is hard: only its log q term depends on the parameters, through a₀.
            if let Some((g, write)) = grad.as_mut() {
                self.enc1.backward_binary::<B>(
                    &s.in1[..n],
                    s.b0_bin.rows(n, &s.half, 2.0),
                    &l1.logits[..n],
                    &s.enc1_h,
                    &l1.r_logits_bar[..n],
                    None,
                    Some((&mut g.enc1, *write)),
                    &mut s.enc1_adj,
                );
            }
            for r in 0..n {
                for j in 0..H {
                    l0.r_s_bar[r][j] = 0.0;
                    l0.r_logits_bar[r][j] = if generative { -scale * (l0.sample[r][j] - l0.prob[r][j]) } else { 0.0 };
                }
            }
        }
        if let Some((g, write)) = grad {
            self.enc0.backward_binary::<B>(
                &s.enc_in[..n],
                s.x_bin.rows(n, &self.input_mean, 1.0),
                &l0.logits[..n],
                &s.enc0_h,
                &l0.r_logits_bar[..n],
                None,
                Some((&mut g.enc0, write)),
                &mut s.enc0_adj,
            );
        }
    }

    fn relaxed_tangent<const B: usize>(
        &self,
        s: &mut Self::Scratch<B>,
        from: usize,
        relaxation: Relaxation,
        scale: f32,
    ) {
        let n = s.rows.n;
        let c = relaxation.coefficients();
        let generative = !T::STRUCTURED;
        // Forward tangents: layer 0 (if relaxed), layer 1's logits, layer 1.
        let (l0, l1) = (&mut s.l0, &mut s.l1);
        l0.r_logits_dot[..n].fill([0.0; H]);
        l1.r_logits_dot[..n].fill([0.0; H]);
        if from == 0 {
            l0.y_tangent(n, c, &mut s.r_in1_dot);
            self.enc1.tangent::<B>(
                &s.r_in1[..n],
                &l1.r_logits[..n],
                &s.r_enc1_h,
                Some(&s.r_in1_dot[..n]),
                None,
                &mut l1.r_logits_dot[..n],
                &mut s.r_enc1_h_dot,
            );
        } else {
            l0.r_y_dot[..n].fill([0.0; H]);
            s.r_in1_dot[..n].fill([0.0; H]);
        }
        l1.y_tangent(n, c, &mut s.r_top_in_dot);
        // Tangents of the generative maps' outputs and of their adjoints.
        s.r_d0_out_dot[..n].fill([0.0; Y]);
        let d0_in = if generative { (&s.r_in1, &s.r_in1_dot) } else { (&s.r_top_in, &s.r_top_in_dot) };
        self.dec0.tangent::<B>(
            &d0_in.0[..n],
            &s.r_d0_out[..n],
            &s.r_d0_h,
            Some(&d0_in.1[..n]),
            None,
            &mut s.r_d0_out_dot[..n],
            &mut s.r_d0_h_dot,
        );
        for r in 0..n {
            output_adjoint_tangent(&s.r_d0_prob[r], &s.r_d0_out_dot[r], scale, &mut s.r_d0_out_bar_dot[r]);
        }
        s.r_in1_bar_dot[..n].fill([0.0; H]);
        s.r_top_in_bar_dot[..n].fill([0.0; H]);
        let d0_in_bar_dot = if generative { &mut s.r_in1_bar_dot } else { &mut s.r_top_in_bar_dot };
        self.dec0.backward_tangent::<B>(
            &s.r_d0_out[..n],
            &s.r_d0_h,
            &s.r_d0_out_dot[..n],
            &s.r_d0_h_dot,
            &s.r_d0_out_bar[..n],
            &s.r_d0_adj,
            &s.r_d0_out_bar_dot[..n],
            &mut d0_in_bar_dot[..n],
            &mut s.r_d0_adj_dot,
        );
        if generative {
            s.r_d1_out_dot[..n].fill([0.0; H]);
            self.dec1.tangent::<B>(
                &s.r_top_in[..n],
                &s.r_d1_out[..n],
                &s.r_d1_h,
                Some(&s.r_top_in_dot[..n]),
                None,
                &mut s.r_d1_out_dot[..n],
                &mut s.r_d1_h_dot,
            );
            // r_d1_out_bar = scale·(s₀ − σ(g)) ⇒ tangent scale·(ṡ₀ − σ'(g)·ġ).
            for r in 0..n {
                let (y_dot, g, g_dot) = (&l0.r_y_dot[r], &s.r_d1_out[r], &s.r_d1_out_dot[r]);
                bernoulli_logit_grad_tangent(y_dot, g, g_dot, scale, &mut s.r_d1_out_bar_dot[r]);
            }
            self.dec1.backward_tangent::<B>(
                &s.r_d1_out[..n],
                &s.r_d1_h,
                &s.r_d1_out_dot[..n],
                &s.r_d1_h_dot,
                &s.r_d1_out_bar[..n],
                &s.r_d1_adj,
                &s.r_d1_out_bar_dot[..n],
                &mut s.r_top_in_bar_dot[..n],
                &mut s.r_d1_adj_dot,
            );
        }
        // Layer 1: ȳ₁ = 2·top_in_bar + scale·(π − a₁') ⇒ ȳ̇₁ = 2·top_in_bar_dot − scale·ȧ₁'.
        let gen_scale = if generative { scale } else { 0.0 };
        for r in 0..n {
            for j in 0..H {
                l1.r_s_bar_dot[r][j] = 2.0 * s.r_top_in_bar_dot[r][j] - gen_scale * l1.r_logits_dot[r][j];
            }
        }
        l1.finish_adjoint_tangents(n, c, scale, generative);
        if from == 0 {
            self.enc1.backward_tangent::<B>(
                &l1.r_logits[..n],
                &s.r_enc1_h,
                &l1.r_logits_dot[..n],
                &s.r_enc1_h_dot,
                &l1.r_logits_bar[..n],
                &s.r_enc1_adj,
                &l1.r_logits_bar_dot[..n],
                &mut s.r_in1_bar_dot[..n],
                &mut s.r_enc1_adj_dot,
            );
            // ȳ₀ = 2·in1_bar + scale·(g − a₀) ⇒ ȳ̇₀ = 2·in1_bar_dot + scale·ġ.
            for r in 0..n {
                for j in 0..H {
                    l0.r_s_bar_dot[r][j] = 2.0 * s.r_in1_bar_dot[r][j] + gen_scale * s.r_d1_out_dot[r][j];
                }
            }
            l0.finish_adjoint_tangents(n, c, scale, generative);
        }
    }
}
