//! Elementwise math: the SIMD path (`rebar_core::math::simd`, `wide::f32x8`) against the scalar
//! `libm` reference (`rebar_core::math::scalar`) on one output layer's worth of values
//! (784 × 24 = 18,816), and on 18,817 so the SIMD path's scalar tail runs too. Criterion reports
//! elements per second; the SIMD ÷ scalar ratio is the speed-up of the path the models use.
//!
//!
//! `math/adam` is one Adam update (`rebar_core::optim::AdamStep::apply`, in the widest vectors
//! the build has: 16 lanes with AVX-512) against the same update in 8 lanes, as the core had it
//! before (kept here, [`adam_8_lanes`]), on 4,099 parameters (in L1) and 393,219 (linear1's
//! model and REBAR baseline together, in L3); elements are parameters.
//!
//! ```text
//! cargo bench -p rebar-bench --bench math
//! RUSTFLAGS="-C target-cpu=native" CARGO_TARGET_DIR=target/native cargo bench -p rebar-bench --bench math
//! ```

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rebar_core::math::{scalar, simd};
use rebar_core::optim::{Adam, AdamConfig};
use wide::f32x8;

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

/// The Adam update of `rebar_core::optim` as it was in 8 lanes (revision 22f67df), without the
/// periodic flush of `v`: the reference the 16-lane form is measured against.
fn adam_8_lanes(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], lr_t: f32, c: AdamConfig) {
    let full = p.len() / 8 * 8;
    let (b1, b2, eps, lr) = (f32x8::splat(c.beta1), f32x8::splat(c.beta2), f32x8::splat(c.epsilon), f32x8::splat(lr_t));
    let (one_b1, one_b2) = (f32x8::splat(1.0 - c.beta1), f32x8::splat(1.0 - c.beta2));
    let (g_floor, m_floor) = (f32x8::splat(8.881_784e-16), f32x8::splat(7.888_609e-31));
    let flush = |x: f32x8, floor: f32x8| x.abs().simd_lt(floor).select(f32x8::ZERO, x);
    for i in (0..full).step_by(8) {
        let gv = flush(simd::load(&g[i..]), g_floor);
        let mv = flush(b1 * simd::load(&m[i..]) + one_b1 * gv, m_floor);
        let vv = b2 * simd::load(&v[i..]) + one_b2 * gv * gv;
        simd::store(&mut m[i..], mv);
        simd::store(&mut v[i..], vv);
        let pv = simd::load(&p[i..]) - lr * mv / (vv.sqrt() + eps);
        simd::store(&mut p[i..], pv);
    }
    for i in full..p.len() {
        m[i] = c.beta1 * m[i] + (1.0 - c.beta1) * g[i];
        v[i] = c.beta2 * v[i] + (1.0 - c.beta2) * g[i] * g[i];
        p[i] -= lr_t * m[i] / (v[i].sqrt() + c.epsilon);
    }
}

fn adam(c: &mut Criterion) {
    for n in [4_099, 393_219] {
        let grad: Vec<f32> = inputs(n).iter().map(|x| x * 1e-3).collect();
        let (mut p, mut m, mut v) = (vec![0.1f32; n], vec![0.01f32; n], vec![1e-4f32; n]);
        let mut state = Adam::<[f32; 1]> { m: [0.0], v: [0.0], t: 0, beta_powers: [1.0, 1.0] };
        let step = state.begin_step(1e-3, AdamConfig::REBAR);
        let mut g = c.benchmark_group("math/adam");
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new("8_lanes", n), |b| {
            b.iter(|| adam_8_lanes(&mut p, black_box(&grad), &mut m, &mut v, 1e-3, AdamConfig::REBAR))
        });
        g.bench_function(BenchmarkId::new("simd", n), |b| {
            b.iter(|| step.apply(&mut p, black_box(&grad), &mut m, &mut v))
        });
        g.finish();
    }
}

criterion_group! {
    name = math;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(1));
    targets = elementwise, reductions, adam
}
criterion_main!(math);
