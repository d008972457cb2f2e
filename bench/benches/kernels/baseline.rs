//! The kernels as they were before the register-blocking rewrite (`f32x8`, 4 rows × 16
//! columns), kept verbatim as the "before" of the comparison.

use rebar_core::math::simd::{load, store};
use wide::f32x8;
/// Rows processed together in one register block.
const ROW_BLOCK: usize = 4;

/// y += x · W
pub fn matmul_acc(x: &[f32], w: &[f32], y: &mut [f32], n_in: usize, n_out: usize) {
    let rows = (y.len() / n_out.max(1)).min(x.len() / n_in.max(1));
    let w = &w[..n_in * n_out];
    let mut r = 0;
    while r + ROW_BLOCK <= rows {
        matmul_acc_block::<ROW_BLOCK>(&x[r * n_in..], w, &mut y[r * n_out..], n_in, n_out);
        r += ROW_BLOCK;
    }
    while r < rows {
        matmul_acc_block::<1>(&x[r * n_in..], w, &mut y[r * n_out..], n_in, n_out);
        r += 1;
    }
}

#[inline(always)]
fn matmul_acc_block<const R: usize>(x: &[f32], w: &[f32], y: &mut [f32], n_in: usize, n_out: usize) {
    let x = &x[..R * n_in];
    let y = &mut y[..R * n_out];
    let mut c = 0;
    while c + 16 <= n_out {
        let mut acc0 = [f32x8::ZERO; R];
        let mut acc1 = [f32x8::ZERO; R];
        for r in 0..R {
            acc0[r] = load(&y[r * n_out + c..]);
            acc1[r] = load(&y[r * n_out + c + 8..]);
        }
        for (i, wi) in w.chunks_exact(n_out).enumerate() {
            let w0 = load(&wi[c..]);
            let w1 = load(&wi[c + 8..]);
            for r in 0..R {
                let xr = f32x8::splat(x[r * n_in + i]);
                acc0[r] = xr.mul_add(w0, acc0[r]);
                acc1[r] = xr.mul_add(w1, acc1[r]);
            }
        }
        for r in 0..R {
            store(&mut y[r * n_out + c..], acc0[r]);
            store(&mut y[r * n_out + c + 8..], acc1[r]);
        }
        c += 16;
    }
    if c + 8 <= n_out {
        let mut acc = [f32x8::ZERO; R];
        for r in 0..R {
            acc[r] = load(&y[r * n_out + c..]);
        }
        for (i, wi) in w.chunks_exact(n_out).enumerate() {
            let w0 = load(&wi[c..]);
            for r in 0..R {
                acc[r] = f32x8::splat(x[r * n_in + i]).mul_add(w0, acc[r]);
            }
        }
        for r in 0..R {
            store(&mut y[r * n_out + c..], acc[r]);
        }
        c += 8;
    }
    if c < n_out {
        for r in 0..R {
            let xr = &x[r * n_in..(r + 1) * n_in];
            let yr = &mut y[r * n_out + c..(r + 1) * n_out];
            for (&xi, wi) in xr.iter().zip(w.chunks_exact(n_out)) {
                for (yo, &wio) in yr.iter_mut().zip(&wi[c..]) {
                    *yo += xi * wio;
                }
            }
        }
    }
}

/// dx += dy · Wᵀ
pub fn matmul_t_acc(dy: &[f32], w: &[f32], dx: &mut [f32], n_in: usize, n_out: usize) {
    let rows = (dx.len() / n_in.max(1)).min(dy.len() / n_out.max(1));
    let w = &w[..n_in * n_out];
    let mut r = 0;
    while r + ROW_BLOCK <= rows {
        matmul_t_acc_block::<ROW_BLOCK>(&dy[r * n_out..], w, &mut dx[r * n_in..], n_in, n_out);
        r += ROW_BLOCK;
    }
    while r < rows {
        matmul_t_acc_block::<1>(&dy[r * n_out..], w, &mut dx[r * n_in..], n_in, n_out);
        r += 1;
    }
}

#[inline(always)]
fn matmul_t_acc_block<const R: usize>(dy: &[f32], w: &[f32], dx: &mut [f32], n_in: usize, n_out: usize) {
    let dy = &dy[..R * n_out];
    let dx = &mut dx[..R * n_in];
    let full = n_out / 8 * 8;
    for (i, wi) in w.chunks_exact(n_out).enumerate() {
        let mut acc = [f32x8::ZERO; R];
        let mut c = 0;
        while c < full {
            let wv = load(&wi[c..]);
            for r in 0..R {
                acc[r] = load(&dy[r * n_out + c..]).mul_add(wv, acc[r]);
            }
            c += 8;
        }
        for r in 0..R {
            let tail: f32 = dy[r * n_out + full..(r + 1) * n_out].iter().zip(&wi[full..]).map(|(&d, &v)| d * v).sum();
            dx[r * n_in + i] += acc[r].reduce_add() + tail;
        }
    }
}

/// dW += xᵀ · dy
pub fn outer_acc(x: &[f32], dy: &[f32], dw: &mut [f32], n_in: usize, n_out: usize) {
    let rows = (x.len() / n_in.max(1)).min(dy.len() / n_out.max(1));
    let x = &x[..rows * n_in];
    let dy = &dy[..rows * n_out];
    let full = n_out / 8 * 8;
    for (i, dwi) in dw.chunks_exact_mut(n_out).take(n_in).enumerate() {
        let mut c = 0;
        while c + 16 <= full {
            let mut a0 = load(&dwi[c..]);
            let mut a1 = load(&dwi[c + 8..]);
            for r in 0..rows {
                let xr = f32x8::splat(x[r * n_in + i]);
                a0 = xr.mul_add(load(&dy[r * n_out + c..]), a0);
                a1 = xr.mul_add(load(&dy[r * n_out + c + 8..]), a1);
            }
            store(&mut dwi[c..], a0);
            store(&mut dwi[c + 8..], a1);
            c += 16;
        }
        if c < full {
            let mut a0 = load(&dwi[c..]);
            for r in 0..rows {
                a0 = f32x8::splat(x[r * n_in + i]).mul_add(load(&dy[r * n_out + c..]), a0);
            }
            store(&mut dwi[c..], a0);
        }
        for r in 0..rows {
            let xi = x[r * n_in + i];
            for (d, &g) in dwi[full..].iter_mut().zip(&dy[r * n_out + full..(r + 1) * n_out]) {
                *d += xi * g;
            }
        }
    }
}
