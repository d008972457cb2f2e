//! `rebar toy`: the paper's toy problem (Figure 1).

use std::path::{Path, PathBuf};

use clap::Args;
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rebar_core::toy::{Toy, ToyEstimator, ToyTrainer};
use rebar_host::plot;
use rebar_host::records::ToyRow;

/// What `rebar toy` writes, shown after the options in `--help`.
const OUTPUT_HELP: &str = "\
Estimators (each follows its own estimate with SGD, learning rate 0.1 on the logit a, from
θ = σ(a) = 0.5): exact (the true gradient), reinforce (no baseline), concrete(0.5) (biased),
rebar (temperature λ and scale η learned by Adam on the exact variance gradient, from λ = 0.5,
η = 1) and rebar-fixed (λ = 0.5, η = 1 kept).

Output, in --out: toy.csv, one row per estimator and step (0-based): step, estimator,
theta (θ before the step), loss (the sampled (b − t)², the exact E[(b − t)²] for exact),
loss_average (exponential average, decay 0.99, bias-corrected), log_variance (log of the
bias-corrected exponential average, decay 0.99, of ĝ² − g², with g the exact gradient; only
for the unbiased reinforce, rebar and rebar-fixed; empty while not positive), temperature,
eta. toy.png: log variance (left) and loss average (right) against the step.";

/// Options of `rebar toy`.
#[derive(Debug, Args)]
#[command(after_help = OUTPUT_HELP)]
pub struct ToyArgs {
    /// Training steps per estimator (one sample each; the paper: 5000).
    #[arg(long, value_name = "N", default_value_t = 5000)]
    pub steps: u64,
    /// Random seed. Every estimator gets its own Xoshiro256++ generator, seeded with
    /// `seed_from_u64(SEED)`, and draws one uniform per step, so all estimators see the same
    /// noise (common random numbers) and a run is reproducible.
    #[arg(long, value_name = "SEED", default_value_t = 0)]
    pub seed: u64,
    /// The target t of the loss (b − t)², b ~ Bernoulli(θ) (the paper: 0.45; the best θ is 0
    /// for t < 0.5).
    #[arg(long, value_name = "T", default_value_t = 0.45)]
    pub target: f32,
    /// Folder to write toy.csv and toy.png to (created if missing; files overwritten).
    #[arg(long, value_name = "DIR", default_value = "runs/toy")]
    pub out: PathBuf,
}

/// The estimators, their names, and whether they are unbiased (their log variance is reported).
const ESTIMATORS: [(&str, ToyEstimator, bool); 5] = [
    ("exact", ToyEstimator::Exact, false),
    ("reinforce", ToyEstimator::Reinforce, true),
    ("concrete(0.5)", ToyEstimator::Concrete(0.5), false),
    ("rebar", ToyEstimator::Rebar { learned: true }, true),
    ("rebar-fixed", ToyEstimator::Rebar { learned: false }, true),
];

/// Exponential moving average with decay `d` started at 0, and its bias-corrected value
/// m / (1 − dᵗ) after t updates.
struct Ema {
    decay: f64,
    m: f64,
    power: f64,
}

impl Ema {
    fn new(decay: f64) -> Self {
        Ema { decay, m: 0.0, power: 1.0 }
    }

    fn update(&mut self, x: f64) -> f64 {
        self.m = self.decay * self.m + (1.0 - self.decay) * x;
        self.power *= self.decay;
        self.m / (1.0 - self.power)
    }
}

/// The f64 nearest to the shortest decimal form of `x` (0.2525f32 → 0.2525, not
/// 0.2524999976158142), so that the CSV shows the numbers as the f32 computation meant them.
fn widen(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}

/// The last state of one estimator's run.
struct Final {
    name: &'static str,
    theta: f64,
    expected_loss: f64,
    row: Option<ToyRow>,
}

