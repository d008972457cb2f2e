//! Runs a few learned-temperature REBAR training steps on the linear 1-layer model at batch 24,
//! for instruction-level profiles that do not depend on machine load:
//! `valgrind --tool=callgrind target/release/examples/profile_step [steps]`.

use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rebar_core::estimator::{Estimator, Rebar, RebarConfig};
use rebar_core::model::{LATENT, Linear1, PIXELS};
use rebar_core::{Adam, AdamConfig, Sbn};

const B: usize = 24;

fn main() {
    let steps: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(20);
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
        (0..B).map(|i| core::array::from_fn(|j| ((i * 7 + j * 13) % 8 == 0) as u8 as f32)).collect();
    let mut elbo = 0.0;
    for _ in 0..steps {
        model.load_batch(&x, &x, &mut s);
        elbo += e.estimate(&model, &mut s, &mut rng, &mut grad).elbo;
        adam.step(&mut model, &grad, 1e-4, AdamConfig::REBAR);
        e.update_control_variates(1e-3);
    }
    println!("mean ELBO {}", elbo / steps as f32);
}
