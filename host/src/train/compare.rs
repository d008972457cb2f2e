//! The paper's comparison mode (`SBNTrackGradVariances`, docs/protocol.md, *Comparison mode (Figure 2)*): several
//! estimators on the same minibatch and the same noise at every step of one trajectory, which
//! follows one of them. Per estimator k, exponential moving averages (0.999, started at 0) of g
//! and g² give Var_k = mean_j(EMA_k\[g_j²\] − μ_j²) with μ the mean of all estimators' first
//! moments (a pooled estimate of the true gradient, valid because they are all unbiased), and the
//! unbiasedness check mean_j(EMA_k\[g_j\] − μ_j)², over all parameters and per parameter group.

use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rebar_core::{Adam, AdamConfig, Estimator, Sbn, Tensors};

use super::any::{AnyEstimator, EstimatorOptions};
use super::config::{EstimatorKind, ModelKind, TaskKind};
use super::feed::{Feed, Stream, split_row, stream_rng};
use super::variance::DECAY;
use super::{BATCH_CAPACITY as B, TrainError};
use crate::data::Dataset;
use crate::records::VarianceRow;

/// A comparison run.
#[derive(Debug, Clone)]
pub struct CompareConfig {
    /// The model.
    pub model: ModelKind,
    /// The task.
    pub task: TaskKind,
    /// The estimators compared.
    pub estimators: Vec<EstimatorKind>,
    /// The one whose gradient the trajectory follows.
    pub follow: EstimatorKind,
    /// (Initial) temperature of the estimators with one (`None`: each kind's default).
    pub temperature: Option<f32>,
    /// Model learning rate (control variates 10×).
    pub learning_rate: f32,
    /// Steps.
    pub steps: u64,
    /// Batch size.
    pub batch: usize,
    /// Seed.
    pub seed: u64,
    /// Steps per reported window (0: one epoch).
    pub window: u64,
    /// Show a progress bar.
    pub progress: bool,
}

/// Runs the comparison and returns its rows (one per window, estimator and parameter group).
pub fn compare(c: &CompareConfig, data: &Dataset, stop: &AtomicBool) -> Result<Vec<VarianceRow>, TrainError> {
    use rebar_core::model::{HALF, LATENT, Linear1, Linear1Sp, Linear2, Linear2Sp, Nonlinear, NonlinearSp, PIXELS};
    c.validate()?;
    match (c.model, c.task) {
        (ModelKind::Linear1, TaskKind::Gen) => run::<Linear1, PIXELS, LATENT, PIXELS>(c, data, stop),
        (ModelKind::Linear2, TaskKind::Gen) => run::<Linear2, PIXELS, LATENT, PIXELS>(c, data, stop),
        (ModelKind::Nonlinear, TaskKind::Gen) => run::<Nonlinear, PIXELS, LATENT, PIXELS>(c, data, stop),
        (ModelKind::Linear1, TaskKind::Sp) => run::<Linear1Sp, HALF, LATENT, HALF>(c, data, stop),
        (ModelKind::Linear2, TaskKind::Sp) => run::<Linear2Sp, HALF, LATENT, HALF>(c, data, stop),
        (ModelKind::Nonlinear, TaskKind::Sp) => run::<NonlinearSp, HALF, LATENT, HALF>(c, data, stop),
    }
}

/// Parameter groups: tensors sharing the first segment of their name (`enc`, `dec0`, ...).
fn groups<M: Tensors>() -> Vec<(String, Vec<usize>)> {
    let mut out: Vec<(String, Vec<usize>)> = Vec::new();
    for t in 0..M::COUNT {
        let mut name = String::new();
        let _ = M::write_name(t, &mut name);
        let group = name.split('.').next().unwrap_or("").to_string();
        match out.iter_mut().find(|(g, _)| *g == group) {
            Some((_, ts)) => ts.push(t),
            None => out.push((group, vec![t])),
        }
    }
    out
}

