//! Composition of two maps: `Then<MID, F, S>` runs `F: IN → MID`, then `S: MID → OUT`.

use super::{BinaryRows, GradWrite, Net, rows};
use crate::tensors::Tensors;
use bytemuck::Zeroable;
use rand_core::Rng;

/// `first` then `second`, with `MID` values per row between them.
#[derive(Zeroable)]
#[repr(C)]
pub struct Then<const MID: usize, F, S> {
    /// The first map.
    pub first: F,
    /// The second map.
    pub second: S,
}

/// Workspace of a [`Then`]: the two maps' own workspaces and the `MID` values between them
/// (activations in `h`, their adjoints in `adj`, tangents in `h_dot`, adjoint tangents in
/// `adj_dot`).
#[derive(Zeroable)]
#[repr(C)]
pub struct ThenHidden<HF, HS, const MID: usize, const B: usize> {
    /// Workspace of the first map.
    pub first: HF,
    /// The values between the maps.
    pub mid: [[f32; MID]; B],
    /// Workspace of the second map.
    pub second: HS,
}

impl<const MID: usize, F: Tensors, S: Tensors> Tensors for Then<MID, F, S> {
    const COUNT: usize = F::COUNT + S::COUNT;
    fn tensor(&self, i: usize) -> &[f32] {
        if i < F::COUNT { self.first.tensor(i) } else { self.second.tensor(i - F::COUNT) }
    }
    fn tensor_mut(&mut self, i: usize) -> &mut [f32] {
        if i < F::COUNT { self.first.tensor_mut(i) } else { self.second.tensor_mut(i - F::COUNT) }
    }
    fn write_name(i: usize, out: &mut dyn core::fmt::Write) -> core::fmt::Result {
        if i < F::COUNT {
            out.write_str("0")?;
            F::write_name(i, &mut crate::tensors::Dotted::new(out))
        } else {
            out.write_str("1")?;
            S::write_name(i - F::COUNT, &mut crate::tensors::Dotted::new(out))
        }
    }
}

/// Splits per-tensor scales between the two maps.
fn split_dir<'a, const MID: usize, F: Tensors, S: Tensors>(
    dir: Option<(&'a Then<MID, F, S>, &'a [f32])>,
) -> (Option<(&'a F, &'a [f32])>, Option<(&'a S, &'a [f32])>) {
    match dir {
        Some((d, scales)) => {
            let k = F::COUNT.min(scales.len());
            (Some((&d.first, &scales[..k])), Some((&d.second, &scales[k..])))
        }
        None => (None, None),
    }
}

