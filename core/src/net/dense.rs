//! The affine layer y = x·W + b.

use super::{BinaryRows, GradWrite, Net, rows};
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

    /// grad.w += xᵀ·dy and grad.b += Σ_rows dy (`=` for [`GradWrite::Set`]).
    pub fn backward_params_rows(x: &[[f32; IN]], dy: &[[f32; OUT]], grad: &mut Self, write: GradWrite) {
        let n = rows(&[x.len(), dy.len()]);
        let (x, dy_flat, dw) = (x[..n].as_flattened(), dy[..n].as_flattened(), grad.w.as_flattened_mut());
        match write {
            GradWrite::Add => k::outer_acc(x, dy_flat, dw, IN, OUT),
            GradWrite::Set => {
                k::outer(x, dy_flat, dw, IN, OUT);
                grad.b = [0.0; OUT];
            }
        }
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
            // y_dot += s_w·(x·dW), folded as y_dot = s_w·(y_dot/s_w + x·dW) to use the batch kernel.
            if s_w != 0.0 {
                let flat = y_dot.as_flattened_mut();
                if s_w != 1.0 {
                    flat.iter_mut().for_each(|v| *v /= s_w);
                }
                k::matmul_acc(x[..n].as_flattened(), d.w.as_flattened(), flat, IN, OUT);
                if s_w != 1.0 {
                    flat.iter_mut().for_each(|v| *v *= s_w);
                }
            }
            for yr in y_dot.iter_mut() {
                for (y, &b) in yr.iter_mut().zip(&d.b) {
                    *y += s_b * b;
                }
            }
        }
    }
}

/// out_r += f·s·(Σ_{i: b_ri = 1} W[i] − c·W) for the rows of `bin` = s·(b − c): the product of
/// binary-structured inputs with the weights `w`, by summing selected rows.
fn binary_product_acc<const IN: usize, const OUT: usize>(
    w: &[[f32; OUT]; IN],
    bin: &BinaryRows<'_>,
    out: &mut [[f32; OUT]],
    f: f32,
) {
    let fs = f * bin.scale;
    if fs == 0.0 {
        return;
    }
    let n = out.len().min(bin.counts.len());
    let shift = center_product(w, bin);
    let out = &mut out[..n];
    if fs == 1.0 {
        for r in out.iter_mut() {
            for (o, &s) in r.iter_mut().zip(&shift) {
                *o -= s;
            }
        }
        k::matmul_acc_binary(&bin.idx[..n * IN], &bin.counts[..n], w.as_flattened(), out.as_flattened_mut(), IN, OUT);
    } else {
        // out = fs·(out/fs − c·W + Σ W[i]): fold the factor around the sum of rows.
        let inv = 1.0 / fs;
        for r in out.iter_mut() {
            for (o, &s) in r.iter_mut().zip(&shift) {
                *o = *o * inv - s;
            }
        }
        k::matmul_acc_binary(&bin.idx[..n * IN], &bin.counts[..n], w.as_flattened(), out.as_flattened_mut(), IN, OUT);
        for o in out.as_flattened_mut() {
            *o *= fs;
        }
    }
}

/// c·W, the product of the center of `bin` with the weights `w`, once for all rows.
fn center_product<const IN: usize, const OUT: usize>(w: &[[f32; OUT]; IN], bin: &BinaryRows<'_>) -> [f32; OUT] {
    let mut shift = [0.0f32; OUT];
    k::matmul_acc(&bin.center[..IN], w.as_flattened(), &mut shift, IN, OUT);
    shift
}

impl<const IN: usize, const OUT: usize> Net<IN, OUT> for Dense<IN, OUT> {
    type Hidden<const B: usize> = ();

