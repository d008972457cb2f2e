//! Elementwise math: the SIMD path (`rebar_core::math::simd`, `wide::f32x8`) against the scalar
//! `libm` reference (`rebar_core::math::scalar`) on one output layer's worth of values
//! (784 × 24 = 18,816), and on 18,817 so the SIMD path's scalar tail runs too. Criterion reports
//! elements per second; the SIMD ÷ scalar ratio is the speed-up of the path the models use.
//!
//! ```text
//! cargo bench -p rebar-bench --bench math
//! RUSTFLAGS="-C target-cpu=native" CARGO_TARGET_DIR=target/native cargo bench -p rebar-bench --bench math
//! ```

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rebar_core::math::{scalar, simd};

/// Values spread over the range the models see (logits within ±12, some far out).
fn inputs(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 7919 % 2001) as f32 - 1000.0) / 80.0).collect()
}

/// Uniform noise in (0, 1), as the samplers draw it.
fn uniforms(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 7919 % 9973) as f32 + 0.5) / 9973.0).collect()
}

type Elementwise = fn(&[f32], &mut [f32]);

fn elementwise(c: &mut Criterion) {
    let ops: [(&str, Elementwise, Elementwise); 5] = [
        ("sigmoid", scalar::sigmoid_slice, simd::sigmoid_slice),
        ("softplus", scalar::softplus_slice, simd::softplus_slice),
        ("log_sigmoid", scalar::log_sigmoid_slice, simd::log_sigmoid_slice),
        ("tanh", scalar::tanh_slice, simd::tanh_slice),
        ("logistic_noise", scalar::logistic_noise_slice, simd::logistic_noise_slice),
    ];
    for n in [18_816, 18_817] {
        for (name, scalar_op, simd_op) in ops {
            let x = if name == "logistic_noise" { uniforms(n) } else { inputs(n) };
            let mut out = vec![0.0f32; n];
            let mut g = c.benchmark_group(format!("math/{name}"));
            g.throughput(Throughput::Elements(n as u64));
            g.bench_with_input(BenchmarkId::new("scalar", n), &x, |b, x| b.iter(|| scalar_op(black_box(x), &mut out)));
            g.bench_with_input(BenchmarkId::new("simd", n), &x, |b, x| b.iter(|| simd_op(black_box(x), &mut out)));
            g.finish();
        }
    }
}

fn reductions(c: &mut Criterion) {
    for n in [18_816, 18_817] {
        let (a, y) = (inputs(n), uniforms(n));
        let mut g = c.benchmark_group("math/bernoulli_log_likelihood_sum");
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new("scalar", n), |b| {
            b.iter(|| scalar::bernoulli_log_likelihood_sum(black_box(&y), black_box(&a)))
        });
        g.bench_function(BenchmarkId::new("simd", n), |b| {
            b.iter(|| simd::bernoulli_log_likelihood_sum(black_box(&y), black_box(&a)))
        });
        g.finish();
        let mut g = c.benchmark_group("math/logsumexp");
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new("scalar", n), |b| b.iter(|| scalar::logsumexp(black_box(&a))));
        g.bench_function(BenchmarkId::new("simd", n), |b| b.iter(|| simd::logsumexp(black_box(&a))));
        g.finish();
    }
}

criterion_group! {
    name = math;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(1));
    targets = elementwise, reductions
}
criterion_main!(math);
