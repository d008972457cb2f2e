//! What a cheaper Adam could buy: the core's exact update (`AdamStep::apply`, one square root and
//! one division per parameter) next to two probes on the same data, in 16-lane vectors:
//!
//! - **division-free**: √v and 1/(√v + ε) from bit-trick seeds refined by Newton steps (only
//!   multiplies and FMAs, no divider); within a few ulps of the exact update, not bit-identical;
//! - **streaming floor**: the same loads and stores (p, g, m, v read; p, m, v written) with the
//!   moment updates but no square root or division: the least any Adam over f32 moments costs
//!   as a pass of its own.
//!
//! `cargo run --release -p rebar-bench --example adam_variants [-- ITERATIONS]`
//!
//! Prints nanoseconds per parameter for 4,096 parameters (all four arrays in L1) and 393,216
//! (about linear1's model and REBAR's baseline, whose four arrays take 6.3 MB, beyond L2), the
//! mean over ITERATIONS calls (default 2,000) after 50 warm-up calls, and the division-free update's largest relative
//! deviation from the exact one. (Moments in bf16, the other way to cut the traffic, are not
//! probed: with β₂ = 0.99999 each step changes v by 10⁻⁵ of itself, far below bf16's 2⁻⁸
//! resolution, so v would stop moving.)

use std::hint::black_box;
use std::time::Instant;

use rebar_bench::fill;

use rebar_core::optim::{Adam, AdamConfig};
use wide::{f32x16, u32x16};

const LANES: usize = 16;

fn load(s: &[f32]) -> f32x16 {
    f32x16::new(s.try_into().expect("16 values"))
}

fn store(s: &mut [f32], x: f32x16) {
    s.copy_from_slice(x.as_array());
}

fn bits(x: f32x16) -> u32x16 {
    bytemuck::cast(x)
}

fn from_bits(x: u32x16) -> f32x16 {
    bytemuck::cast(x)
}

/// 1/√x for x ≥ 0 (finite and huge at 0): the classic seed, then three Newton steps.
fn rsqrt(x: f32x16) -> f32x16 {
    let mut y = from_bits(u32x16::splat(0x5f37_5a86) - (bits(x) >> 1));
    let (half_x, three_halves) = (x * f32x16::splat(0.5), f32x16::splat(1.5));
    for _ in 0..3 {
        y *= half_x.mul_neg_add(y * y, three_halves);
    }
    y
}

/// 1/x for x > 0: a bit-trick seed, then three Newton steps.
fn recip(x: f32x16) -> f32x16 {
    let mut y = from_bits(u32x16::splat(0x7ef3_11c3) - bits(x));
    let two = f32x16::splat(2.0);
    for _ in 0..3 {
        y *= x.mul_neg_add(y, two);
    }
    y
}

/// The exact update (as the core's, without its subnormal flushes).
const EXACT: u8 = 0;
/// √ and ÷ replaced by [`rsqrt`] and [`recip`].
const DIVISION_FREE: u8 = 1;
/// The same loads, stores and moment updates, but the step divides by nothing.
const FLOOR: u8 = 2;

/// Adam's update in the form `VARIANT` ([`EXACT`], [`DIVISION_FREE`] or [`FLOOR`]).
fn update<const VARIANT: u8>(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], lr_t: f32, c: AdamConfig) {
    let (b1, b2, eps, lr) =
        (f32x16::splat(c.beta1), f32x16::splat(c.beta2), f32x16::splat(c.epsilon), f32x16::splat(lr_t));
    let (one_b1, one_b2) = (f32x16::splat(1.0 - c.beta1), f32x16::splat(1.0 - c.beta2));
    let body = p.len() / LANES * LANES;
    let chunks = p[..body].chunks_exact_mut(LANES).zip(g.chunks_exact(LANES));
    for ((p, g), (m, v)) in chunks.zip(m.chunks_exact_mut(LANES).zip(v.chunks_exact_mut(LANES))) {
        let gv = load(g);
        let mv = b1 * load(m) + one_b1 * gv;
        let vv = b2 * load(v) + one_b2 * gv * gv;
        store(m, mv);
        store(v, vv);
        let step = match VARIANT {
            EXACT => mv / (vv.sqrt() + eps),
            DIVISION_FREE => mv * recip(vv * rsqrt(vv) + eps),
            _ => mv * vv + eps,
        };
        store(p, load(p) - lr * step);
    }
}

/// Mean nanoseconds per parameter of `f` over `n` parameters.
fn time(iterations: usize, n: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..50 {
        f();
    }
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    start.elapsed().as_secs_f64() / iterations as f64 / n as f64 * 1e9
}

fn main() {
    let iterations: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let c = AdamConfig::REBAR;
    let mut state = Adam::<[f32; 1]> { m: [0.0], v: [0.0], t: 0, beta_powers: [1.0, 1.0] };
    let exact = state.begin_step(1e-3, c);
    let lr_t = 1e-3 * (1.0f32 - c.beta2).sqrt() / (1.0 - c.beta1);
    println!("Adam, ns per parameter (16 lanes; mean of {iterations} calls)");
    println!("  {:>9}  {:>7}  {:>14}  {:>15}", "params", "exact", "division-free", "streaming floor");
    // Whole vectors only: the probes have no scalar tail.
    for n in [4_099usize / LANES * LANES, 393_219 / LANES * LANES] {
        let grad = fill(n, 7);
        let (mut p, mut m, mut v) = (fill(n, 1), vec![0.0f32; n], vec![0.0f32; n]);
        let t_exact = time(iterations, n, || exact.apply(&mut p, black_box(&grad), &mut m, &mut v));
        let t_free = time(iterations, n, || update::<DIVISION_FREE>(&mut p, black_box(&grad), &mut m, &mut v, lr_t, c));
        let t_floor = time(iterations, n, || update::<FLOOR>(&mut p, black_box(&grad), &mut m, &mut v, lr_t, c));
        println!("  {n:>9}  {t_exact:>7.3}  {t_free:>14.3}  {t_floor:>15.3}");
    }
    // Accuracy: one update from the same state, exact against division-free.
    let n = 4_096;
    let grad = fill(n, 11);
    let (m0, v0) = (fill(n, 3), fill(n, 5).iter().map(|x| x * x).collect::<Vec<_>>());
    let (mut p1, mut m1, mut v1) = (vec![0.0f32; n], m0.clone(), v0.clone());
    let (mut p2, mut m2, mut v2) = (vec![0.0f32; n], m0, v0);
    update::<EXACT>(&mut p1, &grad, &mut m1, &mut v1, lr_t, c);
    update::<DIVISION_FREE>(&mut p2, &grad, &mut m2, &mut v2, lr_t, c);
    let worst = p1.iter().zip(&p2).map(|(a, b)| ((a - b) / a).abs()).fold(0.0f32, f32::max);
    println!("division-free update: largest relative deviation {worst:.2e} ({:.1} ulp)", worst / f32::EPSILON);
}
