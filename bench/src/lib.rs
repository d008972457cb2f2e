//! Benchmarks of rebar kernels and training steps (see `benches/` and `examples/`).
//!
//! [`TrainingStep`] is the one definition of "a training step" that the criterion bench
//! (`benches/training_step.rs`), the throughput table (`examples/throughput.rs`) and the profiling
//! driver (`examples/profile_step.rs`) all time, so their numbers describe the same work.
#![deny(missing_docs)]

use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rebar_core::model::{LATENT, Linear1, Linear2, Nonlinear, PIXELS};
use rebar_core::{Adam, AdamConfig, Estimator, Sbn};
use rebar_host::train::parallel::{DataParallel, PhaseTimes};
use rebar_host::train::{AnyEstimator, EstimatorKind, EstimatorOptions};

/// Every estimator the host offers, in the order of the tables.
pub const ESTIMATORS: [EstimatorKind; 11] = EstimatorKind::ALL;

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
    /// With two or more threads or shards: the data-parallel step of `rebar train
    /// --train-threads --shards` (like the one-thread step, without the trainer's variance
    /// metric), and its step count.
    parallel: Option<(DataParallel<M, PIXELS, LATENT>, u64)>,
    /// The data-parallel step's phase times, summed over its steps.
    phases: PhaseTimes,
}

impl<M: Sbn<LATENT, Input = [f32; PIXELS], Target = [f32; PIXELS]> + Send + Sync, const B: usize> TrainingStep<M, B> {
    /// A freshly initialised model and estimator, seeded, stepping over `shards` shards on
    /// `threads` threads (see [`rebar_host::train::parallel`]; 1 and 1: the single-threaded
    /// step).
    pub fn new(kind: EstimatorKind, threads: usize, shards: usize) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let mut model: Box<M> = bytemuck::zeroed_box();
        model.init(&mut rng);
        model.set_data_mean(&[0.13; PIXELS], &[0.13; PIXELS]);
        let estimator =
            AnyEstimator::new(kind, EstimatorOptions::default(), &mut rng).expect("default options are valid");
        let parallel = (threads > 1 || shards > 1).then(|| {
            let mut replica = || AnyEstimator::new(kind, EstimatorOptions::default(), &mut rng).expect("valid");
            let first = replica();
            let replicas = (1..shards).map(|_| replica()).collect();
            (DataParallel::with_threads(first, replicas, threads).expect("threads start"), 0)
        });
        let batch = (0..B).map(|i| core::array::from_fn(|j| ((i * 7 + j * 13) % 8 == 0) as u8 as f32)).collect();
        TrainingStep {
            rng,
            model,
            grad: bytemuck::zeroed_box(),
            adam: bytemuck::zeroed_box(),
            scratch: bytemuck::zeroed_box(),
            estimator,
            batch,
            parallel,
            phases: PhaseTimes::default(),
        }
    }

    /// One step; returns the batch's mean ELBO (so that the work cannot be optimised away).
    pub fn run(&mut self) -> f32 {
        if let Some((parallel, step)) = &mut self.parallel {
            *step += 1;
            let seed = *step * parallel.shards() as u64;
            let rng = |w: usize| Xoshiro256PlusPlus::seed_from_u64(seed + w as u64);
            let lr = LEARNING_RATE;
            let out =
                parallel.step(&mut self.model, &mut self.adam, None, &self.batch, &self.batch, rng, lr, 10.0 * lr);
            self.phases.add(&out.phases);
            return out.diagnostics.elbo;
        }
        self.model.load_batch(&self.batch, &self.batch, &mut self.scratch);
        let d = self.estimator.estimate(&self.model, &mut self.scratch, &mut self.rng, &mut self.grad);
        self.adam.step(&mut self.model, &self.grad, LEARNING_RATE, AdamConfig::REBAR);
        self.estimator.update_control_variates(10.0 * LEARNING_RATE);
        d.elbo
    }
}

