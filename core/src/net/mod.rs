//! Deterministic maps between stochastic layers ([`Net`]): an affine layer ([`Dense`]), an
//! affine layer followed by tanh ([`TanhDense`]), and their composition ([`Then`]), from which the
//! paper's two-hidden-layer tanh network ([`Mlp2`]) and the baselines' one-hidden-layer network
//! ([`Mlp1`]) are built.
//!
//! Every map works on a batch of rows (`&[[f32; IN]]`, any number of rows up to the capacity `B`
//! of its [`Net::Hidden`] workspace) and provides, besides forward and reverse mode, the two
//! forward-mode products that learned-temperature REBAR's exact variance gradient needs
//! (docs/variance-gradient.md): a Jacobian-vector product in the input and in
//! the parameters ([`Net::tangent`]), and the tangent of the reverse pass
//! ([`Net::backward_tangent`]), i.e. a Hessian-vector product.
//!
//! Conventions: `forward` overwrites its output; `backward`, `tangent` and `backward_tangent`
//! **accumulate** (`+=`) into their outputs, so that a value used in several places collects all
//! its contributions; callers zero a buffer before its first contribution. The one exception is
//! the parameter gradient, which a backward pass may also write over ([`GradWrite::Set`]): it
//! is parameter-sized, and skipping its zeroing pass and the first read of it is worth a
//! tenth of a training step.

mod absent;
mod chain;
mod dense;
mod tanh_dense;

pub use absent::Absent;
pub use chain::Then;
pub use dense::Dense;
pub use tanh_dense::TanhDense;

pub use crate::linalg::BinaryRows;

use crate::tensors::Tensors;
use bytemuck::Zeroable;
use rand_core::Rng;

/// A two-hidden-layer tanh network `IN → HID (tanh) → HID (tanh) → OUT (linear)`: the "nonlinear"
/// map of the paper (docs/estimators.md, *Models: the three architectures*).
pub type Mlp2<const IN: usize, const HID: usize, const OUT: usize> =
    Then<HID, TanhDense<IN, HID>, Then<HID, TanhDense<HID, HID>, Dense<HID, OUT>>>;

/// A one-hidden-layer tanh network `IN → HID (tanh) → OUT (linear)`: the input-dependent
/// baseline of NVIL, MuProp and REBAR (docs/estimators.md, *Models: the three architectures*).
pub type Mlp1<const IN: usize, const HID: usize, const OUT: usize> = Then<HID, TanhDense<IN, HID>, Dense<HID, OUT>>;

/// How a backward pass stores a parameter gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GradWrite {
    /// `grad += ∂`: add to what the buffer holds (a later contribution).
    Add,
    /// `grad = ∂`: write over whatever the buffer holds, with the same values as adding to a
    /// zeroed buffer (a zero may differ in sign) — the first contribution, without the zeroing
    /// pass and without reading the old values.
    Set,
}

impl GradWrite {
    /// [`GradWrite::Set`] for the first of several contributions, [`GradWrite::Add`] after.
    pub fn first(first: bool) -> Self {
        if first { GradWrite::Set } else { GradWrite::Add }
    }
}

/// A differentiable map from `IN` to `OUT` values per row, with its parameters.
///
/// All slices are batches of rows; a call processes `min` of the row counts it is given (and of
/// the workspace capacity `B`).
pub trait Net<const IN: usize, const OUT: usize>: Tensors + Zeroable {
    /// Intermediate values for a batch of up to `B` rows. One instance keeps the forward
    /// activations; further instances of the same type hold their adjoints, tangents and the
    /// tangents of the adjoints.
    type Hidden<const B: usize>: Zeroable + Send + Sync;

    /// Whether [`Net::tangent_binary_pair`] makes one pass over the direction for both tangents
    /// (an affine map), rather than two: then two threads, one tangent each, would repeat that
    /// pass instead of sharing the work.
    const TANGENT_PAIR_IN_ONE_PASS: bool = false;

