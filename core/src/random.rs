//! Random numbers from any `rand_core::Rng`: open-interval uniforms (the noise u of every
//! estimator) and the truncated normal of the weight initialisation.
//!
//! Every value is a fixed function of the generator's output stream, so a seeded generator gives
//! bit-identical results on every platform.

use rand_core::Rng;

/// A uniform draw from the open interval (0, 1): `(k + 0.5) / 2^24` for a 24-bit integer `k`.
/// Neither end is reachable, and the distribution is symmetric under u ↦ 1 − u (exactly: the
/// grid is symmetric), which the antithetic estimators (ARM, DisARM) rely on.
#[inline]
pub fn uniform<R: Rng + ?Sized>(rng: &mut R) -> f32 {
    const SCALE: f32 = 1.0 / (1u32 << 24) as f32;
    ((rng.next_u32() >> 8) as f32 + 0.5) * SCALE
}

/// Fills `out` with independent [`uniform`] draws, in order.
pub fn fill_uniform<R: Rng + ?Sized>(rng: &mut R, out: &mut [f32]) {
    for v in out {
        *v = uniform(rng);
    }
}

/// A standard normal draw (Box–Muller, cosine branch; one draw per two uniforms).
pub fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f32 {
    let u1 = uniform(rng);
    let u2 = uniform(rng);
    libm::sqrtf(-2.0 * libm::logf(u1)) * libm::cosf(core::f32::consts::TAU * u2)
}

/// A standard normal draw truncated to [−2, 2] by rejection, as TensorFlow's
/// `truncated_normal` (about 4.6% of draws are rejected).
pub fn truncated_normal<R: Rng + ?Sized>(rng: &mut R) -> f32 {
    loop {
        let z = standard_normal(rng);
        if z.abs() <= 2.0 {
            return z;
        }
    }
}

/// The official initialisation of a weight tensor with `fan_in` inputs (TF-contrib
/// `variance_scaling_initializer()` defaults: factor 2, FAN_IN, truncated normal, whose 1.3
/// correction makes the standard-deviation parameter √(2.6 / fan_in)).
pub fn init_weights<R: Rng + ?Sized>(rng: &mut R, w: &mut [f32], fan_in: usize) {
    let std = libm::sqrtf(2.6 / fan_in.max(1) as f32);
    for v in w {
        *v = std * truncated_normal(rng);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    #[test]
    fn uniforms_are_strictly_inside_the_unit_interval_with_mean_one_half() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let n = 100_000;
        let mut sum = 0.0f64;
        for _ in 0..n {
            let u = uniform(&mut rng);
            assert!(u > 0.0 && u < 1.0);
            sum += u as f64;
        }
        // Standard error of the mean is √(1/12/n) ≈ 9e-4; 5 σ.
        assert!((sum / n as f64 - 0.5).abs() < 5.0 * 9.2e-4);
        // The extreme grid points are symmetric.
        let lo = 0.5f32 / (1u32 << 24) as f32;
        assert_eq!(1.0 - lo, ((1u32 << 24) as f32 - 0.5) / (1u32 << 24) as f32);
    }

    #[test]
    fn truncated_normal_has_the_truncated_moments() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
        let n = 200_000;
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for _ in 0..n {
            let z = truncated_normal(&mut rng) as f64;
            assert!(z.abs() <= 2.0);
            s1 += z;
            s2 += z * z;
        }
        // Variance of N(0,1) truncated to [−2, 2]: 1 − 2·2·φ(2)/(2Φ(2) − 1) = 0.773741.
        let var = s2 / n as f64 - (s1 / n as f64).powi(2);
        assert!((s1 / n as f64).abs() < 0.01, "mean {}", s1 / n as f64);
        assert!((var - 0.773_741).abs() < 0.01, "variance {var}");
    }
}
