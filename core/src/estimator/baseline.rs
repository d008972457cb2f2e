//! The input-dependent baseline c(x) of NVIL, MuProp and REBAR: (x − x̄) → 100 tanh → 1, with
//! the official initialisation (docs/estimators.md, *Models: the three architectures*), its own
//! gradient and its own Adam.

use crate::net::{BinaryRows, GradWrite, Mlp1, Net};
use crate::optim::{Adam, AdamConfig};
use crate::tensors::Tensors;
use bytemuck::Zeroable;
use rand_core::Rng;

/// Hidden units of the baseline network.
pub const BASELINE_HIDDEN: usize = 100;

type BaselineNet<const X: usize> = Mlp1<X, BASELINE_HIDDEN, 1>;

/// c(x) for inputs of `X` values and batches of at most `B` rows.
#[derive(Zeroable)]
#[repr(C)]
pub struct Baseline<const X: usize, const B: usize> {
    /// The network.
    pub net: BaselineNet<X>,
    /// Accumulated gradient, applied and cleared by [`Baseline::step`].
    pub grad: BaselineNet<X>,
    /// Adam state of the network.
    pub adam: Adam<BaselineNet<X>>,
    hidden: <BaselineNet<X> as Net<X, 1>>::Hidden<B>,
    adj: <BaselineNet<X> as Net<X, 1>>::Hidden<B>,
    out: [[f32; 1]; B],
    d_out: [[f32; 1]; B],
    values: [f32; B],
}

impl<const X: usize, const B: usize> Baseline<X, B> {
    /// Initialises the weights (truncated normal) and clears the gradient and Adam state.
    pub fn init<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        self.net.init(rng);
        self.grad.fill_zero();
        self.adam.reset();
    }

    /// c(x_r) for every row of the (centred) inputs, whose binary form `binary` may be given
    /// (see [`crate::net::BinaryRows`]); returns the values.
    pub fn forward(&mut self, x: &[[f32; X]], binary: Option<BinaryRows<'_>>) -> &[f32] {
        let n = x.len().min(B);
        self.net.forward_binary::<B>(&x[..n], binary, &mut self.out[..n], &mut self.hidden);
        for (v, o) in self.values.iter_mut().zip(&self.out[..n]) {
            *v = o[0];
        }
        &self.values[..n]
    }

    /// The values of the last [`Baseline::forward`].
    pub fn values(&self) -> &[f32; B] {
        &self.values
    }

    /// `grad += Σ_r dc[r]·∇c(x_r)` for the inputs of the last forward.
    pub fn backward(&mut self, x: &[[f32; X]], binary: Option<BinaryRows<'_>>, dc: &[f32]) {
        let n = x.len().min(dc.len()).min(B);
        for (d, &v) in self.d_out.iter_mut().zip(&dc[..n]) {
            d[0] = v;
        }
        self.net.backward_binary::<B>(
            &x[..n],
            binary,
            &self.out[..n],
            &self.hidden,
            &self.d_out[..n],
            None,
            Some((&mut self.grad, GradWrite::Add)),
            &mut self.adj,
        );
    }

    /// Shows the network, its pending gradient and its Adam state under `key`.
    pub fn visit_state(&mut self, key: &'static str, v: &mut dyn crate::state::StateVisitor) {
        crate::state::visit_tensors(&mut self.net, key, v);
        crate::state::visit_tensors(&mut self.grad, key, v);
        self.adam.visit_state(key, v);
    }

    /// Shows each tensor of the pending gradient.
    pub fn visit_gradient(&mut self, f: &mut dyn FnMut(&mut [f32])) {
        for t in 0..<BaselineNet<X> as Tensors>::COUNT {
            f(self.grad.tensor_mut(t));
        }
    }

    /// One Adam step on the accumulated gradient, which is then cleared.
    pub fn step(&mut self, lr: f32) {
        self.adam.step_and_clear(&mut self.net, &mut self.grad, lr, AdamConfig::REBAR);
    }
}
