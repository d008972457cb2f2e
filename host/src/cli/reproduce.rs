//! `rebar reproduce`: the paper's Table 1 grid (tasks × models × estimators × seeds) at a
//! budget, run with every core busy and resumable, each finished run's summary and per-epoch
//! metrics copied to the results folder; `rebar table` then turns that folder into the table.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use rebar_host::records::files;
use rebar_host::train::{EstimatorKind, ModelKind, TaskKind};

use super::runner::{self, Job, RunSpec};

/// How long each run trains, and how many seeds each cell gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Budget {
    /// 100,000 steps (48 epochs), 2 seeds: the six MNIST rows × eight estimators in about three
    /// hours of a 2-core machine like the one the README was measured on.
    Quick,
    /// The paper's protocol: 2,000,000 steps (960 epochs) at batch 24, 5 seeds; about an hour
    /// per run on one core.
    Full,
}

impl Budget {
    fn name(self) -> &'static str {
        match self {
            Budget::Quick => "quick",
            Budget::Full => "full",
        }
    }

    fn steps(self) -> u64 {
        match self {
            Budget::Quick => 100_000,
            Budget::Full => 2_000_000,
        }
    }

    fn seeds(self) -> u64 {
        match self {
            Budget::Quick => 2,
            Budget::Full => 5,
        }
    }
}

/// A row of the paper's Table 1: dataset, task and model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Row {
    /// MNIST, generative, linear one layer.
    GenLinear1,
    /// MNIST, generative, linear two layers.
    GenLinear2,
    /// MNIST, generative, nonlinear.
    GenNonlinear,
    /// MNIST, structured prediction, linear one layer.
    SpLinear1,
    /// MNIST, structured prediction, linear two layers.
    SpLinear2,
    /// MNIST, structured prediction, nonlinear.
    SpNonlinear,
    /// Omniglot, generative, linear one layer (needs --omniglot).
    OmniglotGenLinear1,
    /// Omniglot, generative, linear two layers (needs --omniglot).
    OmniglotGenLinear2,
    /// Omniglot, generative, nonlinear (needs --omniglot).
    OmniglotGenNonlinear,
}

impl Row {
    const MNIST: [Row; 6] =
        [Row::GenLinear1, Row::GenLinear2, Row::GenNonlinear, Row::SpLinear1, Row::SpLinear2, Row::SpNonlinear];
    const OMNIGLOT: [Row; 3] = [Row::OmniglotGenLinear1, Row::OmniglotGenLinear2, Row::OmniglotGenNonlinear];

    fn task_model(self) -> (TaskKind, ModelKind) {
        use ModelKind::*;
        match self {
            Row::GenLinear1 | Row::OmniglotGenLinear1 => (TaskKind::Gen, Linear1),
            Row::GenLinear2 | Row::OmniglotGenLinear2 => (TaskKind::Gen, Linear2),
            Row::GenNonlinear | Row::OmniglotGenNonlinear => (TaskKind::Gen, Nonlinear),
            Row::SpLinear1 => (TaskKind::Sp, Linear1),
            Row::SpLinear2 => (TaskKind::Sp, Linear2),
            Row::SpNonlinear => (TaskKind::Sp, Nonlinear),
        }
    }

    fn is_omniglot(self) -> bool {
        Row::OMNIGLOT.contains(&self)
    }
}

/// Options of `rebar reproduce`.
#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// quick: 100,000 steps and 2 seeds per cell; full: the paper's 2,000,000 steps and 5 seeds.
    #[arg(long, value_enum, default_value_t = Budget::Quick)]
    pub budget: Budget,
    /// Rows of the table (comma-separated). Default: the six MNIST rows, and the three Omniglot
    /// rows too when --omniglot is given.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub rows: Vec<Row>,
    /// Estimators (comma-separated): the paper's NVIL, MuProp, REBAR(0.1) (`rebar-fixed`), REBAR
    /// and Concrete(0.1), then RELAX, DisARM and RLOO.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [
        EstimatorKind::Nvil, EstimatorKind::Muprop, EstimatorKind::RebarFixed, EstimatorKind::Rebar,
        EstimatorKind::Concrete, EstimatorKind::Relax, EstimatorKind::Disarm, EstimatorKind::Rloo,
    ])]
    pub estimators: Vec<EstimatorKind>,
    /// Seeds per cell, 0..N (default: the budget's).
    #[arg(long)]
    pub seeds: Option<u64>,
    /// Only these seeds (comma-separated), e.g. to add seed 1 to cells that have seed 0.
    #[arg(long, value_delimiter = ',', conflicts_with = "seeds")]
    pub seed: Vec<u64>,
    /// Learning rates (comma-separated); `rebar table` keeps the best per cell, as the paper
    /// took the best of a grid.
    #[arg(long, value_delimiter = ',', default_values_t = [3e-4f32])]
    pub lrs: Vec<f32>,
    /// Training steps of every run instead of the budget's (results go to `steps-N`).
    #[arg(long)]
    pub steps: Option<u64>,
    /// The Omniglot file `chardata.mat` (the IWAE repository's datasets/OMNIGLOT/chardata.mat):
    /// adds the Omniglot rows.
    #[arg(long, value_name = "FILE")]
    pub omniglot: Option<PathBuf>,
    /// Run folders go to DIR/<budget>/<run> (with checkpoints: a driver started again resumes).
    #[arg(long, value_name = "DIR", default_value = "runs/reproduce")]
    pub out: PathBuf,
    /// Each finished run's summary.json, metrics.csv, progress.csv and timing.csv (never the
    /// checkpoint) are copied to DIR/<budget>/<run>, the folder `rebar table` reads.
    #[arg(long, value_name = "DIR", default_value = "results")]
    pub results: PathBuf,
    /// Runs at a time (default: the number of cores; each run trains on one core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Do not run: write jobs.txt and reproduce.slurm (a Slurm job array) to the run folder.
    #[arg(long)]
    pub plan: bool,
    /// Do not run: only copy the runs of the grid that have finished to the results folder.
    #[arg(long, conflicts_with = "plan")]
    pub collect_only: bool,
}

