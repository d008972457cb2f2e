//! One training step (estimate + Adam + control-variate update) per estimator and model, at the
//! paper's batch 24 and at batch 1.

use criterion::{Criterion, criterion_group, criterion_main};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rebar_core::estimator::{Estimator, Rebar, RebarConfig};
use rebar_core::model::{LATENT, Linear1, PIXELS};
use rebar_core::{Adam, AdamConfig, Sbn};

fn rebar_linear1<const B: usize>(c: &mut Criterion) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let mut model: Box<Linear1> = bytemuck::zeroed_box();
    model.init(&mut rng);
    model.set_data_mean(&[0.13; PIXELS], &[0.13; PIXELS]);
    let mut grad: Box<Linear1> = bytemuck::zeroed_box();
    let mut adam: Box<Adam<Linear1>> = bytemuck::zeroed_box();
    let mut s: Box<<Linear1 as Sbn<LATENT>>::Scratch<B>> = bytemuck::zeroed_box();
    let mut e: Box<Rebar<Linear1, PIXELS, LATENT, B>> = bytemuck::zeroed_box();
    e.init(RebarConfig::LEARNED, &mut rng).unwrap();
    let x: Vec<[f32; PIXELS]> =
        (0..B).map(|i| core::array::from_fn(|j| ((i * 7 + j * 13) % 5 == 0) as u8 as f32)).collect();
    c.bench_function(&format!("step/linear1/rebar/batch{B}"), |b| {
        b.iter(|| {
            model.load_batch(&x, &x, &mut s);
            e.estimate(&model, &mut s, &mut rng, &mut grad);
            adam.step(&mut model, &grad, 1e-4, AdamConfig::REBAR);
            e.update_control_variates(1e-3);
        })
    });
}

fn benches(c: &mut Criterion) {
    rebar_linear1::<24>(c);
    rebar_linear1::<1>(c);
}

criterion_group! {
    name = steps;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(5));
    targets = benches
}
criterion_main!(steps);
