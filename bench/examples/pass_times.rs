//! Where a learned-temperature REBAR step's time goes, pass by pass: the linear 1-layer model at
//! batch 24 (the rows of [`rebar_bench::TrainingStep`]), each model pass of
//! stage 1 (`Estimator::estimate_shard`) and of its finish timed on its own, repeated on
//! the same state; then the whole estimate (also its two halves alone, on one thread and forked
//! over two), Adam and the control variates' update, and the whole step. A pass repeated alone keeps more of its data in cache than it does inside the step, and
//! the passes leave out REBAR's own element-wise work and its baseline network, so they add up
//! to less than the estimate.
//!
//! `cargo run --release -p rebar-bench --example pass_times [-- ITERATIONS]`
//!
//! Prints microseconds per call (the best of five means over ITERATIONS calls, default 2,000: the
//! machine is shared, and the best mean is the least disturbed) and each part's share of the
//! step.

use std::hint::black_box;
use std::time::Instant;

use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rebar_bench::with_case;
use rebar_core::estimator::{Rebar, RebarConfig, draw_noise, set_score_dlogits};
use rebar_core::math::simd::axpy_sum_squares_dot;
use rebar_core::model::{LATENT, Linear1, PIXELS};
use rebar_core::{Adam, AdamConfig, Estimator, GradWrite, Relaxation, Sbn, Serial, Tensors};
use rebar_host::train::EstimatorKind;
use rebar_host::train::parallel::RayonFork;

const B: usize = 24;
type Scratch = <Linear1 as Sbn<LATENT>>::Scratch<B>;