impl ReproduceArgs {
    fn budget_name(&self) -> String {
        match self.steps {
            Some(s) if s != self.budget.steps() => format!("steps-{s}"),
            _ => self.budget.name().to_string(),
        }
    }

    fn rows(&self) -> Result<Vec<Row>, String> {
        let rows = if self.rows.is_empty() {
            let mut rows = Row::MNIST.to_vec();
            if self.omniglot.is_some() {
                rows.extend(Row::OMNIGLOT);
            }
            rows
        } else {
            self.rows.clone()
        };
        if self.omniglot.is_none() && rows.iter().any(|r| r.is_omniglot()) {
            return Err("the Omniglot rows need --omniglot FILE (chardata.mat, from the IWAE repository's \
                        datasets/OMNIGLOT/chardata.mat)"
                .into());
        }
        if let Some(file) = &self.omniglot
            && !file.is_file()
        {
            return Err(format!("--omniglot {}: no such file", file.display()));
        }
        Ok(rows)
    }

    fn seeds(&self) -> Vec<u64> {
        if !self.seed.is_empty() {
            return self.seed.clone();
        }
        (0..self.seeds.unwrap_or(self.budget.seeds())).collect()
    }

    /// The grid, seed by seed (a partial grid has one seed of every cell before a second), then
    /// row, estimator and learning rate.
    fn jobs(&self) -> Result<Vec<Job>, String> {
        let root = self.out.join(self.budget_name());
        let rows = self.rows()?;
        let omniglot = self.omniglot.as_ref().map(|f| {
            // Absolute, so that a run folder's summary names the file wherever it is read.
            let f = std::fs::canonicalize(f).unwrap_or_else(|_| f.clone());
            format!("omniglot:{}", f.display())
        });
        let mut out = Vec::new();
        for seed in self.seeds() {
            for &row in &rows {
                let (task, model) = row.task_model();
                for &estimator in &self.estimators {
                    for &lr in &self.lrs {
                        let spec = RunSpec {
                            task,
                            model,
                            estimator,
                            lr,
                            seed,
                            steps: self.steps.unwrap_or(self.budget.steps()),
                            batch: 24,
                            eval_every: 0,
                            iwae_samples: 100,
                            data: if row.is_omniglot() { omniglot.clone() } else { None },
                            prefix: if row.is_omniglot() { "omniglot-".into() } else { String::new() },
                        };
                        out.push(spec.job(&root));
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The files of a finished run that go to the results folder (never the checkpoint).
const RESULT_FILES: [&str; 4] = [files::SUMMARY, files::METRICS, files::PROGRESS, files::TIMING];

/// Copies a finished run's result files to `results/<run folder name>`, summary last (a
/// results folder with a summary is complete). Returns whether it copied anything new.
fn collect(run: &Path, results: &Path) -> std::io::Result<bool> {
    let name = run.file_name().expect("run folders have a name");
    let dest = results.join(name);
    let same = |f: &str| std::fs::read(run.join(f)).ok() == std::fs::read(dest.join(f)).ok();
    if RESULT_FILES.iter().all(|f| same(f)) {
        return Ok(false);
    }
    std::fs::create_dir_all(&dest)?;
    for f in RESULT_FILES.iter().rev() {
        let tmp = dest.join(format!("{f}.tmp"));
        std::fs::copy(run.join(f), &tmp)?;
        std::fs::rename(&tmp, dest.join(f))?;
    }
    Ok(true)
}

/// Runs the command.
pub fn run(a: &ReproduceArgs) -> Result<(), Box<dyn std::error::Error>> {
    let jobs = a.jobs()?;
    let root = a.out.join(a.budget_name());
    if a.plan {
        runner::write_plan(&root, &jobs, "reproduce")?;
        println!(
            "then copy each finished run folder's {} to {}/ and run: rebar table {}",
            RESULT_FILES.join(", "),
            a.results.join(a.budget_name()).display(),
            a.results.display()
        );
        return Ok(());
    }
    let results = a.results.join(a.budget_name());
    let mut copied = 0;
    for job in jobs.iter().filter(|j| runner::done(j)) {
        copied += usize::from(collect(&job.dir, &results)?);
    }
    println!(
        "rebar reproduce: {} budget, {} runs in {} ({} finished; {copied} newly copied to {})",
        a.budget_name(),
        jobs.len(),
        root.display(),
        jobs.iter().filter(|j| runner::done(j)).count(),
        results.display()
    );
    if !a.collect_only {
        runner::run_all("reproduce", jobs, a.jobs.unwrap_or_else(runner::cores), &mut |job| {
            collect(&job.dir, &results)?;
            Ok(())
        })?;
    }
    println!("then: rebar table {}", a.results.display());
    Ok(())
}
