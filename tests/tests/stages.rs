//! The step's stages (`rebar_core::estimator::stages`) driven one after the other on one
//! workspace are [`Estimator::estimate`] bit for bit, for every estimator, with and without a
//! second workspace for the estimators that split in halves, over a few steps with control-variate
//! updates in between; and each estimator declares the shape its stages have.

use rebar_core::estimator::Shape;
use rebar_core::model::{Generative, OneLayer, TwoLayer};
use rebar_core::net::{Dense, Mlp2};
use rebar_core::{Estimator, Sbn};
use rebar_tests::stages::staged;

use rebar_tests::{binary_row, boxed, rng, small_model};

type Deep = TwoLayer<10, 4, 10, Dense<10, 4>, Dense<4, 4>, Dense<4, 4>, Dense<4, 10>, Generative>;
type Nonlinear = OneLayer<10, 4, 10, Mlp2<10, 6, 4>, Mlp2<4, 6, 10>, Generative>;
const B: usize = 5;

/// How a run drives its estimates.
#[derive(Clone, Copy, Debug)]
enum Driver {
    Estimate,
    Stages,
    StagesInHalves,
}

/// Bits of every gradient, diagnostic and pending control-variate gradient over three steps.
fn bits<M, const X: usize, const H: usize>(label: &str, driver: Driver) -> Vec<u32>
where
    M: Sbn<H, Input = [f32; X], Target = [f32; X]> + Send + Sync,
    M::Scratch<B>: Send,
{
    let mut r = rng(1);
    let inputs: Vec<[f32; X]> = (0..B).map(|_| binary_row(&mut r)).collect();
    let model = small_model::<M, H>(2, &inputs, &inputs);
    let (_, mut e) = rebar_tests::estimators::all::<M, X, H, B>(3).into_iter().find(|(l, _)| *l == label).unwrap();
    let (mut s, mut second) = (boxed::<M::Scratch<B>>(), boxed::<M::Scratch<B>>());
    let mut grad = boxed::<M>();
    let mut noise = rng(9);
    let mut out = Vec::new();
    for _ in 0..3 {
        model.load_batch(&inputs, &inputs, &mut s);
        model.load_batch(&inputs, &inputs, &mut second);
        let d = match driver {
            Driver::Estimate => e.estimate(&model, &mut s, &mut noise, &mut grad),
            Driver::Stages => staged(&mut e, &model, &mut s, None, &mut noise, &mut grad),
            Driver::StagesInHalves => staged(&mut e, &model, &mut s, Some(&mut second), &mut noise, &mut grad),
        };
        for t in 0..M::COUNT {
            out.extend(grad.tensor(t).iter().map(|v| v.to_bits()));
        }
        let optional = [d.temperature, d.eta_mean, d.variance_objective];
        out.push(d.elbo.to_bits());
        out.extend(optional.iter().map(|v| v.map_or(u32::MAX, f32::to_bits)));
        e.visit_pending_gradients(&mut |g| out.extend(g.iter().map(|v| v.to_bits())));
        e.update_control_variates(1e-2);
    }
    out
}

fn stages_are_the_estimate<M, const X: usize, const H: usize>()
where
    M: Sbn<H, Input = [f32; X], Target = [f32; X]> + Send + Sync,
    M::Scratch<B>: Send,
{
    for (label, _) in rebar_tests::estimators::all::<M, X, H, B>(0) {
        let plain = bits::<M, X, H>(label, Driver::Estimate);
        for driver in [Driver::Stages, Driver::StagesInHalves] {
            assert!(bits::<M, X, H>(label, driver) == plain, "{label}: {driver:?} differs from the estimate");
        }
    }
}

#[test]
fn stages_are_the_estimate_bit_for_bit_on_two_stochastic_layers() {
    stages_are_the_estimate::<Deep, 10, 4>();
}

#[test]
fn stages_are_the_estimate_bit_for_bit_on_a_nonlinear_model() {
    stages_are_the_estimate::<Nonlinear, 10, 4>();
}

#[test]
fn every_estimator_declares_its_shape() {
    for (label, e) in rebar_tests::estimators::all::<Deep, 10, 4, B>(0) {
        let expected = match label {
            "reinforce" => Shape::BatchElbo,
            "rebar" | "rebar-fixed" | "rebar-independent" | "relax" => Shape::WholeGradient,
            _ => Shape::PerExample,
        };
        assert_eq!(e.shape(), expected, "{label}");
        // REBAR with independent noise for z̃ draws B's noise after A's: no halves.
        let halves = expected == Shape::WholeGradient && label != "rebar-independent";
        assert_eq!(e.splits_in_halves(), halves, "{label}");
    }
}
