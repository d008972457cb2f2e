//! The training step: the batch is split into contiguous shards, each estimated by its own
//! replica of the estimator through the core's stages ([`rebar_core::estimator::stages`]); the
//! shards' gradients are averaged (weighted by their rows) while the element-wise rest of the
//! step — [`Estimator::combine`] for the estimators whose control variates see the whole
//! gradient, the variance metric, Adam — is split over the threads by element ranges. Shards and
//! threads are separate counts: the shards decide the numbers, the threads only the speed. One
//! shard on one thread gives the single-threaded step's numbers bit for bit (`rebar train
//! --train-threads 1` still runs that step itself: this driver on one thread measured 5–11%
//! slower).
//!
//! # A step, top down
//! [`DataParallel::step`]: phase 1, [`Estimator::estimate_shard`] on every shard (and
//! [`Estimator::finish_batch_elbo`] with the batch's ELBO sum, for [`Shape::BatchElbo`]); phase
//! 2, for [`Shape::WholeGradient`], the shards' parts averaged and combined into the whole g
//! ([`Estimator::combine`]); phase 3, [`Estimator::finish_shard`] on every shard against that g;
//! phase 4, the variance metric and Adam in one pass over g, beside the control variates' update.
//! The driver never asks which estimator it holds, only its [`Shape`].
//!
//! # Exactness
//! A shard's estimate is a mean over its rows, so the row-weighted average of the shards' is the
//! whole batch's, for every estimator whose learning signal and control-variate objectives are
//! means of per-example terms ([`Shape::PerExample`]). The other two shapes wait for the whole
//! batch: REINFORCE's leave-one-out baseline needs the batch's sum of ELBOs, REBAR's and RELAX's
//! variance gradients the whole batch's g. The replicas' pending control-variate gradients are
//! averaged the same way and every replica applies the same update, so their learned state stays
//! identical. `tests/tests/data_parallel.rs` checks the result against one estimate of the whole
//! batch with the same noise.
//!
//! # Determinism
//! Each shard draws its noise from its own stream, so a run depends on the number of shards. It
//! depends neither on timing nor on the number of threads: the shards' gradients are summed in
//! shard order, element by element, and the sums over the gradient (Σ g², ⟨g, B⟩, the variance
//! metric's) are kept per 1,024-value block and added up in block order, as one pass over the
//! whole gradient adds them. One shard on any number of threads is therefore the
//! single-threaded step bit for bit, and `tests/tests/data_parallel.rs` checks both.
//!
//! # Threads
//! A rayon pool of the given number of threads. Callers should run their whole training loop
//! inside [`DataParallel::pool`]'s `install`: between the phases of a step the pool's threads
//! then spin for work instead of sleeping, and waking a sleeping thread costs ~100 µs on the
//! 2-vCPU VMs this was measured on — more than some of the phases. With one shard the other
//! threads wait through its estimate awake, yielding their cores to whatever else wants them,
//! and, for an estimator that splits in halves ([`Estimator::splits_in_halves`]: REBAR's score
//! half A beside its control-variate half B), one of them takes the second half in a workspace
//! of its own, through [`RayonFork`] (`rebar train` on linear1, two threads: 1.08–1.13× with the
//! same numbers).
//!
//! # Example
//! Learned-temperature REBAR on a small model, a batch of 6 split over 2 threads:
//! ```
//! use rand_core::SeedableRng;
//! use rand_xoshiro::Xoshiro256PlusPlus as Rng;
//! use rebar_core::model::{Generative, OneLayer};
//! use rebar_core::net::Dense;
//! use rebar_core::{Adam, Sbn};
//! use rebar_host::train::parallel::DataParallel;
//! use rebar_host::train::variance::VarianceTracker;
//! use rebar_host::train::{AnyEstimator, EstimatorKind, EstimatorOptions};
//!
//! type Model = OneLayer<8, 4, 8, Dense<8, 4>, Dense<4, 8>, Generative>;
//! let options = EstimatorOptions::default();
//! let new = || AnyEstimator::new(EstimatorKind::Rebar, options, &mut Rng::seed_from_u64(1));
//! let mut parallel = DataParallel::<Model, 8, 4>::new(new()?, vec![new()?])?;
//!
//! let mut model: Box<Model> = bytemuck::zeroed_box();
//! model.init(&mut Rng::seed_from_u64(0));
//! model.set_data_mean(&[0.5; 8], &[0.5; 8]);
//! let mut adam: Box<Adam<Model>> = bytemuck::zeroed_box();
//! let mut tracker = VarianceTracker::<Model>::new();
//! let batch: Vec<[f32; 8]> =
//!     (0..6).map(|i| std::array::from_fn(|j| ((i + j) % 3 == 0) as u8 as f32)).collect();
//!
//! let pool = parallel.pool();
//! pool.install(|| {
//!     for step in 0..10u64 {
//!         // Each shard's noise: its own stream of each step.
//!         let noise = |shard: usize| Rng::seed_from_u64(2 * step + shard as u64);
//!         let tracker = Some(&mut tracker);
//!         let out = parallel.step(&mut model, &mut adam, tracker, &batch, &batch, noise, 1e-3, 1e-2);
//!         assert!(out.finite && out.diagnostics.elbo < 0.0);
//!     }
//! });
//! assert!(parallel.replicas_agree());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::ops::Range;
use std::sync::Arc;

