//! Scalar reference for the dense kernels: plain loops in the obvious order. The SIMD kernels in
//! [`super::simd`] must agree with these up to summation-order rounding.
//!
//! Shapes (all row-major, flat): `x` is `rows × n_in`, `w` is `n_in × n_out` (input-major:
//! `w[i * n_out + o]` connects input `i` to output `o`), `y`/`dy` are `rows × n_out`.
//! `rows` is taken from `y.len() / n_out` (or `dy`); extra elements are ignored.

use super::BinaryRows;

/// y += x · W
pub fn matmul_acc(x: &[f32], w: &[f32], y: &mut [f32], n_in: usize, n_out: usize) {
    for (xr, yr) in x.chunks_exact(n_in).zip(y.chunks_exact_mut(n_out)) {
        for (&xi, wi) in xr.iter().zip(w.chunks_exact(n_out)) {
            for (yo, &wio) in yr.iter_mut().zip(wi) {
                *yo += xi * wio;
            }
        }
    }
}

/// dx += dy · Wᵀ
pub fn matmul_t_acc(dy: &[f32], w: &[f32], dx: &mut [f32], n_in: usize, n_out: usize) {
    for (dyr, dxr) in dy.chunks_exact(n_out).zip(dx.chunks_exact_mut(n_in)) {
        for (dxi, wi) in dxr.iter_mut().zip(w.chunks_exact(n_out)) {
            *dxi += dyr.iter().zip(wi).map(|(&d, &wv)| d * wv).sum::<f32>();
        }
    }
}

/// dW += xᵀ · dy
pub fn outer_acc(x: &[f32], dy: &[f32], dw: &mut [f32], n_in: usize, n_out: usize) {
    for (xr, dyr) in x.chunks_exact(n_in).zip(dy.chunks_exact(n_out)) {
        for (&xi, dwi) in xr.iter().zip(dw.chunks_exact_mut(n_out)) {
            for (d, &g) in dwi.iter_mut().zip(dyr) {
                *d += xi * g;
            }
        }
    }
}

/// dW = xᵀ · dy
pub fn outer(x: &[f32], dy: &[f32], dw: &mut [f32], n_in: usize, n_out: usize) {
    dw[..n_in * n_out].fill(0.0);
    outer_acc(x, dy, dw, n_in, n_out);
}

/// y += x · W for binary `x` given as active indices (see [`super::simd::matmul_acc_binary`]
/// for the layout): `y[r] += Σ_{j < counts[r]} W[idx[r·n_in + j]]`.
pub fn matmul_acc_binary(idx: &[u16], counts: &[u16], w: &[f32], y: &mut [f32], n_in: usize, n_out: usize) {
    for (r, (&cnt, yr)) in counts.iter().zip(y.chunks_exact_mut(n_out)).enumerate() {
        for &i in &idx[r * n_in..r * n_in + usize::from(cnt)] {
            let wi = &w[usize::from(i) * n_out..][..n_out];
            for (yo, &wio) in yr.iter_mut().zip(wi) {
                *yo += wio;
            }
        }
    }
}

/// dW += xᵀ · dy for binary `x` given as active indices (see
/// [`super::simd::matmul_acc_binary`] for the layout): `dW[i] += Σ_{r : i active in r} dy[r]`.
pub fn outer_acc_binary(idx: &[u16], counts: &[u16], dy: &[f32], dw: &mut [f32], n_in: usize, n_out: usize) {
    for (r, (&cnt, dyr)) in counts.iter().zip(dy.chunks_exact(n_out)).enumerate() {
        for &i in &idx[r * n_in..r * n_in + usize::from(cnt)] {
            for (d, &g) in dw[usize::from(i) * n_out..][..n_out].iter_mut().zip(dyr) {
                *d += g;
            }
        }
    }
}

/// The weight gradient of a map with inputs `scale·(b_r − center)`, input by input (see
/// [`super::simd::outer_acc_binary_affine`] for the layout): `dW[i] += Σ_{r ∈ rows_of(i)}
/// scale·dy[r] − scale·center[i]·dy_sum`, the last term skipped where `center[i] = 0`.
pub fn outer_acc_binary_affine(
    bin: &BinaryRows<'_>,
    dy: &[f32],
    dy_sum: &[f32],
    dw: &mut [f32],
    n_in: usize,
    n_out: usize,
) {
    let (rows_of, counts_of, stride, scale) = (bin.rows_of, bin.counts_of, bin.stride, bin.scale);
    let rows = dy.len() / n_out.max(1);
    for (i, d) in dw[..n_in * n_out].chunks_exact_mut(n_out.max(1)).enumerate() {
        let f = -scale * bin.center[i];
        for &r in rows_of[i * stride..][..usize::from(counts_of[i])].iter().filter(|&&r| usize::from(r) < rows) {
            for (v, &g) in d.iter_mut().zip(&dy[usize::from(r) * n_out..][..n_out]) {
                *v += scale * g;
            }
        }
        if f != 0.0 {
            for (v, &s) in d.iter_mut().zip(dy_sum) {
                *v += f * s;
            }
        }
    }
}

/// [`outer_acc_binary_affine`] into a zeroed dW.
pub fn outer_binary_affine(
    bin: &BinaryRows<'_>,
    dy: &[f32],
    dy_sum: &[f32],
    dw: &mut [f32],
    n_in: usize,
    n_out: usize,
) {
    dw[..n_in * n_out].fill(0.0);
    outer_acc_binary_affine(bin, dy, dy_sum, dw, n_in, n_out);
}
