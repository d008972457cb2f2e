//! The exponential and the logarithm, lane-wise: [`exp_x8`] (`wide`'s polynomial, for the
//! elementwise math that need not match the scalar path), and [`exp_libm_x8`] and [`logf_x8`],
//! bit for bit `libm`'s, for the loops that must reproduce the scalar values (the noise, and the
//! σ of the models' adjoints). Each is tested here bit for bit against the function it mirrors.

use wide::{f32x8, i32x8};

/// Lane-wise e^x, bit for bit `wide`'s `f32x8::exp` (the same range reduction and polynomial),
/// about 1.8× faster: when every lane is in [−87, 88] — always, for the e^{−|x|} of sigmoid and
/// softplus, unless |x| > 87 — 2^r is built directly from its exponent bits and none of
/// `wide`'s underflow, overflow, infinity and NaN selects are needed; otherwise the whole vector
/// goes through `wide`.
#[inline]
pub fn exp_x8(x: f32x8) -> f32x8 {
    if !(x.simd_ge(f32x8::splat(-87.0)) & x.simd_le(f32x8::splat(88.0))).all() {
        return x.exp();
    }
    // x = r·ln 2 + y with |y| ≤ ln 2 / 2, ln 2 split in two so that r·ln2_hi is exact.
    let r = (x * f32x8::splat(core::f32::consts::LOG2_E)).round_ties_even();
    let y = r.mul_neg_add(f32x8::splat(0.693_359_4), x);
    let y = r.mul_neg_add(f32x8::splat(-2.121_944_4e-4), y);
    // e^y − 1 − y = y²·(1/2 + y/6 + … + y⁵/5040), in `wide`'s evaluation order.
    let c = |v: f32| f32x8::splat(v);
    let (y2, y4) = (y * y, y * y * (y * y));
    let p = c(1.0 / 120.0)
        .mul_add(y, c(1.0 / 24.0))
        .mul_add(y2, c(1.0 / 5040.0).mul_add(y, c(1.0 / 720.0)).mul_add(y4, c(1.0 / 6.0).mul_add(y, c(1.0 / 2.0))));
    let em1 = p.mul_add(y2, y);
    // 2^r for r ∈ [−126, 127]: r + 127 in the exponent field (the float sum leaves it in the
    // low mantissa bits, as `wide` does).
    let biased: i32x8 = bytemuck::cast(r + f32x8::splat(127.0 + 8_388_608.0));
    let pow2: f32x8 = bytemuck::cast(biased << 23);
    (em1 + f32x8::ONE) * pow2
}