use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use rebar_core::estimator::{Estimator, GradientTotals, Shape, ShardEstimate};
use rebar_core::{Adam, AdamConfig, Diagnostics, Sbn};

use super::BATCH_CAPACITY as B;
use super::any::AnyEstimator;
pub use super::awake::RayonFork;
use super::awake::keep_awake;
use super::phase_times::PhaseClock;
pub use super::phase_times::PhaseTimes;
use super::replica_state::{Restore, SavedState};
// The element block the passes over the gradient work in: small enough to stay in L1, and the
// variance metric's own summation block, so that splitting a tensor never splits one of them.
use super::last_pass::{BLOCK, fold_and_step};
use super::variance::{Sums, VarianceTracker};

/// The most shards a data-parallel step may split its batch into.
pub const MAX_SHARDS: usize = 8;

/// The most threads a data-parallel step may use.
pub const MAX_THREADS: usize = 8;

/// Why the parallel step cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ThreadsError {
    /// More shards than the step supports.
    #[error("at most {MAX_SHARDS} shards, not {0}")]
    Shards(usize),
    /// A thread count outside what the step supports.
    #[error("from 1 to {MAX_THREADS} training threads, not {0}")]
    Threads(usize),
    /// The operating system refused the threads.
    #[error("cannot start {threads} training threads: {source}")]
    Pool {
        /// Threads asked for.
        threads: usize,
        /// Why not.
        source: rayon::ThreadPoolBuildError,
    },
}

/// One shard's workspace and its replica of the estimator.
struct Shard<M: Sbn<H, Input = [f32; X]>, const X: usize, const H: usize> {
    scratch: Box<M::Scratch<B>>,
    /// The only shard on several threads, of an estimator that splits in halves
    /// ([`Estimator::splits_in_halves`]): the workspace of the half that a waiting thread takes.
    second: Option<Box<M::Scratch<B>>>,
    grad: Box<M>,
    estimator: AnyEstimator<M, X, H, B>,
    rows: usize,
    /// [`Shape::WholeGradient`]: whether the shard had rows to estimate.
    estimated: bool,
    /// [`Shape::BatchElbo`]: Σ f over the shard's rows.
    elbo_sum: f32,
    diagnostics: Diagnostics,
}

/// The state of a data-parallel step over `shards` threads (see the module docs).
pub struct DataParallel<M: Sbn<H, Input = [f32; X]>, const X: usize, const H: usize> {
    shards: Vec<Shard<M, X, H>>,
    /// The whole batch's gradient.
    total: Box<M>,
    /// The replicas' averaged pending control-variate gradients.
    pending: Vec<f32>,
    /// The reduction's sums per block of the tensor being reduced, added up in block order.
    blocks: Vec<BlockSums>,
    /// The pool's threads.
    threads: usize,
    pool: Arc<rayon::ThreadPool>,
}

