//! Grouping runs by configuration: the fields that define a group, and each group's statistics
//! and mean curve over its runs.

use std::collections::{BTreeMap, BTreeSet};

use super::{Run, Stat};
use crate::records::{EpochRow, Summary};

/// A summary field that defines groups of runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum GroupField {
    /// `gen` or `sp`.
    Task,
    /// `linear1`, `linear2`, `nonlinear`.
    Model,
    /// The estimator's name.
    Estimator,
    /// The learning rate.
    Lr,
    /// The (initial) temperature.
    Temperature,
    /// The batch size.
    Batch,
    /// The training steps requested.
    Steps,
    /// The data source and binarization.
    Data,
    /// The shards of each batch (`--shards`; `threads` also names it, as in older builds, where
    /// the training threads were the shards): added to any grouping when the runs differ in it,
    /// since each shard count draws its own noise.
    #[value(alias = "threads")]
    Shards,
}

impl GroupField {
    /// The default grouping: task, model, estimator, learning rate.
    pub const DEFAULT: &'static [GroupField] =
        &[GroupField::Task, GroupField::Model, GroupField::Estimator, GroupField::Lr];

    /// The column header.
    pub fn header(self) -> &'static str {
        match self {
            GroupField::Task => "task",
            GroupField::Model => "model",
            GroupField::Estimator => "estimator",
            GroupField::Lr => "lr",
            GroupField::Temperature => "temperature",
            GroupField::Batch => "batch",
            GroupField::Steps => "steps",
            GroupField::Data => "data",
            GroupField::Shards => "shards",
        }
    }

    /// The field's value in `s`, as shown in the table.
    pub fn value(self, s: &Summary) -> String {
        match self {
            GroupField::Task => s.task.clone(),
            GroupField::Model => s.model.clone(),
            GroupField::Estimator => s.estimator.clone(),
            // Both are f32 in training, widened to f64 in summary.json: print the f32's shortest
            // form (0.0003, not 0.0003000000142492354).
            GroupField::Lr => (s.learning_rate as f32).to_string(),
            GroupField::Temperature => s.temperature.map_or("—".to_string(), |t| (t as f32).to_string()),
            GroupField::Batch => s.batch.to_string(),
            GroupField::Steps => s.steps.to_string(),
            GroupField::Data => format!("{} {}", s.data.source, s.data.binarization),
            GroupField::Shards => s.shards().to_string(),
        }
    }

    /// A sort key: numbers sort as numbers.
    fn sort_key(self, s: &Summary) -> (f64, String) {
        match self {
            GroupField::Lr => (s.learning_rate, String::new()),
            GroupField::Temperature => (s.temperature.unwrap_or(f64::NEG_INFINITY), String::new()),
            GroupField::Batch => (s.batch as f64, String::new()),
            GroupField::Steps => (s.steps as f64, String::new()),
            GroupField::Shards => (s.shards() as f64, String::new()),
            _ => (0.0, self.value(s)),
        }
    }
}

/// Runs with the same configuration (the values of the grouping fields), and their statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The values of the grouping fields, in their order.
    pub key: Vec<String>,
    /// The runs, sorted by seed.
    pub runs: Vec<Run>,
    /// Highest epoch training ELBO ([`crate::records::FinalMetrics::best_train_elbo`]).
    pub best_train_elbo: Stat,
    /// Last epoch's training ELBO.
    pub final_train_elbo: Stat,
    /// IWAE bound on the validation split at the end (if any run has it).
    pub valid_iwae: Option<Stat>,
    /// IWAE bound on the test split at the end (if any run has it).
    pub test_iwae: Option<Stat>,
    /// Mean training steps per second of the runs.
    pub steps_per_second: Stat,
    /// Millions of the dense maps' multiply-adds per example (if any run has it).
    pub mega_multiply_adds: Option<Stat>,
}

impl Group {
    /// A label for legends: the key values joined by " · ", and the number of runs.
    pub fn label(&self, by: &[GroupField]) -> String {
        let parts: Vec<String> = by
            .iter()
            .zip(&self.key)
            .map(|(f, v)| if *f == GroupField::Lr { format!("lr {v}") } else { v.clone() })
            .collect();
        format!("{} (n={})", parts.join(" · "), self.runs.len())
    }

    /// The group's seeds (sorted, with repeats if two runs share one).
    pub fn seeds(&self) -> Vec<u64> {
        self.runs.iter().map(|r| r.summary.seed).collect()
    }

