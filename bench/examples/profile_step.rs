//! Runs a few training steps ([`rebar_bench::TrainingStep`], learned-temperature REBAR on the
//! linear 1-layer model at batch 24 unless told otherwise), for instruction-level profiles that
//! do not depend on machine load:
//! `valgrind --tool=callgrind target/release/examples/profile_step [STEPS [ESTIMATOR [MODEL [BATCH]]]]`.

use rebar_bench::{ESTIMATORS, with_case};

fn main() {
    let mut args = std::env::args().skip(1);
    let steps: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(20);
    let estimator = args.next().unwrap_or_else(|| "rebar".into());
    let model = args.next().unwrap_or_else(|| "linear1".into());
    let batch: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(24);
    let kind = ESTIMATORS.into_iter().find(|k| k.name() == estimator).expect("an estimator name such as rebar or nvil");
    let elbo = with_case(&model, batch, kind, |step| (0..steps).map(|_| step()).sum::<f32>() / steps as f32);
    println!("{model} {estimator} batch {batch}: mean ELBO {elbo} over {steps} steps");
}
