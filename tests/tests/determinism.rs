//! The same seed gives bit-identical gradients and diagnostics, for every estimator, over several
//! steps with control-variate updates in between.

use rebar_core::model::{Generative, TwoLayer};
use rebar_core::net::Dense;
use rebar_core::{Adam, AdamConfig, Estimator, Sbn, Tensors};

use rebar_tests::{binary_row, boxed, rng, small_model};

type Model = TwoLayer<10, 4, 10, Dense<10, 4>, Dense<4, 4>, Dense<4, 4>, Dense<4, 10>, Generative>;
const B: usize = 5;

/// Bits of every gradient and ELBO over a few training steps.
fn run(label: &str, seed: u64) -> Vec<u32> {
    let mut r = rng(1);
    let inputs: Vec<[f32; 10]> = (0..B).map(|_| binary_row(&mut r)).collect();
    let mut model = small_model::<Model, 4>(2, &inputs, &inputs);
    let (_, mut estimator) =
        rebar_tests::estimators::all::<Model, 10, 4, B>(3).into_iter().find(|(l, _)| *l == label).unwrap();
    let mut s = boxed::<<Model as Sbn<4>>::Scratch<B>>();
    let mut grad = boxed::<Model>();
    let mut adam = boxed::<Adam<Model>>();
    let mut noise = rng(seed);
    let mut bits = Vec::new();
    for _ in 0..4 {
        model.load_batch(&inputs, &inputs, &mut s);
        let d = estimator.estimate(&model, &mut s, &mut noise, &mut grad);
        bits.push(d.elbo.to_bits());
        for t in 0..Model::COUNT {
            bits.extend(grad.tensor(t).iter().map(|v| v.to_bits()));
        }
        adam.step(&mut model, &grad, 1e-2, AdamConfig::REBAR);
        estimator.update_control_variates(1e-1);
    }
    bits
}

#[test]
fn same_seed_same_bits_for_every_estimator() {
    for (label, _) in rebar_tests::estimators::all::<Model, 10, 4, B>(0) {
        let (a, b) = (run(label, 7), run(label, 7));
        assert_eq!(a, b, "{label}: two runs with the same seed differ");
        assert_ne!(a, run(label, 8), "{label}: a different seed gave the same bits");
    }
}

/// REBAR's estimate in halves (the stages with a second workspace, through [`Serial`]: the
/// host's threads are `tests/tests/data_parallel.rs`'s) is the plain estimate bit for bit, on two
/// stochastic layers and for every kind of noise for z̃.
#[test]
fn rebar_forked_halves_are_the_plain_estimate_bit_for_bit() {
    use rebar_core::estimator::{Rebar, RebarConfig, TildeNoise};
    let mut r = rng(1);
    let inputs: Vec<[f32; 10]> = (0..B).map(|_| binary_row(&mut r)).collect();
    let model = small_model::<Model, 4>(2, &inputs, &inputs);
    let configs = [
        RebarConfig::LEARNED,
        RebarConfig::fixed(0.3),
        RebarConfig { tilde: TildeNoise::CoupledAsOfficial, ..RebarConfig::LEARNED },
        RebarConfig { tilde: TildeNoise::Independent, ..RebarConfig::fixed(0.3) },
    ];
    for config in configs {
        let run = |forked: bool| {
            let mut rebar = boxed::<Rebar<Model, 10, 4, B>>();
            rebar.init(config, &mut rng(3)).unwrap();
            let (mut s, mut s_score) =
                (boxed::<<Model as Sbn<4>>::Scratch<B>>(), boxed::<<Model as Sbn<4>>::Scratch<B>>());
            let mut grad = boxed::<Model>();
            let mut noise = rng(9);
            let mut bits = Vec::new();
            for _ in 0..3 {
                model.load_batch(&inputs, &inputs, &mut s);
                model.load_batch(&inputs, &inputs, &mut s_score);
                let second = forked.then_some(&mut *s_score);
                let d = rebar_tests::stages::staged(&mut *rebar, &*model, &mut s, second, &mut noise, &mut grad);
                for t in 0..Model::COUNT {
                    bits.extend(grad.tensor(t).iter().map(|v| v.to_bits()));
                }
                bits.extend([d.elbo.to_bits(), d.variance_objective.unwrap().to_bits()]);
                rebar.visit_pending_gradients(&mut |g| bits.extend(g.iter().map(|v| v.to_bits())));
            }
            bits
        };
        assert!(run(true) == run(false), "{config:?}");
    }
}
