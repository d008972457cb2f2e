//! Running one benchmark through criterion and recording its median and best time per call.

use criterion::{BenchmarkId, Criterion, Throughput};
use std::cell::RefCell;
use std::time::{Duration, Instant};

use super::peak::local_peak;

/// One finished benchmark: name, flops per call, median and best seconds per call.
pub(super) struct Row {
    pub(super) name: String,
    pub(super) flops: f64,
    pub(super) median: f64,
    pub(super) best: f64,
    /// The FMA peak (flop/s) measured right after this benchmark, see [`local_peak`].
    pub(super) local_peak: f64,
}

thread_local! {
    pub(super) static ROWS: RefCell<Vec<Row>> = const { RefCell::new(Vec::new()) };
    /// (iterations, elapsed) of every call criterion made to the current routine.
    static SAMPLES: RefCell<Vec<(u64, Duration)>> = const { RefCell::new(Vec::new()) };
}

fn quick() -> bool {
    std::env::var_os("KERNELS_QUICK").is_some()
}

fn sample_size() -> usize {
    if quick() { 10 } else { 20 }
}

/// Benchmarks `f` as `group/name`, with `flops` per call, and records its median and best time.
pub(super) fn run(c: &mut Criterion, group: &str, name: &str, flops: f64, mut f: impl FnMut()) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(flops as u64)).sample_size(sample_size());
    if quick() {
        g.warm_up_time(Duration::from_millis(100)).measurement_time(Duration::from_millis(300));
    } else {
        g.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    }
    SAMPLES.with(|s| s.borrow_mut().clear());
    g.bench_function(BenchmarkId::from_parameter(name), |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            let d = t.elapsed();
            SAMPLES.with(|s| s.borrow_mut().push((iters, d)));
            d
        })
    });
    g.finish();
    // The last `sample_size` calls are the measurement (the earlier ones are the warm-up). When
    // the filter skips this benchmark, nothing was recorded.
    let mut per_call: Vec<f64> = SAMPLES.with(|s| {
        let s = s.borrow();
        s[s.len().saturating_sub(sample_size())..].iter().map(|&(i, d)| d.as_secs_f64() / i.max(1) as f64).collect()
    });
    if per_call.is_empty() {
        return;
    }
    per_call.sort_by(f64::total_cmp);
    let (median, best) = (per_call[per_call.len() / 2], per_call[0]);
    let local_peak = local_peak();
    ROWS.with(|r| r.borrow_mut().push(Row { name: format!("{group}/{name}"), flops, median, best, local_peak }));
}
