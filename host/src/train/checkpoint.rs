//! Checkpoints: a JSON header (the configuration, the step, the metrics so far) and the binary
//! state every component shows through `rebar_core::state::StateVisitor` (model, Adam, the
//! estimator's control variates, the variance averages), with a SHA-256 over the whole file.
//! Written to a temporary file of the process's own (deleted on failure), synced, then renamed
//! over the old one, so a crash at any moment leaves either the previous checkpoint or the new
//! one, never a torn file.
//!
//! Layout: `RBCKPT` 0 1 (8 bytes) · u64 header length · header JSON · u64 state length · state ·
//! SHA-256 of everything before. State records: key length (u8), key, index (u32), kind (u8: 0 =
//! f32, 1 = f64, 2 = u64), count (u64), little-endian values.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use rebar_core::state::StateVisitor;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::TrainError;
use super::config::TrainConfig;
use crate::records::EpochRow;

const MAGIC: &[u8; 8] = b"RBCKPT\x00\x01";

/// Sums over the current, unfinished epoch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochSums {
    /// Steps of the epoch done.
    pub steps: u64,
    /// Σ of the steps' batch-mean ELBOs.
    pub elbo: f64,
    /// Σ of the steps' variance estimates.
    pub variance: f64,
}

/// What a checkpoint says besides the binary state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The run's configuration (must match to resume).
    pub config: TrainConfig,
    /// Steps completed.
    pub step: u64,
    /// One row per completed epoch.
    pub history: Vec<EpochRow>,
    /// The unfinished epoch.
    pub epoch: EpochSums,
    /// One row per completed window of steps (`progress.csv`).
    #[serde(default)]
    pub progress: Vec<EpochRow>,
    /// The unfinished window.
    #[serde(default)]
    pub window: EpochSums,
    /// `rebar` version that wrote it.
    pub version: String,
}

/// Writes state records into a byte buffer.
#[derive(Default)]
pub struct StateWriter {
    bytes: Vec<u8>,
}

impl StateWriter {
    fn record(&mut self, key: &str, index: usize, kind: u8, count: usize) {
        self.bytes.push(key.len() as u8);
        self.bytes.extend_from_slice(key.as_bytes());
        self.bytes.extend_from_slice(&(index as u32).to_le_bytes());
        self.bytes.push(kind);
        self.bytes.extend_from_slice(&(count as u64).to_le_bytes());
    }
}

