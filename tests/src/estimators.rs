//! Every estimator of the core on one model type, ready to run, for the tests that sweep all of
//! them (determinism, allocation audits, golden values). The runtime-chosen estimator type is the
//! host's [`AnyEstimator`], so the tests exercise what `rebar train` runs.

use crate::rng;
use rebar_core::Sbn;
use rebar_core::estimator::TildeNoise;
pub use rebar_host::train::AnyEstimator;
use rebar_host::train::{EstimatorKind, EstimatorOptions};

/// One estimator of each kind (and REBAR with independent noise), initialised from `seed`, with
/// a label.
pub fn all<M: Sbn<H, Input = [f32; X]>, const X: usize, const H: usize, const B: usize>(
    seed: u64,
) -> Vec<(&'static str, AnyEstimator<M, X, H, B>)> {
    let mut r = rng(seed);
    let independent = EstimatorOptions { temperature: Some(0.1), tilde: TildeNoise::Independent, ..Default::default() };
    let kinds = [
        ("reinforce", EstimatorKind::Reinforce, EstimatorOptions::default()),
        ("nvil", EstimatorKind::Nvil, EstimatorOptions::default()),
        ("simple-muprop", EstimatorKind::SimpleMuprop, EstimatorOptions::default()),
        ("muprop", EstimatorKind::Muprop, EstimatorOptions::default()),
        ("concrete", EstimatorKind::Concrete, EstimatorOptions::default()),
        ("rebar", EstimatorKind::Rebar, EstimatorOptions::default()),
        ("rebar-fixed", EstimatorKind::RebarFixed, EstimatorOptions::default()),
        ("rebar-independent", EstimatorKind::RebarFixed, independent),
        ("relax", EstimatorKind::Relax, EstimatorOptions::default()),
        ("arm", EstimatorKind::Arm, EstimatorOptions::default()),
        ("disarm", EstimatorKind::Disarm, EstimatorOptions::default()),
        ("rloo", EstimatorKind::Rloo, EstimatorOptions::default()),
    ];
    kinds
        .into_iter()
        .map(|(label, kind, o)| (label, AnyEstimator::new(kind, o, &mut r).expect("valid configuration")))
        .collect()
}
