//! Two pieces of work that may run at the same time, on threads the caller owns.
//!
//! The core has no threads of its own; an estimator whose work splits into independent halves
//! takes a [`Fork`] and lets the caller decide: a host passes its thread pool's `join` (e.g.
//! `rayon::join`), firmware passes [`Serial`]. Either way the results are the same, bit for bit:
//! the halves never read what the other writes.

/// Runs two closures and returns when both are done, possibly in parallel.
///
/// ```
/// use rebar_core::{Fork, Serial};
/// // Two halves that write apart, as REBAR's do (`estimator::stages`).
/// let (mut squares, mut cubes) = ([0u32; 4], [0u32; 4]);
/// Serial.join(
///     || squares.iter_mut().enumerate().for_each(|(i, x)| *x = (i * i) as u32),
///     || cubes.iter_mut().enumerate().for_each(|(i, x)| *x = (i * i * i) as u32),
/// );
/// assert_eq!((squares, cubes), ([0, 1, 4, 9], [0, 1, 8, 27]));
/// ```
pub trait Fork {
    /// Runs `a` and `b`.
    fn join<A: FnOnce() + Send, B: FnOnce() + Send>(&self, a: A, b: B);
}

/// [`Fork`] on the calling thread: `a`, then `b`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Serial;

impl Fork for Serial {
    fn join<A: FnOnce() + Send, B: FnOnce() + Send>(&self, a: A, b: B) {
        a();
        b();
    }
}
