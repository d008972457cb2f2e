//! Many `rebar train` runs at once, for `rebar sweep` and `rebar reproduce`: one child process
//! per run on one core each, every core busy, finished runs skipped and interrupted or shorter
//! ones resumed from their checkpoints, so a killed driver picks up where it stopped. A folder
//! that holds another configuration's run is refused by name. Ctrl-C, SIGTERM or SIGHUP to the
//! driver reach its children, which save their checkpoints; children of a driver that dies stop
//! too (Linux). Or, instead of running, a plan for a cluster: a job list and a Slurm array script.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use rebar_host::data::Source;
use rebar_host::records::{Summary, files};
use rebar_host::stop::{self, Stop};
use rebar_host::train::{EstimatorKind, ModelKind, TaskKind};

/// One training run: its folder, the `rebar` arguments that make it and what they ask for.
#[derive(Debug, Clone)]
pub struct Job {
    /// The run folder (`--out`).
    pub dir: PathBuf,
    /// The arguments after `rebar`.
    pub args: Vec<String>,
    /// The run asked for.
    pub spec: RunSpec,
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
        // One core per run: evaluation too, so that runs side by side do not compete. Not
        // --quiet: the progress lines go to the run's train.log.
        args.extend(["--threads", "1", "--train-threads", "1", "--out"].map(String::from));
        args.push(dir.display().to_string());
        Job { dir, args, spec: self.clone() }
    }

    /// How the run recorded in `s` differs from this one, field by field (steps aside).
    fn differences(&self, s: &Summary) -> Vec<String> {
        let mut out = Vec::new();
        let mut field = |name: &str, recorded: String, asked: String| {
            if recorded != asked {
                out.push(format!("{name} {recorded}, not {asked}"));
            }
        };
        field("task", s.task.clone(), self.task.name().into());
        field("model", s.model.clone(), self.model.name().into());
        field("estimator", s.estimator.clone(), self.estimator.name().into());
        field("lr", format!("{:e}", s.learning_rate as f32), format!("{:e}", self.lr));
        field("seed", s.seed.to_string(), self.seed.to_string());
        field("batch", s.batch.to_string(), self.batch.to_string());
        let temperature = |t: Option<f32>| t.map_or("none".into(), |t| t.to_string());
        field(
            "temperature",
            temperature(s.temperature.map(|t| t as f32)),
            temperature(self.estimator.default_temperature()),
        );
        field("shards", s.shards().to_string(), "1".into());
        field(
            "IWAE samples",
            s.final_metrics.iwae_samples.map_or("none".into(), |k| k.to_string()),
            self.iwae_samples.to_string(),
        );
        let asked = Source::from_arg(self.data.as_deref().map(Path::new)).to_string();
        if !same_data(&s.data.source, &asked) {
            field("data", s.data.source.clone(), asked);
        }
        out
    }
}

/// Whether two data sources name the same data (a path may be spelt relative or absolute).
fn same_data(a: &str, b: &str) -> bool {
    let canonical = |s: &str| {
        let (prefix, path) = s.strip_prefix(rebar_host::data::OMNIGLOT_PREFIX).map_or(("", s), |p| ("o", p));
        (prefix, std::fs::canonicalize(path).ok())
    };
    a == b || matches!((canonical(a), canonical(b)), ((p, Some(x)), (q, Some(y))) if p == q && x == y)
}

/// What a run folder holds, against the run asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    /// No run: start one (clearing the metrics of a run stopped before its first checkpoint).
    New,
    /// A checkpoint and no summary: resume.
    Unfinished,
    /// The run asked for, finished (its summary records the same configuration and steps).
    Finished,
    /// The same run, finished at fewer steps than asked: resume to the new length.
    Shorter {
        /// The steps it has.
        steps: u64,
    },
    /// Another run: refused. Says how it differs.
    Different(String),
}

/// What `job`'s folder holds.
pub fn state(job: &Job) -> State {
    let checkpoint = job.dir.join(files::CHECKPOINT).exists();
    let Ok(bytes) = std::fs::read(job.dir.join(files::SUMMARY)) else {
        return if checkpoint { State::Unfinished } else { State::New };
    };
    let summary: Summary = match serde_json::from_slice(&bytes) {
        Ok(s) => s,
        Err(e) => return State::Different(format!("its {} is unreadable ({e})", files::SUMMARY)),
    };
    let mut differences = job.spec.differences(&summary);
    let (done, asked) = (summary.steps_completed, job.spec.steps);
    if done > asked {
        differences.push(format!("steps {done}, not {asked}"));
    }
    if !differences.is_empty() {
        return State::Different(format!("its {} records {}", files::SUMMARY, differences.join(", ")));
    }
    match (done == asked, checkpoint) {
        (true, _) => State::Finished,
        (false, true) => State::Shorter { steps: done },
        (false, false) => {
            State::Different(format!("it finished at {done} steps and has no checkpoint to continue from"))
        }
    }
}

/// Whether `job`'s run has finished as asked.
pub fn done(job: &Job) -> bool {
    state(job) == State::Finished
}

