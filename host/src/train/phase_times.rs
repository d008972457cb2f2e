//! Wall-clock times of the phases of one training step ([`DataParallel::step`]).

#[cfg(doc)]
use super::parallel::DataParallel;

/// Wall-clock time of each phase of one [`DataParallel::step`], in seconds (a few clock reads a
/// step: what `cargo run --release -p rebar-bench --example step_phases` reports).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PhaseTimes {
    /// Phase 1: the shards' estimates ([`Estimator::estimate_shard`]).
    pub estimate: f64,
    /// Phase 2: [`Shape::WholeGradient`]: the shards' parts combined ([`Estimator::combine`]).
    pub reduce: f64,
    /// Phase 3: [`Shape::WholeGradient`]: [`Estimator::finish_shard`].
    pub variance_gradients: f64,
    /// Phase 4: the variance metric and Adam (with one shard, its control variates' update too).
    pub update: f64,
    /// With several shards: each replica's control-variate update (zero with one shard, whose
    /// update is part of `update`).
    pub control_variates: f64,
}

impl PhaseTimes {
    /// The phases as (name, seconds), in the order they run.
    pub fn named(&self) -> [(&'static str, f64); 5] {
        [
            ("estimate", self.estimate),
            ("reduce", self.reduce),
            ("variance_gradients", self.variance_gradients),
            ("update", self.update),
            ("control_variates", self.control_variates),
        ]
    }

    /// Each phase's time as `f(this phase's time, other's)`.
    fn zip_with(&self, other: &PhaseTimes, f: impl Fn(f64, f64) -> f64) -> PhaseTimes {
        PhaseTimes {
            estimate: f(self.estimate, other.estimate),
            reduce: f(self.reduce, other.reduce),
            variance_gradients: f(self.variance_gradients, other.variance_gradients),
            update: f(self.update, other.update),
            control_variates: f(self.control_variates, other.control_variates),
        }
    }

    /// Adds `other`'s times to these.
    pub fn add(&mut self, other: &PhaseTimes) {
        *self = self.zip_with(other, |a, b| a + b);
    }

    /// These times divided by `n` (a sum over `n` steps → the mean per step).
    pub fn mean_over(&self, n: usize) -> PhaseTimes {
        self.zip_with(self, |a, _| a / n.max(1) as f64)
    }
}

/// Laps of the step's phases.
pub(super) struct PhaseClock(std::time::Instant);

impl PhaseClock {
    pub(super) fn start() -> Self {
        PhaseClock(std::time::Instant::now())
    }

    /// Seconds since the last lap (or the start).
    pub(super) fn lap(&mut self) -> f64 {
        let now = std::time::Instant::now();
        let seconds = now.duration_since(self.0).as_secs_f64();
        self.0 = now;
        seconds
    }
}