/// Calls `f` with a step of `kind` for the named (model, batch) case of [`CASES`], on one thread.
pub fn with_case<R>(model: &str, batch: usize, kind: EstimatorKind, f: impl FnOnce(&mut dyn FnMut() -> f32) -> R) -> R {
    struct OneThread<F>(F);
    impl<R, F: FnOnce(&mut dyn FnMut() -> f32) -> R> Case<R> for OneThread<F> {
        fn run<M: Model, const B: usize>(self, kind: EstimatorKind) -> R {
            let mut step = TrainingStep::<M, B>::new(kind, 1, 1);
            (self.0)(&mut || step.run())
        }
    }
    dispatch(model, batch, kind, OneThread(f))
}

/// [`with_case`] over `shards` shards on `threads` threads: `f` runs inside the data-parallel
/// step's thread pool, as `rebar train --train-threads --shards` runs its loop (see
/// [`rebar_host::train::parallel`]).
pub fn with_parallel_case<R: Send>(
    model: &str,
    batch: usize,
    kind: EstimatorKind,
    (threads, shards): (usize, usize),
    f: impl FnOnce(&mut dyn FnMut() -> f32) -> R + Send,
) -> R {
    struct Threads<F>(usize, usize, F);
    impl<R: Send, F: FnOnce(&mut dyn FnMut() -> f32) -> R + Send> Case<R> for Threads<F> {
        fn run<M: Model, const B: usize>(self, kind: EstimatorKind) -> R {
            let Threads(threads, shards, f) = self;
            let mut step = TrainingStep::<M, B>::new(kind, threads, shards);
            match step.parallel.as_ref().map(|(p, ..)| p.pool()) {
                Some(pool) => pool.install(|| f(&mut || step.run())),
                None => f(&mut || step.run()),
            }
        }
    }
    dispatch(model, batch, kind, Threads(threads, shards, f))
}

/// The mean time of each phase of the data-parallel step ([`PhaseTimes`]) over `steps` steps of
/// the named case on `threads` threads and `shards` shards (`threads` or `shards` ≥ 2), after
/// as many warm-up steps.
pub fn parallel_phases(
    model: &str,
    batch: usize,
    kind: EstimatorKind,
    (threads, shards): (usize, usize),
    steps: usize,
) -> PhaseTimes {
    struct Phases(usize, usize, usize);
    impl Case<PhaseTimes> for Phases {
        fn run<M: Model, const B: usize>(self, kind: EstimatorKind) -> PhaseTimes {
            let Phases(threads, shards, steps) = self;
            let mut step = TrainingStep::<M, B>::new(kind, threads, shards);
            let pool = step.parallel.as_ref().map(|(p, ..)| p.pool()).expect("two or more threads or shards");
            pool.install(|| {
                for _ in 0..steps {
                    step.run();
                }
                step.phases = PhaseTimes::default();
                for _ in 0..steps {
                    step.run();
                }
            });
            step.phases.mean_over(steps)
        }
    }
    dispatch(model, batch, kind, Phases(threads, shards, steps))
}

/// The models of the bench cases.
trait Model: Sbn<LATENT, Input = [f32; PIXELS], Target = [f32; PIXELS]> + Send + Sync {}
impl<M: Sbn<LATENT, Input = [f32; PIXELS], Target = [f32; PIXELS]> + Send + Sync> Model for M {}

/// Work on one case's types.
trait Case<R> {
    fn run<M: Model, const B: usize>(self, kind: EstimatorKind) -> R;
}

/// The one place that maps a case's names to its types.
fn dispatch<R>(model: &str, batch: usize, kind: EstimatorKind, case: impl Case<R>) -> R {
    match (model, batch) {
        ("linear1", 24) => case.run::<Linear1, 24>(kind),
        ("linear1", 1) => case.run::<Linear1, 1>(kind),
        ("linear2", 24) => case.run::<Linear2, 24>(kind),
        ("linear2", 1) => case.run::<Linear2, 1>(kind),
        ("nonlinear", 24) => case.run::<Nonlinear, 24>(kind),
        ("nonlinear", 1) => case.run::<Nonlinear, 1>(kind),
        _ => panic!("no bench case for model {model} at batch {batch}"),
    }
}

/// `n` deterministic values in [−0.5, 0.5), different for each `seed`: data for the probes.
pub fn fill(n: usize, seed: u32) -> Vec<f32> {
    (0..n).map(|i| (((i as u32).wrapping_mul(2_654_435_761) ^ seed) % 1000) as f32 / 1000.0 - 0.5).collect()
}
