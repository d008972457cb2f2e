//! `rebar variance`: the paper's Figure 2 — log gradient variance of several estimators on the
//! same minibatches and noise along one trajectory.

use std::path::PathBuf;

use clap::Args;
use rebar_host::stop::Stop;
use rebar_host::train::compare::{CompareConfig, compare};
use rebar_host::train::{EstimatorKind, ModelKind, TaskKind};

use super::train::load_data;

/// Options of `rebar variance`.
#[derive(Debug, Args)]
pub struct VarianceArgs {
    /// The model.
    #[arg(long, value_enum, default_value_t = ModelKind::Linear1)]
    pub model: ModelKind,
    /// The task.
    #[arg(long, value_enum, default_value_t = TaskKind::Gen)]
    pub task: TaskKind,
    /// The estimators to compare (comma-separated). All must be unbiased for the variances to be
    /// comparable: concrete is refused. Default: the paper's Figure 2 set.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [
        EstimatorKind::Nvil, EstimatorKind::SimpleMuprop, EstimatorKind::Muprop, EstimatorKind::RebarFixed, EstimatorKind::Rebar,
    ])]
    pub estimators: Vec<EstimatorKind>,
    /// The estimator whose gradient updates the model (the official code follows SimpleMuProp).
    #[arg(long, value_enum, default_value_t = EstimatorKind::SimpleMuprop)]
    pub follow: EstimatorKind,
    /// Temperature of the estimators with one: the fixed value of rebar-fixed and the start of
    /// rebar (the official comparison uses one value for both, default 0.5).
    #[arg(long, default_value_t = 0.5)]
    pub temperature: f32,
    /// Model learning rate (control variates 10×).
    #[arg(long, default_value_t = 3e-4)]
    pub lr: f32,
    /// Steps (2,084 per epoch).
    #[arg(long, default_value_t = 4_000)]
    pub steps: u64,
    /// Examples per batch.
    #[arg(long, default_value_t = 24)]
    pub batch: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Steps per reported point (0: one epoch, as the official log).
    #[arg(long, default_value_t = 100)]
    pub window: u64,
    /// Output folder for variance.csv and variance.png.
    #[arg(long, value_name = "DIR", default_value = "runs/variance")]
    pub out: PathBuf,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Runs the command.
pub fn run(args: &VarianceArgs) -> Result<(), Box<dyn std::error::Error>> {
    let config = CompareConfig {
        model: args.model,
        task: args.task,
        estimators: args.estimators.clone(),
        follow: args.follow,
        temperature: Some(args.temperature),
        learning_rate: args.lr,
        steps: args.steps,
        batch: args.batch,
        seed: args.seed,
        window: args.window,
        progress: !args.quiet,
    };
    config.validate()?;
    let data = load_data(&None, rebar_host::train::BinarizeKind::Static)?;
    // Ctrl-C, SIGTERM or SIGHUP end the comparison early; the steps measured so far are written.
    let stop = Stop::on_signals()?;
    let rows = compare(&config, &data, stop.flag())?;
    std::fs::create_dir_all(&args.out)?;
    let csv_path = args.out.join("variance.csv");
    rebar_host::train::session::write_csv(&csv_path, &rows)?;
    let png = args.out.join("variance.png");
    rebar_host::plot::variance_comparison(&rows, &png)?;
    println!("log gradient variance at the last step (all parameters; lower is better):");
    if let Some(last_step) = rows.last().map(|r| r.step) {
        for r in rows.iter().filter(|r| r.step == last_step && r.scope == "all") {
            println!("  {:<14} {:>8.3}   (bias check {:.2})", r.estimator, r.log_variance, r.log_bias_check);
        }
    }
    println!("wrote {} and {}", csv_path.display(), png.display());
    Ok(())
}
