//! One estimate through the core's stages (`rebar_core::estimator::stages`), as a data-parallel
//! driver with one shard runs them, on this thread.

use rand_core::Rng;
use rebar_core::estimator::{GradientTotals, ShardEstimate};
use rebar_core::{Diagnostics, Estimator, Sbn, Serial};

/// One estimate of the rows loaded in `s` through the stages; `second`, if given, holds the same
/// rows for the estimators that split in halves.
pub fn staged<M: Sbn<H> + Send + Sync, E: Estimator<M, H, B>, const H: usize, const B: usize, R: Rng + ?Sized>(
    e: &mut E,
    model: &M,
    s: &mut M::Scratch<B>,
    mut second: Option<&mut M::Scratch<B>>,
    rng: &mut R,
    grad: &mut M,
) -> Diagnostics
where
    M::Scratch<B>: Send,
{
    let n = M::rows(s).n;
    match e.estimate_shard(model, s, second.as_deref_mut(), rng, grad, &Serial) {
        ShardEstimate::Gradient(d) => d,
        ShardEstimate::ElboSum(sum) => e.finish_batch_elbo(model, s, grad, sum, n),
        ShardEstimate::Parts { estimated } => {
            assert!(estimated, "a batch with rows was not estimated");
            let mut totals = GradientTotals::default();
            for t in 0..M::COUNT {
                let b = e.control_variate_tensor(t).map(<[f32]>::to_vec).unwrap_or_default();
                totals.add(&e.combine(t, grad.tensor_mut(t), &b));
            }
            e.finish_shard(model, s, second, grad, &totals, &Serial)
        }
    }
}