/// One block's share of the sums over the gradient: [`Shape::WholeGradient`]'s (see
/// [`DataParallel::reduce`]) and the variance metric's (see [`DataParallel::update`]).
#[derive(Debug, Clone, Copy)]
struct BlockSums {
    /// Σ g² over the block ([`Shape::WholeGradient`]).
    squares: f64,
    /// ⟨g, B⟩ over the block ([`Shape::WholeGradient`]).
    products: f64,
    /// The variance metric's sums (or only the finiteness check).
    sums: Sums,
}

impl Default for BlockSums {
    fn default() -> Self {
        BlockSums { squares: 0.0, products: 0.0, sums: Sums::new() }
    }
}

/// The outcome of one step.
#[derive(Debug, Clone, Copy)]
pub struct StepOutcome {
    /// The estimator's diagnostics, with the ELBO averaged over the whole batch.
    pub diagnostics: Diagnostics,
    /// Whether the gradient was finite; if not, the model's parameters may be partly updated
    /// (see [`last_pass`](super::last_pass)), and with one shard its control variates too: the
    /// run must stop.
    pub finite: bool,
    /// The variance metric of [`VarianceTracker`], if one was given and the gradient was finite.
    pub variance: Option<f64>,
    /// How long each phase of the step took.
    pub phases: PhaseTimes,
}

