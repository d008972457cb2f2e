//! SIMD-vs-scalar agreement of `rebar_core::math` on the target.
//!
//! On thumbv7em `wide::f32x8` is a plain array lowered to scalar VFP code, but its `exp`/`ln`/
//! `ln_1p`/`tanh` are `wide`'s own polynomials while the scalar path uses `libm`: the two paths
//! differ in the last bits and must agree within the tolerances below. Inputs are edge values
//! (±0, ±1, ±20, ±100, ±1e4, ±1e30, ±`f32::MAX`) followed by seeded uniform values.

use rand_xoshiro::rand_core::Rng;
use rebar_core::math::{scalar, simd};

/// Values per check: a few hundred, not a multiple of the 8 SIMD lanes, so the scalar tail of
/// every slice kernel runs too (389 = 48·8 + 5).
pub const N: usize = 389;

/// Allowed |simd − scalar| for elementwise ops: `REL_TOL·|scalar| + ABS_TOL`. The host tests
/// hold each path within 1.6e-6 relative of an f64 reference, so the paths may differ by 3.2e-6.
pub const REL_TOL: f32 = 4e-6;
/// Absolute floor of the elementwise tolerance (for results that underflow to ~0).
pub const ABS_TOL: f32 = 1e-37;
/// Absolute floor for the logistic noise log u − log(1 − u), which cancels near u = 1/2: a few
/// ulp of ln 2 per path.
pub const LOGISTIC_ABS_TOL: f32 = 5e-7;
/// Allowed |simd − scalar| for the Bernoulli log-likelihood sum, relative to Σ|terms| (f32
/// accumulation in different orders: 8 lanes vs one running sum).
pub const SUM_REL_TOL: f32 = 8e-6;
/// Allowed |simd − scalar| for logsumexp, relative to max(|result|, 1).
pub const LSE_REL_TOL: f32 = 1e-6;

/// The clip of the logistic noise bounds it at ±log(1e8) ≈ ±18.42.
const LOGISTIC_BOUND: f32 = 18.421;

const EDGES: [f32; 16] =
    [0.0, -0.0, 1.0, -1.0, 20.0, -20.0, 100.0, -100.0, 1e4, -1e4, 1e30, -1e30, f32::MAX, -f32::MAX, 0.5, -0.5];
const UNIT_EDGES: [f32; 7] = [0.0, 1.0, 0.5, 1e-9, 1.0 - 6e-8, 1e-3, 0.999];

/// Uniform in [0, 1) with 24 random bits.
fn unit(rng: &mut impl Rng) -> f32 {
    (rng.next_u32() >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
}

/// Edge values, then uniform values in [−25, 25).
fn logits(rng: &mut impl Rng) -> [f32; N] {
    let mut x = [0.0; N];
    x[..EDGES.len()].copy_from_slice(&EDGES);
    for v in &mut x[EDGES.len()..] {
        *v = unit(rng) * 50.0 - 25.0;
    }
    x
}

/// Edge values of [0, 1] (both ends, within 1e-8 of them), then uniform values.
fn uniforms(rng: &mut impl Rng) -> [f32; N] {
    let mut u = [0.0; N];
    u[..UNIT_EDGES.len()].copy_from_slice(&UNIT_EDGES);
    for v in &mut u[UNIT_EDGES.len()..] {
        *v = unit(rng);
    }
    u
}

/// Distance in units in the last place between two finite floats of the same sign (else ∞).
fn ulps(a: f32, b: f32) -> u32 {
    if a == b {
        0
    } else if a.is_sign_negative() != b.is_sign_negative() {
        u32::MAX
    } else {
        a.to_bits().abs_diff(b.to_bits())
    }
}

/// Compares one elementwise op on both paths: both results must be finite and satisfy `prop`,
/// and the SIMD one must lie within `REL_TOL·|scalar| + abs_tol` of the scalar one. The maxima
/// in the summary line are over the values that passed.
fn elementwise(
    name: &'static str,
    x: &[f32; N],
    simd_f: fn(&[f32], &mut [f32]),
    scalar_f: fn(&[f32], &mut [f32]),
    abs_tol: f32,
    prop: fn(f32) -> bool,
) -> Result<(), &'static str> {
    let (mut s, mut r) = ([f32::NAN; N], [f32::NAN; N]);
    simd_f(x, &mut s);
    scalar_f(x, &mut r);
    let (mut max_err, mut max_ratio, mut max_ulps, mut exact, mut bad) = (0.0f32, 0.0f32, 0u32, 0usize, 0usize);
    for i in 0..N {
        let (g, want) = (s[i], r[i]);
        let err = (g - want).abs();
        let allowed = REL_TOL * want.abs() + abs_tol;
        let ok = g.is_finite() && want.is_finite() && prop(g) && prop(want) && err <= allowed;
        if !ok {
            bad += 1;
            if bad <= 3 {
                defmt::error!("{=str}({=f32}): simd {=f32}, scalar {=f32}", name, x[i], g, want);
            }
            continue;
        }
        exact += usize::from(g.to_bits() == want.to_bits());
        max_err = max_err.max(err);
        max_ratio = max_ratio.max(err / allowed);
        max_ulps = max_ulps.max(ulps(g, want));
    }
    defmt::info!(
        "{=str}: n={=usize} out-of-tol={=usize} bit-equal={=usize} max|d|={=f32} max ulp={=u32} max |d|/tol={=f32}",
        name,
        N,
        bad,
        exact,
        max_err,
        max_ulps,
        max_ratio
    );
    if bad == 0 { Ok(()) } else { Err(name) }
}