impl StateVisitor for StateWriter {
    fn f32s(&mut self, key: &'static str, index: usize, values: &mut [f32]) {
        self.record(key, index, 0, values.len());
        for v in values {
            self.bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    fn f64s(&mut self, key: &'static str, index: usize, values: &mut [f64]) {
        self.record(key, index, 1, values.len());
        for v in values {
            self.bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    fn u64s(&mut self, key: &'static str, index: usize, values: &mut [u64]) {
        self.record(key, index, 2, values.len());
        for v in values {
            self.bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
}

/// Reads state records back into the same traversal, checking each record's key, index, kind
/// and length; the first mismatch is kept and reported by [`StateReader::finish`].
pub struct StateReader {
    bytes: Vec<u8>,
    at: usize,
    error: Option<String>,
    file: PathBuf,
}

impl StateReader {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.at + n > self.bytes.len() {
            return None;
        }
        self.at += n;
        Some(&self.bytes[self.at - n..self.at])
    }

    /// Checks the next record's description; on success returns the value bytes.
    fn expect(&mut self, key: &str, index: usize, kind: u8, count: usize, width: usize) -> Option<Vec<u8>> {
        if self.error.is_some() {
            return None;
        }
        let mut describe = || -> Option<(String, u32, u8, u64)> {
            let len = *self.take(1)?.first()? as usize;
            let k = String::from_utf8_lossy(self.take(len)?).into_owned();
            let i = u32::from_le_bytes(self.take(4)?.try_into().ok()?);
            let kd = *self.take(1)?.first()?;
            let c = u64::from_le_bytes(self.take(8)?.try_into().ok()?);
            Some((k, i, kd, c))
        };
        match describe() {
            Some((k, i, kd, c)) if k == key && i as usize == index && kd == kind && c as usize == count => {
                match self.take(count * width) {
                    Some(v) => Some(v.to_vec()),
                    None => {
                        self.error = Some(format!("{key}[{index}] is truncated"));
                        None
                    }
                }
            }
            Some((k, i, kd, c)) => {
                self.error = Some(format!(
                    "expected {key}[{index}] with {count} values of kind {kind}, found {k}[{i}] with {c} of kind {kd} \
                     (a different model, estimator or rebar version)"
                ));
                None
            }
            None => {
                self.error = Some(format!("the state ends before {key}[{index}]"));
                None
            }
        }
    }

    /// Reports the first mismatch of a traversal that read only the first part of the state
    /// (the model, for evaluation).
    pub fn finish_prefix(self) -> Result<(), TrainError> {
        match self.error {
            Some(problem) => Err(TrainError::Checkpoint { file: self.file, problem }),
            None => Ok(()),
        }
    }

    /// Reports the first mismatch, or state left over after the traversal.
    pub fn finish(self) -> Result<(), TrainError> {
        if let Some(problem) = self.error {
            return Err(TrainError::Checkpoint { file: self.file, problem });
        }
        if self.at != self.bytes.len() {
            let problem =
                format!("{} bytes of state were not used (a different configuration?)", self.bytes.len() - self.at);
            return Err(TrainError::Checkpoint { file: self.file, problem });
        }
        Ok(())
    }
}

/// The values of one state record, as stored.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Kind 0.
    F32(Vec<f32>),
    /// Kind 1.
    F64(Vec<f64>),
    /// Kind 2.
    U64(Vec<u64>),
}

/// One state record: piece `index` of the group `key` (see the layout in the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The group, such as `model` or `adam`.
    pub key: String,
    /// The piece of the group.
    pub index: usize,
    /// The values.
    pub values: Values,
}

impl StateReader {
    /// Every record of the state, in order, as stored: for tools that read a checkpoint's
    /// contents without restoring a run (`rebar export`). A traversal restoring a run checks
    /// each record against what it expects instead.
    pub fn records(mut self) -> Result<Vec<Record>, TrainError> {
        let mut records = Vec::new();
        while self.at < self.bytes.len() {
            let record = self.record().ok_or_else(|| TrainError::Checkpoint {
                file: self.file.clone(),
                problem: format!("state record {} is truncated or of an unknown kind", records.len()),
            })?;
            records.push(record);
        }
        Ok(records)
    }

    fn record(&mut self) -> Option<Record> {
        let len = *self.take(1)?.first()? as usize;
        let key = String::from_utf8_lossy(self.take(len)?).into_owned();
        let index = u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize;
        let kind = *self.take(1)?.first()?;
        let count = usize::try_from(u64::from_le_bytes(self.take(8)?.try_into().ok()?)).ok()?;
        let width = if kind == 0 { 4 } else { 8 };
        let bytes = self.take(count.checked_mul(width)?)?;
        let values = match kind {
            0 => Values::F32(
                bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap_or_default())).collect(),
            ),
            1 => Values::F64(
                bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or_default())).collect(),
            ),
            2 => Values::U64(
                bytes.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default())).collect(),
            ),
            _ => return None,
        };
        Some(Record { key, index, values })
    }
}

impl StateVisitor for StateReader {
    fn f32s(&mut self, key: &'static str, index: usize, values: &mut [f32]) {
        if let Some(b) = self.expect(key, index, 0, values.len(), 4) {
            for (v, c) in values.iter_mut().zip(b.chunks_exact(4)) {
                *v = f32::from_le_bytes(c.try_into().unwrap_or_default());
            }
        }
    }
    fn f64s(&mut self, key: &'static str, index: usize, values: &mut [f64]) {
        if let Some(b) = self.expect(key, index, 1, values.len(), 8) {
            for (v, c) in values.iter_mut().zip(b.chunks_exact(8)) {
                *v = f64::from_le_bytes(c.try_into().unwrap_or_default());
            }
        }
    }
    fn u64s(&mut self, key: &'static str, index: usize, values: &mut [u64]) {
        if let Some(b) = self.expect(key, index, 2, values.len(), 8) {
            for (v, c) in values.iter_mut().zip(b.chunks_exact(8)) {
                *v = u64::from_le_bytes(c.try_into().unwrap_or_default());
            }
        }
    }
}

