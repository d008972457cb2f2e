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

use super::bernoulli::{log_prob_rows, log_prob_rows_shared, plus_minus_one};
use super::data::{DataBatch, output_bias};
use super::layer::{prior_gradient, sample_at};
use super::map_pass::{Encoder, MapPass, MapTangent, RelaxedEncoder};
use super::{BinaryBatch, LayerScratch, Relaxation, RowScratch, Sbn, Task};
use crate::math::simd::sigmoid_of_sum;
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
    data: DataBatch<X, Y, H, B>,
    enc0: Encoder<X, H, E0, B>,
    enc1: Encoder<H, H, E1, B>,
    // Hard pass: in1 = 2b₀ − 1 feeds E₁ (and G₀), top_in = 2b₁ − 1 feeds G₁ (or G₀ for SP).
    in1: [[f32; H]; B],
    top_in: [[f32; H]; B],
    d1: MapPass<H, H, G1, B>,
    d0: MapPass<H, Y, G0, B>,
    /// σ(d0.out + output bias), kept from the forward pass for the adjoints.
    d0_prob: [[f32; Y]; B],
    // Relaxed pass: the same quantities, their adjoints (`_bar`) and τ-tangents (`_dot`).
    r_in1: [[f32; H]; B],
    r_in1_bar: [[f32; H]; B],
    r_in1_dot: [[f32; H]; B],
    r_in1_bar_dot: [[f32; H]; B],
    r_top_in: [[f32; H]; B],
    r_top_in_bar: [[f32; H]; B],
    r_top_in_dot: [[f32; H]; B],
    r_top_in_bar_dot: [[f32; H]; B],
    // E₁ at the relaxed 2y₀ − 1 (a pass from layer 0); its output is `l1.r_logits`.
    r_enc1: RelaxedEncoder<H, H, E1, B>,
    r_d1: MapPass<H, H, G1, B>,
    r_d1_tangent: MapTangent<H, H, G1, B>,
    r_d0: MapPass<H, Y, G0, B>,
    r_d0_prob: [[f32; Y]; B],
    r_d0_tangent: MapTangent<H, Y, G0, B>,
    tmp: [f32; B],
    b0_bin: BinaryBatch<H, B>,
    b1_bin: BinaryBatch<H, B>,
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
        s.enc0.encode(&self.enc0, (&d.enc_in[..n], d.x_rows(n, &self.input_mean)), &mut s.l0, alt & 1 != 0);
        plus_minus_one(s.l0.sample[..n].as_flattened(), s.in1.as_flattened_mut());
        s.b0_bin.set(&s.l0.sample, n);
        s.enc1.encode(&self.enc1, (&s.in1[..n], d.sample_rows(&s.b0_bin, n)), &mut s.l1, alt & 2 != 0);
    }

    fn hard_decode<const B: usize>(&self, s: &mut Self::Scratch<B>) {
        let (n, l0, l1) = (s.rows.n, &s.l0, &s.l1);
        plus_minus_one(l1.sample[..n].as_flattened(), s.top_in.as_flattened_mut());
        s.b1_bin.set(&l1.sample, n);
        let (b0_bin, b1_bin) = (s.data.sample_rows(&s.b0_bin, n), s.data.sample_rows(&s.b1_bin, n));
        let (rows, target, bias) = (&mut s.rows, &s.data.target, &self.output_bias);
        if T::STRUCTURED {
            s.d0.forward(&self.dec0, &s.top_in, b1_bin, n);
            s.d0.data_log_lik(target, bias, &mut s.d0_prob, &mut rows.log_p[..n]);
            rows.elbo[..n].copy_from_slice(&rows.log_p[..n]);
            return;
        }
        s.d0.forward(&self.dec0, &s.in1, b0_bin, n);
        s.d0.data_log_lik(target, bias, &mut s.d0_prob, &mut rows.log_p[..n]);
        s.d1.forward(&self.dec1, &s.top_in, b1_bin, n);
        s.d1.sample_log_lik(&l0.sample, &mut s.tmp[..n]);
        for r in 0..n {
            rows.log_p[r] += s.tmp[r];
        }
        log_prob_rows_shared(l1.sample[..n].as_flattened(), &self.prior, &mut s.tmp[..n]);
        for r in 0..n {
            rows.log_p[r] += s.tmp[r];
            rows.elbo[r] = rows.log_p[r] - l0.log_q[r] - l1.log_q[r];
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
        let (b0_bin, b1_bin) = (s.data.sample_rows(&s.b0_bin, n), s.data.sample_rows(&s.b1_bin, n));
        s.d0.data_adjoint(&s.data.target, &s.d0_prob, |r| weights[r], n);
        if T::STRUCTURED {
            s.d0.backward(&self.dec0, (&s.top_in, b1_bin), None, Some((&mut grad.dec0, write)), n);
            if write == GradWrite::Set {
                // No generative path between the layers and no prior (see the struct docs).
                grad.dec1.fill_zero();
                grad.prior = [0.0; H];
            }
            return;
        }
        s.d0.backward(&self.dec0, (&s.in1, b0_bin), None, Some((&mut grad.dec0, write)), n);
        // ∂/∂g Σ b₀·g − softplus(g) = b₀ − σ(g).
        s.d1.sample_adjoint(&s.l0.sample, |r| weights[r], n);
        s.d1.backward(&self.dec1, (&s.top_in, b1_bin), None, Some((&mut grad.dec1, write)), n);
        if write == GradWrite::Set {
            grad.prior = [0.0; H];
        }
        prior_gradient(&self.prior, &s.l1.sample[..n], |r| weights[r], &mut grad.prior);
    }

    fn encoder_backward<const B: usize>(&self, s: &mut Self::Scratch<B>, l: usize, grad: &mut Self, write: GradWrite) {
        let (n, d) = (s.rows.n, &s.data);
        if l == 0 {
            let x = (&d.enc_in[..n], d.x_rows(n, &self.input_mean));
            s.enc0.backward(&self.enc0, x, &s.l0.logits, &s.l0.dlogits, (&mut grad.enc0, write));
        } else {
            let x = (&s.in1[..n], d.sample_rows(&s.b0_bin, n));
            s.enc1.backward(&self.enc1, x, &s.l1.logits, &s.l1.dlogits, (&mut grad.enc1, write));
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
        let (n, d) = (s.rows.n.min(out.len()), &s.data);
        let k0 = E0::COUNT.min(scales.len());
        let k1 = (E0::COUNT + E1::COUNT).min(scales.len());
        if l == 0 {
            let x = (&d.enc_in[..n], d.x_rows(n, &self.input_mean));
            s.enc0.tangent(&self.enc0, x, &s.l0.logits, (&dir.enc0, &scales[..k0]), out);
        } else {
            let x = (&s.in1[..n], d.sample_rows(&s.b0_bin, n));
            s.enc1.tangent(&self.enc1, x, &s.l1.logits, (&dir.enc1, &scales[k0..k1]), out);
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
        let (n, d) = (s.rows.n.min(out[0].len()).min(out[1].len()), &s.data);
        let (k0, k1) = (E0::COUNT, E0::COUNT + E1::COUNT);
        if l == 0 {
            let (x, scales) =
                ((&d.enc_in[..n], d.x_rows(n, &self.input_mean)), scales.map(|sc| &sc[..k0.min(sc.len())]));
            s.enc0.tangent_pair(&self.enc0, x, &s.l0.logits, &dir.enc0, scales, out);
        } else {
            let scales = scales.map(|sc| &sc[k0.min(sc.len())..k1.min(sc.len())]);
            let x = (&s.in1[..n], d.sample_rows(&s.b0_bin, n));
            s.enc1.tangent_pair(&self.enc1, x, &s.l1.logits, &dir.enc1, scales, out);
        }
    }

    fn reconstruct<const B: usize>(&self, s: &Self::Scratch<B>, out: &mut [[f32; Y]]) {
        for (o, g) in out.iter_mut().zip(&s.d0.out[..s.rows.n]) {
            sigmoid_of_sum(g, &self.output_bias, o);
        }
    }

    fn generate<const B: usize>(&self, s: &mut Self::Scratch<B>, n: usize, out: &mut [[f32; Y]]) -> bool {
        if T::STRUCTURED {
            return false;
        }
        let n = n.min(B).min(out.len());
        s.rows.n = n;
        let (l0, l1) = (&mut s.l0, &mut s.l1);
        sample_at(&l1.noise[..n], |_, j| self.prior[j], &mut l1.sample);
        plus_minus_one(l1.sample[..n].as_flattened(), s.top_in.as_flattened_mut());
        s.d1.forward(&self.dec1, &s.top_in, None, n);
        sample_at(&l0.noise[..n], |r, j| s.d1.out[r][j], &mut l0.sample);
        plus_minus_one(l0.sample[..n].as_flattened(), s.in1.as_flattened_mut());
        s.d0.forward(&self.dec0, &s.in1, None, n);
        for ((o, p), g) in out.iter_mut().zip(&mut s.d0_prob[..n]).zip(&s.d0.out[..n]) {
            sigmoid_of_sum(g, &self.output_bias, o);
            *p = *o;
        }
        true
    }

    fn relaxed_forward<const B: usize>(&self, s: &mut Self::Scratch<B>, from: usize, relaxation: Relaxation) {
        let (n, c) = (s.rows.n, relaxation.coefficients());
        // Layer 0: relaxed at its hard logits, or kept hard.
        let (l0, l1) = (&mut s.l0, &mut s.l1);
        l0.relax_at_hard_logits(n, c, from == 0);
        plus_minus_one(l0.r_y[..n].as_flattened(), s.r_in1.as_flattened_mut());
        // Layer 1: logits recomputed from the relaxed layer 0, or the hard ones.
        if from == 0 {
            s.r_enc1.forward(&self.enc1, &s.r_in1, l1, n);
            l1.relax_forward(n, c);
        } else {
            l1.relax_at_hard_logits(n, c, true);
        }
        plus_minus_one(l1.r_y[..n].as_flattened(), s.r_top_in.as_flattened_mut());
        // The ELBO with relaxed values in every term.
        let (f, target, bias) = (&mut s.rows.relaxed_elbo[..n], &s.data.target, &self.output_bias);
        if T::STRUCTURED {
            s.r_d0.forward(&self.dec0, &s.r_top_in, None, n);
            s.r_d0.data_log_lik(target, bias, &mut s.r_d0_prob, f);
            return;
        }
        s.r_d0.forward(&self.dec0, &s.r_in1, None, n);
        s.r_d0.data_log_lik(target, bias, &mut s.r_d0_prob, f);
        s.r_d1.forward(&self.dec1, &s.r_top_in, None, n);
        let terms: [(&[[f32; H]], &[[f32; H]], f32); 3] =
            [(&l0.r_y, &s.r_d1.out, 1.0), (&l0.r_y, &l0.r_logits, -1.0), (&l1.r_y, &l1.r_logits, -1.0)];
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
        let (n, c, generative) = (s.rows.n, relaxation.coefficients(), !T::STRUCTURED);
        s.r_d0.data_adjoint(&s.data.target, &s.r_d0_prob, |_| scale, n);
        s.r_in1_bar[..n].fill([0.0; H]);
        s.r_top_in_bar[..n].fill([0.0; H]);
        let dec0_grad = grad.as_mut().map(|(g, w)| (&mut g.dec0, *w));
        if generative {
            s.r_d0.backward(&self.dec0, (&s.r_in1, None), Some(&mut s.r_in1_bar[..]), dec0_grad, n);
            // log p(y₀ | g): ∂/∂g = y₀ − σ(g), ∂/∂y₀ = g.
            s.r_d1.sample_adjoint(&s.l0.r_y, |_| scale, n);
            let dec1_grad = grad.as_mut().map(|(g, w)| (&mut g.dec1, *w));
            s.r_d1.backward(&self.dec1, (&s.r_top_in, None), Some(&mut s.r_top_in_bar[..]), dec1_grad, n);
        } else {
            s.r_d0.backward(&self.dec0, (&s.r_top_in, None), Some(&mut s.r_top_in_bar[..]), dec0_grad, n);
            if let Some((g, GradWrite::Set)) = grad.as_mut() {
                g.dec1.fill_zero();
            }
        }
        // Layer 1: ȳ₁ = 2·(adjoint of 2y₁ − 1) + [prior π − log q a₁'].
        s.rows.relaxed_elbo_dtau[..n].fill(0.0);
        let (l0, l1) = (&mut s.l0, &mut s.l1);
        let prior_and_log_q = |l1: &LayerScratch<H, B>, r: usize, j: usize| {
            if generative { scale * (self.prior[j] - l1.r_logits[r][j]) } else { 0.0 }
        };
        l1.set_y_bar(n, &s.r_top_in_bar, prior_and_log_q);
        l1.finish_adjoints(n, c, scale, generative, &mut s.rows.relaxed_elbo_dtau[..n]);
        if let Some((g, write)) = grad.as_mut() {
            if *write == GradWrite::Set {
                g.prior = [0.0; H];
            }
            if generative {
                prior_gradient(&self.prior, &l1.r_y[..n], |_| scale, &mut g.prior);
            }
        }
        if from == 0 {
            // Layer 1's logits came from 2y₀ − 1: backpropagate into it.
            let enc1_grad = grad.as_mut().map(|(g, w)| (&mut g.enc1, *w));
            s.r_enc1.backward(&self.enc1, &s.r_in1, l1, &mut s.r_in1_bar, enc1_grad, n);
            // ȳ₀ = 2·(adjoint of 2y₀ − 1) + [log p(y₀ | g) term g − log q a₀].
            let d1_out = &s.r_d1.out;
            let lik_and_log_q = |l0: &LayerScratch<H, B>, r: usize, j: usize| {
                if generative { scale * (d1_out[r][j] - l0.logits[r][j]) } else { 0.0 }
            };
            l0.set_y_bar(n, &s.r_in1_bar, lik_and_log_q);
            l0.finish_adjoints(n, c, scale, generative, &mut s.rows.relaxed_elbo_dtau[..n]);
        } else {
            // Layer 0 is hard: only its log q term depends on the parameters, through a₀.
            if let Some((g, write)) = grad.as_mut() {
                let x = (&s.in1[..n], s.data.sample_rows(&s.b0_bin, n));
                s.enc1.backward(&self.enc1, x, &l1.logits, &l1.r_logits_bar, (&mut g.enc1, *write));
            }
            l0.hard_adjoints(n, scale, generative);
        }
        if let Some((g, write)) = grad {
            let x = (&s.data.enc_in[..n], s.data.x_rows(n, &self.input_mean));
            s.enc0.backward(&self.enc0, x, &l0.logits, &l0.r_logits_bar, (&mut g.enc0, write));
        }
    }

    fn relaxed_tangent<const B: usize>(
        &self,
        s: &mut Self::Scratch<B>,
        from: usize,
        relaxation: Relaxation,
        scale: f32,
    ) {
        let (n, c, generative) = (s.rows.n, relaxation.coefficients(), !T::STRUCTURED);
        // Forward tangents: layer 0 (if relaxed), layer 1's logits, layer 1.
        let (l0, l1) = (&mut s.l0, &mut s.l1);
        l0.r_logits_dot[..n].fill([0.0; H]);
        l1.r_logits_dot[..n].fill([0.0; H]);
        if from == 0 {
            l0.y_tangent(n, c, &mut s.r_in1_dot);
            s.r_enc1.tangent(&self.enc1, &s.r_in1, &s.r_in1_dot, l1, n);
        } else {
            l0.r_y_dot[..n].fill([0.0; H]);
            s.r_in1_dot[..n].fill([0.0; H]);
        }
        l1.y_tangent(n, c, &mut s.r_top_in_dot);
        // Tangents of the generative maps' outputs and of their adjoints.
        let d0_in = if generative { (&s.r_in1, &s.r_in1_dot) } else { (&s.r_top_in, &s.r_top_in_dot) };
        let t0 = &mut s.r_d0_tangent;
        t0.forward(&self.dec0, &s.r_d0, d0_in.0, d0_in.1, n);
        t0.data_adjoint(&s.r_d0_prob, scale, n);
        s.r_in1_bar_dot[..n].fill([0.0; H]);
        s.r_top_in_bar_dot[..n].fill([0.0; H]);
        t0.backward(&self.dec0, &s.r_d0, if generative { &mut s.r_in1_bar_dot } else { &mut s.r_top_in_bar_dot }, n);
        let t1 = &mut s.r_d1_tangent;
        if generative {
            t1.forward(&self.dec1, &s.r_d1, &s.r_top_in, &s.r_top_in_dot, n);
            // r_d1.out_bar = scale·(y₀ − σ(g)) ⇒ tangent scale·(ẏ₀ − σ'(g)·ġ).
            t1.sample_adjoint(&s.r_d1, &l0.r_y_dot, scale, n);
            t1.backward(&self.dec1, &s.r_d1, &mut s.r_top_in_bar_dot, n);
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
            s.r_enc1.backward_tangent(&self.enc1, l1, &mut s.r_in1_bar_dot, n);
            // ȳ₀ = 2·in1_bar + scale·(g − a₀) ⇒ ȳ̇₀ = 2·in1_bar_dot + scale·ġ.
            for r in 0..n {
                for j in 0..H {
                    l0.r_s_bar_dot[r][j] = 2.0 * s.r_in1_bar_dot[r][j] + gen_scale * t1.out_dot[r][j];
                }
            }
            l0.finish_adjoint_tangents(n, c, scale, generative);
        }
    }
}
