//! `rebar sweep`: a grid of training runs (estimators × models × tasks × learning rates × seeds),
//! run here with every core busy, or written out as a job list and a Slurm array script for a
//! cluster. Each run has its own folder; finished runs are skipped and interrupted ones resumed,
//! so a sweep can be restarted at will. `rebar report DIR` merges the results.

use std::path::PathBuf;

use clap::Args;
use rebar_host::train::{EstimatorKind, ModelKind, TaskKind};

use super::runner::{self, Job, RunSpec};

/// Options of `rebar sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Estimators (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [
        EstimatorKind::Nvil, EstimatorKind::Muprop, EstimatorKind::RebarFixed, EstimatorKind::Rebar, EstimatorKind::Concrete,
    ])]
    pub estimators: Vec<EstimatorKind>,
    /// Models (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [ModelKind::Linear1])]
    pub models: Vec<ModelKind>,
    /// Tasks (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [TaskKind::Gen])]
    pub tasks: Vec<TaskKind>,
    /// Learning rates (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [3e-4f32])]
    pub lrs: Vec<f32>,
    /// Number of seeds per cell: seeds 0, 1, ..., N−1.
    #[arg(long, default_value_t = 5)]
    pub seeds: u64,
    /// Training steps of every run (the paper: 2,000,000).
    #[arg(long, default_value_t = 20_000)]
    pub steps: u64,
    /// Examples per batch.
    #[arg(long, default_value_t = 24)]
    pub batch: usize,
    /// Evaluate the IWAE bound every this many epochs (0: only at the end).
    #[arg(long, default_value_t = 0)]
    pub eval_every: u64,
    /// Importance samples of the IWAE bound.
    #[arg(long, default_value_t = 100)]
    pub iwae_samples: u32,
    /// Folder of the sweep: one sub-folder per run.
    #[arg(long, value_name = "DIR", default_value = "runs/sweep")]
    pub out: PathBuf,
    /// Runs at a time (default: the number of cores; each run trains on one core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Do not run: write `jobs.txt` (one `rebar train` command per line, in the grid's order)
    /// and `sweep.slurm` (a Slurm job-array script running line $SLURM_ARRAY_TASK_ID) to --out.
    #[arg(long)]
    pub plan: bool,
}

fn jobs(a: &SweepArgs) -> Vec<Job> {
    let mut out = Vec::new();
    for &task in &a.tasks {
        for &model in &a.models {
            for &estimator in &a.estimators {
                for &lr in &a.lrs {
                    for seed in 0..a.seeds {
                        let spec = RunSpec {
                            task,
                            model,
                            estimator,
                            lr,
                            seed,
                            steps: a.steps,
                            batch: a.batch,
                            eval_every: a.eval_every,
                            iwae_samples: a.iwae_samples,
                            data: None,
                            prefix: String::new(),
                        };
                        out.push(spec.job(&a.out));
                    }
                }
            }
        }
    }
    out
}

/// Runs the command.
pub fn run(a: &SweepArgs) -> Result<(), Box<dyn std::error::Error>> {
    let all = jobs(a);
    if a.plan {
        runner::write_plan(&a.out, &all, "sweep")?;
        println!("then: rebar report {}", a.out.display());
        return Ok(());
    }
    println!("rebar sweep: {} runs in {}", all.len(), a.out.display());
    let result = runner::run_all("sweep", all, a.jobs.unwrap_or_else(runner::cores), &mut |_| Ok(()));
    println!("then: rebar report {}", a.out.display());
    result
}