/// Runs every estimator for `steps` steps; returns the rows (estimator by estimator) and each
/// estimator's final state.
fn simulate(toy: Toy, steps: u64, seed: u64) -> (Vec<ToyRow>, Vec<Final>) {
    let mut rows = Vec::with_capacity(ESTIMATORS.len() * steps as usize);
    let mut finals = Vec::new();
    for (name, estimator, unbiased) in ESTIMATORS {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut trainer = ToyTrainer::new(toy, estimator);
        let (mut loss_ema, mut var_ema) = (Ema::new(0.99), Ema::new(0.99));
        for step in 0..steps {
            let s = trainer.step(&mut rng);
            let (g, g_true) = (widen(s.gradient), widen(s.exact_gradient));
            let variance = var_ema.update(g * g - g_true * g_true);
            rows.push(ToyRow {
                step,
                estimator: name.to_string(),
                theta: widen(s.theta),
                loss: widen(s.loss),
                loss_average: loss_ema.update(widen(s.loss)),
                log_variance: (unbiased && variance > 0.0).then(|| variance.ln()),
                temperature: widen(s.temperature),
                eta: widen(s.eta),
            });
        }
        let theta = 1.0 / (1.0 + (-(trainer.a as f64)).exp());
        let row = if steps > 0 { rows.last().cloned() } else { None };
        finals.push(Final { name, theta, expected_loss: toy.expected_loss(trainer.a) as f64, row });
    }
    (rows, finals)
}

fn write_csv(rows: &[ToyRow], path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let err = |e: csv::Error| format!("cannot write {}: {e}", path.display());
    let mut w = csv::Writer::from_path(path).map_err(err)?;
    for r in rows {
        w.serialize(r).map_err(err)?;
    }
    w.flush().map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(())
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or("—".to_string(), |v| format!("{v:.decimals$}"))
}

/// Runs the command.
pub fn run(args: &ToyArgs) -> Result<(), Box<dyn std::error::Error>> {
    if !args.target.is_finite() {
        return Err(format!("--target must be a finite number, got {}", args.target).into());
    }
    let toy = Toy { target: args.target };
    std::fs::create_dir_all(&args.out).map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let (rows, finals) = simulate(toy, args.steps, args.seed);
    let csv_path = args.out.join("toy.csv");
    write_csv(&rows, &csv_path)?;
    let png_path = args.out.join("toy.png");
    plot::toy_figure(&rows, &png_path)?;

    println!(
        "toy problem: minimise E[(b − {t})²], b ~ Bernoulli(θ); {steps} steps, seed {seed} \
         (best θ = {best}, E[f] = {best_loss:.4})",
        t = args.target,
        steps = args.steps,
        seed = args.seed,
        best = if args.target < 0.5 { 0 } else { 1 },
        best_loss = toy.f(if args.target < 0.5 { 0.0 } else { 1.0 }),
    );
    println!(
        "{:<14} {:>9} {:>10} {:>10} {:>13} {:>8} {:>8}",
        "estimator", "final θ", "E[f]", "loss EMA", "log variance", "λ", "η"
    );
    for f in &finals {
        let r = f.row.as_ref();
        println!(
            "{:<14} {:>9.4} {:>10.5} {:>10} {:>13} {:>8} {:>8}",
            f.name,
            f.theta,
            f.expected_loss,
            opt(r.map(|r| r.loss_average), 5),
            opt(r.and_then(|r| r.log_variance), 2),
            opt(r.map(|r| r.temperature), 3),
            opt(r.map(|r| r.eta), 3),
        );
    }
    println!("wrote {} ({} rows) and {}", csv_path.display(), rows.len(), png_path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ema_is_bias_corrected() {
        let mut e = Ema::new(0.99);
        assert!((e.update(3.0) - 3.0).abs() < 1e-12);
        assert!((e.update(3.0) - 3.0).abs() < 1e-12);
        let v = e.update(6.0);
        let m = 0.99 * (0.99 * 0.01 * 3.0 + 0.01 * 3.0) + 0.01 * 6.0;
        assert!((v - m / (1.0 - 0.99f64.powi(3))).abs() < 1e-12);
    }

    #[test]
    fn exact_and_concrete_have_no_log_variance() {
        let (rows, finals) = simulate(Toy::PAPER, 50, 1);
        assert_eq!(rows.len(), 250);
        assert_eq!(finals.len(), 5);
        for r in &rows {
            let unbiased = matches!(r.estimator.as_str(), "reinforce" | "rebar" | "rebar-fixed");
            if !unbiased {
                assert_eq!(r.log_variance, None, "{r:?}");
            }
        }
        assert!(rows.iter().filter(|r| r.estimator == "reinforce").any(|r| r.log_variance.is_some()));
    }
}