/// Lane-wise e^x, bit for bit `libm::expf` (FreeBSD's `e_expf.c`: the same three argument
/// ranges, reduction, rational approximation and f32 operations in the same order), for the
/// loops whose scalar form calls [`crate::math::scalar::sigmoid`] and must keep its exact values. Vectors
/// with a lane of |x| ≥ 87.3 (or NaN) take `libm` lane by lane.
#[inline]
pub fn exp_libm_x8(x: f32x8) -> f32x8 {
    let bits = bytemuck::cast::<f32x8, i32x8>(x);
    let hx = bits & i32x8::splat(0x7fff_ffff);
    if !hx.simd_lt(i32x8::splat(0x42ae_ac50)).all() {
        return f32x8::new(x.to_array().map(libm::expf));
    }
    const LN2_HI: f32 = f32::from_bits(0x3f31_7200);
    const LN2_LO: f32 = f32::from_bits(0x35bf_be8e);
    const INV_LN2: f32 = f32::from_bits(0x3fb8_aa3b);
    const P1: f32 = f32::from_bits(0x3e2a_aa8f);
    const P2: f32 = f32::from_bits(0xbb35_5215);
    let c = |v: f32| f32x8::splat(v);
    let negative = x.simd_lt(f32x8::ZERO);
    // k = round(x/ln 2) for |x| > 1.04, ±1 down to |x| > 0.35, else 0 (then hi = x, lo = 0).
    let half = negative.select(c(-0.5), c(0.5));
    let k_big = (c(INV_LN2) * x + half).trunc_int();
    let negative_i = bytemuck::cast::<f32x8, i32x8>(negative); // −1 where negative, else 0
    let k_one = negative_i + negative_i + i32x8::splat(1);
    let big = hx.simd_gt(i32x8::splat(0x3f85_1592));
    let mid = hx.simd_gt(i32x8::splat(0x3eb1_7218));
    let k = big.select(k_big, mid.select(k_one, i32x8::ZERO));
    let kf = k.round_float();
    let hi = x - kf * c(LN2_HI);
    let lo = kf * c(LN2_LO);
    let r = hi - lo;
    let rr = r * r;
    let cr = r - rr * (c(P1) + rr * c(P2));
    let y = c(1.0) + (r * cr / (c(2.0) - cr) - lo + hi);
    // y·2^k with k ∈ [−126, 126] here: one multiply, as `scalbnf` does in that range.
    let pow2: f32x8 = bytemuck::cast((k + i32x8::splat(0x7f)) << 23_i32);
    let tiny = hx.simd_le(i32x8::splat(0x3900_0000));
    bytemuck::cast::<i32x8, f32x8>(tiny).select(c(1.0) + x, y * pow2)
}

