//! The affine layer followed by tanh: y = tanh(x·W + b).

use super::{BinaryRows, Dense, GradWrite, Net, rows};
use crate::math::simd::{load, store, tanh_in_place};
use crate::tensors::impl_tensors_for_fields;
use bytemuck::Zeroable;
use rand_core::Rng;
use wide::f32x8;

/// y = tanh(x·W + b): a hidden layer of the nonlinear networks.
#[derive(Zeroable)]
#[repr(C)]
pub struct TanhDense<const IN: usize, const OUT: usize> {
    /// The affine part.
    pub dense: Dense<IN, OUT>,
}

impl_tensors_for_fields!(TanhDense<IN, OUT>, [(dense, Dense<IN, OUT>, "dense")], [const IN: usize, const OUT: usize]);

/// out[j] = a[j] ⊙ (1 − y[j]²), the tanh derivative expressed through the output y.
fn times_tanh_derivative(a: &[f32], y: &[f32], out: &mut [f32], accumulate: bool) {
    let mut ac = a.chunks_exact(8);
    let mut yc = y.chunks_exact(8);
    let mut oc = out.chunks_exact_mut(8);
    for ((a8, y8), o8) in (&mut ac).zip(&mut yc).zip(&mut oc) {
        let yv = load(y8);
        let mut v = load(a8) * (f32x8::ONE - yv * yv);
        if accumulate {
            v += load(o8);
        }
        store(o8, v);
    }
    for ((&a, &y), o) in ac.remainder().iter().zip(yc.remainder()).zip(oc.into_remainder()) {
        let v = a * (1.0 - y * y);
        *o = if accumulate { *o + v } else { v };
    }
}

impl<const IN: usize, const OUT: usize> Net<IN, OUT> for TanhDense<IN, OUT> {
    /// Workspace for the pre-activation adjoint (in `adj`), the pre-activation tangent (in
    /// `h_dot`) and the adjoint's tangent (in `adj_dot`); unused in `h`.
    type Hidden<const B: usize> = [[f32; OUT]; B];

    fn init<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        self.dense.init(rng);
    }

    // The dense passes are the binary ones with no binary form: each part's `*_binary(None)`
    // is exactly its dense pass, so there is one implementation of each to keep right.
    fn forward<const B: usize>(&self, x: &[[f32; IN]], y: &mut [[f32; OUT]], h: &mut [[f32; OUT]; B]) {
        self.forward_binary::<B>(x, None, y, h);
    }

    fn backward<const B: usize>(
        &self,
        x: &[[f32; IN]],
        y: &[[f32; OUT]],
        h: &[[f32; OUT]; B],
        dy: &[[f32; OUT]],
        dx: Option<&mut [[f32; IN]]>,
        grad: Option<(&mut Self, GradWrite)>,
        adj: &mut [[f32; OUT]; B],
    ) {
        self.backward_binary::<B>(x, None, y, h, dy, dx, grad, adj);
    }

    fn tangent<const B: usize>(
        &self,
        x: &[[f32; IN]],
        y: &[[f32; OUT]],
        h: &[[f32; OUT]; B],
        x_dot: Option<&[[f32; IN]]>,
        dir: Option<(&Self, &[f32])>,
        y_dot: &mut [[f32; OUT]],
        h_dot: &mut [[f32; OUT]; B],
    ) {
        self.tangent_binary::<B>(x, None, y, h, x_dot, dir, y_dot, h_dot);
    }

    fn forward_binary<const B: usize>(
        &self,
        x: &[[f32; IN]],
        binary: Option<BinaryRows<'_>>,
        y: &mut [[f32; OUT]],
        _h: &mut [[f32; OUT]; B],
    ) {
        let n = rows(&[x.len(), y.len()]);
        self.dense.forward_binary::<B>(&x[..n], binary, &mut y[..n], &mut ());
        tanh_in_place(y[..n].as_flattened_mut());
    }

    fn backward_binary<const B: usize>(
        &self,
        x: &[[f32; IN]],
        binary: Option<BinaryRows<'_>>,
        y: &[[f32; OUT]],
        _h: &[[f32; OUT]; B],
        dy: &[[f32; OUT]],
        dx: Option<&mut [[f32; IN]]>,
        grad: Option<(&mut Self, GradWrite)>,
        adj: &mut [[f32; OUT]; B],
    ) {
        let n = rows(&[x.len(), y.len(), dy.len(), B]);
        let g = &mut adj[..n];
        times_tanh_derivative(dy[..n].as_flattened(), y[..n].as_flattened(), g.as_flattened_mut(), false);
        self.dense.backward_binary::<B>(
            &x[..n],
            binary,
            &y[..n],
            &(),
            g,
            dx,
            grad.map(|(g, w)| (&mut g.dense, w)),
            &mut (),
        );
    }

    fn tangent_binary<const B: usize>(
        &self,
        x: &[[f32; IN]],
        binary: Option<BinaryRows<'_>>,
        y: &[[f32; OUT]],
        _h: &[[f32; OUT]; B],
        x_dot: Option<&[[f32; IN]]>,
        dir: Option<(&Self, &[f32])>,
        y_dot: &mut [[f32; OUT]],
        h_dot: &mut [[f32; OUT]; B],
    ) {
        let n = rows(&[x.len(), y.len(), y_dot.len(), B]);
        let pre_dot = &mut h_dot[..n];
        pre_dot.fill([0.0; OUT]);
        self.dense.tangent_binary::<B>(
            &x[..n],
            binary,
            &y[..n],
            &(),
            x_dot,
            dir.map(|(d, s)| (&d.dense, s)),
            pre_dot,
            &mut (),
        );
        times_tanh_derivative(pre_dot.as_flattened(), y[..n].as_flattened(), y_dot[..n].as_flattened_mut(), true);
    }

    fn backward_tangent<const B: usize>(
        &self,
        y: &[[f32; OUT]],
        _h: &[[f32; OUT]; B],
        y_dot: &[[f32; OUT]],
        _h_dot: &[[f32; OUT]; B],
        dy: &[[f32; OUT]],
        _adj: &[[f32; OUT]; B],
        dy_dot: &[[f32; OUT]],
        dx_dot: &mut [[f32; IN]],
        adj_dot: &mut [[f32; OUT]; B],
    ) {
        let n = rows(&[y.len(), y_dot.len(), dy.len(), dy_dot.len(), B]);
        // g = dy ⊙ (1 − y²)  ⇒  ġ = ḋy ⊙ (1 − y²) − 2·dy ⊙ y ⊙ ẏ
        let g_dot = &mut adj_dot[..n];
        for r in 0..n {
            for j in 0..OUT {
                let (yv, dv) = (y[r][j], dy[r][j]);
                g_dot[r][j] = dy_dot[r][j] * (1.0 - yv * yv) - 2.0 * dv * yv * y_dot[r][j];
            }
        }
        self.dense.backward_input_rows(g_dot, dx_dot);
    }
}