/// The best of five means of `f` over `iterations` calls, in microseconds.
fn time(iterations: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..iterations / 10 {
        f();
    }
    (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iterations {
                f();
            }
            start.elapsed().as_secs_f64() / iterations as f64 * 1e6
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let iterations: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let mut model: Box<Linear1> = bytemuck::zeroed_box();
    model.init(&mut rng);
    model.set_data_mean(&[0.13; PIXELS], &[0.13; PIXELS]);
    // The bench's batch: MNIST-like binary rows, about 12% ones.
    let batch: Vec<[f32; PIXELS]> =
        (0..B).map(|i| core::array::from_fn(|j| ((i * 7 + j * 13) % 8 == 0) as u8 as f32)).collect();
    let (mut s, mut grad, mut cv_grad): (Box<Scratch>, Box<Linear1>, Box<Linear1>) =
        (bytemuck::zeroed_box(), bytemuck::zeroed_box(), bytemuck::zeroed_box());
    let mut adam: Box<Adam<Linear1>> = bytemuck::zeroed_box();
    let relax = Relaxation::Modified { temperature: 0.5 };
    let inv_n = 1.0 / B as f32;

    // One pass of everything in order, so that every buffer holds what its pass reads.
    model.load_batch(&batch, &batch, &mut s);
    draw_noise::<Linear1, LATENT, B, _>(&mut s, &mut rng);
    model.hard_forward(&mut s, 0);
    let weights = [-inv_n; B];
    let score_weights: [f32; B] = core::array::from_fn(|r| 0.01 * r as f32 * inv_n);
    model.relaxed_forward(&mut s, 0, relax);
    model.relaxed_backward(&mut s, 0, relax, 1.0, None);
    model.relaxed_tangent(&mut s, 0, relax, 1.0);

    let mut rows: Vec<(&str, f64)> = Vec::new();
    let mut row = |name: &'static str, us: f64| {
        println!("  {name:<58} {us:8.1} µs");
        rows.push((name, us));
    };
    println!("linear1, learned-temperature REBAR, batch {B}: µs per call, best of 5 means of {iterations}");
    row("load the batch", time(iterations, || _ = model.load_batch(&batch, &batch, &mut s)));
    row("draw the noise", time(iterations, || draw_noise::<Linear1, LATENT, B, _>(&mut s, &mut rng)));
    row("hard pass, encoder half (encoder, sample, log q)", time(iterations, || model.hard_encode(&mut s, 0)));
    row("hard pass, decoder half (decoder, ELBO)", time(iterations, || model.hard_decode(&mut s)));
    row(
        "A: decoder backward (its weight gradient)",
        time(iterations, || model.decoder_backward(&mut s, &weights, &mut grad, GradWrite::Set)),
    );
    row(
        "A: score term's encoder backward",
        time(iterations, || {
            set_score_dlogits::<Linear1, LATENT, B>(&mut s, 0, &score_weights);
            model.encoder_backward(&mut s, 0, &mut grad, GradWrite::Set);
        }),
    );
    row("B: relaxed forward (decoder)", time(iterations, || model.relaxed_forward(&mut s, 0, relax)));
    row(
        "B: relaxed backward (decoder adjoint)",
        time(iterations, || model.relaxed_backward(&mut s, 0, relax, 1.0, None)),
    );
    row(
        "B: temperature tangent (decoder, forward and reverse)",
        time(iterations, || model.relaxed_tangent(&mut s, 0, relax, 1.0)),
    );
    row("B: encoder backward", time(iterations, || model.encoder_backward(&mut s, 0, &mut cv_grad, GradWrite::Set)));
    let encoder = Linear1::encoder_tensors(0);
    row(
        "finish: g = A + η·B on the encoder, Σg², ⟨g, B⟩",
        time(iterations, || {
            for t in encoder.clone() {
                black_box(axpy_sum_squares_dot(grad.tensor_mut(t), 1e-9, cv_grad.tensor(t)));
            }
        }),
    );
    let ones = [1.0f32; 16];
    let (mut jg, mut jeg) = (vec![[0.0f32; LATENT]; B], vec![[0.0f32; LATENT]; B]);
    row(
        "finish: encoder tangents J·g, J·(η⊙g)",
        time(iterations, || model.encoder_tangent_pair(&mut s, 0, &grad, [&ones, &ones], [&mut jg, &mut jeg])),
    );
    // Adam on a zero gradient changes nothing but takes the same time.
    let zero: Box<Linear1> = bytemuck::zeroed_box();
    row(
        "Adam on the model (315k parameters)",
        time(iterations, || adam.step(&mut model, &zero, 1e-4, AdamConfig::REBAR)),
    );
    let parts: f64 = rows.iter().map(|(_, us)| us).sum();
    println!("  {:<58} {parts:8.1} µs", "the parts above together");

    let mut rebar: Box<Rebar<Linear1, PIXELS, LATENT, B>> = bytemuck::zeroed_box();
    rebar.init(RebarConfig::LEARNED, &mut rng).expect("the paper's settings are valid");
    let estimate = time(iterations, || _ = black_box(rebar.estimate(&model, &mut s, &mut rng, &mut grad)));
    // Stage 1 alone, on one thread and forked over two (as one shard of `rebar train` on two
    // threads runs it; the helper thread spins between the back-to-back calls).
    let halves =
        time(iterations, || _ = black_box(rebar.estimate_shard(&model, &mut s, None, &mut rng, &mut grad, &Serial)));
    let mut s_score: Box<Scratch> = bytemuck::zeroed_box();
    model.load_batch(&batch, &batch, &mut s_score);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("a two-thread pool");
    let forked = pool.install(|| {
        time(iterations, || {
            black_box(rebar.estimate_shard(&model, &mut s, Some(&mut *s_score), &mut rng, &mut grad, &RayonFork));
        })
    });
    let update = time(iterations, || rebar.update_control_variates(1e-3));
    let step = with_case("linear1", B, EstimatorKind::Rebar, |step| time(iterations, || _ = black_box(step())));
    let adam_us = rows.last().map_or(0.0, |(_, us)| *us);
    println!("  {:<58} {estimate:8.1} µs", "the whole estimate (Rebar::estimate)");
    println!("  {:<58} {halves:8.1} µs", "its halves A and B (stage 1: estimate_shard)");
    println!("  {:<58} {forked:8.1} µs", "... in halves on two threads (estimate_shard, second workspace)");
    println!("  {:<58} {update:8.1} µs", "the control variates' update (baseline's Adam, η, λ)");
    println!("  {:<58} {:8.1} µs", "estimate + Adam + update", estimate + adam_us + update);
    println!("  {:<58} {step:8.1} µs", "the whole step (rebar_bench::TrainingStep)");
    println!("shares of the whole step:");
    for (name, us) in &rows {
        println!("  {name:<58} {:7.1}%", 100.0 * us / step);
    }
    println!(
        "  {:<58} {:7.1}%",
        "the rest of the estimate (element-wise, baseline, cache)",
        100.0 * (estimate - (parts - adam_us)) / step
    );
    println!("  {:<58} {:7.1}%", "the control variates' update", 100.0 * update / step);
}
