//! An estimate does not depend on what the gradient buffer held before it: the estimators write
//! the gradient's first contribution over the old values (`GradWrite::Set`, no zeroing pass), so
//! a tensor that some model's pass forgot, or a first contribution that added instead, would
//! leave the old values in. Here the buffer starts as NaN in one run and as zeros in the other,
//! for every estimator (REBAR with all three kinds of z̃ noise) on every kind of model: the two
//! runs must give the same gradients, with no NaN.

use rebar_core::estimator::TildeNoise;
use rebar_core::model::{Generative, OneLayer, Structured, TwoLayer};
use rebar_core::net::{Absent, Dense, Mlp2};
use rebar_core::{Adam, AdamConfig, Estimator, Sbn};
use rebar_host::train::{AnyEstimator, EstimatorKind, EstimatorOptions};

use rebar_tests::{binary_row, boxed, rng, small_model};

const B: usize = 5;

/// The estimators of [`rebar_tests::estimators::all`] and REBAR with the official z̃ noise.
fn estimators<M: Sbn<H, Input = [f32; X]>, const X: usize, const H: usize>(
    seed: u64,
) -> Vec<(&'static str, AnyEstimator<M, X, H, B>)> {
    let mut all = rebar_tests::estimators::all::<M, X, H, B>(seed);
    let official = EstimatorOptions { tilde: TildeNoise::CoupledAsOfficial, ..Default::default() };
    let mut r = rng(seed + 1);
    all.push(("rebar-official", AnyEstimator::new(EstimatorKind::Rebar, official, &mut r).expect("valid")));
    all
}

/// Every gradient of a few training steps, starting each estimate from a buffer filled with `fill`.
fn gradients<M, const X: usize, const Y: usize, const H: usize>(index: usize, fill: f32) -> Vec<f32>
where
    M: Sbn<H, Input = [f32; X], Target = [f32; Y]>,
{
    let mut r = rng(1);
    let inputs: Vec<[f32; X]> = (0..B).map(|_| binary_row(&mut r)).collect();
    let targets: Vec<[f32; Y]> = (0..B).map(|_| binary_row(&mut r)).collect();
    let mut model = small_model::<M, H>(2, &inputs, &targets);
    let (_, mut estimator) = estimators::<M, X, H>(3).swap_remove(index);
    let mut s = boxed::<M::Scratch<B>>();
    let mut grad = boxed::<M>();
    let mut adam = boxed::<Adam<M>>();
    let mut noise = rng(7);
    let mut out = Vec::new();
    for _ in 0..3 {
        for t in 0..M::COUNT {
            grad.tensor_mut(t).fill(fill);
        }
        model.load_batch(&inputs, &targets, &mut s);
        estimator.estimate(&model, &mut s, &mut noise, &mut grad);
        for t in 0..M::COUNT {
            out.extend_from_slice(grad.tensor(t));
        }
        adam.step(&mut model, &grad, 1e-2, AdamConfig::REBAR);
        estimator.update_control_variates(1e-1);
    }
    out
}

fn check<M, const X: usize, const Y: usize, const H: usize>(model: &str)
where
    M: Sbn<H, Input = [f32; X], Target = [f32; Y]>,
{
    for (index, (label, _)) in estimators::<M, X, H>(0).into_iter().enumerate() {
        let (from_nan, from_zero) = (gradients::<M, X, Y, H>(index, f32::NAN), gradients::<M, X, Y, H>(index, 0.0));
        assert!(from_zero.iter().all(|g| g.is_finite()), "{model}, {label}: non-finite gradient");
        // `==` on values: a written-over zero may carry the other sign than 0 + 0.
        assert!(from_nan == from_zero, "{model}, {label}: the estimate depends on the buffer's old values");
    }
}

#[test]
fn estimates_write_over_whatever_the_gradient_buffer_held() {
    check::<OneLayer<7, 3, 7, Dense<7, 3>, Dense<3, 7>, Generative>, 7, 7, 3>("linear1");
    check::<OneLayer<7, 3, 7, Mlp2<7, 5, 3>, Mlp2<3, 5, 7>, Generative>, 7, 7, 3>("nonlinear");
    check::<TwoLayer<7, 3, 7, Dense<7, 3>, Dense<3, 3>, Dense<3, 3>, Dense<3, 7>, Generative>, 7, 7, 3>("linear2");
    check::<OneLayer<5, 3, 4, Dense<5, 3>, Dense<3, 4>, Structured>, 5, 4, 3>("linear1 sp");
    check::<TwoLayer<5, 3, 4, Dense<5, 3>, Dense<3, 3>, Absent, Dense<3, 4>, Structured>, 5, 4, 3>("linear2 sp");
    check::<OneLayer<5, 3, 4, Mlp2<5, 4, 3>, Mlp2<3, 4, 4>, Structured>, 5, 4, 3>("nonlinear sp");
}
