//! Training steps per second of every estimator on the paper's models, at batch 24 and batch 1:
//! one step is the estimate, the model's Adam update and the control-variate update, exactly
//! what `cargo bench -p rebar-bench --bench training_step` times.
//!
//! `cargo run --release -p rebar-bench --example throughput [-- SECONDS [FILTER]]`
//!
//! Prints one line per case, `framework,model,estimator,batch,steps_per_second`, the format of
//! `bench/compare/` so the rows can be merged into one table. Each case runs for SECONDS (default
//! 2) after one second of warm-up, on one thread. FILTER keeps the cases whose
//! `model,estimator,batch` contains it.

use std::time::{Duration, Instant};

use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rebar_core::model::{LATENT, Linear1, Linear2, Nonlinear, PIXELS};
use rebar_core::{Adam, AdamConfig, Sbn};
use rebar_host::train::{AnyEstimator, EstimatorKind, EstimatorOptions};

const ESTIMATORS: [EstimatorKind; 11] = [
    EstimatorKind::Reinforce,
    EstimatorKind::Nvil,
    EstimatorKind::SimpleMuprop,
    EstimatorKind::Muprop,
    EstimatorKind::Concrete,
    EstimatorKind::Rebar,
    EstimatorKind::RebarFixed,
    EstimatorKind::Relax,
    EstimatorKind::Arm,
    EstimatorKind::Disarm,
    EstimatorKind::Rloo,
];

/// Steps per second of `kind` on model `M` at batch `B`.
fn measure<M: Sbn<LATENT, Input = [f32; PIXELS], Target = [f32; PIXELS]>, const B: usize>(
    kind: EstimatorKind,
    seconds: f64,
) -> f64 {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let mut model: Box<M> = bytemuck::zeroed_box();
    model.init(&mut rng);
    model.set_data_mean(&[0.13; PIXELS], &[0.13; PIXELS]);
    let mut grad: Box<M> = bytemuck::zeroed_box();
    let mut adam: Box<Adam<M>> = bytemuck::zeroed_box();
    let mut s: Box<M::Scratch<B>> = bytemuck::zeroed_box();
    let mut e = AnyEstimator::<M, PIXELS, LATENT, B>::new(kind, EstimatorOptions::default(), &mut rng).expect("valid");
    // MNIST-like binary rows: about 13% ones.
    let x: Vec<[f32; PIXELS]> =
        (0..B).map(|i| core::array::from_fn(|j| ((i * 7 + j * 13) % 8 == 0) as u8 as f32)).collect();
    let mut step = |n: &mut u64| {
        model.load_batch(&x, &x, &mut s);
        e.estimate(&model, &mut s, &mut rng, &mut grad);
        adam.step(&mut model, &grad, 1e-4, AdamConfig::REBAR);
        e.update_control_variates(1e-3);
        *n += 1;
    };
    let mut n = 0;
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_secs(1) {
        step(&mut n);
    }
    n = 0;
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < seconds {
        step(&mut n);
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let filter = args.next().unwrap_or_default();
    println!("framework,model,estimator,batch,steps_per_second");
    for kind in ESTIMATORS {
        for (model, batch) in [("linear1", 24), ("linear1", 1), ("linear2", 24), ("nonlinear", 24), ("nonlinear", 1)] {
            let label = format!("{model},{},{batch}", kind.name());
            if !label.contains(&filter) {
                continue;
            }
            let rate = match (model, batch) {
                ("linear1", 24) => measure::<Linear1, 24>(kind, seconds),
                ("linear1", _) => measure::<Linear1, 1>(kind, seconds),
                ("linear2", _) => measure::<Linear2, 24>(kind, seconds),
                ("nonlinear", 24) => measure::<Nonlinear, 24>(kind, seconds),
                _ => measure::<Nonlinear, 1>(kind, seconds),
            };
            println!("rebar,{label},{rate:.1}");
        }
    }
}
