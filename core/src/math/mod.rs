//! Elementwise math: the scalar reference ([`scalar`], through `libm`) and the SIMD path
//! ([`simd`], through `wide`), with identical slice-function names and signatures so one test
//! harness checks both.
//!
//! The core's hot loops call the SIMD lane functions (`simd::*_x8`) directly; the scalar
//! functions serve the tails and the tests.

pub mod scalar;
pub mod simd;

#[cfg(test)]
mod tests {
    //! One harness per op, instantiated for the scalar and the SIMD path. The reference is the
    //! same formula in f64; tolerances (relative + absolute floor) are in one table below.
    extern crate std;
    use std::vec::Vec;

    /// (relative, absolute) error allowed against the f64 reference, per op and path.
    /// The SIMD path uses `wide`'s polynomial exp/ln (≤ 2 ulp each), the scalar path libm's.
    struct Tol {
        rel: f64,
        abs: f64,
    }
    const SIGMOID: Tol = Tol { rel: 4e-7 * 4.0, abs: 1e-38 };
    const SOFTPLUS: Tol = Tol { rel: 4e-7 * 4.0, abs: 1e-38 };
    const LOG_SIGMOID: Tol = Tol { rel: 4e-7 * 4.0, abs: 1e-38 };
    const TANH: Tol = Tol { rel: 4e-7 * 4.0, abs: 1e-38 };
    // log u − log(1−u) cancels near u = 1/2: relative error is measured against the size of
    // the two logs, so an absolute floor of a few ulp of log(1/2) is allowed.
    const LOGISTIC: Tol = Tol { rel: 4e-7 * 4.0, abs: 4.0 * 6e-8 };
    // Sums: error relative to Σ|terms| (f32 accumulation of up to a few hundred terms).
    const SUM_REL: f64 = 1e-6 * 4.0;

