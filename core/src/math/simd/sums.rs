//! Reductions over long slices: dot products and sums of squares (with f64 flushes, for
//! parameter-sized vectors) and log-sum-exp.

use super::{LANES, exp_x8, load, store, zip_sum};
use wide::f32x8;

/// Σ a_j·b_j, with f32x8 partial sums flushed to f64 every 1024 elements (so that sums over
/// hundreds of thousands of parameters keep their precision).
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    let mut total = 0.0f64;
    for (ac, bc) in a[..n].chunks(1024).zip(b[..n].chunks(1024)) {
        total += zip_sum(ac, bc, |x, y| x * y) as f64;
    }
    total
}

/// y += a·x elementwise, returning Σ y_j² of the result (f64, flushed as in [`dot`]).
pub fn axpy_sum_squares(y: &mut [f32], a: f32, x: &[f32]) -> f64 {
    let n = y.len().min(x.len());
    let av = f32x8::splat(a);
    let mut total = 0.0f64;
    for (yc, xc) in y[..n].chunks_mut(1024).zip(x[..n].chunks(1024)) {
        let mut acc = f32x8::ZERO;
        let mut ys = yc.chunks_exact_mut(LANES);
        let mut xs = xc.chunks_exact(LANES);
        for (y8, x8) in (&mut ys).zip(&mut xs) {
            let v = av.mul_add(load(x8), load(y8));
            store(y8, v);
            acc = v.mul_add(v, acc);
        }
        let mut tail = 0.0f32;
        for (yv, &xv) in ys.into_remainder().iter_mut().zip(xs.remainder()) {
            *yv += a * xv;
            tail += *yv * *yv;
        }
        total += (acc.reduce_add() + tail) as f64;
    }
    total
}

/// Σ y_j², accumulated exactly as [`axpy_sum_squares`] accumulates it (so that a tensor whose
/// `x` is known to be zero can skip the axpy and get the identical sum).
pub fn sum_squares(y: &[f32]) -> f64 {
    let mut total = 0.0f64;
    for yc in y.chunks(1024) {
        let mut acc = f32x8::ZERO;
        let mut ys = yc.chunks_exact(LANES);
        for y8 in &mut ys {
            let v = load(y8);
            acc = v.mul_add(v, acc);
        }
        let mut tail = 0.0f32;
        for &yv in ys.remainder() {
            tail += yv * yv;
        }
        total += (acc.reduce_add() + tail) as f64;
    }
    total
}

/// [`axpy_sum_squares`] and then [`dot`]`(y, x)` of the result, in one pass over `y` and `x`
/// and with bit-identical results to the two calls: returns (Σ y_j², Σ y_j·x_j).
pub fn axpy_sum_squares_dot(y: &mut [f32], a: f32, x: &[f32]) -> (f64, f64) {
    let n = y.len().min(x.len());
    let av = f32x8::splat(a);
    let (mut squares, mut products) = (0.0f64, 0.0f64);
    for (yc, xc) in y[..n].chunks_mut(1024).zip(x[..n].chunks(1024)) {
        let (mut acc, mut acc_dot) = (f32x8::ZERO, f32x8::ZERO);
        let mut ys = yc.chunks_exact_mut(LANES);
        let mut xs = xc.chunks_exact(LANES);
        for (y8, x8) in (&mut ys).zip(&mut xs) {
            let x8 = load(x8);
            let v = av.mul_add(x8, load(y8));
            store(y8, v);
            acc = v.mul_add(v, acc);
            acc_dot += v * x8;
        }
        let (mut tail, mut tail_products) = (0.0f32, [0.0f32; LANES]);
        for ((yv, &xv), p) in ys.into_remainder().iter_mut().zip(xs.remainder()).zip(&mut tail_products) {
            *yv += a * xv;
            tail += *yv * *yv;
            *p = *yv * xv;
        }
        let tail_len = yc.len() % LANES;
        squares += (acc.reduce_add() + tail) as f64;
        products += (acc_dot.reduce_add() + tail_products[..tail_len].iter().sum::<f32>()) as f64;
    }
    (squares, products)
}

/// log Σ_j e^{x_j}, shifted by the maximum. Empty input gives −∞.
pub fn logsumexp(x: &[f32]) -> f32 {
    let mut chunks = x.chunks_exact(LANES);
    let mut vmax = f32x8::splat(f32::NEG_INFINITY);
    for c in &mut chunks {
        vmax = vmax.max(load(c));
    }
    let m = chunks
        .remainder()
        .iter()
        .copied()
        .fold(vmax.to_array().into_iter().fold(f32::NEG_INFINITY, libm::fmaxf), libm::fmaxf);
    if !m.is_finite() {
        return m;
    }
    let vm = f32x8::splat(m);
    let mut acc = f32x8::ZERO;
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        acc += exp_x8(load(c) - vm);
    }
    let tail: f32 = chunks.remainder().iter().map(|&v| libm::expf(v - m)).sum();
    m + libm::logf(acc.reduce_add() + tail)
}
