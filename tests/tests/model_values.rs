//! The models' forward values against an independent, naive f64 implementation of the official
//! conventions (docs/estimators.md, *Model conventions*): encoder input x − x̄, latent inputs 2b − 1, output
//! logits G(·) + logit(clip(x̄)), the relaxation σ(z/λ + a·λ/(λ+1)) in every log-likelihood term;
//! and the reconstruction and generation passes.

use rebar_core::math::scalar::logistic_noise;
use rebar_core::model::{Generative, OneLayer, TwoLayer};
use rebar_core::net::Dense;
use rebar_core::random::uniform;
use rebar_core::{Relaxation, Sbn};
use rebar_tests::{binary_row, boxed, rng, small_model};

const B: usize = 4;
const N: usize = 3;

type L1 = OneLayer<7, 3, 7, Dense<7, 3>, Dense<3, 7>, Generative>;
type L2 = TwoLayer<7, 3, 7, Dense<7, 3>, Dense<3, 3>, Dense<3, 3>, Dense<3, 7>, Generative>;

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}
/// Σ s·a − softplus(a).
fn log_bernoulli(s: &[f64], a: &[f64]) -> f64 {
    s.iter().zip(a).map(|(&s, &a)| s * a - softplus(a)).sum()
}
/// y = x·W + b for an input-major f32 layer.
fn affine<const I: usize, const O: usize>(d: &Dense<I, O>, x: &[f64]) -> Vec<f64> {
    (0..O).map(|o| d.b[o] as f64 + (0..I).map(|i| x[i] * d.w[i][o] as f64).sum::<f64>()).collect()
}
fn pm1(s: &[f64]) -> Vec<f64> {
    s.iter().map(|&v| 2.0 * v - 1.0).collect()
}
/// The relaxed sample σ(z/λ + a·λ/(λ+1)) or the hard one.
fn sample(a: &[f64], eps: &[f32], relax: Option<f64>) -> Vec<f64> {
    a.iter()
        .zip(eps)
        .map(|(&a, &e)| {
            let z = a + e as f64;
            match relax {
                Some(l) => sigmoid(z / l + a * l / (l + 1.0)),
                None => (z > 0.0) as u8 as f64,
            }
        })
        .collect()
}

fn setup<M: Sbn<3, Input = [f32; 7], Target = [f32; 7]>>(seed: u64) -> (Box<M>, Vec<[f32; 7]>, Box<M::Scratch<B>>) {
    let mut r = rng(seed);
    let x: Vec<[f32; 7]> = (0..N).map(|_| binary_row(&mut r)).collect();
    let model = small_model::<M, 3>(seed + 1, &x, &x);
    let mut s = boxed::<M::Scratch<B>>();
    model.load_batch(&x, &x, &mut s);
    for l in 0..M::LAYERS {
        for row in &mut M::layer_mut(&mut s, l).noise {
            for e in row {
                *e = logistic_noise(uniform(&mut r));
            }
        }
    }
    (model, x, s)
}

fn close(what: &str, got: f32, want: f64) {
    assert!((got as f64 - want).abs() <= 1e-4 * want.abs().max(1.0), "{what}: {got} vs f64 reference {want}");
}

#[test]
fn linear_one_layer_elbos_match_the_f64_reference() {
    let (m, x, mut s) = setup::<L1>(1);
    let bias: Vec<f64> = m.output_bias.iter().map(|&v| v as f64).collect();
    for relax in [None, Some(0.6)] {
        match relax {
            None => m.hard_forward(&mut s, 0),
            Some(l) => m.relaxed_forward(&mut s, 0, Relaxation::Modified { temperature: l as f32 }),
        }
        for r in 0..N {
            let xin: Vec<f64> = (0..7).map(|i| x[r][i] as f64 - m.input_mean[i] as f64).collect();
            let a = affine(&m.enc, &xin);
            let b = sample(&a, &s.layer.noise[r], relax);
            let o: Vec<f64> = affine(&m.dec, &pm1(&b)).iter().zip(&bias).map(|(g, c)| g + c).collect();
            let xt: Vec<f64> = x[r].iter().map(|&v| v as f64).collect();
            let prior: Vec<f64> = m.prior.iter().map(|&v| v as f64).collect();
            let elbo = log_bernoulli(&xt, &o) + log_bernoulli(&b, &prior) - log_bernoulli(&b, &a);
            let got = if relax.is_none() { s.rows.elbo[r] } else { s.rows.relaxed_elbo[r] };
            close(&format!("row {r}, relaxation {relax:?}"), got, elbo);
        }
    }
}

#[test]
fn linear_two_layer_elbos_match_the_f64_reference() {
    let (m, x, mut s) = setup::<L2>(2);
    let bias: Vec<f64> = m.output_bias.iter().map(|&v| v as f64).collect();
    let prior: Vec<f64> = m.prior.iter().map(|&v| v as f64).collect();
    for (from, relax) in [(0, None), (0, Some(0.6)), (1, Some(0.3))] {
        match relax {
            None => m.hard_forward(&mut s, 0),
            Some(l) => m.relaxed_forward(&mut s, from, Relaxation::Modified { temperature: l as f32 }),
        }
        for r in 0..N {
            let xin: Vec<f64> = (0..7).map(|i| x[r][i] as f64 - m.input_mean[i] as f64).collect();
            let a0 = affine(&m.enc0, &xin);
            let s0 = sample(&a0, &s.l0.noise[r], if from == 0 { relax } else { None });
            let a1 = affine(&m.enc1, &pm1(&s0));
            let s1 = sample(&a1, &s.l1.noise[r], relax);
            let g = affine(&m.dec1, &pm1(&s1));
            let o: Vec<f64> = affine(&m.dec0, &pm1(&s0)).iter().zip(&bias).map(|(g, c)| g + c).collect();
            let xt: Vec<f64> = x[r].iter().map(|&v| v as f64).collect();
            let elbo = log_bernoulli(&xt, &o) + log_bernoulli(&s0, &g) + log_bernoulli(&s1, &prior)
                - log_bernoulli(&s0, &a0)
                - log_bernoulli(&s1, &a1);
            let got = if relax.is_none() { s.rows.elbo[r] } else { s.rows.relaxed_elbo[r] };
            close(&format!("row {r}, from {from}, relaxation {relax:?}"), got, elbo);
        }
    }
}

#[test]
fn reconstruction_and_generation_follow_the_decoder() {
    let (m, _, mut s) = setup::<L2>(3);
    m.hard_forward(&mut s, 0);
    let mut out = [[0.0f32; 7]; N];
    m.reconstruct(&s, &mut out);
    let bias: Vec<f64> = m.output_bias.iter().map(|&v| v as f64).collect();
    for r in 0..N {
        let b0: Vec<f64> = s.l0.sample[r].iter().map(|&v| v as f64).collect();
        let o = affine(&m.dec0, &pm1(&b0));
        for i in 0..7 {
            close("reconstruction", out[r][i], sigmoid(o[i] + bias[i]));
        }
    }
    assert!(m.generate(&mut s, N, &mut out));
    for r in 0..N {
        // The top layer comes from the prior with this row's noise; the rest follows.
        let b1 = sample(&m.prior.iter().map(|&v| v as f64).collect::<Vec<_>>(), &s.l1.noise[r], None);
        let b0 = sample(&affine(&m.dec1, &pm1(&b1)), &s.l0.noise[r], None);
        let o = affine(&m.dec0, &pm1(&b0));
        for i in 0..7 {
            close("generation", out[r][i], sigmoid(o[i] + bias[i]));
        }
    }
}
