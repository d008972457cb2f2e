//! What every model keeps of the data: the loaded batch (centred inputs, targets, the ones of
//! the inputs) and the fixed vectors derived from the training set's means.

use super::BinaryBatch;
use crate::net::BinaryRows;
use bytemuck::Zeroable;

/// A loaded batch of at most `B` examples of `X` inputs and `Y` targets, for a model with `H`
/// units per stochastic layer.
#[derive(Zeroable)]
#[repr(C)]
pub(super) struct DataBatch<const X: usize, const Y: usize, const H: usize, const B: usize> {
    /// The centred inputs x − x̄ (the encoder's input).
    pub enc_in: [[f32; X]; B],
    /// The targets (the whole image, or its bottom half).
    pub target: [[f32; Y]; B],
    /// The ones of the (binary) inputs.
    pub x_bin: BinaryBatch<X, B>,
    /// ½ per unit: the centre of a sample b seen as 2b − 1 = 2·(b − ½) (see [`BinaryBatch::rows`]).
    pub half: [f32; H],
}

impl<const X: usize, const Y: usize, const H: usize, const B: usize> DataBatch<X, Y, H, B> {
    /// Loads at most `B` examples and returns their number.
    pub fn load(&mut self, inputs: &[[f32; X]], targets: &[[f32; Y]], input_mean: &[f32; X]) -> usize {
        let n = inputs.len().min(targets.len()).min(B);
        for (dst, src) in self.enc_in.iter_mut().zip(&inputs[..n]) {
            for ((d, &x), &m) in dst.iter_mut().zip(src).zip(input_mean) {
                *d = x - m;
            }
        }
        self.target[..n].copy_from_slice(&targets[..n]);
        self.x_bin.set(inputs, n);
        self.half = [0.5; H];
        n
    }

    /// The first `n` inputs as `1·(x − x̄)` if they are binary (the encoder's binary form).
    pub fn x_rows<'a>(&'a self, n: usize, input_mean: &'a [f32; X]) -> Option<BinaryRows<'a>> {
        self.x_bin.rows(n, input_mean, 1.0)
    }

    /// The first `n` samples of a layer, indexed in `bin`, as the next map's input 2b − 1.
    pub fn sample_rows<'a>(&'a self, bin: &'a BinaryBatch<H, B>, n: usize) -> Option<BinaryRows<'a>> {
        bin.rows(n, &self.half, 2.0)
    }
}

/// The fixed output bias logit(clip(m, 0.001, 0.999)) of the training-set target means `m`.
pub(super) fn output_bias(target_mean: &[f32], bias: &mut [f32]) {
    for (b, &m) in bias.iter_mut().zip(target_mean) {
        let p = m.clamp(0.001, 0.999);
        *b = libm::logf(p / (1.0 - p));
    }
}