    /// Initialises the parameters as the official code does: weights from a truncated normal
    /// with standard deviation √(2.6 / fan_in) (TF `variance_scaling_initializer`, factor 2,
    /// truncated at 2σ), biases zero.
    fn init<R: Rng + ?Sized>(&mut self, rng: &mut R);

    /// y = net(x), keeping intermediate values in `h`.
    fn forward<const B: usize>(&self, x: &[[f32; IN]], y: &mut [[f32; OUT]], h: &mut Self::Hidden<B>);

    /// Reverse mode for an output adjoint `dy`: `dx += (∂y/∂x)ᵀ·dy` and
    /// `grad += (∂y/∂θ)ᵀ·dy` (or `=`, see [`GradWrite`]; every tensor of `grad` is written), each
    /// only if asked for. `adj` receives the adjoints of the intermediate values (kept for
    /// [`Net::backward_tangent`]).
    fn backward<const B: usize>(
        &self,
        x: &[[f32; IN]],
        y: &[[f32; OUT]],
        h: &Self::Hidden<B>,
        dy: &[[f32; OUT]],
        dx: Option<&mut [[f32; IN]]>,
        grad: Option<(&mut Self, GradWrite)>,
        adj: &mut Self::Hidden<B>,
    );

    /// Forward mode: `y_dot += (∂y/∂x)·x_dot + (∂y/∂θ)·(scales ⊙ dir)`, each term only if given.
    /// `scales` has one factor per tensor of `dir` (the per-tensor η of REBAR); `h_dot` receives
    /// the tangents of the intermediate values.
    fn tangent<const B: usize>(
        &self,
        x: &[[f32; IN]],
        y: &[[f32; OUT]],
        h: &Self::Hidden<B>,
        x_dot: Option<&[[f32; IN]]>,
        dir: Option<(&Self, &[f32])>,
        y_dot: &mut [[f32; OUT]],
        h_dot: &mut Self::Hidden<B>,
    );

    /// [`Net::forward`] for inputs described by `binary` as well as given densely in `x`: the
    /// first affine layer may use the binary form. Default: the dense forward.
    fn forward_binary<const B: usize>(
        &self,
        x: &[[f32; IN]],
        binary: Option<BinaryRows<'_>>,
        y: &mut [[f32; OUT]],
        h: &mut Self::Hidden<B>,
    ) {
        let _ = binary;
        self.forward::<B>(x, y, h);
    }

    /// [`Net::backward`] with the binary form of the inputs (see [`Net::forward_binary`]).
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
        let _ = binary;
        self.backward::<B>(x, y, h, dy, dx, grad, adj);
    }

    /// [`Net::tangent`] with the binary form of the inputs (see [`Net::forward_binary`]).
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
        let _ = binary;
        self.tangent::<B>(x, y, h, x_dot, dir, y_dot, h_dot);
    }

    /// Two parameter tangents at once, written (not added): `y_dot[k] = (∂y/∂θ)·(scales[k] ⊙
    /// dir)` for the two sets of per-tensor `scales` (REBAR's J·g and J·(η ⊙ g)), with the
    /// binary form of the inputs. `h_dot` receives the second's intermediate tangents. Default:
    /// two [`Net::tangent_binary`] passes; an affine layer shares its weight product between them
    /// (the tangent is linear in each tensor's scale), with the same results.
    fn tangent_binary_pair<const B: usize>(
        &self,
        x: &[[f32; IN]],
        binary: Option<BinaryRows<'_>>,
        y: &[[f32; OUT]],
        h: &Self::Hidden<B>,
        dir: &Self,
        scales: [&[f32]; 2],
        y_dot: [&mut [[f32; OUT]]; 2],
        h_dot: &mut Self::Hidden<B>,
    ) {
        tangents_one_by_one::<Self, IN, OUT, B>(self, x, binary, y, h, dir, scales, y_dot, h_dot);
    }

    /// Tangent of the input adjoint: for a forward tangent (`y_dot`, `h_dot` from
    /// [`Net::tangent`] with an input tangent only) and an output adjoint `dy` with tangent
    /// `dy_dot`, `dx_dot += d/dt [(∂y/∂x)ᵀ·dy]`. `adj` is the workspace [`Net::backward`] filled
    /// for the same `dy`; `adj_dot` receives the tangents of the intermediate adjoints.
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
    );
}