/// Run folders that hold another run than the driver asks for.
#[derive(Debug, thiserror::Error)]
#[error(
    "{} run folders hold another run than asked for; move them away, or choose another --out:{}",
    .0.len(),
    .0.iter().map(|(dir, why)| format!("\n  {}: {why}", dir.display())).collect::<String>()
)]
pub struct OtherRuns(pub Vec<(PathBuf, String)>);

/// Refuses, naming each, the folders that hold another run than asked for.
pub fn check(jobs: &[Job]) -> Result<(), OtherRuns> {
    let refused: Vec<(PathBuf, String)> = jobs
        .iter()
        .filter_map(|j| match state(j) {
            State::Different(why) => Some((j.dir.clone(), why)),
            _ => None,
        })
        .collect();
    if refused.is_empty() { Ok(()) } else { Err(OtherRuns(refused)) }
}

fn shell_quote(s: &str) -> String {
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=+:".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Writes `jobs.txt` (one shell line per run, in order: skipped if it has a summary, resumed if
/// it has a checkpoint) and `NAME.slurm` (a Slurm job array running line $SLURM_ARRAY_TASK_ID,
/// asking for SIGTERM two minutes before the time limit so that the run saves its checkpoint) to
/// `out`. The lines call `rebar`, which must be on the cluster's PATH.
pub fn write_plan(out: &Path, jobs: &[Job], name: &str) -> Result<(), Box<dyn std::error::Error>> {
    check(jobs)?;
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
                "test -e {} || if test -e {}; then {cmd} --resume; else {cmd} --overwrite; fi",
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
         # SIGTERM to rebar 2 minutes before the limit: it saves its checkpoint and exits 143;\n\
         # submitting again resumes.\n\
         #SBATCH --signal=B:TERM@120\n\
         #SBATCH --output={out}/slurm-%A_%a.log\n\
         set -euo pipefail\n\
         cd \"$SLURM_SUBMIT_DIR\"\n\
         line=$(sed -n \"${{SLURM_ARRAY_TASK_ID}}p\" {list})\n\
         # `exec`: the shell becomes rebar, so that the signal reaches it.\n\
         eval \"${{line//rebar train/exec rebar train}}\"\n",
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
    // A folder without a checkpoint (and without the summary of this run) holds nothing to keep.
    args.push(if job.dir.join(files::CHECKPOINT).exists() { "--resume" } else { "--overwrite" }.into());
    std::fs::create_dir_all(&job.dir)?;
    // Appended: the log of a resumed run keeps what its earlier processes wrote.
    let log = std::fs::OpenOptions::new().create(true).append(true).open(job.dir.join("train.log"))?;
    let mut command = Command::new(std::env::current_exe()?);
    command.args(&args).stdout(log.try_clone()?).stderr(log);
    command.env(stop::PARENT_ENV, std::process::id().to_string());
    #[cfg(unix)]
    {
        // A process group of its own: a terminal's Ctrl-C reaches the driver only, which
        // passes it on once (twice would make the child exit before its checkpoint).
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    command.spawn()
}

/// Passes `signal` on to a child.
fn forward(child: &mut Child, signal: i32) {
    #[cfg(unix)]
    {
        use rustix::process::{Pid, Signal, kill_process};
        if let (Some(pid), Some(signal)) = (Pid::from_raw(child.id() as i32), Signal::from_named_raw(signal)) {
            let _ = kill_process(pid, signal);
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (child.kill(), signal);
    }
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
    check(&jobs)?;
    let skipped = jobs.iter().filter(|j| done(j)).count();
    let mut queue: VecDeque<Job> = jobs.into_iter().filter(|j| !done(j)).collect();
    let total = queue.len();
    println!("rebar {name}: {total} runs to do ({skipped} already finished), {parallel} at a time");
    let stop = Stop::on_signals()?;
    let mut forwarded = false;
    let (mut running, mut ended, mut failed) = (Vec::<(Job, Child)>::new(), 0usize, Vec::new());
    while !queue.is_empty() || !running.is_empty() {
        if stop.raised() && !forwarded {
            // The children save their checkpoints; the next driver resumes them.
            println!(
                "rebar {name}: {}: stopping {} runs (each saves its checkpoint)",
                stop.signal_name(),
                running.len()
            );
            queue.clear();
            for (_, child) in &mut running {
                forward(child, stop.signal());
            }
            forwarded = true;
        }
        while running.len() < parallel && !stop.raised() {
            let Some(job) = queue.pop_front() else { break };
            if let Some(pid) = rebar_host::run_dir::holder(&job.dir) {
                ended += 1;
                println!(
                    "[{ended}/{total}] BUSY   {} (in use by pid {pid}, perhaps from an earlier sweep)",
                    job.dir.display()
                );
                failed.push(job.dir);
                continue;
            }
            if let State::Shorter { steps } = state(&job) {
                println!("        resume {} from {steps} to {} steps", job.dir.display(), job.spec.steps);
            }
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
                } else if forwarded {
                    println!("[{ended}/{total}] stopped {}", job.dir.display());
                } else {
                    println!("[{ended}/{total}] FAILED {} (see its train.log)", job.dir.display());
                    failed.push(job.dir);
                }
            } else {
                i += 1;
            }
        }
    }
    if stop.raised() {
        println!("rebar {name}: stopped; run the same command again to resume");
        std::process::exit(stop.exit_code());
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