    const TANGENT_PAIR_IN_ONE_PASS: bool = true;

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
        grad: Option<(&mut Self, GradWrite)>,
        _adj: &mut (),
    ) {
        if let Some(dx) = dx {
            self.backward_input_rows(dy, dx);
        }
        if let Some((grad, write)) = grad {
            Self::backward_params_rows(x, dy, grad, write);
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

    fn forward_binary<const B: usize>(
        &self,
        x: &[[f32; IN]],
        binary: Option<BinaryRows<'_>>,
        y: &mut [[f32; OUT]],
        h: &mut (),
    ) {
        let Some(bin) = binary else { return self.forward::<B>(x, y, h) };
        let n = rows(&[x.len(), y.len(), bin.counts.len()]);
        for yr in &mut y[..n] {
            *yr = self.b;
        }
        binary_product_acc(&self.w, &bin, &mut y[..n], 1.0);
    }

    fn backward_binary<const B: usize>(
        &self,
        x: &[[f32; IN]],
        binary: Option<BinaryRows<'_>>,
        y: &[[f32; OUT]],
        h: &(),
        dy: &[[f32; OUT]],
        dx: Option<&mut [[f32; IN]]>,
        grad: Option<(&mut Self, GradWrite)>,
        adj: &mut (),
    ) {
        let Some(bin) = binary else { return self.backward::<B>(x, y, h, dy, dx, grad, adj) };
        if let Some(dx) = dx {
            self.backward_input_rows(dy, dx);
        }
        let Some((grad, write)) = grad else { return };
        let n = rows(&[x.len(), dy.len(), bin.counts.len()]);
        // dW += s·Σ_r (b_r − c)ᵀ dy_r = s·Σ_r b_rᵀ dy_r − s·c ⊗ Σ_r dy_r.
        let mut sum = [0.0f32; OUT];
        for dyr in &dy[..n] {
            for (s, &d) in sum.iter_mut().zip(dyr) {
                *s += d;
            }
        }
        // One pass over dW, input by input (bit for bit the row-by-row kernel plus the centre pass).
        let (dw, dy) = (grad.w.as_flattened_mut(), dy[..n].as_flattened());
        let kernel = match write {
            GradWrite::Add => k::outer_acc_binary_affine,
            GradWrite::Set => {
                grad.b = [0.0; OUT];
                k::outer_binary_affine
            }
        };
        kernel(&bin, dy, &sum, dw, IN, OUT);
        for (g, &s) in grad.b.iter_mut().zip(&sum) {
            *g += s;
        }
    }

    fn tangent_binary<const B: usize>(
        &self,
        x: &[[f32; IN]],
        binary: Option<BinaryRows<'_>>,
        y: &[[f32; OUT]],
        h: &(),
        x_dot: Option<&[[f32; IN]]>,
        dir: Option<(&Self, &[f32])>,
        y_dot: &mut [[f32; OUT]],
        h_dot: &mut (),
    ) {
        let (Some(bin), Some((d, scales))) = (binary, dir) else {
            return self.tangent::<B>(x, y, h, x_dot, dir, y_dot, h_dot);
        };
        let n = rows(&[x.len(), y_dot.len(), bin.counts.len()]);
        self.tangent_rows(&x[..n], x_dot, None, &mut y_dot[..n]);
        let (s_w, s_b) = (scales.first().copied().unwrap_or(1.0), scales.get(1).copied().unwrap_or(1.0));
        binary_product_acc(&d.w, &bin, &mut y_dot[..n], s_w);
        for yr in &mut y_dot[..n] {
            for (y, &b) in yr.iter_mut().zip(&d.b) {
                *y += s_b * b;
            }
        }
    }

    fn tangent_binary_pair<const B: usize>(
        &self,
        x: &[[f32; IN]],
        binary: Option<BinaryRows<'_>>,
        y: &[[f32; OUT]],
        h: &(),
        dir: &Self,
        scales: [&[f32]; 2],
        y_dot: [&mut [[f32; OUT]]; 2],
        h_dot: &mut (),
    ) {
        let Some(bin) = binary else {
            return super::tangents_one_by_one::<Self, IN, OUT, B>(self, x, None, y, h, dir, scales, y_dot, h_dot);
        };
        let n = rows(&[x.len(), y_dot[0].len(), y_dot[1].len(), bin.counts.len()]);
        // U = Σ_{i: b_i = 1} dW[i] − c·dW once (in the second output, as the single pass computes
        // it on zeros), then y_dot[k] = (s_w·scale)·U + s_b·db for each: the same operations, in
        // the same order, as two `tangent_binary` passes on zeroed outputs.
        let [first, second] = y_dot;
        let u = &mut second[..n];
        let shift = center_product(&dir.w, &bin);
        for r in u.iter_mut() {
            for (o, &s) in r.iter_mut().zip(&shift) {
                *o = 0.0 - s;
            }
        }
        k::matmul_acc_binary(&bin.idx[..n * IN], &bin.counts[..n], dir.w.as_flattened(), u.as_flattened_mut(), IN, OUT);
        let factors = scales.map(|s| (s.first().copied().unwrap_or(1.0) * bin.scale, s.get(1).copied().unwrap_or(1.0)));
        let times = |fs: f32, u: f32| {
            if fs == 0.0 {
                0.0
            } else if fs == 1.0 {
                u
            } else {
                u * fs
            }
        };
        for (o, &u) in first[..n].as_flattened_mut().iter_mut().zip(second[..n].as_flattened()) {
            *o = times(factors[0].0, u);
        }
        for o in second[..n].as_flattened_mut() {
            *o = times(factors[1].0, *o);
        }
        for ((_, s_b), out) in factors.into_iter().zip([first, second]) {
            for yr in &mut out[..n] {
                for (y, &b) in yr.iter_mut().zip(&dir.b) {
                    *y += s_b * b;
                }
            }
        }
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
