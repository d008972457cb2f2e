//! `rebar sweep`: a grid of training runs (estimators × models × tasks × learning rates × seeds),
//! run here with every core busy, or written out as a job list and a Slurm array script for a
//! cluster. Each run has its own folder; finished runs are skipped and interrupted ones resumed,
//! so a sweep can be restarted at will. `rebar report DIR` merges the results.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use clap::Args;
use rebar_host::records::files;
use rebar_host::train::{EstimatorKind, ModelKind, TaskKind};

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

/// One run of the grid.
struct Job {
    dir: PathBuf,
    args: Vec<String>,
}

fn jobs(a: &SweepArgs) -> Vec<Job> {
    let mut out = Vec::new();
    for &task in &a.tasks {
        for &model in &a.models {
            for &estimator in &a.estimators {
                for &lr in &a.lrs {
                    for seed in 0..a.seeds {
                        let dir = a.out.join(format!(
                            "{}-{}-{}-lr{lr:e}-seed{seed}",
                            task.name(),
                            model.name(),
                            estimator.name()
                        ));
                        let args = vec![
                            "train".into(),
                            "--task".into(),
                            task.name().into(),
                            "--model".into(),
                            model.name().into(),
                            "--estimator".into(),
                            estimator.name().into(),
                            "--lr".into(),
                            format!("{lr:e}"),
                            "--seed".into(),
                            seed.to_string(),
                            "--steps".into(),
                            a.steps.to_string(),
                            "--batch".into(),
                            a.batch.to_string(),
                            "--eval-every".into(),
                            a.eval_every.to_string(),
                            "--iwae-samples".into(),
                            a.iwae_samples.to_string(),
                            "--threads".into(),
                            "1".into(),
                            "--train-threads".into(),
                            "1".into(),
                            "--quiet".into(),
                            "--out".into(),
                            dir.display().to_string(),
                        ];
                        out.push(Job { dir, args });
                    }
                }
            }
        }
    }
    out
}

fn shell_quote(s: &str) -> String {
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=+:".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn write_plan(a: &SweepArgs, jobs: &[Job]) -> std::io::Result<()> {
    std::fs::create_dir_all(&a.out)?;
    let lines: Vec<String> = jobs
        .iter()
        .map(|j| {
            // Resumable on a cluster too: --resume when the run folder already has a checkpoint.
            let cmd = std::iter::once("rebar".to_string())
                .chain(j.args.iter().map(|s| shell_quote(s)))
                .collect::<Vec<_>>()
                .join(" ");
            let ckpt = j.dir.join(files::CHECKPOINT);
            format!(
                "test -e {} || if test -e {}; then {cmd} --resume; else {cmd}; fi",
                shell_quote(&j.dir.join(files::SUMMARY).display().to_string()),
                shell_quote(&ckpt.display().to_string())
            )
        })
        .collect();
    let list = a.out.join("jobs.txt");
    std::fs::write(&list, lines.join("\n") + "\n")?;
    let slurm = format!(
        "#!/bin/bash\n\
         # One array task per line of jobs.txt; submit with: sbatch {path}\n\
         #SBATCH --job-name=rebar-sweep\n\
         #SBATCH --array=1-{n}\n\
         #SBATCH --cpus-per-task=1\n\
         #SBATCH --time=48:00:00\n\
         #SBATCH --output={out}/slurm-%A_%a.log\n\
         set -euo pipefail\n\
         cd \"$SLURM_SUBMIT_DIR\"\n\
         line=$(sed -n \"${{SLURM_ARRAY_TASK_ID}}p\" {list})\n\
         eval \"$line\"\n",
        path = a.out.join("sweep.slurm").display(),
        n = jobs.len(),
        out = a.out.display(),
        list = shell_quote(&list.display().to_string()),
    );
    std::fs::write(a.out.join("sweep.slurm"), slurm)?;
    println!("wrote {} ({} runs) and {}", list.display(), jobs.len(), a.out.join("sweep.slurm").display());
    println!("then: rebar report {}", a.out.display());
    Ok(())
}

fn start(job: &Job) -> std::io::Result<Child> {
    let mut args = job.args.clone();
    if job.dir.join(files::CHECKPOINT).exists() {
        args.push("--resume".into());
    }
    std::fs::create_dir_all(&job.dir)?;
    let log = std::fs::File::create(job.dir.join("train.log"))?;
    Command::new(std::env::current_exe()?).args(&args).stdout(log.try_clone()?).stderr(log).spawn()
}

fn done(dir: &Path) -> bool {
    dir.join(files::SUMMARY).exists()
}

/// Runs the command.
pub fn run(a: &SweepArgs) -> Result<(), Box<dyn std::error::Error>> {
    let all = jobs(a);
    if a.plan {
        write_plan(a, &all)?;
        return Ok(());
    }
    let parallel = a.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let skipped = all.iter().filter(|j| done(&j.dir)).count();
    let mut queue: VecDeque<Job> = all.into_iter().filter(|j| !done(&j.dir)).collect();
    let total = queue.len();
    println!(
        "rebar sweep: {total} runs to do ({skipped} already finished), {parallel} at a time, in {}",
        a.out.display()
    );
    let (mut running, mut finished, mut failed) = (Vec::<(Job, Child)>::new(), 0usize, Vec::new());
    while !queue.is_empty() || !running.is_empty() {
        while running.len() < parallel {
            let Some(job) = queue.pop_front() else { break };
            let child = start(&job)?;
            running.push((job, child));
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        let mut i = 0;
        while i < running.len() {
            if let Some(status) = running[i].1.try_wait()? {
                let (job, _) = running.swap_remove(i);
                finished += 1;
                if status.success() {
                    println!("[{finished}/{total}] done   {}", job.dir.display());
                } else {
                    println!("[{finished}/{total}] FAILED {} (see its train.log)", job.dir.display());
                    failed.push(job.dir);
                }
            } else {
                i += 1;
            }
        }
    }
    println!("then: rebar report {}", a.out.display());
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("{} runs failed; rerun the sweep to resume them", failed.len()).into())
    }
}
