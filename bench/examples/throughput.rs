//! Training steps per second of every estimator on the paper's models, at batch 24 and batch 1:
//! one step is [`rebar_bench::TrainingStep`] (estimate, the model's Adam update and the
//! control-variate update), exactly what `cargo bench -p rebar-bench --bench training_step` times.
//!
//! `cargo run --release -p rebar-bench --example throughput [-- [--threads N [--shards K]] SECONDS [REPEATS [FILTER...]]]`
//!
//! Prints one line per case, `framework,threads,model,estimator,batch,steps_per_second`, the
//! format of `bench/compare/` so the rows can be merged into one table, then two more columns: the dense
//! maps' multiply-adds per example ([`rebar_core::ops`], counted over ten steps) and the rate
//! they run at in GFLOP/s (2 flops per multiply-add), to hold against the machine's FMA peak
//! (`cargo bench -p rebar-bench --bench kernels -- peak`). Each case is measured REPEATS times
//! (default 3) for SECONDS each (default 2) after one second of warm-up, on one thread, and the
//! median rate is printed: the machines this runs on are shared, and the median shrugs off a
//! repeat that another process slowed down. With `--threads N` (N ≥ 2) each step is the
//! data-parallel step of `rebar train --train-threads N --shards K` ([`rebar_host::train::parallel`])
//! with K = N unless `--shards K` says otherwise (N shards are the fastest split of a batch over N
//! threads; one shard gives the single-threaded step's numbers, with only the element-wise
//! half of the step spread over the threads; such rows are labelled `rebar-1-shard`), and only
//! the batches of at least K run (`rebar train` refuses smaller ones). With FILTERs, only the cases whose
//! `model,estimator,batch` contains one of them run (e.g. `linear1,rebar,` or `,24`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use rebar_bench::{CASES, ESTIMATORS, with_parallel_case};

/// The dense maps' multiply-adds per step (over ten steps), then the median rate of `step` over
/// `repeats` measurements of `seconds` each, after a warm-up.
fn measure(step: &mut dyn FnMut() -> f32, seconds: f64, repeats: usize) -> (f64, f64) {
    let before = rebar_core::ops::read();
    for _ in 0..10 {
        black_box(step());
    }
    let per_step = rebar_core::ops::read().since(before).multiply_adds as f64 / 10.0;
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_secs(1) {
        black_box(step());
    }
    let mut rates: Vec<f64> = (0..repeats.max(1))
        .map(|_| {
            let (mut n, start) = (0u64, Instant::now());
            while start.elapsed().as_secs_f64() < seconds {
                black_box(step());
                n += 1;
            }
            n as f64 / start.elapsed().as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    (per_step, rates[rates.len() / 2])
}

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    let mut count = |flag: &str| {
        args.next_if(|a| a == flag)?;
        Some(args.next().and_then(|s| s.parse().ok()).filter(|&t: &usize| t >= 1).expect("a count ≥ 1"))
    };
    let threads = count("--threads").unwrap_or(1);
    let shards = count("--shards").unwrap_or(threads);
    let seconds: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let repeats: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(3);
    let filters: Vec<String> = args.collect();
    println!("framework,threads,model,estimator,batch,steps_per_second,multiply_adds_per_example,gflops");
    for kind in ESTIMATORS {
        for (model, batch) in CASES.into_iter().filter(|&(_, batch)| batch >= shards) {
            let label = format!("{model},{},{batch}", kind.name());
            if !filters.is_empty() && !filters.iter().any(|f| label.contains(f.as_str())) {
                continue;
            }
            let case = (threads, shards);
            let (per_step, rate) = with_parallel_case(model, batch, kind, case, |step| measure(step, seconds, repeats));
            let gflops = 2.0 * per_step * rate / 1e9;
            let framework = if shards == threads { "rebar".to_string() } else { format!("rebar-{shards}-shard") };
            println!("{framework},{threads},{label},{rate:.1},{:.0},{gflops:.1}", per_step / batch as f64);
        }
    }
}
