//! Minibatches in the official order: every epoch a fresh shuffle of the training split, batches
//! of `batch` examples and a partial last batch (50,000 = 2,083·24 + 8, so 2,084 steps per epoch).
//!
//! Every random stream of a run is a pure function of (seed, stream, index) — the shuffle of
//! epoch e, the noise of step t — so a run resumed at any step continues bit-identically without
//! saving generator states.

use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::data::{IMAGE_PIXELS, Split};

/// Independent random streams of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Stream {
    /// Parameter initialisation.
    Init = 1,
    /// The shuffle of each epoch.
    Order = 2,
    /// The estimator's noise at each step.
    Noise = 3,
    /// Dynamic binarization at each step.
    Binarize = 4,
    /// Evaluation noise, per split and chunk.
    Eval = 5,
}

/// The generator of `stream` at `index` for a run seeded with `seed` (SplitMix64-style mixing of
/// the three numbers into one 64-bit seed).
pub fn stream_rng(seed: u64, stream: Stream, index: u64) -> Xoshiro256PlusPlus {
    let mut z = seed ^ (stream as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = mix(z ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
    Xoshiro256PlusPlus::seed_from_u64(mix(z))
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Splits a full image into a model's input and target rows: the whole image twice for
/// generative models (X = Y = 784), top and bottom halves for structured prediction
/// (X + Y = 784).
pub fn split_row<const X: usize, const Y: usize>(
    full: &[f32; IMAGE_PIXELS],
    input: &mut [f32; X],
    target: &mut [f32; Y],
) {
    if X + Y == IMAGE_PIXELS {
        input.copy_from_slice(&full[..X]);
        target.copy_from_slice(&full[X..]);
    } else {
        input.copy_from_slice(&full[..X]);
        target.copy_from_slice(&full[..Y]);
    }
}

/// The batches of one split for a run.
pub struct Feed<'a, const X: usize, const Y: usize> {
    split: &'a Split,
    seed: u64,
    batch: usize,
    order: Vec<usize>,
    epoch: Option<u64>,
    full: Vec<[f32; IMAGE_PIXELS]>,
    /// Inputs of the current batch.
    pub inputs: Vec<[f32; X]>,
    /// Targets of the current batch.
    pub targets: Vec<[f32; Y]>,
}

impl<'a, const X: usize, const Y: usize> Feed<'a, X, Y> {
    /// Batches of `batch` from `split`.
    pub fn new(split: &'a Split, batch: usize, seed: u64) -> Self {
        Feed {
            split,
            seed,
            batch,
            order: (0..split.len()).collect(),
            epoch: None,
            full: vec![[0.0; IMAGE_PIXELS]; batch],
            inputs: vec![[0.0; X]; batch],
            targets: vec![[0.0; Y]; batch],
        }
    }

    /// Training steps per epoch.
    pub fn steps_per_epoch(&self) -> u64 {
        self.split.len().div_ceil(self.batch).max(1) as u64
    }

    /// Fills `inputs`/`targets` with the batch of global step `step` (0-based) and returns its
    /// size and 0-based epoch.
    pub fn load(&mut self, step: u64) -> (usize, u64) {
        let per_epoch = self.steps_per_epoch();
        let (epoch, k) = (step / per_epoch, (step % per_epoch) as usize);
        if self.epoch != Some(epoch) {
            // Fisher–Yates from the identity, so the order depends on the epoch only.
            for (i, v) in self.order.iter_mut().enumerate() {
                *v = i;
            }
            let mut rng = stream_rng(self.seed, Stream::Order, epoch);
            for i in (1..self.order.len()).rev() {
                let j = (rng.next_u64() % (i as u64 + 1)) as usize;
                self.order.swap(i, j);
            }
            self.epoch = Some(epoch);
        }
        let start = k * self.batch;
        let idx = &self.order[start..(start + self.batch).min(self.order.len())];
        let n = idx.len();
        let mut rng = stream_rng(self.seed, Stream::Binarize, step);
        self.split.fill_batch(idx, &mut self.full[..n], &mut rng);
        for r in 0..n {
            split_row(&self.full[r], &mut self.inputs[r], &mut self.targets[r]);
        }
        (n, epoch)
    }
}