/// Lane-wise ln x, bit for bit `libm::logf` (FreeBSD's `e_logf.c`: the same reduction to
/// [√2/2, √2], the same polynomial, the same f32 operations in the same order, no fused
/// multiply-adds), so that vector and scalar code draw identical noise on every platform.
/// Lanes that are not positive normal finite numbers take the whole vector through `libm`.
#[inline]
pub fn logf_x8(x: f32x8) -> f32x8 {
    if !(x.simd_ge(f32x8::splat(f32::MIN_POSITIVE)) & x.simd_le(f32x8::splat(f32::MAX))).all() {
        return f32x8::new(x.to_array().map(libm::logf));
    }
    // libm's constants, by their bits.
    const LN2_HI: f32 = f32::from_bits(0x3f31_7180);
    const LN2_LO: f32 = f32::from_bits(0x3717_f7d1);
    const LG1: f32 = f32::from_bits(0x3f2a_aaaa);
    const LG2: f32 = f32::from_bits(0x3ecc_ce13);
    const LG3: f32 = f32::from_bits(0x3e91_e9ee);
    const LG4: f32 = f32::from_bits(0x3e78_9e26);
    let c = |v: f32| f32x8::splat(v);
    // x = 2^k·m with m ∈ [√2/2, √2].
    let ix = bytemuck::cast::<f32x8, i32x8>(x) + i32x8::splat(0x3f80_0000 - 0x3f35_04f3);
    let k = (ix >> 23_i32) - i32x8::splat(0x7f);
    let m: f32x8 = bytemuck::cast((ix & i32x8::splat(0x007f_ffff)) + i32x8::splat(0x3f35_04f3));
    let f = m - f32x8::ONE;
    let s = f / (c(2.0) + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (c(LG2) + w * c(LG4));
    let t2 = z * (c(LG1) + w * c(LG3));
    let r = t2 + t1;
    let hfsq = c(0.5) * f * f;
    let dk = k.round_float();
    s * (hfsq + r) + dk * c(LN2_LO) - hfsq + f + dk * c(LN2_HI)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::scalar;
    use crate::math::simd::{LANES, logistic_noise_x8, sigmoid_libm_x8};

    /// `exp_x8` is `wide`'s exp bit for bit: every 61st float of both signs (≈ 70 million values,
    /// every exponent, both paths, ±∞ and NaN included), each lane a different input.
    #[test]
    fn exp_matches_wide_bit_for_bit() {
        let mut lanes = [0.0f32; LANES];
        let mut filled = 0;
        let check = |lanes: &[f32; LANES]| {
            let (ours, theirs) = (exp_x8(f32x8::new(*lanes)).to_array(), f32x8::new(*lanes).exp().to_array());
            for ((o, t), x) in ours.iter().zip(&theirs).zip(lanes) {
                assert!(o.to_bits() == t.to_bits() || (o.is_nan() && t.is_nan()), "exp({x:e}): {o:e} vs {t:e}");
            }
        };
        for bits in (0..=u32::MAX).step_by(61).chain([0x7F80_0000, 0xFF80_0000, 0x7FC0_0000]) {
            lanes[filled] = f32::from_bits(bits);
            filled += 1;
            if filled == LANES {
                check(&lanes);
                filled = 0;
            }
        }
        // A vector that mixes the fast range with one lane outside it takes `wide`'s path.
        check(&[-1.0, 0.5, -100.0, 3.0, 0.0, -0.0, 88.5, -86.9]);
    }

    /// `exp_libm_x8` is `libm::expf` and `sigmoid_libm_x8` is `scalar::sigmoid`, bit for bit:
    /// every 61st float of both signs (both paths, every range of the reduction).
    #[test]
    fn libm_exp_and_sigmoid_match_the_scalar_ones_bit_for_bit() {
        let same = |o: f32, t: f32| o.to_bits() == t.to_bits() || (o.is_nan() && t.is_nan());
        let mut lanes = [0.0f32; LANES];
        for (i, bits) in (0..=u32::MAX).step_by(61).chain([0x7F80_0000, 0xFF80_0000, 0x7FC0_0000]).enumerate() {
            lanes[i % LANES] = f32::from_bits(bits);
            if i % LANES == LANES - 1 {
                let (e, s) = (exp_libm_x8(f32x8::new(lanes)).to_array(), sigmoid_libm_x8(f32x8::new(lanes)).to_array());
                for ((x, e), s) in lanes.iter().zip(e).zip(s) {
                    assert!(same(e, libm::expf(*x)), "exp({x:e}): {e:e} vs {:e}", libm::expf(*x));
                    assert!(same(s, scalar::sigmoid(*x)), "sigmoid({x:e}): {s:e} vs {:e}", scalar::sigmoid(*x));
                }
            }
        }
    }

    /// `logf_x8` is `libm::logf` bit for bit: every 61st float (both signs, zeros, subnormals,
    /// ±∞ and NaN included), and every point of the uniform grid's first and last 2¹⁶ steps,
    /// where the noise's logs are largest.
    #[test]
    fn logf_matches_libm_bit_for_bit() {
        let check = |lanes: [f32; LANES]| {
            for (o, x) in logf_x8(f32x8::new(lanes)).to_array().iter().zip(&lanes) {
                let t = libm::logf(*x);
                assert!(o.to_bits() == t.to_bits() || (o.is_nan() && t.is_nan()), "logf({x:e}): {o:e} vs {t:e}");
            }
        };
        let grid = |k: u32| (k as f32 + 0.5) / (1u32 << 24) as f32;
        let values = (0..=u32::MAX).step_by(61).map(f32::from_bits).chain((0..1 << 16).map(grid));
        let values = values.chain(((1 << 24) - (1 << 16)..1 << 24).map(grid));
        let mut lanes = [1.0f32; LANES];
        for (i, v) in values.enumerate() {
            lanes[i % LANES] = v;
            if i % LANES == LANES - 1 {
                check(lanes);
            }
        }
        // And the noise built on it is the scalar noise, at the clip bounds too.
        for u in [0.0f32, 1.0, 0.5, 1e-9, 3e-8, 1.0 - 6e-8, f32::NAN, 0.25] {
            let (o, t) = (logistic_noise_x8(f32x8::splat(u)).to_array()[0], scalar::logistic_noise(u));
            assert_eq!(o.to_bits(), t.to_bits(), "logistic_noise({u:e})");
        }
    }
}
