//! Dense kernels over a batch: the scalar reference ([`scalar`]) and the SIMD path ([`simd`]),
//! with identical names and signatures.
//!
//! # Layout
//! Weights are stored **input-major**: `w[i][o]` (flat `w[i * n_out + o]`) connects input `i`
//! to output `o`. Every kernel then streams contiguous runs of `n_out` weights:
//! the forward pass `y += x·W` is a sum of weight rows scaled by inputs (and skips nothing
//! for dense inputs, but a binary input selects whole rows), the input gradient `dx = dy·Wᵀ`
//! is a dot product of `dy` with each weight row, and the weight gradient `dW += xᵀ·dy` adds a
//! scaled `dy` to each weight row. All three vectorise along `n_out` without gathers.
//!
//! # Panics
//! The kernels index with the dimensions they are given: `w` must hold `n_in · n_out` values.
//! The typed layers ([`crate::Dense`]) guarantee this by construction.

pub mod scalar;
pub mod simd;

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    fn fill(len: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
            })
            .collect()
    }

    const DIMS: [usize; 7] = [1, 3, 8, 9, 16, 17, 33];
    const ROWS: [usize; 6] = [0, 1, 3, 4, 5, 9];
    /// Summation order differs (and FMA may fuse): allow a few ulp of Σ|terms|.
    const REL: f32 = 4e-6;

    fn close(a: &[f32], b: &[f32], scale: &[f32]) {
        for ((x, y), s) in a.iter().zip(b).zip(scale) {
            assert!((x - y).abs() <= REL * (s + 1.0), "{x} vs {y} (scale {s})");
        }
    }

    /// Σ|terms| per output, from the scalar kernel on absolute values.
    fn abs_of(v: &[f32]) -> Vec<f32> {
        v.iter().map(|x| x.abs()).collect()
    }

    #[test]
    fn simd_matches_scalar_for_all_shapes_including_ragged_ones() {
        let mut seed = 1;
        for &n_in in &DIMS {
            for &n_out in &DIMS {
                for &rows in &ROWS {
                    seed += 1;
                    let x = fill(rows * n_in, seed);
                    let w = fill(n_in * n_out, seed + 100);
                    let y0 = fill(rows * n_out, seed + 200);
                    let (ax, aw) = (abs_of(&x), abs_of(&w));

                    let (mut ys, mut yv, mut scale) = (y0.clone(), y0.clone(), abs_of(&y0));
                    super::scalar::matmul_acc(&x, &w, &mut ys, n_in, n_out);
                    super::simd::matmul_acc(&x, &w, &mut yv, n_in, n_out);
                    super::scalar::matmul_acc(&ax, &aw, &mut scale, n_in, n_out);
                    close(&ys, &yv, &scale);

                    let dx0 = fill(rows * n_in, seed + 300);
                    let (mut ds, mut dv, mut scale) = (dx0.clone(), dx0.clone(), abs_of(&dx0));
                    super::scalar::matmul_t_acc(&y0, &w, &mut ds, n_in, n_out);
                    super::simd::matmul_t_acc(&y0, &w, &mut dv, n_in, n_out);
                    super::scalar::matmul_t_acc(&abs_of(&y0), &aw, &mut scale, n_in, n_out);
                    close(&ds, &dv, &scale);

                    let (mut gs, mut gv, mut scale) = (w.clone(), w.clone(), aw.clone());
                    super::scalar::outer_acc(&x, &y0, &mut gs, n_in, n_out);
                    super::simd::outer_acc(&x, &y0, &mut gv, n_in, n_out);
                    super::scalar::outer_acc(&ax, &abs_of(&y0), &mut scale, n_in, n_out);
                    close(&gs, &gv, &scale);
                }
            }
        }
    }

    #[test]
    fn scalar_kernels_match_hand_computed_values() {
        // x = [[1, 2]], W = [[1, 2, 3], [4, 5, 6]] (input-major): y = [9, 12, 15].
        let x = [1.0, 2.0];
        let w = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut y = [0.0; 3];
        super::scalar::matmul_acc(&x, &w, &mut y, 2, 3);
        assert_eq!(y, [9.0, 12.0, 15.0]);
        // dx = dy·Wᵀ with dy = [1, 0, -1]: [1 − 3, 4 − 6] = [−2, −2].
        let mut dx = [0.0; 2];
        super::scalar::matmul_t_acc(&[1.0, 0.0, -1.0], &w, &mut dx, 2, 3);
        assert_eq!(dx, [-2.0, -2.0]);
        // dW = xᵀ·dy.
        let mut dw = [0.0; 6];
        super::scalar::outer_acc(&x, &[1.0, 0.0, -1.0], &mut dw, 2, 3);
        assert_eq!(dw, [1.0, 0.0, -1.0, 2.0, 0.0, -2.0]);
    }
}
