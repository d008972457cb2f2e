//! The training loop of one run: batches in the official order, one estimate per step, Adam on
//! the model (and 10× on the control variates), the official metrics per epoch, IWAE evaluations,
//! atomic checkpoints, and a clean stop on Ctrl-C or on a non-finite step.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rebar_core::state::visit_tensors;
use rebar_core::{Adam, Estimator, Sbn};

use super::any::AnyEstimator;
use super::checkpoint::{self, EpochSums, Header};
use super::clock::{self, Elapsed, RunClock};
use super::config::TrainConfig;
use super::eval::{Evaluation, evaluate_until};
use super::feed::{Feed, Stream, stream_rng};
use super::last_pass::fold_and_step_all;
use super::parallel::DataParallel;
use super::progress::Progress;
use super::variance::VarianceTracker;
use super::{BATCH_CAPACITY as B, TrainError};
use crate::data::Dataset;
use crate::records::{EpochRow, TimingRow, files};

/// Where a run writes, and how it reports.
#[derive(Debug, Clone)]
pub struct Output {
    /// The run folder.
    pub dir: PathBuf,
    /// Write a checkpoint every this many steps (0: only at the end and on interruption).
    pub checkpoint_every: u64,
    /// Show progress on stderr: a bar on a terminal, else a line every 30 s ([`Progress`]).
    pub progress: bool,
    /// Continue from the folder's checkpoint.
    pub resume: bool,
    /// Threads for evaluation.
    pub threads: usize,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// One row per epoch.
    pub history: Vec<EpochRow>,
    /// One row per window of steps (finer, for plots).
    pub progress: Vec<EpochRow>,
    /// Steps completed.
    pub steps: u64,
    /// Steps per epoch.
    pub steps_per_epoch: u64,
    /// Training steps per second over every process of the run (evaluation excluded).
    pub steps_per_second: f64,
    /// Wall-clock seconds over every process of the run.
    pub seconds: f64,
    /// Final evaluation on (valid, test).
    pub valid: Evaluation,
    /// Final evaluation on test.
    pub test: Evaluation,
    /// The estimates' multiply-adds per example over this process's steps (None if none ran).
    pub work: Option<crate::records::Work>,
}

/// One run's state.
pub struct Session<'d, M: Sbn<H, Input = [f32; X]>, const X: usize, const H: usize, const Y: usize> {
    config: TrainConfig,
    data: &'d Dataset,
    out: Output,
    model: Box<M>,
    adam: Box<Adam<M>>,
    stepper: Stepper<M, X, H>,
    tracker: VarianceTracker<M>,
    feed: Feed<'d, X, Y>,
    step: u64,
    history: Vec<EpochRow>,
    epoch: EpochSums,
    progress: Vec<EpochRow>,
    window: EpochSums,
    timing: Vec<TimingRow>,
    clock: RunClock,
    last: rebar_core::Diagnostics,
    /// Σ of the estimates' kernel work and the examples it covered, in this process.
    work: (rebar_core::ops::OpCount, u64),
}

/// How the steps run: on this thread, or data-parallel over shards of the batch. The
/// data-parallel step with one shard on one thread gives the same bits, but measured 5–11%
/// slower than this one (`bench/train_pair.sh`, NVIL and REBAR, 2026-12-08; the
/// paired runs vary by ±5% on their own), so one thread keeps it.
enum Stepper<M: Sbn<H, Input = [f32; X]>, const X: usize, const H: usize> {
    Single { estimator: AnyEstimator<M, X, H, B>, grad: Box<M>, scratch: Box<M::Scratch<B>> },
    Parallel(Box<DataParallel<M, X, H>>),
}

impl<M: Sbn<H, Input = [f32; X]> + Send + Sync, const X: usize, const H: usize> Stepper<M, X, H> {
    /// The estimator whose state is saved and reported (the first replica when parallel).
    fn estimator_mut(&mut self) -> &mut AnyEstimator<M, X, H, B> {
        match self {
            Stepper::Single { estimator, .. } => estimator,
            Stepper::Parallel(p) => p.estimator_mut(),
        }
    }
}