/// Runs every check, logs one line per op and returns the first failing op's name.
pub fn run(rng: &mut impl Rng) -> Result<(), &'static str> {
    let x = logits(rng);
    let u = uniforms(rng);
    defmt::info!(
        "math: SIMD (wide f32x8) vs scalar (libm), {=usize} values per op, tol = {=f32}*|scalar| + {=f32}",
        N,
        REL_TOL,
        ABS_TOL
    );

    let results = [
        elementwise("sigmoid", &x, simd::sigmoid_slice, scalar::sigmoid_slice, ABS_TOL, |v| (0.0..=1.0).contains(&v)),
        elementwise("softplus", &x, simd::softplus_slice, scalar::softplus_slice, ABS_TOL, |v| v >= 0.0),
        elementwise("log_sigmoid", &x, simd::log_sigmoid_slice, scalar::log_sigmoid_slice, ABS_TOL, |v| v <= 0.0),
        elementwise("tanh", &x, simd::tanh_slice, scalar::tanh_slice, ABS_TOL, |v| (-1.0..=1.0).contains(&v)),
        elementwise(
            "logistic_noise",
            &u,
            simd::logistic_noise_slice,
            scalar::logistic_noise_slice,
            LOGISTIC_ABS_TOL,
            |v| v.abs() <= LOGISTIC_BOUND,
        ),
        bernoulli_sum(&x, &u),
        logsumexp(&x),
    ];
    results.into_iter().find(Result::is_err).unwrap_or(Ok(()))
}

/// Σ y·a − softplus(a) on both paths, logits clamped to ±1e4 (terms near `f32::MAX` overflow
/// the sum legitimately), soft targets in [0, 1].
fn bernoulli_sum(x: &[f32; N], u: &[f32; N]) -> Result<(), &'static str> {
    let a = x.map(|v| v.clamp(-1e4, 1e4));
    let s = simd::bernoulli_log_likelihood_sum(u, &a);
    let r = scalar::bernoulli_log_likelihood_sum(u, &a);
    let scale: f32 = u.iter().zip(&a).map(|(&y, &a)| scalar::bernoulli_log_likelihood(y, a).abs()).sum();
    let err = (s - r).abs();
    let ok = s.is_finite() && r.is_finite() && err <= SUM_REL_TOL * scale;
    defmt::info!(
        "bernoulli_log_likelihood_sum: simd={=f32} scalar={=f32} |d|={=f32} tol={=f32} (rel to sum|terms| {=f32})",
        s,
        r,
        err,
        SUM_REL_TOL * scale,
        scale
    );
    if ok { Ok(()) } else { Err("bernoulli_log_likelihood_sum") }
}

/// log Σ e^{x} on both paths over values in an ELBO-like range [−600, 400), and on edge cases.
fn logsumexp(x: &[f32; N]) -> Result<(), &'static str> {
    let v = x.map(|v| v.clamp(-25.0, 25.0) * 20.0 - 100.0);
    let (s, r) = (simd::logsumexp(&v), scalar::logsumexp(&v));
    let err = (s - r).abs();
    let tol = LSE_REL_TOL * r.abs().max(1.0);
    let edges_ok = simd::logsumexp(&[]) == f32::NEG_INFINITY
        && (simd::logsumexp(&[1e4, 1e4]) - (1e4 + core::f32::consts::LN_2)).abs() < 1e-3
        && (simd::logsumexp(&[-1e4; 9]) - scalar::logsumexp(&[-1e4; 9])).abs() < 1e-3;
    let ok = s.is_finite() && err <= tol && edges_ok;
    defmt::info!(
        "logsumexp: simd={=f32} scalar={=f32} |d|={=f32} tol={=f32} edge cases ok={=bool}",
        s,
        r,
        err,
        tol,
        edges_ok
    );
    if ok { Ok(()) } else { Err("logsumexp") }
}
