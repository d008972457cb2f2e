//! Benchmarks of rebar kernels and training steps (see `benches/` and `examples/`).
//!
//! [`TrainingStep`] is the one definition of "a training step" that the criterion bench
//! (`benches/training_step.rs`), the throughput table (`examples/throughput.rs`) and the profiling
//! driver (`examples/profile_step.rs`) all time, so their numbers describe the same work.
#![deny(missing_docs)]

use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rebar_core::model::{LATENT, Linear1, Linear2, Nonlinear, PIXELS};
use rebar_core::{Adam, AdamConfig, Sbn};
use rebar_host::train::{AnyEstimator, EstimatorKind, EstimatorOptions};

/// Every estimator the host offers, in the order of the tables.
pub const ESTIMATORS: [EstimatorKind; 11] = [
    EstimatorKind::Reinforce,
    EstimatorKind::Nvil,
    EstimatorKind::SimpleMuprop,
    EstimatorKind::Muprop,
    EstimatorKind::Concrete,
    EstimatorKind::Rebar,
    EstimatorKind::RebarFixed,
    EstimatorKind::Relax,
    EstimatorKind::Arm,
    EstimatorKind::Disarm,
    EstimatorKind::Rloo,
];

/// The (model, batch) cases of the tables: the paper's batch 24 for every model, and batch 1
/// (the edge case) for the one-layer models.
pub const CASES: [(&str, usize); 5] =
    [("linear1", 24), ("linear1", 1), ("linear2", 24), ("nonlinear", 24), ("nonlinear", 1)];

/// The model learning rate of a timed step (the control variates use 10×, as in the paper).
pub const LEARNING_RATE: f32 = 1e-4;

/// One training step of estimator `kind` on model `M` at batch `B`, with all its state: load the
/// batch, estimate the gradient, take the model's Adam step and the control variates' step.
///
/// The batch is fixed (MNIST-like binary rows, about 12% ones: the binary kernels' cost depends
/// on the density) and fed again every step; the noise is drawn inside the step.
pub struct TrainingStep<M: Sbn<LATENT, Input = [f32; PIXELS], Target = [f32; PIXELS]>, const B: usize> {
    rng: Xoshiro256PlusPlus,
    model: Box<M>,
    grad: Box<M>,
    adam: Box<Adam<M>>,
    scratch: Box<M::Scratch<B>>,
    estimator: AnyEstimator<M, PIXELS, LATENT, B>,
    batch: Vec<[f32; PIXELS]>,
}

impl<M: Sbn<LATENT, Input = [f32; PIXELS], Target = [f32; PIXELS]>, const B: usize> TrainingStep<M, B> {
    /// A freshly initialised model and estimator, seeded.
    pub fn new(kind: EstimatorKind) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let mut model: Box<M> = bytemuck::zeroed_box();
        model.init(&mut rng);
        model.set_data_mean(&[0.13; PIXELS], &[0.13; PIXELS]);
        let estimator =
            AnyEstimator::new(kind, EstimatorOptions::default(), &mut rng).expect("default options are valid");
        let batch = (0..B).map(|i| core::array::from_fn(|j| ((i * 7 + j * 13) % 8 == 0) as u8 as f32)).collect();
        TrainingStep {
            rng,
            model,
            grad: bytemuck::zeroed_box(),
            adam: bytemuck::zeroed_box(),
            scratch: bytemuck::zeroed_box(),
            estimator,
            batch,
        }
    }

    /// One step; returns the batch's mean ELBO (so that the work cannot be optimised away).
    pub fn run(&mut self) -> f32 {
        self.model.load_batch(&self.batch, &self.batch, &mut self.scratch);
        let d = self.estimator.estimate(&self.model, &mut self.scratch, &mut self.rng, &mut self.grad);
        self.adam.step(&mut self.model, &self.grad, LEARNING_RATE, AdamConfig::REBAR);
        self.estimator.update_control_variates(10.0 * LEARNING_RATE);
        d.elbo
    }
}

/// Calls `f` with a boxed step of `kind` for the named (model, batch) case of [`CASES`]: the one
/// place that maps a case's names to its types.
pub fn with_case<R>(model: &str, batch: usize, kind: EstimatorKind, f: impl FnOnce(&mut dyn FnMut() -> f32) -> R) -> R {
    fn go<M: Sbn<LATENT, Input = [f32; PIXELS], Target = [f32; PIXELS]>, const B: usize, R>(
        kind: EstimatorKind,
        f: impl FnOnce(&mut dyn FnMut() -> f32) -> R,
    ) -> R {
        let mut step = TrainingStep::<M, B>::new(kind);
        f(&mut || step.run())
    }
    match (model, batch) {
        ("linear1", 24) => go::<Linear1, 24, R>(kind, f),
        ("linear1", 1) => go::<Linear1, 1, R>(kind, f),
        ("linear2", 24) => go::<Linear2, 24, R>(kind, f),
        ("linear2", 1) => go::<Linear2, 1, R>(kind, f),
        ("nonlinear", 24) => go::<Nonlinear, 24, R>(kind, f),
        ("nonlinear", 1) => go::<Nonlinear, 1, R>(kind, f),
        _ => panic!("no bench case for model {model} at batch {batch}"),
    }
}