/// Writes a checkpoint atomically: `state` is called once with the writer.
pub fn write(path: &Path, header: &Header, state: impl FnOnce(&mut StateWriter)) -> Result<(), TrainError> {
    let io = |source| TrainError::Io { file: path.to_path_buf(), source };
    let mut w = StateWriter::default();
    state(&mut w);
    let json =
        serde_json::to_vec(header).map_err(|e| TrainError::Checkpoint { file: path.into(), problem: e.to_string() })?;
    let mut bytes = Vec::with_capacity(json.len() + w.bytes.len() + 64);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(json.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&json);
    bytes.extend_from_slice(&(w.bytes.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&w.bytes);
    let digest = Sha256::digest(&bytes);
    bytes.extend_from_slice(&digest);

    // One temporary file per process, so that no two writers share one; deleted if anything
    // fails (a full disk must not be left fuller).
    let tmp = temporary(path);
    let written = fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(&bytes).and_then(|_| f.sync_all()))
        .and_then(|_| fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io(e));
    }
    if let Some(dir) = path.parent() {
        // Make the rename itself durable where the platform allows it.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// The temporary file this process writes the checkpoint `path` to before renaming it.
pub fn temporary(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(name)
}

/// Reads and verifies a checkpoint; the returned reader must be walked with the same traversal
/// that wrote it, then [`StateReader::finish`]ed.
pub fn read(path: &Path) -> Result<(Header, StateReader), TrainError> {
    let bad = |problem: &str| TrainError::Checkpoint { file: path.to_path_buf(), problem: problem.to_string() };
    let bytes = fs::read(path).map_err(|source| TrainError::Io { file: path.to_path_buf(), source })?;
    if bytes.len() < MAGIC.len() + 16 + 32 || &bytes[..8] != MAGIC {
        return Err(bad("not a rebar checkpoint (wrong magic or too short)"));
    }
    let (body, digest) = bytes.split_at(bytes.len() - 32);
    if Sha256::digest(body).as_slice() != digest {
        return Err(bad("checksum mismatch: the file is corrupt or truncated"));
    }
    let mut at = 8;
    let next_len = |at: &mut usize| -> Result<usize, TrainError> {
        let v = body.get(*at..*at + 8).ok_or_else(|| bad("truncated length field"))?;
        *at += 8;
        Ok(u64::from_le_bytes(v.try_into().map_err(|_| bad("bad length field"))?) as usize)
    };
    let header_len = next_len(&mut at)?;
    let json = body.get(at..at + header_len).ok_or_else(|| bad("truncated header"))?;
    at += header_len;
    let header: Header = serde_json::from_slice(json).map_err(|e| bad(&format!("unreadable header: {e}")))?;
    let state_len = next_len(&mut at)?;
    let state = body.get(at..at + state_len).ok_or_else(|| bad("truncated state"))?.to_vec();
    if at + state_len != body.len() {
        return Err(bad("trailing bytes after the state"));
    }
    Ok((header, StateReader { bytes: state, at: 0, error: None, file: path.to_path_buf() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_no_temporary_file_and_names_the_checkpoint() {
        let dir = std::env::temp_dir().join(format!("rebar-checkpoint-unit-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        // The rename fails as a full disk would fail the write: the checkpoint's name is a
        // non-empty folder.
        let path = dir.join(crate::records::files::CHECKPOINT);
        fs::create_dir_all(path.join("occupied")).unwrap();
        let header = Header {
            config: crate::train::config::example(),
            step: 3,
            history: Vec::new(),
            epoch: EpochSums::default(),
            progress: Vec::new(),
            window: EpochSums::default(),
            version: "test".into(),
        };
        let e = write(&path, &header, |w| w.f32s("w", 0, &mut [1.0, 2.0])).unwrap_err();
        assert!(matches!(&e, TrainError::Io { file, .. } if *file == path), "{e}");
        let left: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, [crate::records::files::CHECKPOINT], "{left:?}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
