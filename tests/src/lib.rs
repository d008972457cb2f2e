//! Cross-crate tests of rebar: shared helpers for the test files in `tests/tests/`.
//!
//! Small models (a handful of visible and latent units) keep every check exact or cheap: finite
//! differences, exact enumeration of all latent states, zero-allocation audits.

use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rebar_core::Sbn;

/// A deterministic generator for tests.
pub fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// A row of `N` random 0/1 values.
pub fn binary_row<const N: usize, R: Rng>(rng: &mut R) -> [f32; N] {
    core::array::from_fn(|_| (rng.next_u32() & 1) as f32)
}

/// A heap-allocated zeroed value (models and scratches are too large for test-thread stacks at
/// the paper's sizes).
pub fn boxed<T: bytemuck::Zeroable>() -> Box<T> {
    // Zeroed heap memory, never built on the stack.
    bytemuck::zeroed_box()
}

/// A small model initialised with random weights and non-zero biases and prior, with data means
/// set from the given rows.
pub fn small_model<M: Sbn<H>, const H: usize>(seed: u64, inputs: &[M::Input], targets: &[M::Target]) -> Box<M>
where
    M::Input: AsRef<[f32]> + AsMut<[f32]>,
    M::Target: AsRef<[f32]> + AsMut<[f32]>,
{
    let mut r = rng(seed);
    let mut m = boxed::<M>();
    m.init(&mut r);
    for t in 0..M::COUNT {
        for v in m.tensor_mut(t) {
            *v += 0.4 * (rebar_core::random::uniform(&mut r) - 0.5);
        }
    }
    let (im, tm) = (mean_of(inputs), mean_of(targets));
    m.set_data_mean(&im, &tm);
    m
}

/// Column means of rows (clamped away from 0 and 1 like a real dataset's mean).
pub fn mean_of<T: Copy + bytemuck::Zeroable + AsRef<[f32]> + AsMut<[f32]>>(rows: &[T]) -> T {
    let mut m = T::zeroed();
    for r in rows {
        for (a, &b) in m.as_mut().iter_mut().zip(r.as_ref()) {
            *a += b / rows.len() as f32;
        }
    }
    for a in m.as_mut() {
        *a = a.clamp(0.1, 0.9);
    }
    m
}