    /// The mean training curve over the group's runs: at each step that every run has
    /// (runs of one configuration share their epoch boundaries), the means of the training
    /// ELBO and log variance, and of the other columns where every run has them. If the runs
    /// share no step at all, every step any run has, averaged over the runs that have it.
    pub fn mean_curve(&self) -> Vec<EpochRow> {
        let mut by_step: BTreeMap<u64, Vec<&EpochRow>> = BTreeMap::new();
        for run in &self.runs {
            for row in &run.metrics {
                by_step.entry(row.step).or_default().push(row);
            }
        }
        let n = self.runs.len();
        let complete = by_step.values().any(|rows| rows.len() == n);
        let mean = |rows: &[&EpochRow], f: &dyn Fn(&EpochRow) -> f64| {
            rows.iter().map(|r| f(r)).sum::<f64>() / rows.len() as f64
        };
        let mean_opt = |rows: &[&EpochRow], f: &dyn Fn(&EpochRow) -> Option<f64>| {
            let v: Option<Vec<f64>> = rows.iter().map(|r| f(r)).collect();
            v.map(|v| v.iter().sum::<f64>() / v.len() as f64)
        };
        by_step
            .into_iter()
            .filter(|(_, rows)| !complete || rows.len() == n)
            .map(|(step, rows)| EpochRow {
                epoch: rows[0].epoch,
                step,
                train_elbo: mean(&rows, &|r| r.train_elbo),
                log_variance: mean(&rows, &|r| r.log_variance),
                temperature: mean_opt(&rows, &|r| r.temperature),
                eta_mean: mean_opt(&rows, &|r| r.eta_mean),
                valid_iwae: mean_opt(&rows, &|r| r.valid_iwae),
                test_iwae: mean_opt(&rows, &|r| r.test_iwae),
            })
            .collect()
    }
}

/// Groups `runs` by the values of `by` (all runs in one group if `by` is empty), sorted by those
/// values (numbers numerically). A folder reached twice counts once.
pub fn group_runs(runs: Vec<Run>, by: &[GroupField]) -> Vec<Group> {
    let mut seen = BTreeSet::new();
    let mut groups: BTreeMap<Vec<String>, Vec<Run>> = BTreeMap::new();
    for run in runs {
        let id = std::fs::canonicalize(&run.dir).unwrap_or_else(|_| run.dir.clone());
        if !seen.insert(id) {
            continue;
        }
        let key = by.iter().map(|f| f.value(&run.summary)).collect();
        groups.entry(key).or_default().push(run);
    }
    let mut out: Vec<Group> = groups
        .into_iter()
        .map(|(key, mut runs)| {
            runs.sort_by(|a, b| a.summary.seed.cmp(&b.summary.seed).then_with(|| a.dir.cmp(&b.dir)));
            let stat = |f: &dyn Fn(&Summary) -> Option<f64>| {
                Stat::of(&runs.iter().filter_map(|r| f(&r.summary)).collect::<Vec<_>>())
            };
            let always = |f: &dyn Fn(&Summary) -> f64| stat(&|s| Some(f(s))).expect("a group has a run");
            Group {
                best_train_elbo: always(&|s| s.final_metrics.best_train_elbo),
                final_train_elbo: always(&|s| s.final_metrics.train_elbo),
                valid_iwae: stat(&|s| s.final_metrics.valid_iwae),
                test_iwae: stat(&|s| s.final_metrics.test_iwae),
                steps_per_second: always(&|s| s.steps_per_second),
                mega_multiply_adds: stat(&|s| s.work.map(|w| w.multiply_adds_per_example / 1e6)),
                key,
                runs,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        let (sa, sb) = (&a.runs[0].summary, &b.runs[0].summary);
        by.iter()
            .map(|f| {
                let (ka, kb) = (f.sort_key(sa), f.sort_key(sb));
                ka.0.total_cmp(&kb.0).then_with(|| ka.1.cmp(&kb.1))
            })
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    out
}

/// The fields to group `runs` by: `requested` without repeats, plus [`GroupField::Shards`] if
/// the runs differ in their shards (each shard count draws its own noise, so such runs are
/// different runs even with the same seed; the training threads change nothing).
pub fn grouping(runs: &[Run], requested: &[GroupField]) -> Vec<GroupField> {
    let mut by = requested.to_vec();
    if runs.iter().any(|r| r.summary.shards() != runs[0].summary.shards()) {
        by.push(GroupField::Shards);
    }
    let mut seen = std::collections::BTreeSet::new();
    by.retain(|f| seen.insert(*f));
    by
}
