//! What a stopped run leaves behind to resume from, for the message of a non-finite stop: a
//! researcher deciding whether to rerun or resume needs to know whether a checkpoint exists and
//! how far it got, not a blanket "the last checkpoint is intact".

use std::fmt;
use std::path::{Path, PathBuf};

use super::checkpoint;

/// The checkpoint a stopped run can resume from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checkpointed {
    /// The command keeps no checkpoints (`rebar variance`): nothing to say.
    NotKept,
    /// None was written: the run must start again.
    Nothing {
        /// Where it would be.
        file: PathBuf,
    },
    /// The file exists but cannot be read back.
    Unreadable {
        /// The file.
        file: PathBuf,
        /// Why.
        problem: String,
    },
    /// The checkpoint holds `step` completed steps.
    At {
        /// Steps it holds.
        step: u64,
        /// The file.
        file: PathBuf,
    },
}

impl Checkpointed {
    /// What the checkpoint file at `file` holds now (read and verified: the message must be
    /// true of the file, whoever wrote it).
    pub fn of(file: &Path) -> Checkpointed {
        if !file.exists() {
            return Checkpointed::Nothing { file: file.to_path_buf() };
        }
        match checkpoint::read(file) {
            Ok((header, _)) => Checkpointed::At { step: header.step, file: file.to_path_buf() },
            Err(e) => Checkpointed::Unreadable { file: file.to_path_buf(), problem: e.to_string() },
        }
    }
}

/// The end of a sentence, starting with "; " (empty for [`Checkpointed::NotKept`]).
impl fmt::Display for Checkpointed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Checkpointed::NotKept => Ok(()),
            Checkpointed::Nothing { file } => {
                write!(f, "; no checkpoint was written ({} does not exist), so nothing can be resumed", file.display())
            }
            Checkpointed::Unreadable { file, problem } => {
                write!(f, "; the checkpoint {} cannot be read back ({problem})", file.display())
            }
            Checkpointed::At { step, file } => write!(
                f,
                "; the checkpoint {} holds the model at step {step} (eval, sample and export read it; --resume \
                 would repeat the same steps and stop here again)",
                file.display()
            ),
        }
    }
}