    fn ref_softplus(x: f64) -> f64 {
        x.max(0.0) + libm::log1p(libm::exp(-x.abs()))
    }
    fn ref_sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + libm::exp(-x))
    }
    fn ref_logistic(u: f64) -> f64 {
        let c = |v: f64| v.clamp(1e-8, 1.0);
        libm::log(c(u)) - libm::log(c(1.0 - u))
    }

    /// Deterministic inputs: edge values first, then seeded uniform values in [−25, 25].
    fn inputs(len: usize, seed: u64) -> Vec<f32> {
        const EDGES: [f32; 14] =
            [0.0, -0.0, 1.0, -1.0, 100.0, -100.0, 1e4, -1e4, 1e30, -1e30, f32::MAX, -f32::MAX, 20.0, -20.0];
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|i| {
                if i < EDGES.len() && seed.is_multiple_of(2) {
                    EDGES[i]
                } else {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    ((s >> 40) as f32 / (1u64 << 24) as f32) * 50.0 - 25.0
                }
            })
            .collect()
    }

    /// Uniforms in [0, 1] including both ends and values within 1e-8 of them.
    fn uniforms(len: usize, seed: u64) -> Vec<f32> {
        const EDGES: [f32; 7] = [0.0, 1.0, 0.5, 1e-9, 1.0 - 6e-8, 1e-3, 0.999];
        inputs(len, seed | 1)
            .into_iter()
            .enumerate()
            .map(|(i, v)| if i < EDGES.len() && seed.is_multiple_of(2) { EDGES[i] } else { (v + 25.0) / 50.0 })
            .collect()
    }

    fn check(name: &str, x: &[f32], got: &[f32], reference: impl Fn(f64) -> f64, tol: &Tol) {
        for (&xi, &g) in x.iter().zip(got) {
            let r = reference(xi as f64);
            assert!(g.is_finite(), "{name}({xi}) = {g} is not finite");
            let err = (g as f64 - r).abs();
            assert!(err <= tol.rel * r.abs() + tol.abs, "{name}({xi}) = {g}, reference {r}, error {err:e}");
        }
    }

    /// Lengths that are and are not multiples of the 8 lanes.
    const LENGTHS: [usize; 9] = [0, 1, 7, 8, 9, 15, 16, 33, 200];

    macro_rules! math_harness {
        ($modname:ident, $path:path) => {
            mod $modname {
                use super::*;
                use $path as m;

                #[test]
                fn sigmoid_matches_reference_and_stays_in_unit_interval() {
                    for (seed, &len) in LENGTHS.iter().enumerate() {
                        let x = inputs(len, seed as u64);
                        let mut y = std::vec![f32::NAN; len];
                        m::sigmoid_slice(&x, &mut y);
                        check("sigmoid", &x, &y, ref_sigmoid, &SIGMOID);
                        assert!(y.iter().all(|&v| (0.0..=1.0).contains(&v)));
                    }
                }

                #[test]
                fn softplus_matches_reference_and_is_nonnegative() {
                    for (seed, &len) in LENGTHS.iter().enumerate() {
                        let x = inputs(len, seed as u64);
                        let mut y = std::vec![f32::NAN; len];
                        m::softplus_slice(&x, &mut y);
                        check("softplus", &x, &y, ref_softplus, &SOFTPLUS);
                        assert!(y.iter().all(|&v| v >= 0.0));
                    }
                }

                #[test]
                fn log_sigmoid_matches_reference_and_is_nonpositive() {
                    for (seed, &len) in LENGTHS.iter().enumerate() {
                        let x = inputs(len, seed as u64);
                        let mut y = std::vec![f32::NAN; len];
                        m::log_sigmoid_slice(&x, &mut y);
                        check("log_sigmoid", &x, &y, |v| -ref_softplus(-v), &LOG_SIGMOID);
                        assert!(y.iter().all(|&v| v <= 0.0));
                    }
                }

                #[test]
                fn tanh_matches_reference() {
                    for (seed, &len) in LENGTHS.iter().enumerate() {
                        let x = inputs(len, seed as u64);
                        let mut y = std::vec![f32::NAN; len];
                        m::tanh_slice(&x, &mut y);
                        check("tanh", &x, &y, libm::tanh, &TANH);
                    }
                }

                #[test]
                fn logistic_noise_matches_reference_with_clipping() {
                    for (seed, &len) in LENGTHS.iter().enumerate() {
                        let u = uniforms(len, seed as u64);
                        let mut y = std::vec![f32::NAN; len];
                        m::logistic_noise_slice(&u, &mut y);
                        check("logistic_noise", &u, &y, ref_logistic, &LOGISTIC);
                    }
                    // The clip bounds the noise at ±log(1e8) ≈ ±18.42.
                    let mut y = [0.0; 2];
                    m::logistic_noise_slice(&[0.0, 1.0], &mut y);
                    assert!((y[0] + 18.420_68).abs() < 1e-4 && (y[1] - 18.420_68).abs() < 1e-4, "{y:?}");
                }

                #[test]
                fn bernoulli_log_likelihood_sum_matches_reference() {
                    for (seed, &len) in LENGTHS.iter().enumerate() {
                        // Logits up to ±1e4 (a sum of terms near f32::MAX overflows legitimately).
                        let a: Vec<f32> = inputs(len, seed as u64).iter().map(|v| v.clamp(-1e4, 1e4)).collect();
                        // Soft targets in [0, 1], hard ones at the ends.
                        let y = uniforms(len, seed as u64 + 7);
                        let got = m::bernoulli_log_likelihood_sum(&y, &a) as f64;
                        assert!(got.is_finite() || len == 0);
                        let terms: Vec<f64> =
                            y.iter().zip(&a).map(|(&y, &a)| y as f64 * a as f64 - ref_softplus(a as f64)).collect();
                        let r: f64 = terms.iter().sum();
                        let scale: f64 = terms.iter().map(|t| t.abs()).sum::<f64>() + 1e-30;
                        // Terms like 1e30·y − softplus(1e30) cancel: compare against the magnitudes.
                        assert!((got - r).abs() <= SUM_REL * scale, "len {len}: {got} vs {r}");
                    }
                }

                #[test]
                fn logsumexp_matches_reference() {
                    for (seed, &len) in LENGTHS.iter().enumerate().skip(1) {
                        // Values in a realistic ELBO range, and one huge spread.
                        let x: Vec<f32> = inputs(len, seed as u64 * 2 + 1).iter().map(|v| v * 20.0 - 100.0).collect();
                        let got = m::logsumexp(&x) as f64;
                        let m0 = x.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b as f64));
                        let r = m0 + libm::log(x.iter().map(|&v| libm::exp(v as f64 - m0)).sum::<f64>());
                        assert!((got - r).abs() <= 4e-7 * r.abs().max(1.0), "len {len}: {got} vs {r}");
                    }
                    assert_eq!(m::logsumexp(&[]), f32::NEG_INFINITY);
                    assert!((m::logsumexp(&[1e4, 1e4]) - (1e4 + core::f32::consts::LN_2)).abs() < 1e-3);
                    assert!((m::logsumexp(&[-1e4; 9]) - (-1e4 + libm::logf(9.0))).abs() < 1e-3);
                }
            }
        };
    }

    math_harness!(scalar_path, crate::math::scalar);
    math_harness!(simd_path, crate::math::simd);

    #[test]
    fn simd_lane_functions_agree_with_scalar_on_every_lane() {
        use super::{scalar, simd};
        let x = inputs(64, 3);
        for c in x.chunks_exact(8) {
            let v = simd::load(c);
            let pairs: [(wide::f32x8, fn(f32) -> f32); 3] = [
                (simd::sigmoid_x8(v), scalar::sigmoid),
                (simd::softplus_x8(v), scalar::softplus),
                (simd::tanh_x8(v), scalar::tanh),
            ];
            for (got, f) in pairs {
                for (g, &xi) in got.to_array().iter().zip(c) {
                    let r = f(xi);
                    assert!((g - r).abs() <= 4e-6 * r.abs() + 1e-37, "{xi}: {g} vs {r}");
                }
            }
        }
    }

    #[test]
    fn fused_log_likelihood_and_mean_are_bit_identical_to_the_separate_functions() {
        use super::simd;
        // Edge values (|a| beyond exp's fast range, ±0, f32::MAX), random logits, NaN and ±inf.
        let mut a = inputs(64, 4);
        a.extend(inputs(64, 5));
        a.extend([f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 87.5, -87.5, 88.5, -88.5, 1e-30]);
        let y = uniforms(a.len(), 6).iter().map(|&u| (u > 0.5) as u8 as f32).collect::<Vec<_>>();
        for (a, y) in a.chunks_exact(8).zip(y.chunks_exact(8)) {
            let (a, y) = (simd::load(a), simd::load(y));
            let (log_lik, mean) = simd::bernoulli_log_likelihood_and_mean_x8(y, a);
            let bits = |v: wide::f32x8| v.to_array().map(f32::to_bits);
            assert_eq!(bits(log_lik), bits(simd::bernoulli_log_likelihood_x8(y, a)), "{a:?}");
            assert_eq!(bits(mean), bits(simd::sigmoid_x8(a)), "{a:?}");
        }
    }

    #[test]
    fn bernoulli_logit_grads_are_bit_identical_on_both_paths() {
        use super::{scalar, simd};
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for (seed, &len) in LENGTHS.iter().enumerate() {
            // Edge logits (beyond exp's fast range, f32::MAX) on even seeds, binary and soft targets.
            let a = inputs(len, 2 * seed as u64);
            let y = uniforms(len, seed as u64 + 11)
                .iter()
                .map(|&u| if seed % 3 == 0 { u } else { (u > 0.5) as u8 as f32 })
                .collect::<Vec<_>>();
            let (y_dot, a_dot) = (inputs(len, 2 * seed as u64 + 1), inputs(len, 2 * seed as u64 + 3));
            for w in [1.0, -0.37, 2.0] {
                let (mut got, mut want) = (std::vec![f32::NAN; len], std::vec![f32::NAN; len]);
                simd::bernoulli_logit_grad(&y, &a, w, &mut got);
                scalar::bernoulli_logit_grad(&y, &a, w, &mut want);
                assert_eq!(bits(&got), bits(&want), "len {len}, w {w}");
                simd::bernoulli_logit_grad_tangent(&y_dot, &a, &a_dot, w, &mut got);
                scalar::bernoulli_logit_grad_tangent(&y_dot, &a, &a_dot, w, &mut want);
                assert_eq!(bits(&got), bits(&want), "tangent, len {len}, w {w}");
            }
        }
        // σ(0) = ½: w·(y − ½) and w·(ẏ − ¼·ȧ).
        let mut out = [0.0; 2];
        simd::bernoulli_logit_grad(&[1.0, 0.0], &[0.0, 0.0], 2.0, &mut out);
        assert_eq!(out, [1.0, -1.0]);
        simd::bernoulli_logit_grad_tangent(&[1.0, 0.0], &[0.0, 0.0], &[4.0, -4.0], 2.0, &mut out);
        assert_eq!(out, [0.0, 2.0]);
    }

    #[test]
    fn relaxed_sample_adjoints_and_tangents_are_bit_identical_on_both_paths() {
        use super::{scalar, simd};
        use crate::model::Relaxation;
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let relaxations =
            [Relaxation::Modified { temperature: 0.5 }, Relaxation::Plain { temperature: 2.0 }, Relaxation::Mean];
        for (seed, &len) in LENGTHS.iter().enumerate() {
            let seed = seed as u64;
            // Relaxed samples in [0, 1] (the ends included), edge logits on even seeds.
            let (y, a, e) = (uniforms(len, seed), inputs(len, 2 * seed), inputs(len, 2 * seed + 1));
            let (y_bar, y_dot, a_dot) =
                (inputs(len, 2 * seed + 3), inputs(len, 2 * seed + 5), inputs(len, 2 * seed + 7));
            for (relax, w) in relaxations.into_iter().zip([Some(0.37), None, Some(-2.0)]) {
                let c = relax.coefficients();
                let nan = || std::vec![f32::NAN; len];
                let (mut s_bar, mut a_bar, mut s_bar_ref, mut a_bar_ref) = (nan(), nan(), nan(), nan());
                let dtau = simd::relaxed_sample_adjoint_row(&y, &a, &e, &y_bar, c, w, &mut s_bar, &mut a_bar);
                let dtau_ref =
                    scalar::relaxed_sample_adjoint_row(&y, &a, &e, &y_bar, c, w, &mut s_bar_ref, &mut a_bar_ref);
                assert_eq!((bits(&s_bar), bits(&a_bar)), (bits(&s_bar_ref), bits(&a_bar_ref)), "len {len}, {relax:?}");
                assert_eq!(dtau.to_bits(), dtau_ref.to_bits(), "len {len}, {relax:?}");
                // The tangent, with ȳ̇ in s_bar_dot on entry.
                let (mut s_bar_dot, mut a_bar_dot) = (inputs(len, 2 * seed + 9), nan());
                let (mut s_bar_dot_ref, mut a_bar_dot_ref) = (s_bar_dot.clone(), nan());
                let adjoints = (&y_bar[..], &s_bar[..]);
                simd::relaxed_sample_adjoint_tangent_row(
                    &y,
                    &y_dot,
                    &a,
                    &a_dot,
                    adjoints,
                    c,
                    w,
                    &mut s_bar_dot,
                    &mut a_bar_dot,
                );
                let (sd, ad) = (&mut s_bar_dot_ref, &mut a_bar_dot_ref);
                scalar::relaxed_sample_adjoint_tangent_row(&y, &y_dot, &a, &a_dot, adjoints, c, w, sd, ad);
                assert_eq!(bits(&s_bar_dot), bits(&s_bar_dot_ref), "tangent, len {len}, {relax:?}");
                assert_eq!(bits(&a_bar_dot), bits(&a_bar_dot_ref), "tangent, len {len}, {relax:?}");
            }
        }
    }

    #[test]
    fn fused_combine_is_bit_identical_to_axpy_then_dot() {
        use super::simd;
        // Lengths around the lane count and the 1024-element flush, with and without a tail.
        for len in [0, 1, 7, 8, 9, 1023, 1024, 1025, 2048 + 13, 5000] {
            // Odd seeds: random values only (the edge values would overflow the squares).
            let (y0, x) = (inputs(len, 2 * len as u64 + 1), inputs(len, 2 * len as u64 + 3));
            let a = -0.37f32;
            let mut y_ref = y0.clone();
            let squares_ref = simd::axpy_sum_squares(&mut y_ref, a, &x);
            let dot_ref = simd::dot(&y_ref, &x);
            let mut y = y0.clone();
            let (squares, dot) = simd::axpy_sum_squares_dot(&mut y, a, &x);
            assert_eq!(
                y.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                y_ref.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
            assert_eq!((squares.to_bits(), dot.to_bits()), (squares_ref.to_bits(), dot_ref.to_bits()), "len {len}");
            // With x = 0 the axpy is the identity and the sum is sum_squares's, bit for bit.
            let mut y_zero = y0.clone();
            let zero_squares = simd::axpy_sum_squares(&mut y_zero, a, &std::vec![0.0; len]);
            assert_eq!(simd::sum_squares(&y0).to_bits(), zero_squares.to_bits(), "len {len}");
            let exact: f64 = y0.iter().map(|&v| v as f64 * v as f64).sum();
            assert!((simd::sum_squares(&y0) - exact).abs() <= 1e-6 * exact, "len {len}");
        }
    }
}