/// [`Net::tangent_binary_pair`] as two [`Net::tangent_binary`] passes on zeroed outputs: the
/// default, and the reference the shared forms reproduce.
#[allow(clippy::too_many_arguments)]
pub(crate) fn tangents_one_by_one<N: Net<IN, OUT>, const IN: usize, const OUT: usize, const B: usize>(
    net: &N,
    x: &[[f32; IN]],
    binary: Option<BinaryRows<'_>>,
    y: &[[f32; OUT]],
    h: &N::Hidden<B>,
    dir: &N,
    scales: [&[f32]; 2],
    y_dot: [&mut [[f32; OUT]]; 2],
    h_dot: &mut N::Hidden<B>,
) {
    for (scales, y_dot) in scales.into_iter().zip(y_dot) {
        y_dot.fill([0.0; OUT]);
        net.tangent_binary::<B>(x, binary, y, h, None, Some((dir, scales)), y_dot, h_dot);
    }
}

/// Rows processed by a call: the smallest of the given counts.
#[inline]
pub(crate) fn rows(counts: &[usize]) -> usize {
    counts.iter().copied().min().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    //! Every map's reverse mode, forward mode and reverse-mode tangent against central finite
    //! differences of its forward pass, on small random shapes (rows not a multiple of anything).
    use super::*;
    use rand_core::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    const B: usize = 3;
    const EPS: f32 = 1e-2;

    fn rand_fill(rng: &mut Xoshiro256PlusPlus, v: &mut [f32]) {
        for x in v {
            *x = crate::random::uniform(rng) * 2.0 - 1.0;
        }
    }

    fn dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
    }

    fn assert_close(what: &str, got: f64, want: f64) {
        let tol = 2e-3 * (want.abs() + got.abs()) + 2e-4;
        assert!((got - want).abs() <= tol, "{what}: analytic {got}, finite difference {want}");
    }

    /// L(x, θ) = ⟨w, net(x)⟩ for a fixed random w.
    fn objective<N: Net<I, O>, const I: usize, const O: usize>(net: &N, x: &[[f32; I]; B], w: &[[f32; O]; B]) -> f64 {
        let mut y = [[0.0; O]; B];
        let mut h = N::Hidden::<B>::zeroed();
        net.forward::<B>(x, &mut y, &mut h);
        dot(y.as_flattened(), w.as_flattened())
    }

    fn check_net<N: Net<I, O>, const I: usize, const O: usize>(seed: u64) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut net = N::zeroed();
        net.init(&mut rng);
        // Give biases non-zero values too.
        for t in 0..N::COUNT {
            for v in net.tensor_mut(t) {
                *v += 0.3 * (crate::random::uniform(&mut rng) - 0.5);
            }
        }
        let mut x = [[0.0; I]; B];
        let mut dy = [[0.0; O]; B];
        let mut x_dot = [[0.0; I]; B];
        let mut dy_dot = [[0.0; O]; B];
        rand_fill(&mut rng, x.as_flattened_mut());
        rand_fill(&mut rng, dy.as_flattened_mut());
        rand_fill(&mut rng, x_dot.as_flattened_mut());
        rand_fill(&mut rng, dy_dot.as_flattened_mut());
        let mut dir = N::zeroed();
        for t in 0..N::COUNT {
            rand_fill(&mut rng, dir.tensor_mut(t));
        }
        let scales: [f32; 16] = core::array::from_fn(|i| 0.5 + 0.1 * i as f32);

        // Forward and reverse.
        let mut y = [[0.0; O]; B];
        let mut h = N::Hidden::<B>::zeroed();
        net.forward::<B>(&x, &mut y, &mut h);
        let mut dx = [[0.0; I]; B];
        // Written over (GradWrite::Set): a value the pass missed would stay NaN.
        let mut grad = N::zeroed();
        for t in 0..N::COUNT {
            grad.tensor_mut(t).fill(f32::NAN);
        }
        let mut adj = N::Hidden::<B>::zeroed();
        net.backward::<B>(&x, &y, &h, &dy, Some(&mut dx), Some((&mut grad, GradWrite::Set)), &mut adj);

        // Reverse mode, input: ⟨dx, x_dot⟩ = d/dt L(x + t·x_dot).
        let shifted = |t: f32| {
            let mut xs = x;
            for (a, &d) in xs.as_flattened_mut().iter_mut().zip(x_dot.as_flattened()) {
                *a += t * d;
            }
            xs
        };
        let fd = (objective(&net, &shifted(EPS), &dy) - objective(&net, &shifted(-EPS), &dy)) / (2.0 * EPS as f64);
        assert_close("backward dx", dot(dx.as_flattened(), x_dot.as_flattened()), fd);

        // Reverse mode, parameters, one tensor at a time: ⟨grad_t, dir_t⟩.
        for t in 0..N::COUNT {
            let mut plus = N::zeroed();
            let mut minus = N::zeroed();
            plus.copy_from(&net);
            minus.copy_from(&net);
            for ((p, m), &d) in plus.tensor_mut(t).iter_mut().zip(minus.tensor_mut(t)).zip(dir.tensor(t)) {
                *p += EPS * d;
                *m -= EPS * d;
            }
            let fd = (objective(&plus, &x, &dy) - objective(&minus, &x, &dy)) / (2.0 * EPS as f64);
            assert_close("backward grad", dot(grad.tensor(t), dir.tensor(t)), fd);
        }

        // Forward mode in the input and the (scaled) parameters together.
        let mut y_dot = [[0.0; O]; B];
        let mut h_dot = N::Hidden::<B>::zeroed();
        net.tangent::<B>(&x, &y, &h, Some(&x_dot), Some((&dir, &scales[..N::COUNT])), &mut y_dot, &mut h_dot);
        let mut plus = N::zeroed();
        let mut minus = N::zeroed();
        plus.copy_from(&net);
        minus.copy_from(&net);
        for t in 0..N::COUNT {
            for ((p, m), &d) in plus.tensor_mut(t).iter_mut().zip(minus.tensor_mut(t)).zip(dir.tensor(t)) {
                *p += EPS * scales[t] * d;
                *m -= EPS * scales[t] * d;
            }
        }
        let fd = (objective(&plus, &shifted(EPS), &dy) - objective(&minus, &shifted(-EPS), &dy)) / (2.0 * EPS as f64);
        assert_close("tangent", dot(y_dot.as_flattened(), dy.as_flattened()), fd);

        // Tangent of the reverse pass: d/dt ⟨dx(x + t·x_dot; dy + t·dy_dot), v⟩ for a random v.
        let mut y_dot = [[0.0; O]; B];
        net.tangent::<B>(&x, &y, &h, Some(&x_dot), None, &mut y_dot, &mut h_dot);
        let mut dx_dot = [[0.0; I]; B];
        let mut adj_dot = N::Hidden::<B>::zeroed();
        net.backward_tangent::<B>(&y, &h, &y_dot, &h_dot, &dy, &adj, &dy_dot, &mut dx_dot, &mut adj_dot);
        let mut v = [[0.0; I]; B];
        rand_fill(&mut rng, v.as_flattened_mut());
        let dx_at = |t: f32| {
            let xs = shifted(t);
            let mut dys = dy;
            for (a, &d) in dys.as_flattened_mut().iter_mut().zip(dy_dot.as_flattened()) {
                *a += t * d;
            }
            let mut y = [[0.0; O]; B];
            let mut h = N::Hidden::<B>::zeroed();
            let mut adj = N::Hidden::<B>::zeroed();
            net.forward::<B>(&xs, &mut y, &mut h);
            let mut dx = [[0.0; I]; B];
            net.backward::<B>(&xs, &y, &h, &dys, Some(&mut dx), None, &mut adj);
            dot(dx.as_flattened(), v.as_flattened())
        };
        let fd = (dx_at(EPS) - dx_at(-EPS)) / (2.0 * EPS as f64);
        assert_close("backward_tangent", dot(dx_dot.as_flattened(), v.as_flattened()), fd);
    }

    /// The binary forms of forward, backward and tangent equal the dense ones on x = s·(b − c).
    fn check_binary<N: Net<I, O>, const I: usize, const O: usize>(seed: u64, scale: f32) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut net = N::zeroed();
        net.init(&mut rng);
        let mut b = [[0.0f32; I]; B];
        for v in b.as_flattened_mut() {
            *v = if crate::random::uniform(&mut rng) < 0.4 { 1.0 } else { 0.0 };
        }
        let mut center = [0.0f32; I];
        rand_fill(&mut rng, &mut center);
        let x: [[f32; I]; B] = core::array::from_fn(|r| core::array::from_fn(|i| scale * (b[r][i] - center[i])));
        let (mut idx, mut counts) = ([[0u16; I]; B], [0u16; B]);
        crate::linalg::active_indices(b.as_flattened(), I, idx.as_flattened_mut(), &mut counts).unwrap();
        let (mut rows_of, mut counts_of) = ([[0u16; B]; I], [0u16; I]);
        crate::linalg::active_rows(idx.as_flattened(), &counts, I, B, rows_of.as_flattened_mut(), &mut counts_of);
        let bin = BinaryRows {
            idx: idx.as_flattened(),
            counts: &counts,
            rows_of: rows_of.as_flattened(),
            counts_of: &counts_of,
            stride: B,
            center: &center,
            scale,
        };
        let close = |a: &[f32], b: &[f32], what: &str| {
            for (p, q) in a.iter().zip(b) {
                assert!((p - q).abs() <= 1e-4 * (1.0 + q.abs()), "{what}: {p} vs {q}");
            }
        };
        let (mut y1, mut y2) = ([[0.0; O]; B], [[0.0; O]; B]);
        let (mut h1, mut h2) = (N::Hidden::<B>::zeroed(), N::Hidden::<B>::zeroed());
        net.forward::<B>(&x, &mut y1, &mut h1);
        net.forward_binary::<B>(&x, Some(bin), &mut y2, &mut h2);
        close(y2.as_flattened(), y1.as_flattened(), "forward");
        let mut dy = [[0.0; O]; B];
        rand_fill(&mut rng, dy.as_flattened_mut());
        // The binary form adds (to zeros) in g1 and writes over NaN in g3: all three agree.
        let (mut g1, mut g2, mut g3) = (N::zeroed(), N::zeroed(), N::zeroed());
        for t in 0..N::COUNT {
            g3.tensor_mut(t).fill(f32::NAN);
        }
        let (mut dx1, mut dx2) = ([[0.0; I]; B], [[0.0; I]; B]);
        let (mut a1, mut a2) = (N::Hidden::<B>::zeroed(), N::Hidden::<B>::zeroed());
        net.backward::<B>(&x, &y1, &h1, &dy, Some(&mut dx1), Some((&mut g1, GradWrite::Add)), &mut a1);
        net.backward_binary::<B>(
            &x,
            Some(bin),
            &y1,
            &h1,
            &dy,
            Some(&mut dx2),
            Some((&mut g2, GradWrite::Add)),
            &mut a2,
        );
        net.backward_binary::<B>(&x, Some(bin), &y1, &h1, &dy, None, Some((&mut g3, GradWrite::Set)), &mut a2);
        close(dx2.as_flattened(), dx1.as_flattened(), "backward dx");
        for t in 0..N::COUNT {
            close(g2.tensor(t), g1.tensor(t), "backward grad");
            assert_eq!(g3.tensor(t), g2.tensor(t), "backward grad, written over");
        }
        let mut dir = N::zeroed();
        for t in 0..N::COUNT {
            rand_fill(&mut rng, dir.tensor_mut(t));
        }
        let scales: [f32; 16] = core::array::from_fn(|i| 0.5 + 0.1 * i as f32);
        let (mut t1, mut t2) = ([[0.0; O]; B], [[0.0; O]; B]);
        let (mut hd1, mut hd2) = (N::Hidden::<B>::zeroed(), N::Hidden::<B>::zeroed());
        net.tangent::<B>(&x, &y1, &h1, None, Some((&dir, &scales[..N::COUNT])), &mut t1, &mut hd1);
        net.tangent_binary::<B>(&x, Some(bin), &y1, &h1, None, Some((&dir, &scales[..N::COUNT])), &mut t2, &mut hd2);
        close(t2.as_flattened(), t1.as_flattened(), "tangent");
        // The pair of tangents equals two single ones bit for bit, for a set of unit scales (a
        // separate branch of the affine layer) and any other, from NaN-filled outputs.
        let ones = [1.0f32; 16];
        let pairs: [[&[f32]; 2]; 2] = [[&ones, &scales], [&scales[1..], &ones]];
        for [sa, sb] in pairs {
            let (sa, sb) = (&sa[..N::COUNT], &sb[..N::COUNT]);
            let (mut pa, mut pb) = ([[f32::NAN; O]; B], [[f32::NAN; O]; B]);
            net.tangent_binary_pair::<B>(&x, Some(bin), &y1, &h1, &dir, [sa, sb], [&mut pa, &mut pb], &mut hd2);
            for (s, p) in [(sa, &pa), (sb, &pb)] {
                let mut single = [[0.0; O]; B];
                net.tangent_binary::<B>(&x, Some(bin), &y1, &h1, None, Some((&dir, s)), &mut single, &mut hd2);
                let same = p.as_flattened().iter().zip(single.as_flattened()).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "tangent pair: {p:?} vs {single:?}");
            }
        }
    }

    #[test]
    fn binary_forms_match_the_dense_ones() {
        check_binary::<Dense<13, 7>, 13, 7>(11, 1.0);
        check_binary::<Dense<9, 17>, 9, 17>(12, 2.0);
        check_binary::<TanhDense<11, 9>, 11, 9>(13, 2.0);
        check_binary::<Mlp2<10, 6, 5>, 10, 5>(14, 1.0);
        check_binary::<Mlp1<20, 4, 1>, 20, 1>(15, 1.0);
    }

    #[test]
    fn dense_derivatives_match_finite_differences() {
        check_net::<Dense<5, 7>, 5, 7>(1);
        check_net::<Dense<9, 17>, 9, 17>(2);
    }

    #[test]
    fn tanh_dense_derivatives_match_finite_differences() {
        check_net::<TanhDense<5, 7>, 5, 7>(3);
        check_net::<TanhDense<11, 9>, 11, 9>(4);
    }

    #[test]
    fn mlp_derivatives_match_finite_differences() {
        check_net::<Mlp1<9, 4, 1>, 9, 1>(5);
        check_net::<Mlp2<5, 6, 7>, 5, 7>(6);
        check_net::<Mlp2<10, 17, 3>, 10, 3>(7);
    }

    #[test]
    fn tensor_names_carry_their_path() {
        extern crate std;
        use std::string::String;
        let mut s = String::new();
        <Mlp2<2, 3, 4> as Tensors>::write_name(5, &mut s).unwrap();
        assert_eq!(s, "1.1.b");
        assert_eq!(<Mlp2<2, 3, 4> as Tensors>::COUNT, 6);
    }
}
