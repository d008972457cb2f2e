//! One training step ([`rebar_bench::TrainingStep`]: estimate, Adam, control-variate update) per
//! estimator and model, at the paper's batch 24 and at batch 1. Bench names are
//! `step/<model>/<estimator>/batch<B>`; filter as usual, e.g.
//! `cargo bench -p rebar-bench --bench training_step -- step/linear1/rebar/`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use rebar_bench::{CASES, ESTIMATORS, with_case};

fn benches(c: &mut Criterion) {
    for kind in ESTIMATORS {
        for (model, batch) in CASES {
            let name = format!("step/{model}/{}/batch{batch}", kind.name());
            with_case(model, batch, kind, |step| {
                c.bench_function(&name, |b| b.iter(|| black_box(step())));
            });
        }
    }
}

criterion_group! {
    name = steps;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = benches
}
criterion_main!(steps);
