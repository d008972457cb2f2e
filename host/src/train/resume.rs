//! Whether a checkpoint can be resumed by the command at hand: the same run (every field of
//! [`TrainConfig::identity`]), and a step budget no smaller than the steps already done. A
//! refusal names each differing option with both values, rather than two configuration dumps
//! to compare by eye.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::config::TrainConfig;
use crate::data::Source;

/// The command-line option of each field of [`TrainConfig`] (by its serialised name).
fn option(field: &str) -> String {
    match field {
        "learning_rate" => "--lr".into(),
        "data_sha256" => "--data (SHA-256 of its images)".into(),
        other => format!("--{}", other.replace('_', "-")),
    }
}

/// A field's value as a person reads it: strings without quotes, `null` as `none`.
fn show(v: &Value) -> String {
    match v {
        Value::Null => "none".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `saved` and `wanted` as they are compared. Where both record the data's digest, the digest
/// decides and the path does not (a moved copy of the same data resumes); otherwise the paths,
/// made absolute as [`Source::absolute`] does (checkpoints written before paths were stored
/// absolute compare equal when resumed from where they ran).
fn comparable(saved: &TrainConfig, wanted: &TrainConfig) -> (TrainConfig, TrainConfig) {
    let by_digest = saved.data_sha256.is_some() && wanted.data_sha256.is_some();
    let prepare = |c: &TrainConfig| {
        let c = c.identity();
        if by_digest {
            TrainConfig { data: None, ..c }
        } else {
            let data = Source::from_arg(c.data.as_deref()).absolute().to_arg();
            TrainConfig { data, data_sha256: None, ..c }
        }
    };
    (prepare(saved), prepare(wanted))
}

/// The options in which `saved` (a checkpoint's run) and `wanted` (this command's) differ, each
/// as `--option saved-value in the checkpoint, wanted-value asked for`; empty for the same run.
pub fn differences(saved: &TrainConfig, wanted: &TrainConfig) -> Vec<String> {
    let (a, b) = comparable(saved, wanted);
    if a == b {
        return Vec::new();
    }
    // Through the JSON text, which writes an f32 as its shortest form (0.0003, not 0.00030000001).
    let json = |c: &TrainConfig| serde_json::to_string(c).and_then(|s| serde_json::from_str::<Value>(&s));
    let (Ok(Value::Object(a)), Ok(Value::Object(b))) = (json(&a), json(&b)) else {
        return vec![format!("{a:?} in the checkpoint, {b:?} asked for")];
    };
    let none = Value::Null;
    a.iter()
        .filter(|(k, v)| b.get(*k).unwrap_or(&none) != *v)
        .map(|(k, v)| {
            format!("{} {} in the checkpoint, {} asked for", option(k), show(v), show(b.get(k).unwrap_or(&none)))
        })
        .collect()
}

/// Why a checkpoint cannot continue as the command asks.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResumeError {
    /// The checkpoint is another run's: each differing option, as [`differences`] names it.
    #[error("it belongs to a different run: {}", .0.join("; "))]
    DifferentRun(Vec<String>),
    /// The step budget is below the steps done.
    #[error(
        "--steps {asked} is below the {done} steps the run in {} has done: ask for --steps {done} or more",
        dir.display()
    )]
    FewerSteps {
        /// `--steps` asked for.
        asked: u64,
        /// Steps the checkpoint has done.
        done: u64,
        /// The run folder.
        dir: PathBuf,
    },
}

/// Checks that the checkpoint of `saved` after `done` steps can continue as `wanted`: the same
/// run, and `wanted.steps` at least `done` (a smaller budget would report a run of fewer steps
/// than it trained).
pub fn check(saved: &TrainConfig, done: u64, wanted: &TrainConfig, dir: &Path) -> Result<(), ResumeError> {
    let diffs = differences(saved, wanted);
    if !diffs.is_empty() {
        return Err(ResumeError::DifferentRun(diffs));
    }
    if wanted.steps < done {
        return Err(ResumeError::FewerSteps { asked: wanted.steps, done, dir: dir.to_path_buf() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::config::EstimatorKind;

    fn config() -> TrainConfig {
        crate::train::config::example()
    }

    #[test]
    fn each_differing_option_is_named_with_both_values() {
        let saved = config();
        assert!(differences(&saved, &TrainConfig { steps: 500, train_threads: 4, ..config() }).is_empty());
        let wanted = TrainConfig { learning_rate: 1e-3, shards: Some(2), ..config() };
        assert_eq!(
            differences(&saved, &wanted),
            ["--lr 0.0003 in the checkpoint, 0.001 asked for", "--shards 1 in the checkpoint, 2 asked for"]
        );
        let wanted = TrainConfig { data: Some("fashion".into()), estimator: EstimatorKind::Nvil, ..config() };
        let d = differences(&saved, &wanted);
        assert!(d[0].starts_with("--data none in the checkpoint, /") && d[0].ends_with("fashion asked for"), "{d:?}");
        assert_eq!(d[1], "--estimator rebar in the checkpoint, nvil asked for");
    }

    #[test]
    fn the_data_digest_decides_where_both_record_one() {
        let at = |path: &str, digest: Option<&str>| TrainConfig {
            data: Some(path.into()),
            data_sha256: digest.map(String::from),
            ..config()
        };
        // A moved copy of the same images resumes.
        assert!(differences(&at("/old/fashion", Some("ab")), &at("/new/fashion", Some("ab"))).is_empty());
        // Other images at the same path are refused, by their digests.
        assert_eq!(
            differences(&at("/data/fashion", Some("ab")), &at("/data/fashion", Some("cd"))),
            ["--data (SHA-256 of its images) ab in the checkpoint, cd asked for"]
        );
        // A checkpoint without a digest (an older build's) compares paths.
        assert!(differences(&at("/data/fashion", None), &at("/data/fashion", Some("cd"))).is_empty());
        assert_eq!(differences(&at("/a", None), &at("/b", Some("cd"))).len(), 1);
    }

    #[test]
    fn fewer_steps_than_done_are_refused() {
        let dir = Path::new("runs/x");
        assert_eq!(check(&config(), 100, &config(), dir), Ok(()));
        let e = check(&config(), 6000, &TrainConfig { steps: 3000, ..config() }, dir).unwrap_err().to_string();
        assert!(e.starts_with("--steps 3000 is below the 6000 steps"), "{e}");
    }
}
