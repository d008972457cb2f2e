//! Counts of the dense maps' multiply-adds, to state the work per example that an estimator
//! needs (feature `count-ops`; without it the counters compile to nothing and read as zero).
//!
//! Every SIMD kernel of [`crate::linalg::simd`] adds two numbers on entry: the multiply-adds it
//! performs, and the multiply-adds the dense kernel would perform on the same shapes. They
//! differ for the binary kernels, which add the weight rows of the active inputs only (their
//! "multiply-adds" are additions). Elementwise work (sigmoids, log-likelihoods, Adam) is not
//! counted. The counters are process-wide atomics (relaxed; one update per kernel call), so
//! read them around work that no other thread is doing at the same time.
//!
//! ```
//! let before = rebar_core::ops::read();
//! let (x, w, mut y) = ([1.0f32; 6], [0.5f32; 6 * 4], [0.0f32; 2 * 4]);
//! rebar_core::linalg::simd::matmul_acc(&x, &w, &mut y, 3, 4); // 2 rows, 3 → 4
//! let done = rebar_core::ops::read().since(before);
//! if rebar_core::ops::ENABLED {
//!     assert_eq!((done.multiply_adds, done.dense_multiply_adds), (24, 24));
//! }
//! ```

#[cfg(feature = "count-ops")]
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Whether this build counts (feature `count-ops`).
pub const ENABLED: bool = cfg!(feature = "count-ops");

#[cfg(feature = "count-ops")]
static DONE: AtomicUsize = AtomicUsize::new(0);
#[cfg(feature = "count-ops")]
static DENSE: AtomicUsize = AtomicUsize::new(0);

/// A reading of the counters (they wrap around at `usize::MAX`: take differences).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpCount {
    /// Multiply-adds the kernels performed.
    pub multiply_adds: usize,
    /// Multiply-adds dense kernels would have performed on the same shapes.
    pub dense_multiply_adds: usize,
}

impl OpCount {
    /// The work done between `earlier` and this reading.
    pub fn since(self, earlier: OpCount) -> OpCount {
        OpCount {
            multiply_adds: self.multiply_adds.wrapping_sub(earlier.multiply_adds),
            dense_multiply_adds: self.dense_multiply_adds.wrapping_sub(earlier.dense_multiply_adds),
        }
    }
}

/// The counters now (zero without `count-ops`).
pub fn read() -> OpCount {
    #[cfg(feature = "count-ops")]
    return OpCount { multiply_adds: DONE.load(Relaxed), dense_multiply_adds: DENSE.load(Relaxed) };
    #[cfg(not(feature = "count-ops"))]
    OpCount::default()
}

/// Adds one kernel call's work.
#[inline(always)]
pub(crate) fn count(multiply_adds: usize, dense_multiply_adds: usize) {
    #[cfg(feature = "count-ops")]
    {
        DONE.fetch_add(multiply_adds, Relaxed);
        DENSE.fetch_add(dense_multiply_adds, Relaxed);
    }
    let _ = (multiply_adds, dense_multiply_adds);
}

/// Takes back work counted by [`count`] that the estimate did not need: a hard pass repeated on a
/// second workspace so that two halves can run at once (REBAR's halves, [`crate::estimator::stages`]).
pub(crate) fn discount(work: OpCount) {
    #[cfg(feature = "count-ops")]
    {
        DONE.fetch_sub(work.multiply_adds, Relaxed);
        DENSE.fetch_sub(work.dense_multiply_adds, Relaxed);
    }
    let _ = work;
}