fn run<M, const X: usize, const H: usize, const Y: usize>(
    c: &CompareConfig,
    data: &Dataset,
    stop: &AtomicBool,
) -> Result<Vec<VarianceRow>, TrainError>
where
    M: Sbn<H, Input = [f32; X], Target = [f32; Y]>,
{
    let k = c.estimators.len();
    let mut model: Box<M> = bytemuck::zeroed_box();
    model.init(&mut stream_rng(c.seed, Stream::Init, 0));
    let (mut im, mut tm) = ([0.0f32; X], [0.0f32; Y]);
    split_row(&data.train_mean(), &mut im, &mut tm);
    model.set_data_mean(&im, &tm);
    let mut adam: Box<Adam<M>> = bytemuck::zeroed_box();
    let mut s: Box<M::Scratch<B>> = bytemuck::zeroed_box();
    let mut rng = stream_rng(c.seed, Stream::Init, 1);
    let options = EstimatorOptions { temperature: c.temperature, ..Default::default() };
    let mut estimators = Vec::new();
    for &kind in &c.estimators {
        estimators.push(AnyEstimator::<M, X, H, B>::new(kind, options, &mut rng)?);
    }
    let follow = c.estimators.iter().position(|&e| e == c.follow).unwrap_or(0);
    let mut grads: Vec<Box<M>> = (0..k).map(|_| bytemuck::zeroed_box()).collect();
    let mut first: Vec<Box<M>> = (0..k).map(|_| bytemuck::zeroed_box()).collect();
    let mut second: Vec<Box<M>> = (0..k).map(|_| bytemuck::zeroed_box()).collect();
    let groups = groups::<M>();
    let scopes = 1 + groups.len();
    let mut feed = Feed::<X, Y>::new(&data.train, c.batch, c.seed);
    let window = if c.window == 0 { feed.steps_per_epoch() } else { c.window };
    // Window sums per (estimator, scope): (variance, bias check); and the followed ELBO.
    let mut sums = vec![(0.0f64, 0.0f64); k * scopes];
    let (mut elbo_sum, mut in_window) = (0.0f64, 0u64);
    let mut rows = Vec::new();
    let bar = ProgressBar::with_draw_target(
        Some(c.steps),
        if c.progress { ProgressDrawTarget::stderr_with_hz(4) } else { ProgressDrawTarget::hidden() },
    );
    if let Ok(style) =
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} steps, {per_sec}, ETA {eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    for step in 0..c.steps {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let (n, epoch) = feed.load(step);
        for (i, (e, g)) in estimators.iter_mut().zip(grads.iter_mut()).enumerate() {
            model.load_batch(&feed.inputs[..n], &feed.targets[..n], &mut s);
            // The same noise for every estimator: each draws it first from the same stream.
            let d = e.estimate(&model, &mut s, &mut stream_rng(c.seed, Stream::Noise, step), g);
            if !d.elbo.is_finite() || !g.all_finite() {
                return Err(TrainError::NonFinite {
                    step,
                    estimator: e.name(),
                    what: "gradient".into(),
                    checkpoint: super::Checkpointed::NotKept,
                });
            }
            if i == follow {
                elbo_sum += d.elbo as f64;
            }
        }
        // Moving averages and the pooled first moment.
        for e in 0..k {
            for t in 0..M::COUNT {
                let g = grads[e].tensor(t);
                for ((a, b), &v) in first[e].tensor_mut(t).iter_mut().zip(second[e].tensor_mut(t).iter_mut()).zip(g) {
                    *a = DECAY * *a + (1.0 - DECAY) * v;
                    *b = DECAY * *b + (1.0 - DECAY) * v * v;
                }
            }
        }
        let mut per_tensor = vec![(0.0f64, 0.0f64, 0usize); k * M::COUNT];
        for t in 0..M::COUNT {
            let len = first[0].tensor(t).len();
            for j in 0..len {
                let mu: f32 = (0..k).map(|e| first[e].tensor(t)[j]).sum::<f32>() / k as f32;
                for e in 0..k {
                    let (m1, m2) = (first[e].tensor(t)[j], second[e].tensor(t)[j]);
                    let cell = &mut per_tensor[e * M::COUNT + t];
                    cell.0 += (m2 - mu * mu) as f64;
                    cell.1 += ((m1 - mu) * (m1 - mu)) as f64;
                }
            }
            for e in 0..k {
                per_tensor[e * M::COUNT + t].2 = len;
            }
        }
        for e in 0..k {
            let cells = &per_tensor[e * M::COUNT..(e + 1) * M::COUNT];
            let mean = |ts: &mut dyn Iterator<Item = usize>| {
                let (mut v, mut b, mut n) = (0.0, 0.0, 0usize);
                for t in ts {
                    v += cells[t].0;
                    b += cells[t].1;
                    n += cells[t].2;
                }
                (v / n.max(1) as f64, b / n.max(1) as f64)
            };
            let all = mean(&mut (0..M::COUNT));
            sums[e * scopes].0 += all.0;
            sums[e * scopes].1 += all.1;
            for (gi, (_, ts)) in groups.iter().enumerate() {
                let g = mean(&mut ts.iter().copied());
                sums[e * scopes + 1 + gi].0 += g.0;
                sums[e * scopes + 1 + gi].1 += g.1;
            }
        }
        // Follow one estimator; every estimator trains its own control variates.
        adam.step(&mut model, &grads[follow], c.learning_rate, AdamConfig::REBAR);
        for e in estimators.iter_mut() {
            e.update_control_variates(10.0 * c.learning_rate);
        }
        in_window += 1;
        if (step + 1).is_multiple_of(window) || step + 1 == c.steps {
            for e in 0..k {
                for scope in 0..scopes {
                    let (v, b) = sums[e * scopes + scope];
                    rows.push(VarianceRow {
                        step: step + 1,
                        epoch: epoch + 1,
                        estimator: c.estimators[e].name().to_string(),
                        scope: if scope == 0 { "all".to_string() } else { groups[scope - 1].0.clone() },
                        log_variance: (v / in_window as f64).ln(),
                        log_bias_check: (b / in_window as f64).ln(),
                        train_elbo: elbo_sum / in_window as f64,
                    });
                }
            }
            sums.iter_mut().for_each(|x| *x = (0.0, 0.0));
            elbo_sum = 0.0;
            in_window = 0;
        }
        if step.is_multiple_of(16) {
            bar.set_position(step);
        }
    }
    bar.finish_and_clear();
    Ok(rows)
}
