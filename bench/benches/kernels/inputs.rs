//! The benchmarks' inputs: fixed pseudo-random values and 0/1 rows.

/// Uniform values in [−1, 1) from a fixed xorshift stream.
pub(super) fn fill(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// 0/1 values, one with probability `percent`/100.
pub(super) fn binary(len: usize, percent: usize, seed: u64) -> Vec<f32> {
    fill(len, seed).into_iter().map(|v| f32::from((v * 50.0 + 50.0) < percent as f32)).collect()
}