impl<M, const X: usize, const H: usize> DataParallel<M, X, H>
where
    M: Sbn<H, Input = [f32; X]> + Send + Sync,
{
    /// `estimator` and `replicas.len()` more replicas of it (fresh estimators of the same kind
    /// and options; their state is overwritten with `estimator`'s), one shard each, on as many
    /// threads.
    pub fn new(
        estimator: AnyEstimator<M, X, H, B>,
        replicas: Vec<AnyEstimator<M, X, H, B>>,
    ) -> Result<Self, ThreadsError> {
        let threads = 1 + replicas.len();
        Self::with_threads(estimator, replicas, threads)
    }

    /// [`DataParallel::new`] on `threads` threads, which need not be the number of shards: the
    /// shards are estimated in parallel (at most `threads` at a time), the rest of the step is
    /// split over all the threads, and the results are the same for every thread count. One
    /// shard on several threads is the single-threaded step, bit for bit, with its
    /// element-wise half (the reduction, the variance metric and Adam) spread over the threads.
    pub fn with_threads(
        estimator: AnyEstimator<M, X, H, B>,
        replicas: Vec<AnyEstimator<M, X, H, B>>,
        threads: usize,
    ) -> Result<Self, ThreadsError> {
        let count = 1 + replicas.len();
        if count > MAX_SHARDS {
            return Err(ThreadsError::Shards(count));
        }
        if !(1..=MAX_THREADS).contains(&threads) {
            return Err(ThreadsError::Threads(threads));
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("rebar-step-{i}"))
            .build()
            .map_err(|source| ThreadsError::Pool { threads, source })?;
        let halves = count == 1 && threads > 1 && estimator.splits_in_halves();
        let shard = |estimator| Shard {
            scratch: bytemuck::zeroed_box(),
            second: halves.then(bytemuck::zeroed_box),
            grad: bytemuck::zeroed_box(),
            estimator,
            rows: 0,
            estimated: false,
            elbo_sum: 0.0,
            diagnostics: Diagnostics::default(),
        };
        let total: Box<M> = bytemuck::zeroed_box();
        let most_blocks = (0..M::COUNT).map(|t| total.tensor(t).len().div_ceil(BLOCK)).max().unwrap_or(0);
        let mut me = DataParallel {
            shards: std::iter::once(estimator).chain(replicas).map(shard).collect(),
            total,
            pending: Vec::new(),
            blocks: vec![BlockSums::default(); most_blocks],
            threads,
            pool: Arc::new(pool),
        };
        me.sync_replicas();
        Ok(me)
    }

    /// The number of shards.
    pub fn shards(&self) -> usize {
        self.shards.len()
    }

    /// The number of threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The thread pool; run the training loop inside its `install` (see the module docs).
    pub fn pool(&self) -> Arc<rayon::ThreadPool> {
        self.pool.clone()
    }

    /// The first replica of the estimator: the one to save, restore (then call
    /// [`DataParallel::sync_replicas`]) and report.
    pub fn estimator_mut(&mut self) -> &mut AnyEstimator<M, X, H, B> {
        &mut self.shards[0].estimator
    }

    /// The whole batch's gradient of the last step.
    pub fn gradient(&self) -> &M {
        &self.total
    }

    /// Whether every replica's learned state equals the first's (it always should).
    pub fn replicas_agree(&mut self) -> bool {
        let mut states = self.shards.iter_mut().map(|shard| {
            let mut saved = SavedState::default();
            shard.estimator.visit_state(&mut saved);
            saved
        });
        let first = states.next().expect("at least one shard");
        states.all(|s| s.f32s == first.f32s && s.f64s == first.f64s && s.u64s == first.u64s)
    }

    /// Copies the first replica's learned state into the others.
    pub fn sync_replicas(&mut self) {
        let (first, rest) = self.shards.split_at_mut(1);
        let mut saved = SavedState::default();
        first[0].estimator.visit_state(&mut saved);
        for shard in rest {
            saved.at = [0; 3];
            shard.estimator.visit_state(&mut Restore(&mut saved));
        }
    }

    /// One training step on the batch `inputs`/`targets` (at most [`B`] rows): the estimate over
    /// the shards (shard `w` draws its noise from `rng(w)`), the variance metric (if a
    /// `tracker` is given), the model's Adam step with `lr` and the control variates' step with
    /// `cv_lr`.
    #[allow(clippy::too_many_arguments)]
    pub fn step(
        &mut self,
        model: &mut M,
        adam: &mut Adam<M>,
        tracker: Option<&mut VarianceTracker<M>>,
        inputs: &[M::Input],
        targets: &[M::Target],
        rng: impl Fn(usize) -> Xoshiro256PlusPlus + Send + Sync,
        lr: f32,
        cv_lr: f32,
    ) -> StepOutcome
    where
        M::Target: Sync,
    {
        let pool = self.pool.clone();
        pool.install(|| {
            let mut clock = PhaseClock::start();
            let helpers = if self.shards.len() == 1 { self.threads - 1 } else { 0 };
            let weights = keep_awake(helpers, || self.estimate(model, inputs, targets, rng));
            let estimate = clock.lap();
            let weights = &weights[..self.shards.len()];
            if let [shard] = &mut self.shards[..] {
                // One shard's gradient is the total: take it as it is (its buffer gets the old
                // total's, which the next estimate overwrites).
                std::mem::swap(&mut self.total, &mut shard.grad);
            }
            let tracked = tracker.is_some();
            let totals = self.reduce(weights);
            let reduce = clock.lap();
            let mut diagnostics = keep_awake(helpers, || self.variance_gradients(model, &totals));
            let variance_gradients = clock.lap();
            diagnostics.elbo = self.shards.iter().zip(weights).map(|(s, &c)| c * s.diagnostics.elbo).sum();
            let sums = self.update(model, adam, tracker, weights, lr, cv_lr);
            let update = clock.lap();
            let mut phases = PhaseTimes { estimate, reduce, variance_gradients, update, ..PhaseTimes::default() };
            if !sums.finite() {
                return StepOutcome { diagnostics, finite: false, variance: None, phases };
            }
            if self.shards.len() > 1 {
                self.shards.par_iter_mut().for_each(|shard| shard.estimator.update_control_variates(cv_lr));
                phases.control_variates = clock.lap();
            }
            StepOutcome { diagnostics, finite: true, variance: sums.variance().filter(|_| tracked), phases }
        })
    }

    /// Phase 1: each shard's [`Estimator::estimate_shard`] on its rows and, for
    /// [`Shape::BatchElbo`], its [`Estimator::finish_batch_elbo`] with the whole batch's sum.
    /// Returns each shard's weight, its share of the batch's rows.
    fn estimate(
        &mut self,
        model: &M,
        inputs: &[M::Input],
        targets: &[M::Target],
        rng: impl Fn(usize) -> Xoshiro256PlusPlus + Send + Sync,
    ) -> [f32; MAX_SHARDS]
    where
        M::Target: Sync,
    {
        let n = inputs.len().min(targets.len()).min(B);
        let per_shard = n.div_ceil(self.shards.len()).max(1);
        self.shards.par_iter_mut().enumerate().for_each(|(w, shard)| {
            let rows: Range<usize> = (w * per_shard).min(n)..((w + 1) * per_shard).min(n);
            shard.rows = rows.len();
            let (inputs, targets) = (&inputs[rows.clone()], &targets[rows]);
            model.load_batch(inputs, targets, &mut shard.scratch);
            if let Some(second) = shard.second.as_deref_mut() {
                model.load_batch(inputs, targets, second);
            }
            let (s, second) = (&mut shard.scratch, shard.second.as_deref_mut());
            match shard.estimator.estimate_shard(model, s, second, &mut rng(w), &mut shard.grad, &RayonFork) {
                ShardEstimate::Gradient(d) => shard.diagnostics = d,
                ShardEstimate::ElboSum(sum) => shard.elbo_sum = sum,
                ShardEstimate::Parts { estimated } => shard.estimated = estimated,
            }
        });
        if self.shards[0].estimator.shape() == Shape::BatchElbo {
            let batch_sum = self.shards.iter().map(|s| s.elbo_sum).sum();
            self.shards.par_iter_mut().for_each(|shard| {
                let (s, grad) = (&mut shard.scratch, &mut shard.grad);
                shard.diagnostics = shard.estimator.finish_batch_elbo(model, s, grad, batch_sum, n);
            });
        }
        let mut weights = [0.0f32; MAX_SHARDS];
        for (w, shard) in self.shards.iter().enumerate() {
            weights[w] = shard.rows as f32 / n.max(1) as f32;
        }
        weights
    }

    /// Phase 3 (after [`DataParallel::reduce`]), [`Shape::WholeGradient`]: each replica's
    /// [`Estimator::finish_shard`] for its rows, against the whole batch's g. Returns the first
    /// shard's diagnostics.
    fn variance_gradients(&mut self, model: &M, totals: &GradientTotals) -> Diagnostics {
        if self.shards[0].estimator.shape() == Shape::WholeGradient {
            let total: &M = &self.total;
            self.shards.par_iter_mut().filter(|s| s.estimated).for_each(|shard| {
                let (s, second) = (&mut shard.scratch, shard.second.as_deref_mut());
                shard.diagnostics = shard.estimator.finish_shard(model, s, second, total, totals, &RayonFork);
            });
        }
        self.shards[0].diagnostics
    }

    /// Phase 4, the last pass over the gradient ([`last_pass`](super::last_pass)): the variance
    /// metric's fold into `tracker` (or only the finiteness check) and Adam's step, split by
    /// whole blocks into a few pieces per thread, while one thread averages the replicas'
    /// pending control-variate gradients (serial, but short) or, with one shard, steps its
    /// control variates with `cv_lr` (the other threads take the pieces meanwhile; with several
    /// shards each replica steps its own afterwards, on its own thread: stepping them here
    /// measured no faster). The model's step and the control variates' touch nothing in
    /// common, so running them side by side gives the numbers of running them one after the
    /// other. Returns the metric's sums, added up block after block as one pass over the whole
    /// gradient adds them.
    fn update(
        &mut self,
        model: &mut M,
        adam: &mut Adam<M>,
        mut tracker: Option<&mut VarianceTracker<M>>,
        weights: &[f32],
        lr: f32,
        cv_lr: f32,
    ) -> Sums {
        let step = adam.begin_step(lr, AdamConfig::REBAR);
        let pieces = 4 * self.threads;
        // Without a variance phase over the whole gradient, the shards' gradients are summed
        // here, block by block, rather than in a pass of their own (see `reduce`).
        let sum_shards = self.shards.len() > 1 && self.shards[0].estimator.shape() != Shape::WholeGradient;
        let (total, pending, blocks, shards) =
            (&mut self.total, &mut self.pending, &mut self.blocks, self.shards.len());
        // The shards' gradients to read, their estimators to average (split borrows of the shards).
        let mut grads: [Option<&M>; MAX_SHARDS] = [None; MAX_SHARDS];
        let mut estimators: [Option<&mut AnyEstimator<M, X, H, B>>; MAX_SHARDS] = Default::default();
        for (w, shard) in self.shards.iter_mut().enumerate() {
            (grads[w], estimators[w]) = (Some(&*shard.grad), Some(&mut shard.estimator));
        }
        let fold_and_step_all = || {
            let mut sums = Sums::new();
            for t in 0..M::COUNT {
                let (g, p) = (total.tensor_mut(t), model.tensor_mut(t));
                let (m, v) = (adam.m.tensor_mut(t), adam.v.tensor_mut(t));
                let parts: [&[f32]; MAX_SHARDS] = grads.map(|grad| grad.map_or(&[][..], |grad| grad.tensor(t)));
                let parts = if sum_shards { Some(&parts[..shards]) } else { None };
                let blocks = &mut blocks[..g.len().div_ceil(BLOCK)];
                let chunk = chunk_len(g.len(), pieces);
                let params = p.par_chunks_mut(chunk).zip(m.par_chunks_mut(chunk)).zip(v.par_chunks_mut(chunk));
                let pieces = g.par_chunks_mut(chunk).zip(params).zip(blocks.par_chunks_mut(chunk / BLOCK)).enumerate();
                // The `i`th piece, block by block, each block's sums apart.
                let piece = |i: usize,
                             g: &mut [f32],
                             averages: Option<(&mut [f32], &mut [f32])>,
                             [p, m, v]: [&mut [f32]; 3],
                             out: &mut [BlockSums]| {
                    let params = p.chunks_mut(BLOCK).zip(m.chunks_mut(BLOCK)).zip(v.chunks_mut(BLOCK));
                    let mut averages = averages.map(|(m1, m2)| (m1.chunks_mut(BLOCK), m2.chunks_mut(BLOCK)));
                    for (k, ((g, ((p, m), v)), out)) in g.chunks_mut(BLOCK).zip(params).zip(out).enumerate() {
                        if let Some(parts) = parts {
                            weighted_sum(g, parts, i * chunk + k * BLOCK, weights);
                        }
                        out.sums = Sums::new();
                        let block_averages = averages.as_mut().and_then(|(m1, m2)| m1.next().zip(m2.next()));
                        fold_and_step(g, block_averages, [p, m, v], &step, &mut out.sums);
                    }
                };
                match tracker.as_deref_mut() {
                    Some(tracker) => {
                        let (m1, m2) = (tracker.first.tensor_mut(t), tracker.second.tensor_mut(t));
                        let averages = m1.par_chunks_mut(chunk).zip(m2.par_chunks_mut(chunk));
                        pieces.zip(averages).for_each(|((i, ((g, ((p, m), v)), out)), (m1, m2))| {
                            piece(i, g, Some((m1, m2)), [p, m, v], out)
                        });
                    }
                    None => pieces.for_each(|(i, ((g, ((p, m), v)), out))| piece(i, g, None, [p, m, v], out)),
                }
                for block in blocks.iter() {
                    sums.merge(&block.sums);
                }
            }
            sums
        };
        let estimators = &mut estimators[..shards];
        let control_variates = || {
            average_pending_gradients(estimators, pending, weights);
            if let [Some(estimator)] = estimators {
                estimator.update_control_variates(cv_lr);
            }
        };
        rayon::join(control_variates, fold_and_step_all).1
    }

    /// Phase 2, [`Shape::WholeGradient`]: `total = Σ_w weights[w]·A_w + η ⊙ Σ_w weights[w]·B_w`
    /// with its sums ([`Estimator::combine`]); each tensor split over the threads in whole
    /// blocks. Each block's sums are kept apart and added up in block order afterwards, in the
    /// order of one pass over the whole gradient, so that they do not depend on the number of
    /// threads. The other shapes' shards are summed in the last pass ([`DataParallel::update`]).
    fn reduce(&mut self, weights: &[f32]) -> GradientTotals {
        let mut totals = GradientTotals::default();
        let (shards, threads) = (self.shards.len(), self.threads);
        let first = &self.shards[0].estimator;
        if first.shape() != Shape::WholeGradient {
            return totals;
        }
        for t in 0..M::COUNT {
            let mut a_parts: [&[f32]; MAX_SHARDS] = [&[]; MAX_SHARDS];
            let mut b_parts: [&[f32]; MAX_SHARDS] = [&[]; MAX_SHARDS];
            for (w, shard) in self.shards.iter().enumerate() {
                a_parts[w] = shard.grad.tensor(t);
                b_parts[w] = shard.estimator.control_variate_tensor(t).unwrap_or(&[]);
            }
            let (a_parts, b_parts) = (&a_parts[..shards], &b_parts[..shards]);
            let with_b = first.control_variate_tensor(t).is_some();
            // One shard: `total` already holds its gradient (see `step`), and its B is read as it is.
            let one = shards == 1;
            let g = self.total.tensor_mut(t);
            let blocks = &mut self.blocks[..g.len().div_ceil(BLOCK)];
            let chunk = chunk_len(g.len(), threads);
            // One piece of `chunk` values, the `i`th, block by block (each block stays in L1).
            let piece = |i: usize, g: &mut [f32], out: &mut [BlockSums]| {
                for (k, (g, out)) in g.chunks_mut(BLOCK).zip(out).enumerate() {
                    let at = i * chunk + k * BLOCK;
                    *out = BlockSums::default();
                    if !one {
                        weighted_sum(g, a_parts, at, weights);
                    }
                    let mut sum = [0.0f32; BLOCK];
                    let b: &[f32] = match (with_b, one) {
                        (false, _) => &[],
                        (true, true) => &b_parts[0][at..at + g.len()],
                        (true, false) => {
                            weighted_sum(&mut sum[..g.len()], b_parts, at, weights);
                            &sum[..g.len()]
                        }
                    };
                    let block = first.combine(t, g, b);
                    out.squares = block.sum_squares;
                    out.products = block.g_dot_b.get(t).copied().unwrap_or(0.0);
                }
            };
            let pieces = g.par_chunks_mut(chunk).zip(blocks.par_chunks_mut(chunk / BLOCK)).enumerate();
            pieces.for_each(|(i, (g, out))| piece(i, g, out));
            // The tensor's sums as one pass over it would add them: block after block from zero.
            let mut tensor = GradientTotals { count: g.len(), ..GradientTotals::default() };
            let mut products = 0.0f64;
            for block in blocks.iter() {
                tensor.sum_squares += block.squares;
                products += block.products;
            }
            if let Some(p) = tensor.g_dot_b.get_mut(t) {
                *p = products;
            }
            totals.add(&tensor);
        }
        totals
    }
}

