//! Many `rebar train` runs at once, for `rebar sweep` and `rebar reproduce`: one child process
//! per run on one core each, every core busy, finished runs skipped and interrupted ones resumed
//! from their checkpoints, so a killed driver picks up where it stopped. Or, instead of running,
//! a plan for a cluster: a job list and a Slurm array script.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use rebar_host::records::files;
use rebar_host::train::{EstimatorKind, ModelKind, TaskKind};

/// One training run: its folder and the `rebar` arguments that make it.
#[derive(Debug, Clone)]
pub struct Job {
    /// The run folder (`--out`).
    pub dir: PathBuf,
    /// The arguments after `rebar`.
    pub args: Vec<String>,
}

/// What a run trains: the options a sweep or the reproduction sets.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The task.
    pub task: TaskKind,
    /// The model.
    pub model: ModelKind,
    /// The estimator.
    pub estimator: EstimatorKind,
    /// Learning rate.
    pub lr: f32,
    /// Seed.
    pub seed: u64,
    /// Training steps.
    pub steps: u64,
    /// Examples per batch.
    pub batch: usize,
    /// IWAE evaluation every this many epochs (0: at the end).
    pub eval_every: u64,
    /// Importance samples of the IWAE bound.
    pub iwae_samples: u32,
    /// `--data` (none: the built-in MNIST).
    pub data: Option<String>,
    /// Prefix of the folder name (such as `omniglot-`; empty for MNIST).
    pub prefix: String,
}

impl RunSpec {
    /// The run's folder name: `[prefix]task-model-estimator-lrLR-seedN`.
    pub fn dir_name(&self) -> String {
        format!(
            "{}{}-{}-{}-lr{:e}-seed{}",
            self.prefix,
            self.task.name(),
            self.model.name(),
            self.estimator.name(),
            self.lr,
            self.seed
        )
    }

    /// The job that trains this run in `root/dir_name()` on one core.
    pub fn job(&self, root: &Path) -> Job {
        let dir = root.join(self.dir_name());
        let mut args: Vec<String> =
            ["train", "--task", self.task.name(), "--model", self.model.name(), "--estimator", self.estimator.name()]
                .map(String::from)
                .to_vec();
        let numbers = [
            ("--lr", format!("{:e}", self.lr)),
            ("--seed", self.seed.to_string()),
            ("--steps", self.steps.to_string()),
            ("--batch", self.batch.to_string()),
            ("--eval-every", self.eval_every.to_string()),
            ("--iwae-samples", self.iwae_samples.to_string()),
        ];
        for (flag, value) in numbers {
            args.extend([flag.to_string(), value]);
        }
        if let Some(data) = &self.data {
            args.extend(["--data".to_string(), data.clone()]);
        }
        // One core per run: evaluation too, so that runs side by side do not compete.
        args.extend(["--threads", "1", "--train-threads", "1", "--quiet", "--out"].map(String::from));
        args.push(dir.display().to_string());
        Job { dir, args }
    }
}

/// Whether the run in `dir` has finished (it wrote its summary).
pub fn done(dir: &Path) -> bool {
    dir.join(files::SUMMARY).exists()
}

fn shell_quote(s: &str) -> String {
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=+:".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Writes `jobs.txt` (one shell line per run, in order: skipped if finished, resumed if it has a
/// checkpoint) and `NAME.slurm` (a Slurm job array running line $SLURM_ARRAY_TASK_ID) to `out`.
/// The lines call `rebar`, which must be on the cluster's PATH.
pub fn write_plan(out: &Path, jobs: &[Job], name: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    let lines: Vec<String> = jobs
        .iter()
        .map(|j| {
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
    let list = out.join("jobs.txt");
    std::fs::write(&list, lines.join("\n") + "\n")?;
    let script = out.join(format!("{name}.slurm"));
    let slurm = format!(
        "#!/bin/bash\n\
         # One array task per line of jobs.txt; submit with: sbatch {path}\n\
         #SBATCH --job-name=rebar-{name}\n\
         #SBATCH --array=1-{n}\n\
         #SBATCH --cpus-per-task=1\n\
         #SBATCH --time=48:00:00\n\
         #SBATCH --output={out}/slurm-%A_%a.log\n\
         set -euo pipefail\n\
         cd \"$SLURM_SUBMIT_DIR\"\n\
         line=$(sed -n \"${{SLURM_ARRAY_TASK_ID}}p\" {list})\n\
         eval \"$line\"\n",
        path = script.display(),
        n = jobs.len(),
        out = out.display(),
        list = shell_quote(&list.display().to_string()),
    );
    std::fs::write(&script, slurm)?;
    println!("wrote {} ({} runs) and {}", list.display(), jobs.len(), script.display());
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

/// Runs the unfinished `jobs` in order, `parallel` at a time, calling `finished` with each job
/// that ends well. Errors after all have ended if any failed (its `train.log` says why).
pub fn run_all(
    name: &str,
    jobs: Vec<Job>,
    parallel: usize,
    finished: &mut dyn FnMut(&Job) -> Result<(), Box<dyn std::error::Error>>,
) -> Result<(), Box<dyn std::error::Error>> {
    let parallel = parallel.max(1);
    let skipped = jobs.iter().filter(|j| done(&j.dir)).count();
    let mut queue: VecDeque<Job> = jobs.into_iter().filter(|j| !done(&j.dir)).collect();
    let total = queue.len();
    println!("rebar {name}: {total} runs to do ({skipped} already finished), {parallel} at a time");
    let (mut running, mut ended, mut failed) = (Vec::<(Job, Child)>::new(), 0usize, Vec::new());
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
                ended += 1;
                if status.success() {
                    println!("[{ended}/{total}] done   {}", job.dir.display());
                    finished(&job)?;
                } else {
                    println!("[{ended}/{total}] FAILED {} (see its train.log)", job.dir.display());
                    failed.push(job.dir);
                }
            } else {
                i += 1;
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("{} runs failed; run the same command again to resume them", failed.len()).into())
    }
}

/// The number of cores, the default number of runs at a time.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
