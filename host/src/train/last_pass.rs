//! The training step's last pass over the gradient: the variance metric's fold (which is also
//! the finiteness check) and Adam's update, block by block, while each block is in L1.
//!
//! Two passes would read the gradient twice and, worse, run one after the other: Adam is bound
//! by the divider (its square root and division), the fold by memory, and in one pass the two
//! overlap (`rebar train`'s default run, alternating with the two-pass build: 1.04×; NVIL
//! 1.06–1.09×; the same bits; CHANGELOG.md, *Speed*).
//!
//! The price is the order of the check: a block is updated once it and every block before it
//! are found finite, so a non-finite value leaves the blocks before it updated. The trainer
//! stops at such a step without saving ([`TrainError::NonFinite`](super::TrainError)): the last
//! checkpoint is the state it resumes from, as it was before.

use rebar_core::optim::AdamStep;
use rebar_core::{Adam, AdamConfig, Tensors};

use super::variance::{Sums, VarianceTracker, check_finite, fold};

/// The values of one block (the variance metric's own summation block, see [`fold`]).
pub const BLOCK: usize = 1024;

/// One block of at most [`BLOCK`] values: folds the gradient `g` into the metric's `averages`
/// (or, without them, only checks it), adding to `sums`; then, if `sums` has seen only finite
/// values, takes Adam's `step` on the matching parameters `p` and moments `m`, `v`.
pub fn fold_and_step(
    g: &[f32],
    averages: Option<(&mut [f32], &mut [f32])>,
    [p, m, v]: [&mut [f32]; 3],
    step: &AdamStep,
    sums: &mut Sums,
) {
    match averages {
        Some((m1, m2)) => fold(g, m1, m2, sums),
        None => check_finite(g, sums),
    }
    if sums.finite() {
        step.apply(p, g, m, v);
    }
}

/// The whole last pass of a single-threaded step with learning rate `lr`, over every tensor in
/// order. Returns the metric's variance (`None` if the gradient was not finite: the run must
/// stop, see the module docs).
pub fn fold_and_step_all<M: Tensors>(
    grad: &M,
    tracker: &mut VarianceTracker<M>,
    model: &mut M,
    adam: &mut Adam<M>,
    lr: f32,
) -> Option<f64> {
    let step = adam.begin_step(lr, AdamConfig::REBAR);
    let mut sums = Sums::new();
    for t in 0..M::COUNT {
        let (g, m1, m2) = (grad.tensor(t), tracker.first.tensor_mut(t), tracker.second.tensor_mut(t));
        let (p, m, v) = (model.tensor_mut(t), adam.m.tensor_mut(t), adam.v.tensor_mut(t));
        let blocks = g.chunks(BLOCK).zip(m1.chunks_mut(BLOCK)).zip(m2.chunks_mut(BLOCK));
        let params = p.chunks_mut(BLOCK).zip(m.chunks_mut(BLOCK)).zip(v.chunks_mut(BLOCK));
        for (((g, m1), m2), ((p, m), v)) in blocks.zip(params) {
            fold_and_step(g, Some((m1, m2)), [p, m, v], &step, &mut sums);
            if !sums.finite() {
                return None;
            }
        }
    }
    sums.variance()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rebar_core::net::Dense;

    /// 2,100 + 30 values: blocks, a partial block, partial lane chunks, two tensors.
    type G = Dense<210, 10>;

    fn filled(seed: u32) -> Box<G> {
        let mut x: Box<G> = bytemuck::zeroed_box();
        let mut state = seed;
        for t in 0..G::COUNT {
            for g in x.tensor_mut(t) {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                *g = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            }
        }
        x
    }

    #[test]
    fn one_pass_is_the_metric_then_adam_bit_for_bit() {
        let (mut model_a, mut model_b) = (filled(1), filled(1));
        let (mut adam_a, mut adam_b): (Box<Adam<G>>, Box<Adam<G>>) = (bytemuck::zeroed_box(), bytemuck::zeroed_box());
        let (mut tracker_a, mut tracker_b) = (VarianceTracker::<G>::new(), VarianceTracker::<G>::new());
        for step in 0..20 {
            let grad = filled(100 + step);
            let separate = tracker_a.update(&grad);
            adam_a.step(&mut *model_a, &*grad, 1e-3, AdamConfig::REBAR);
            let fused = fold_and_step_all(&*grad, &mut tracker_b, &mut *model_b, &mut *adam_b, 1e-3);
            assert_eq!(separate.map(f64::to_bits), fused.map(f64::to_bits), "step {step}");
        }
        for t in 0..G::COUNT {
            for (a, b) in [(&*model_a, &*model_b), (&adam_a.m, &adam_b.m), (&adam_a.v, &adam_b.v)] {
                assert_eq!(
                    a.tensor(t).iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                    b.tensor(t).iter().map(|x| x.to_bits()).collect::<Vec<_>>()
                );
            }
            assert_eq!(tracker_a.first.tensor(t), tracker_b.first.tensor(t));
            assert_eq!(tracker_a.second.tensor(t), tracker_b.second.tensor(t));
        }
    }

    #[test]
    fn a_non_finite_value_stops_the_updates_at_its_block() {
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let (before, mut model) = (filled(1), filled(1));
            let mut adam: Box<Adam<G>> = bytemuck::zeroed_box();
            let mut tracker = VarianceTracker::<G>::new();
            let mut grad = filled(2);
            grad.tensor_mut(0)[BLOCK + 5] = bad;
            assert_eq!(fold_and_step_all(&*grad, &mut tracker, &mut *model, &mut *adam, 1e-3), None, "{bad}");
            let (p, p0) = (model.tensor(0), before.tensor(0));
            assert!(p[..BLOCK].iter().zip(p0).all(|(a, b)| a != b), "{bad}: the first block is updated");
            assert_eq!(&p[BLOCK..], &p0[BLOCK..], "{bad}: the bad block and those after it are not");
            assert_eq!(model.tensor(1), before.tensor(1), "{bad}");
        }
    }
}
