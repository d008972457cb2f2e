//! A run's wall clock over all its processes: a run interrupted (Ctrl-C, kill -9, a cluster's
//! time limit) and resumed reports the seconds and steps per second of all its work, and its
//! `timing.csv` keeps the rows of the earlier processes. The totals up to a checkpoint are kept
//! beside it in `clock.json` ([`Elapsed`], written atomically right after the checkpoint); time
//! spent after the last checkpoint by a process that was killed is lost with the steps it made,
//! which the resumed run makes again.
//!
//! The clock lives outside the checkpoint so that the checkpoint stays a function of the seed
//! and the build alone: two runs of the same seed write byte-identical checkpoints, whatever
//! their speed. (A process killed between the two renames leaves a clock one checkpoint behind:
//! the resumed run then under-counts that interval's seconds, never its steps' results.)

use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::TrainError;
use crate::records::{TimingRow, files};

/// The wall-clock totals of a run up to a checkpoint (zero for run folders of builds before
/// they were kept, whose resumed runs count only their own processes).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Elapsed {
    /// Seconds of training and evaluation.
    pub seconds: f64,
    /// Seconds of training steps only (evaluation excluded): the denominator of steps/s.
    pub train_seconds: f64,
    /// Steps those seconds timed.
    pub steps: u64,
    /// The rows of `timing.csv` so far, one per completed epoch.
    pub timing: Vec<TimingRow>,
}

/// The clock of one process of a run, on top of the earlier processes' [`Elapsed`].
#[derive(Debug, Clone)]
pub struct RunClock {
    before: Elapsed,
    /// The step this process started from.
    first_step: u64,
    start: Instant,
    /// Training seconds of this process's closed epochs.
    train: f64,
    /// When the open epoch's training (re)started, if one is open.
    epoch: Option<Instant>,
}

impl RunClock {
    /// A clock starting now at `first_step`, after the earlier processes' `before`.
    pub fn resume(before: &Elapsed, first_step: u64) -> RunClock {
        RunClock { before: before.clone(), first_step, start: Instant::now(), train: 0.0, epoch: None }
    }

    /// Starts timing training (after an evaluation, or at the start).
    pub fn open_epoch(&mut self) {
        self.epoch = Some(Instant::now());
    }

    /// Stops timing training and returns the seconds since [`open_epoch`](Self::open_epoch).
    pub fn close_epoch(&mut self) -> f64 {
        let seconds = self.epoch.take().map_or(0.0, |t| t.elapsed().as_secs_f64());
        self.train += seconds;
        seconds
    }

    /// Seconds of the whole run so far, over all its processes.
    pub fn seconds(&self) -> f64 {
        self.before.seconds + self.start.elapsed().as_secs_f64()
    }

    /// Training seconds of the whole run so far, the open epoch included.
    pub fn train_seconds(&self) -> f64 {
        self.before.train_seconds + self.train + self.epoch.map_or(0.0, |t| t.elapsed().as_secs_f64())
    }

    /// Training steps per second over the whole run, `step` being the steps done now.
    pub fn steps_per_second(&self, step: u64) -> f64 {
        self.timed_steps(step) as f64 / self.train_seconds().max(1e-9)
    }

    fn timed_steps(&self, step: u64) -> u64 {
        self.before.steps + step.saturating_sub(self.first_step)
    }

    /// The totals to store beside a checkpoint taken at `step`, with the timing rows so far.
    pub fn elapsed(&self, step: u64, timing: &[TimingRow]) -> Elapsed {
        Elapsed {
            seconds: self.seconds(),
            train_seconds: self.train_seconds(),
            steps: self.timed_steps(step),
            timing: timing.to_vec(),
        }
    }
}

/// Writes `clock.json` in the run folder `dir` atomically (a temporary file, then a rename).
pub fn save(dir: &Path, elapsed: &Elapsed) -> Result<(), TrainError> {
    let path = dir.join(files::CLOCK);
    let io = |source| TrainError::Io { file: path.clone(), source };
    let json = serde_json::to_vec_pretty(elapsed).map_err(|e| io(std::io::Error::other(e)))?;
    let tmp = dir.join(format!("{}.{}.tmp", files::CLOCK, std::process::id()));
    let written = fs::File::create(&tmp).and_then(|mut f| f.write_all(&json).and_then(|()| f.sync_all()));
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, &path)) {
        let _ = fs::remove_file(&tmp);
        return Err(io(e));
    }
    Ok(())
}

/// Reads `clock.json` from the run folder `dir`: zero totals if there is none (a folder of an
/// older build), an error naming the file if it is malformed.
pub fn load(dir: &Path) -> Result<Elapsed, TrainError> {
    let path = dir.join(files::CLOCK);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| TrainError::Checkpoint {
            file: path.clone(),
            problem: format!("malformed run clock: {e} (delete it to count only this process's time)"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Elapsed::default()),
        Err(source) => Err(TrainError::Io { file: path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resumed_clock_adds_the_earlier_processes() {
        let before = Elapsed { seconds: 100.0, train_seconds: 80.0, steps: 800, timing: Vec::new() };
        let mut c = RunClock::resume(&before, 1000);
        c.open_epoch();
        assert!(c.seconds() >= 100.0 && c.train_seconds() >= 80.0);
        c.close_epoch();
        let e = c.elapsed(1200, &[]);
        assert_eq!(e.steps, 1000);
        // 1,000 steps in a little over 80 s.
        let rate = c.steps_per_second(1200);
        assert!(rate <= 12.5 && rate > 12.0, "{rate}");
    }

    #[test]
    fn the_clock_file_round_trips_and_is_optional() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), Elapsed::default());
        let e = Elapsed {
            seconds: 12.5,
            train_seconds: 10.0,
            steps: 300,
            timing: vec![TimingRow { epoch: 1, steps_per_second: 30.0, seconds: 12.5 }],
        };
        save(dir.path(), &e).unwrap();
        assert_eq!(load(dir.path()).unwrap(), e);
        fs::write(dir.path().join(files::CLOCK), "{").unwrap();
        assert!(load(dir.path()).unwrap_err().to_string().contains("clock.json"));
    }
}
