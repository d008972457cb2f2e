//! Memory footprint of each paper model's training state, computed from the types themselves.

use std::mem::size_of;

use rebar_core::estimator::Rebar;
use rebar_core::model::{HALF, LATENT, Linear1, Linear1Sp, Linear2, Linear2Sp, Nonlinear, NonlinearSp, PIXELS};
use rebar_core::{Adam, Sbn};

/// The paper's batch size.
pub const BATCH: usize = 24;

/// One model's training state, in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footprint {
    /// Model name.
    pub model: &'static str,
    /// Trainable scalars.
    pub parameters: usize,
    /// The model value (parameters and its two fixed data vectors).
    pub model_bytes: usize,
    /// One gradient (the same type as the model).
    pub gradient_bytes: usize,
    /// Adam's two moments and step count.
    pub adam_bytes: usize,
    /// The pass workspace at batch 24.
    pub scratch_bytes: usize,
    /// Learned-temperature REBAR's own state (baseline, η, λ, its control-variate gradient).
    pub rebar_bytes: usize,
}

impl Footprint {
    /// Everything a REBAR training step touches.
    pub fn total(&self) -> usize {
        self.model_bytes + self.gradient_bytes + self.adam_bytes + self.scratch_bytes + self.rebar_bytes
    }
}

fn of<M: Sbn<H, Input = [f32; X]>, const X: usize, const H: usize>(model: &'static str) -> Footprint {
    let m: Box<M> = bytemuck::zeroed_box();
    Footprint {
        model,
        parameters: m.scalar_count(),
        model_bytes: size_of::<M>(),
        gradient_bytes: size_of::<M>(),
        adam_bytes: size_of::<Adam<M>>(),
        scratch_bytes: size_of::<M::Scratch<BATCH>>(),
        rebar_bytes: size_of::<Rebar<M, X, H, BATCH>>(),
    }
}

/// The footprint of every paper model.
pub fn paper_models() -> Vec<Footprint> {
    vec![
        of::<Linear1, PIXELS, LATENT>("linear1"),
        of::<Linear2, PIXELS, LATENT>("linear2"),
        of::<Nonlinear, PIXELS, LATENT>("nonlinear"),
        of::<Linear1Sp, HALF, LATENT>("linear1 (sp)"),
        of::<Linear2Sp, HALF, LATENT>("linear2 (sp)"),
        of::<NonlinearSp, HALF, LATENT>("nonlinear (sp)"),
    ]
}

fn mib(bytes: usize) -> String {
    format!("{:.2}", bytes as f64 / (1024.0 * 1024.0))
}

/// A Markdown table of [`paper_models`] (sizes in MiB).
pub fn markdown_table() -> String {
    let mut s = String::from(
        "| model | parameters | model | gradient | Adam moments | scratch (batch 24) | REBAR state | total |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for f in paper_models() {
        s += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            f.model,
            f.parameters,
            mib(f.model_bytes),
            mib(f.gradient_bytes),
            mib(f.adam_bytes),
            mib(f.scratch_bytes),
            mib(f.rebar_bytes),
            mib(f.total())
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_one_layer_counts_the_paper_parameters() {
        let f = &paper_models()[0];
        // 784·200 + 200 (encoder) + 200·784 + 784 (decoder) + 200 (prior).
        assert_eq!(f.parameters, 784 * 200 + 200 + 200 * 784 + 784 + 200);
        // The model value adds the two fixed data vectors (784 + 784 floats).
        assert_eq!(f.model_bytes, 4 * (f.parameters + 2 * 784));
        assert_eq!(f.adam_bytes, 2 * f.model_bytes + 8 + 16);
    }
}