/// Replaces every replica's pending control-variate gradients by their average weighted by
/// `weights`, through the buffer `pending` (sized by the first call).
fn average_pending_gradients<M: Sbn<H, Input = [f32; X]>, const X: usize, const H: usize>(
    estimators: &mut [Option<&mut AnyEstimator<M, X, H, B>>],
    pending: &mut Vec<f32>,
    weights: &[f32],
) {
    if estimators.len() < 2 {
        return;
    }
    for (w, estimator) in estimators.iter_mut().flatten().enumerate() {
        let (mut at, c) = (0, weights[w]);
        estimator.visit_pending_gradients(&mut |g| {
            if pending.len() < at + g.len() {
                pending.resize(at + g.len(), 0.0);
            }
            let sum = &mut pending[at..at + g.len()];
            if w == 0 {
                sum.iter_mut().zip(g.iter()).for_each(|(s, &x)| *s = c * x);
            } else {
                sum.iter_mut().zip(g.iter()).for_each(|(s, &x)| *s += c * x);
            }
            at += g.len();
        });
    }
    for estimator in estimators.iter_mut().flatten() {
        let mut at = 0;
        estimator.visit_pending_gradients(&mut |g| {
            g.copy_from_slice(&pending[at..at + g.len()]);
            at += g.len();
        });
    }
}

/// The piece of a tensor of `len` values each of `threads` threads takes: whole blocks.
fn chunk_len(len: usize, threads: usize) -> usize {
    len.div_ceil(threads.max(1)).next_multiple_of(BLOCK).max(BLOCK)
}

/// `out = Σ_w weights[w]·parts[w][at..at + out.len()]`, in shard order.
fn weighted_sum(out: &mut [f32], parts: &[&[f32]], at: usize, weights: &[f32]) {
    let n = out.len();
    for (w, (part, &c)) in parts.iter().zip(weights).enumerate() {
        let part = &part[at..at + n];
        if w == 0 {
            out.iter_mut().zip(part).for_each(|(o, &x)| *o = c * x);
        } else {
            out.iter_mut().zip(part).for_each(|(o, &x)| *o += c * x);
        }
    }
}
