//! A run folder as a unit that nothing destroys by accident: the process training into it holds
//! an advisory lock on its `run.lock` (released by the operating system however the process
//! ends, so a crash never leaves a stale lock), a new run refuses a folder that already holds
//! one, and only `--overwrite` clears it.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::records::files;

/// What the process means to do with the folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// Start a new run: the folder must not hold one.
    New,
    /// Continue the run in the folder from its checkpoint.
    Resume,
    /// Start a new run, deleting the one the folder holds.
    Overwrite,
}

/// The files whose presence means the folder holds a run (a finished one, or one that can be
/// resumed, or the metrics of one that was stopped before its first checkpoint).
pub const RUN_FILES: [&str; 3] = [files::SUMMARY, files::CHECKPOINT, files::METRICS];

/// The files a run writes, deleted by [`Intent::Overwrite`] (not `train.log`: `rebar sweep`
/// writes it for the new run before the run starts).
const OUTPUTS: [&str; 7] =
    [files::SUMMARY, files::CHECKPOINT, files::CLOCK, files::METRICS, files::PROGRESS, files::TIMING, files::CURVES];

/// Why a folder cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    /// Another live process holds the folder's lock.
    #[error("run folder {} is in use by pid {pid} (another rebar train); wait for it or stop it", dir.display())]
    InUse {
        /// The folder.
        dir: PathBuf,
        /// The holder's process id, as it wrote it in the lock file ("unknown" if unreadable).
        pid: String,
    },
    /// A new run into a folder that holds one.
    #[error(
        "run folder {} already holds a run ({found}); continue it with --resume, replace it with --overwrite, \
         or choose another folder with --out",
        dir.display()
    )]
    HoldsRun {
        /// The folder.
        dir: PathBuf,
        /// The run files found.
        found: String,
    },
    /// `--resume` into a folder without a checkpoint.
    #[error("nothing to resume in {}: it has no {}", dir.display(), files::CHECKPOINT)]
    NothingToResume {
        /// The folder.
        dir: PathBuf,
    },
    /// The file system refused.
    #[error("{}: {source}", file.display())]
    Io {
        /// The file or folder.
        file: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// The claim on a folder: its lock is held until this is dropped or the process ends.
#[derive(Debug)]
pub struct RunDir {
    _lock: File,
}

fn lock_path(dir: &Path) -> PathBuf {
    dir.join(files::LOCK)
}

fn read_pid(file: &mut File) -> String {
    let mut s = String::new();
    let _ = file.rewind().and_then(|_| file.read_to_string(&mut s));
    match s.trim() {
        "" => "unknown".into(),
        pid => pid.into(),
    }
}

/// Creates `dir` if needed, takes its lock and checks it against `intent` (for
/// [`Intent::Overwrite`], deletes the run it holds).
pub fn claim(dir: &Path, intent: Intent) -> Result<RunDir, RunDirError> {
    let io = |file: &Path| {
        let file = file.to_path_buf();
        move |source| RunDirError::Io { file, source }
    };
    fs::create_dir_all(dir).map_err(io(dir))?;
    let path = lock_path(dir);
    let mut lock =
        OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io(&path))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(RunDirError::InUse { dir: dir.to_path_buf(), pid: read_pid(&mut lock) });
        }
        Err(TryLockError::Error(e)) => return Err(io(&path)(e)),
    }
    // Holding the lock, any checkpoint temporary here is a dead process's (see
    // `checkpoint::temporary`): nothing will rename it.
    if let Ok(entries) = fs::read_dir(dir) {
        let prefix = format!("{}.", files::CHECKPOINT);
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(&prefix) && name.ends_with(".tmp") {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    match intent {
        Intent::New => {
            let found: Vec<&str> = RUN_FILES.into_iter().filter(|f| dir.join(f).exists()).collect();
            if !found.is_empty() {
                return Err(RunDirError::HoldsRun { dir: dir.to_path_buf(), found: found.join(", ") });
            }
        }
        Intent::Resume => {
            if !dir.join(files::CHECKPOINT).exists() {
                return Err(RunDirError::NothingToResume { dir: dir.to_path_buf() });
            }
        }
        Intent::Overwrite => {
            for f in OUTPUTS {
                match fs::remove_file(dir.join(f)) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&dir.join(f))(e)),
                    _ => {}
                }
            }
        }
    }
    // The holder's pid, for the message of the next process that finds the folder locked
    // (written only now: a refused process leaves the folder as it found it).
    lock.set_len(0).and_then(|_| lock.rewind()).map_err(io(&path))?;
    write!(lock, "{}", std::process::id()).and_then(|_| lock.flush()).map_err(io(&path))?;
    Ok(RunDir { _lock: lock })
}

/// The pid of the live process that holds `dir`'s lock, if any (for `rebar sweep`, before it
/// starts a run there: an orphaned trainer of an earlier sweep may still be running).
pub fn holder(dir: &Path) -> Option<String> {
    let mut file = File::open(lock_path(dir)).ok()?;
    match file.try_lock_shared() {
        Err(TryLockError::WouldBlock) => Some(read_pid(&mut file)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claimed_folder_is_refused_to_a_second_claim_and_freed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let first = claim(dir.path(), Intent::New).unwrap();
        assert_eq!(holder(dir.path()), Some(std::process::id().to_string()));
        let e = claim(dir.path(), Intent::Overwrite).unwrap_err();
        assert!(e.to_string().contains(&format!("in use by pid {}", std::process::id())), "{e}");
        drop(first);
        assert_eq!(holder(dir.path()), None);
        fs::write(dir.path().join(files::METRICS), "x").unwrap();
        let e = claim(dir.path(), Intent::New).unwrap_err();
        assert!(e.to_string().contains("already holds a run (metrics.csv)"), "{e}");
        let e = claim(dir.path(), Intent::Resume).unwrap_err();
        assert!(e.to_string().contains("nothing to resume"), "{e}");
        drop(claim(dir.path(), Intent::Overwrite).unwrap());
        assert!(!dir.path().join(files::METRICS).exists());
        claim(dir.path(), Intent::New).unwrap();
    }
}