impl<const IN: usize, const MID: usize, const OUT: usize, F, S> Net<IN, OUT> for Then<MID, F, S>
where
    F: Net<IN, MID>,
    S: Net<MID, OUT>,
{
    type Hidden<const B: usize> = ThenHidden<F::Hidden<B>, S::Hidden<B>, MID, B>;

    fn init<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        self.first.init(rng);
        self.second.init(rng);
    }

    // The dense passes are the binary ones with no binary form: each part's `*_binary(None)`
    // is exactly its dense pass, so there is one implementation of each to keep right.
    fn forward<const B: usize>(&self, x: &[[f32; IN]], y: &mut [[f32; OUT]], h: &mut Self::Hidden<B>) {
        self.forward_binary::<B>(x, None, y, h);
    }

    fn backward<const B: usize>(
        &self,
        x: &[[f32; IN]],
        y: &[[f32; OUT]],
        h: &Self::Hidden<B>,
        dy: &[[f32; OUT]],
        dx: Option<&mut [[f32; IN]]>,
        grad: Option<(&mut Self, GradWrite)>,
        adj: &mut Self::Hidden<B>,
    ) {
        self.backward_binary::<B>(x, None, y, h, dy, dx, grad, adj);
    }

    fn tangent<const B: usize>(
        &self,
        x: &[[f32; IN]],
        y: &[[f32; OUT]],
        h: &Self::Hidden<B>,
        x_dot: Option<&[[f32; IN]]>,
        dir: Option<(&Self, &[f32])>,
        y_dot: &mut [[f32; OUT]],
        h_dot: &mut Self::Hidden<B>,
    ) {
        self.tangent_binary::<B>(x, None, y, h, x_dot, dir, y_dot, h_dot);
    }

    fn forward_binary<const B: usize>(
        &self,
        x: &[[f32; IN]],
        binary: Option<BinaryRows<'_>>,
        y: &mut [[f32; OUT]],
        h: &mut Self::Hidden<B>,
    ) {
        let n = rows(&[x.len(), y.len(), B]);
        self.first.forward_binary::<B>(&x[..n], binary, &mut h.mid[..n], &mut h.first);
        self.second.forward::<B>(&h.mid[..n], &mut y[..n], &mut h.second);
    }

    fn backward_binary<const B: usize>(
        &self,
        x: &[[f32; IN]],
        binary: Option<BinaryRows<'_>>,
        y: &[[f32; OUT]],
        h: &Self::Hidden<B>,
        dy: &[[f32; OUT]],
        dx: Option<&mut [[f32; IN]]>,
        grad: Option<(&mut Self, GradWrite)>,
        adj: &mut Self::Hidden<B>,
    ) {
        let n = rows(&[x.len(), y.len(), dy.len(), B]);
        let (g_first, g_second) = match grad {
            Some((g, w)) => (Some((&mut g.first, w)), Some((&mut g.second, w))),
            None => (None, None),
        };
        adj.mid[..n].fill([0.0; MID]);
        self.second.backward::<B>(
            &h.mid[..n],
            &y[..n],
            &h.second,
            &dy[..n],
            Some(&mut adj.mid[..n]),
            g_second,
            &mut adj.second,
        );
        self.first.backward_binary::<B>(
            &x[..n],
            binary,
            &h.mid[..n],
            &h.first,
            &adj.mid[..n],
            dx,
            g_first,
            &mut adj.first,
        );
    }

    fn tangent_binary<const B: usize>(
        &self,
        x: &[[f32; IN]],
        binary: Option<BinaryRows<'_>>,
        y: &[[f32; OUT]],
        h: &Self::Hidden<B>,
        x_dot: Option<&[[f32; IN]]>,
        dir: Option<(&Self, &[f32])>,
        y_dot: &mut [[f32; OUT]],
        h_dot: &mut Self::Hidden<B>,
    ) {
        let n = rows(&[x.len(), y.len(), y_dot.len(), B]);
        let (d_first, d_second) = split_dir(dir);
        h_dot.mid[..n].fill([0.0; MID]);
        self.first.tangent_binary::<B>(
            &x[..n],
            binary,
            &h.mid[..n],
            &h.first,
            x_dot,
            d_first,
            &mut h_dot.mid[..n],
            &mut h_dot.first,
        );
        self.second.tangent::<B>(
            &h.mid[..n],
            &y[..n],
            &h.second,
            Some(&h_dot.mid[..n]),
            d_second,
            &mut y_dot[..n],
            &mut h_dot.second,
        );
    }

    fn backward_tangent<const B: usize>(
        &self,
        y: &[[f32; OUT]],
        h: &Self::Hidden<B>,
        y_dot: &[[f32; OUT]],
        h_dot: &Self::Hidden<B>,
        dy: &[[f32; OUT]],
        adj: &Self::Hidden<B>,
        dy_dot: &[[f32; OUT]],
        dx_dot: &mut [[f32; IN]],
        adj_dot: &mut Self::Hidden<B>,
    ) {
        let n = rows(&[y.len(), y_dot.len(), dy.len(), dy_dot.len(), B]);
        adj_dot.mid[..n].fill([0.0; MID]);
        self.second.backward_tangent::<B>(
            &y[..n],
            &h.second,
            &y_dot[..n],
            &h_dot.second,
            &dy[..n],
            &adj.second,
            &dy_dot[..n],
            &mut adj_dot.mid[..n],
            &mut adj_dot.second,
        );
        self.first.backward_tangent::<B>(
            &h.mid[..n],
            &h.first,
            &h_dot.mid[..n],
            &h_dot.first,
            &adj.mid[..n],
            &adj.first,
            &adj_dot.mid[..n],
            dx_dot,
            &mut adj_dot.first,
        );
    }
}