impl<'d, M, const X: usize, const H: usize, const Y: usize> Session<'d, M, X, H, Y>
where
    M: Sbn<H, Input = [f32; X], Target = [f32; Y]> + Send + Sync,
{
    /// A new run: the model initialised from the seed, the data means set from the training
    /// split; or the folder's checkpoint if `out.resume`. With several shards
    /// ([`TrainConfig::shards`]), `replicas` holds that many fresh estimators of the same kind
    /// less one (see [`DataParallel::with_threads`]); with several shards or threads the step is
    /// the data-parallel one.
    pub fn new(
        config: TrainConfig,
        data: &'d Dataset,
        estimator: AnyEstimator<M, X, H, B>,
        replicas: Vec<AnyEstimator<M, X, H, B>>,
        out: Output,
    ) -> Result<Self, TrainError> {
        let mut model: Box<M> = bytemuck::zeroed_box();
        model.init(&mut stream_rng(config.seed, Stream::Init, 0));
        let mean = data.train_mean();
        let (mut input_mean, mut target_mean) = ([0.0f32; X], [0.0f32; Y]);
        super::feed::split_row(&mean, &mut input_mean, &mut target_mean);
        model.set_data_mean(&input_mean, &target_mean);
        let feed = Feed::new(&data.train, config.batch, config.seed);
        let stepper = if replicas.is_empty() && config.train_threads <= 1 {
            Stepper::Single { estimator, grad: bytemuck::zeroed_box(), scratch: bytemuck::zeroed_box() }
        } else {
            let parallel = DataParallel::with_threads(estimator, replicas, config.train_threads);
            Stepper::Parallel(Box::new(parallel?))
        };
        let mut session = Session {
            config,
            data,
            out,
            model,
            adam: bytemuck::zeroed_box(),
            stepper,
            tracker: VarianceTracker::new(),
            feed,
            step: 0,
            history: Vec::new(),
            epoch: EpochSums::default(),
            progress: Vec::new(),
            window: EpochSums::default(),
            timing: Vec::new(),
            clock: RunClock::resume(&Elapsed::default(), 0),
            last: Default::default(),
            work: Default::default(),
        };
        if session.out.resume {
            session.restore()?;
        }
        Ok(session)
    }

    fn checkpoint_path(&self) -> PathBuf {
        self.out.dir.join(files::CHECKPOINT)
    }

    /// Walks every piece of persistent state in a fixed order (shared by save and restore).
    fn visit(&mut self, v: &mut dyn rebar_core::state::StateVisitor) {
        self.model.visit_state(v);
        self.adam.visit_state("adam", v);
        self.stepper.estimator_mut().visit_state(v);
        visit_tensors(&mut *self.tracker.first, "variance_ema", v);
        visit_tensors(&mut *self.tracker.second, "variance_ema", v);
    }

    fn save(&mut self) -> Result<(), TrainError> {
        let header = Header {
            config: self.config.clone(),
            step: self.step,
            history: self.history.clone(),
            epoch: self.epoch.clone(),
            progress: self.progress.clone(),
            window: self.window.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        };
        let path = self.checkpoint_path();
        checkpoint::write(&path, &header, |w| self.visit(w))?;
        clock::save(&self.out.dir, &self.clock.elapsed(self.step, &self.timing))
    }

    fn restore(&mut self) -> Result<(), TrainError> {
        let path = self.checkpoint_path();
        let (header, mut reader) = checkpoint::read(&path)?;
        // A resumed run may extend its step budget and change its threads; everything else must
        // be the same run.
        super::resume::check(&header.config, header.step, &self.config, &self.out.dir)
            .map_err(|source| TrainError::Resume { file: path.clone(), source })?;
        self.visit(&mut reader);
        reader.finish()?;
        if let Stepper::Parallel(p) = &mut self.stepper {
            p.sync_replicas();
        }
        self.step = header.step;
        self.history = header.history;
        self.epoch = header.epoch;
        self.progress = header.progress;
        self.window = header.window;
        let elapsed = clock::load(&self.out.dir)?;
        self.clock = RunClock::resume(&elapsed, header.step);
        self.timing = elapsed.timing;
        Ok(())
    }

    fn write_metrics(&self, history: &[EpochRow], progress: &[EpochRow]) -> Result<(), TrainError> {
        write_csv(&self.out.dir.join(files::METRICS), history)?;
        write_csv(&self.out.dir.join(files::PROGRESS), progress)?;
        write_csv(&self.out.dir.join(files::TIMING), &self.timing)
    }

    /// Steps per progress window: about 200 windows over the run, at most an epoch.
    fn window_size(&self) -> u64 {
        (self.config.steps / 200).clamp(1, self.feed.steps_per_epoch())
    }

    /// The row of the epoch that ends now (its sums are reset).
    fn close_epoch(&mut self, epoch: u64, valid: Option<f64>, test: Option<f64>) -> EpochRow {
        let e = std::mem::take(&mut self.epoch);
        self.row(epoch, &e, valid, test)
    }

    /// A metrics row from sums over steps ending now.
    fn row(&self, epoch: u64, e: &EpochSums, valid: Option<f64>, test: Option<f64>) -> EpochRow {
        let d = &self.last;
        EpochRow {
            epoch,
            step: self.step,
            train_elbo: e.elbo / e.steps.max(1) as f64,
            log_variance: (e.variance / e.steps.max(1) as f64).ln(),
            temperature: d.temperature.map(f64::from),
            eta_mean: d.eta_mean.map(f64::from),
            valid_iwae: valid,
            test_iwae: test,
        }
    }

    /// Evaluates the model on `split`; `None` if `stop` was raised meanwhile.
    fn evaluate(&self, split: &crate::data::Split, stream: u64, stop: &AtomicBool) -> Option<Evaluation> {
        let c = &self.config;
        let (samples, examples, threads) = (c.iwae_samples, c.eval_examples, self.out.threads);
        evaluate_until::<M, X, H, Y, B>(&self.model, split, samples, examples, c.seed, stream, threads, stop)
    }

    /// Trains until `config.steps` (stopping cleanly if `stop` is raised), then evaluates.
    pub fn run(&mut self, stop: &AtomicBool) -> Result<Outcome, TrainError> {
        match &self.stepper {
            // The whole loop runs in the step's thread pool (see `parallel`'s docs: threads).
            Stepper::Parallel(p) => p.pool().install(|| self.run_loop(stop)),
            Stepper::Single { .. } => self.run_loop(stop),
        }
    }

    /// One step of training on the batch of `self.step`: the estimate, the variance metric and
    /// (if both the ELBO and the gradient are finite) the updates. Returns the diagnostics and
    /// the variance, `None` if not finite.
    fn train_step(&mut self, n: usize) -> (rebar_core::Diagnostics, Option<f64>) {
        let (seed, step, lr) = (self.config.seed, self.step, self.config.learning_rate);
        let (inputs, targets) = (&self.feed.inputs[..n], &self.feed.targets[..n]);
        match &mut self.stepper {
            Stepper::Single { estimator, grad, scratch } => {
                self.model.load_batch(inputs, targets, scratch);
                let mut rng = stream_rng(seed, Stream::Noise, step);
                let d = estimator.estimate(&self.model, scratch, &mut rng, grad);
                // The variance metric's pass over the gradient is also its finiteness check,
                // and takes Adam's step block by block (see `last_pass`).
                let variance = if d.elbo.is_finite() {
                    fold_and_step_all(&**grad, &mut self.tracker, &mut *self.model, &mut *self.adam, lr)
                } else {
                    None
                };
                if variance.is_some() {
                    estimator.update_control_variates(10.0 * lr);
                }
                (d, variance)
            }
            Stepper::Parallel(p) => {
                let shards = p.shards() as u64;
                let rng = |w: usize| stream_rng(seed, Stream::Noise, step * shards + w as u64);
                let model = &mut self.model;
                let tracker = Some(&mut self.tracker);
                let out = p.step(model, &mut self.adam, tracker, inputs, targets, rng, lr, 10.0 * lr);
                (out.diagnostics, out.variance.filter(|_| out.diagnostics.elbo.is_finite()))
            }
        }
    }

    fn run_loop(&mut self, stop: &AtomicBool) -> Result<Outcome, TrainError> {
        std::fs::create_dir_all(&self.out.dir)
            .map_err(|source| TrainError::Io { file: self.out.dir.clone(), source })?;
        let per_epoch = self.feed.steps_per_epoch();
        let total = self.config.steps;
        self.clock.open_epoch();
        let mut epoch_first_step = self.step;
        let mut bar = Progress::new(total, self.step, self.out.progress);
        // From here the folder's metrics are this run's: a summary of what it held before (a
        // resumed run's shorter, finished one) no longer describes them.
        for f in [files::SUMMARY, files::CURVES] {
            match std::fs::remove_file(self.out.dir.join(f)) {
                Err(source) if source.kind() != std::io::ErrorKind::NotFound => {
                    return Err(TrainError::Io { file: self.out.dir.join(f), source });
                }
                _ => {}
            }
        }
        self.write_metrics(&self.history, &self.progress)?;

        while self.step < total {
            if stop.load(Ordering::Relaxed) {
                self.save()?;
                bar.abandon();
                return Err(TrainError::Interrupted { step: self.step, dir: self.out.dir.clone() });
            }
            let (n, epoch) = self.feed.load(self.step);
            let before = rebar_core::ops::read();
            let (d, variance) = self.train_step(n);
            let done = rebar_core::ops::read().since(before);
            self.work.0.multiply_adds = self.work.0.multiply_adds.wrapping_add(done.multiply_adds);
            self.work.0.dense_multiply_adds = self.work.0.dense_multiply_adds.wrapping_add(done.dense_multiply_adds);
            self.work.1 += n as u64;
            let Some(variance) = variance else {
                let what = if d.elbo.is_finite() { "gradient" } else { "ELBO" };
                return Err(TrainError::NonFinite {
                    step: self.step,
                    estimator: self.config.estimator.name(),
                    what: what.into(),
                    checkpoint: super::Checkpointed::of(&self.checkpoint_path()),
                });
            };
            self.step += 1;
            self.epoch.steps += 1;
            self.epoch.elbo += d.elbo as f64;
            self.epoch.variance += variance;
            self.window.steps += 1;
            self.window.elbo += d.elbo as f64;
            self.window.variance += variance;
            self.last = d;
            if self.step.is_multiple_of(self.window_size()) {
                let w = std::mem::take(&mut self.window);
                let row = self.row(epoch + 1, &w, None, None);
                self.progress.push(row);
            }

            if self.step.is_multiple_of(64) || self.step == total {
                bar.update(self.step, || progress_message(&d, variance));
                if self.step.is_multiple_of(1024) && !self.model.all_finite() {
                    return Err(TrainError::NonFinite {
                        step: self.step,
                        estimator: self.config.estimator.name(),
                        what: "model parameters".into(),
                        checkpoint: super::Checkpointed::of(&self.checkpoint_path()),
                    });
                }
            }
            if self.step.is_multiple_of(per_epoch) {
                let seconds = self.clock.close_epoch();
                let epoch_number = epoch + 1;
                let eval_now = self.config.eval_every > 0
                    && epoch_number.is_multiple_of(self.config.eval_every)
                    && self.step < total;
                let (valid, test) = if eval_now {
                    bar.note(format!("evaluating IWAE-{} at step {} ...", self.config.iwae_samples, self.step));
                    // Not stopped by a signal: the epoch's row needs both numbers, and the
                    // checkpoint that the next step's stop check writes cannot hold half an
                    // epoch end. A second signal exits at once.
                    let never = AtomicBool::new(false);
                    let valid = self.evaluate(&self.data.valid, 1, &never).map(|e| e.iwae);
                    (valid, self.evaluate(&self.data.test, 2, &never).map(|e| e.iwae))
                } else {
                    (None, None)
                };
                let row = self.close_epoch(epoch_number, valid, test);
                self.history.push(row);
                self.timing.push(TimingRow {
                    epoch: epoch_number,
                    steps_per_second: (self.step - epoch_first_step) as f64 / seconds.max(1e-9),
                    seconds: self.clock.seconds(),
                });
                self.write_metrics(&self.history, &self.progress)?;
                self.clock.open_epoch();
                epoch_first_step = self.step;
            }
            if self.out.checkpoint_every > 0 && self.step.is_multiple_of(self.out.checkpoint_every) {
                self.save()?;
            }
        }
        // The checkpoint keeps an unfinished epoch open, so that a longer run resumed from it
        // closes that epoch where an uninterrupted run would.
        self.save()?;
        let (mut history, mut progress) = (self.history.clone(), self.progress.clone());
        if self.window.steps > 0 {
            progress.push(self.row(self.step.div_ceil(per_epoch), &self.window, None, None));
        }
        if self.epoch.steps > 0 {
            let seconds = self.clock.close_epoch();
            let epoch_number = self.step.div_ceil(per_epoch);
            let open = self.epoch.clone();
            let row = self.close_epoch(epoch_number, None, None);
            self.epoch = open;
            history.push(row);
            self.timing.push(TimingRow {
                epoch: epoch_number,
                steps_per_second: (self.step - epoch_first_step) as f64 / seconds.max(1e-9),
                seconds: self.clock.seconds(),
            });
        }
        self.clock.close_epoch();
        bar.note(format!("evaluating valid and test (IWAE-{}) ...", self.config.iwae_samples));
        // The checkpoint is saved: a stop here loses only the evaluation, which a resumed run
        // (at its last step already) does again before it writes the summary.
        let stopped = || TrainError::Interrupted { step: self.step, dir: self.out.dir.clone() };
        let Some(valid) = self.evaluate(&self.data.valid, 1, stop) else {
            bar.abandon();
            return Err(stopped());
        };
        let Some(test) = self.evaluate(&self.data.test, 2, stop) else {
            bar.abandon();
            return Err(stopped());
        };
        for rows in [&mut history, &mut progress] {
            if let Some(last) = rows.last_mut() {
                last.valid_iwae = Some(valid.iwae);
                last.test_iwae = Some(test.iwae);
            }
        }
        self.write_metrics(&history, &progress)?;
        bar.finish();
        Ok(Outcome {
            history,
            progress,
            steps: self.step,
            steps_per_epoch: per_epoch,
            steps_per_second: self.clock.steps_per_second(self.step),
            work: (rebar_core::ops::ENABLED && self.work.1 > 0).then(|| crate::records::Work {
                multiply_adds_per_example: self.work.0.multiply_adds as f64 / self.work.1 as f64,
                dense_multiply_adds_per_example: self.work.0.dense_multiply_adds as f64 / self.work.1 as f64,
            }),
            seconds: self.clock.seconds(),
            valid,
            test,
        })
    }

    /// The trained model.
    pub fn model(&self) -> &M {
        &self.model
    }
}

fn progress_message(d: &rebar_core::Diagnostics, variance: f64) -> String {
    let mut m = format!("ELBO {:.2}  log var {:.2}", d.elbo, variance.ln());
    if let Some(t) = d.temperature {
        m += &format!("  λ {t:.3}");
    }
    if let Some(e) = d.eta_mean {
        m += &format!("  η {e:.3}");
    }
    m
}

/// Writes rows as CSV (header from the record's fields), replacing the file.
pub fn write_csv<T: serde::Serialize>(path: &Path, rows: &[T]) -> Result<(), TrainError> {
    let io = |e: csv::Error| TrainError::Io { file: path.to_path_buf(), source: std::io::Error::other(e) };
    let mut w = csv::Writer::from_path(path).map_err(io)?;
    for r in rows {
        w.serialize(r).map_err(io)?;
    }
    w.flush().map_err(|source| TrainError::Io { file: path.to_path_buf(), source })
}
