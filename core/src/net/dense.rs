//! The affine layer y = x·W + b.

use super::{Net, rows};
use crate::linalg::simd as k;
use crate::random::init_weights;
use crate::tensors::impl_tensors_for_fields;
use bytemuck::Zeroable;
use rand_core::Rng;

/// An affine layer from `IN` to `OUT` values: y = x·W + b.
///
/// Weights are input-major (`w[i][o]` connects input `i` to output `o`; see
/// [`crate::linalg`] for why). A value of this type is large for the paper's shapes
/// (784 × 200 × 4 bytes = 627 KB): keep it in a `static` or a `Box`, never on a small stack.
#[derive(Zeroable)]
#[repr(C)]
pub struct Dense<const IN: usize, const OUT: usize> {
    /// Weights, `w[i][o]`.
    pub w: [[f32; OUT]; IN],
    /// Biases.
    pub b: [f32; OUT],
}

impl_tensors_for_fields!(Dense<IN, OUT>, [(w, [[f32; OUT]; IN], "w"), (b, [f32; OUT], "b")], [const IN: usize, const OUT: usize]);

impl<const IN: usize, const OUT: usize> Dense<IN, OUT> {
    /// y = x·W + b for every row.
    pub fn forward_rows(&self, x: &[[f32; IN]], y: &mut [[f32; OUT]]) {
        let n = rows(&[x.len(), y.len()]);
        for yr in &mut y[..n] {
            *yr = self.b;
        }
        k::matmul_acc(x[..n].as_flattened(), self.w.as_flattened(), y[..n].as_flattened_mut(), IN, OUT);
    }

    /// dx += dy·Wᵀ for every row.
    pub fn backward_input_rows(&self, dy: &[[f32; OUT]], dx: &mut [[f32; IN]]) {
        let n = rows(&[dy.len(), dx.len()]);
        k::matmul_t_acc(dy[..n].as_flattened(), self.w.as_flattened(), dx[..n].as_flattened_mut(), IN, OUT);
    }

    /// grad.w += xᵀ·dy and grad.b += Σ_rows dy.
    pub fn backward_params_rows(x: &[[f32; IN]], dy: &[[f32; OUT]], grad: &mut Self) {
        let n = rows(&[x.len(), dy.len()]);
        k::outer_acc(x[..n].as_flattened(), dy[..n].as_flattened(), grad.w.as_flattened_mut(), IN, OUT);
        for dyr in &dy[..n] {
            for (g, &d) in grad.b.iter_mut().zip(dyr) {
                *g += d;
            }
        }
    }

    /// y_dot += x_dot·W + x·(s_w·dW) + s_b·db: the forward-mode product in the input and in the
    /// parameters (direction `dir`, per-tensor scales `scales = [s_w, s_b]`).
    pub fn tangent_rows(
        &self,
        x: &[[f32; IN]],
        x_dot: Option<&[[f32; IN]]>,
        dir: Option<(&Self, &[f32])>,
        y_dot: &mut [[f32; OUT]],
    ) {
        let n = rows(&[x.len(), y_dot.len()]);
        let y_dot = &mut y_dot[..n];
        if let Some(x_dot) = x_dot {
            let n = n.min(x_dot.len());
            k::matmul_acc(x_dot[..n].as_flattened(), self.w.as_flattened(), y_dot[..n].as_flattened_mut(), IN, OUT);
        }
        if let Some((d, scales)) = dir {
            let (s_w, s_b) = (scales.first().copied().unwrap_or(1.0), scales.get(1).copied().unwrap_or(1.0));
            // x·(s_w·dW) = s_w·(x·dW): scale the rows' inputs rather than the weights.
            for (xr, yr) in x[..n].iter().zip(y_dot.iter_mut()) {
                let mut xs = [0.0f32; IN];
                for (a, &b) in xs.iter_mut().zip(xr) {
                    *a = s_w * b;
                }
                k::matmul_acc(&xs, d.w.as_flattened(), yr, IN, OUT);
                for (y, &b) in yr.iter_mut().zip(&d.b) {
                    *y += s_b * b;
                }
            }
        }
    }
}

impl<const IN: usize, const OUT: usize> Net<IN, OUT> for Dense<IN, OUT> {
    type Hidden<const B: usize> = ();

    fn init<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        init_weights(rng, self.w.as_flattened_mut(), IN);
        self.b = [0.0; OUT];
    }

    fn forward<const B: usize>(&self, x: &[[f32; IN]], y: &mut [[f32; OUT]], _: &mut ()) {
        self.forward_rows(x, y);
    }

    fn backward<const B: usize>(
        &self,
        x: &[[f32; IN]],
        _y: &[[f32; OUT]],
        _h: &(),
        dy: &[[f32; OUT]],
        dx: Option<&mut [[f32; IN]]>,
        grad: Option<&mut Self>,
        _adj: &mut (),
    ) {
        if let Some(dx) = dx {
            self.backward_input_rows(dy, dx);
        }
        if let Some(grad) = grad {
            Self::backward_params_rows(x, dy, grad);
        }
    }

    fn tangent<const B: usize>(
        &self,
        x: &[[f32; IN]],
        _y: &[[f32; OUT]],
        _h: &(),
        x_dot: Option<&[[f32; IN]]>,
        dir: Option<(&Self, &[f32])>,
        y_dot: &mut [[f32; OUT]],
        _h_dot: &mut (),
    ) {
        self.tangent_rows(x, x_dot, dir, y_dot);
    }

    fn backward_tangent<const B: usize>(
        &self,
        _y: &[[f32; OUT]],
        _h: &(),
        _y_dot: &[[f32; OUT]],
        _h_dot: &(),
        _dy: &[[f32; OUT]],
        _adj: &(),
        dy_dot: &[[f32; OUT]],
        dx_dot: &mut [[f32; IN]],
        _adj_dot: &mut (),
    ) {
        // dx = dy·Wᵀ is linear in dy and does not depend on x.
        self.backward_input_rows(dy_dot, dx_dot);
    }
}
