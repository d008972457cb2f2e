//! A trained model out of rebar: every tensor of a checkpoint's model as a
//! [safetensors](https://huggingface.co/docs/safetensors) file, which PyTorch, numpy, JAX and
//! others load in one line (`safetensors.numpy.load_file("model.safetensors")`).
//!
//! The tensors keep the names of the model's layers in `rebar-core` (`enc.w`, `enc.b`,
//! `dec.w`, `dec.b`, `prior`; `enc0.w`, … for the two-layer models; `enc.0.dense.w`, … for the
//! nonlinear ones), in the checkpoint's order, as row-major f32. A weight matrix `….w` has the
//! shape `[inputs, outputs]`, so a dense map is `y = x @ w + b`. Two fixed vectors complete the
//! model: `input_mean` (x̄, subtracted from the encoder's input) and `output_bias` (added to the
//! decoder's output logits). The file's metadata names the model, task, estimator, seed, step,
//! the rebar version and, when the run's summary records it, the git revision.

use std::collections::HashMap;
use std::path::Path;

use rebar_core::Sbn;

use crate::records::{Summary, files};
use crate::train::checkpoint::{self, Header, Values};
use crate::train::{TrainError, WithModel, with_checkpoint};

/// The fixed vectors exported beside the parameters, by their checkpoint keys.
pub const FIXED_VECTORS: [&str; 2] = ["input_mean", "output_bias"];

/// One exported tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// Its name (`enc.w`, …).
    pub name: String,
    /// Its shape: `[inputs, outputs]` for a weight matrix, `[n]` for a vector.
    pub shape: Vec<usize>,
    /// Its values, row-major.
    pub values: Vec<f32>,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The checkpoint cannot be read.
    #[error(transparent)]
    Checkpoint(#[from] TrainError),
    /// The checkpoint's state is not the model its header names.
    #[error("checkpoint {file}: {problem}")]
    Layout {
        /// The file.
        file: String,
        /// What does not fit.
        problem: String,
    },
    /// The safetensors writer failed.
    #[error("safetensors: {0}")]
    Safetensors(String),
}

/// The names of the model's parameter tensors, from its type.
struct Names;

impl WithModel for Names {
    type Output = Vec<String>;
    fn run<M, const X: usize, const H: usize, const Y: usize>(self, _: &Header, _: &M) -> Vec<String>
    where
        M: Sbn<H, Input = [f32; X], Target = [f32; Y]> + Sync,
    {
        (0..M::COUNT)
            .map(|i| {
                let mut name = String::new();
                let _ = M::write_name(i, &mut name);
                name
            })
            .collect()
    }
}

/// The shapes of `tensors` (name, values): a `….w` followed by its `….b` of `n` values is an
/// `[inputs, n]` matrix, every other tensor a vector.
fn shapes(tensors: &[(String, Vec<f32>)]) -> Vec<Vec<usize>> {
    tensors
        .iter()
        .enumerate()
        .map(|(i, (name, values))| {
            let bias = name.strip_suffix(".w").and_then(|p| {
                tensors
                    .get(i + 1)
                    .filter(|(b, v)| *b == format!("{p}.b") && !v.is_empty() && values.len() % v.len() == 0)
            });
            match bias {
                Some((_, b)) => vec![values.len() / b.len(), b.len()],
                None => vec![values.len()],
            }
        })
        .collect()
}

/// The model of the checkpoint at `file`: its header and every tensor, parameters first.
pub fn model_tensors(file: &Path) -> Result<(Header, Vec<NamedTensor>), ExportError> {
    let names = with_checkpoint(file, Names)?;
    let (header, reader) = checkpoint::read(file)?;
    let layout = |problem: String| ExportError::Layout { file: file.display().to_string(), problem };
    // The model's records come first: its tensors under `model`, then the fixed vectors.
    let records = reader.records()?;
    let wanted = names.iter().map(String::as_str).chain(FIXED_VECTORS);
    let mut tensors = Vec::new();
    for (k, (name, record)) in wanted.zip(&records).enumerate() {
        let (key, index) = if k < names.len() { ("model", k) } else { (name, 0) };
        match &record.values {
            Values::F32(v) if record.key == key && record.index == index => tensors.push((name.to_string(), v.clone())),
            _ => return Err(layout(format!("record {k} is {}[{}], not {key}[{index}]", record.key, record.index))),
        }
    }
    if tensors.len() != names.len() + FIXED_VECTORS.len() {
        return Err(layout(format!("the state ends after {} records", records.len())));
    }
    let shapes = shapes(&tensors);
    let tensors =
        tensors.into_iter().zip(shapes).map(|((name, values), shape)| NamedTensor { name, shape, values }).collect();
    Ok((header, tensors))
}

/// The file's metadata: what the model is and where it came from.
pub fn metadata(header: &Header, revision: Option<&str>) -> HashMap<String, String> {
    let c = &header.config;
    let mut m = HashMap::from([
        ("format".to_string(), "rebar".to_string()),
        ("model".to_string(), c.model.name().to_string()),
        ("task".to_string(), c.task.name().to_string()),
        ("estimator".to_string(), c.estimator.name().to_string()),
        ("seed".to_string(), c.seed.to_string()),
        ("step".to_string(), header.step.to_string()),
        ("rebar_version".to_string(), header.version.clone()),
        ("layout".to_string(), "row-major f32; w is [inputs, outputs]: y = x @ w + b".to_string()),
    ]);
    if let Some(r) = revision {
        m.insert("revision".to_string(), r.to_string());
    }
    m
}

/// The revision recorded in the `summary.json` beside `checkpoint`, if there is one.
pub fn summary_revision(checkpoint: &Path) -> Option<String> {
    let summary = checkpoint.parent()?.join(files::SUMMARY);
    let s: Summary = serde_json::from_slice(&std::fs::read(summary).ok()?).ok()?;
    s.revision
}

/// The tensors and metadata as the bytes of a safetensors file.
pub fn safetensors(tensors: &[NamedTensor], metadata: HashMap<String, String>) -> Result<Vec<u8>, ExportError> {
    use safetensors::{Dtype, tensor::TensorView};
    let bytes: Vec<Vec<u8>> = tensors.iter().map(|t| t.values.iter().flat_map(|v| v.to_le_bytes()).collect()).collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|(t, b)| TensorView::new(Dtype::F32, t.shape.clone(), b).map(|v| (t.name.as_str(), v)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ExportError::Safetensors(e.to_string()))?;
    safetensors::serialize(views, Some(metadata)).map_err(|e| ExportError::Safetensors(e.to_string()))
}
