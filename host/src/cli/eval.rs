//! `rebar eval`: the single-sample ELBO and the IWAE-k bound of a trained model on any split.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use rebar_core::Sbn;
use rebar_host::data::Dataset;
use rebar_host::train::checkpoint::Header;
use rebar_host::train::eval::{Evaluation, evaluate};
use rebar_host::train::{BATCH_CAPACITY, WithModel, with_checkpoint};

use super::train::load_data;

/// Which split to evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SplitKind {
    /// The training images (built-in MNIST: 50,000; Omniglot: 23,000).
    Train,
    /// The validation images (built-in MNIST: 10,000; Omniglot: 1,345).
    Valid,
    /// The test images (built-in MNIST: 10,000; Omniglot: 8,070).
    Test,
}

/// Options of `rebar eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A run folder (its checkpoint.rbck) or a checkpoint file.
    pub checkpoint: PathBuf,
    /// The split.
    #[arg(long, value_enum, default_value_t = SplitKind::Test)]
    pub split: SplitKind,
    /// Importance samples per example of the IWAE bound (1 to 5000; the paper reports 100).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=5000))]
    pub samples: u32,
    /// Examples to evaluate (0: the whole split).
    #[arg(long, default_value_t = 0)]
    pub examples: usize,
    /// Seed of the evaluation noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

struct Eval<'a> {
    data: &'a Dataset,
    args: &'a EvalArgs,
}

impl WithModel for Eval<'_> {
    type Output = Evaluation;
    fn run<M, const X: usize, const H: usize, const Y: usize>(self, _: &Header, model: &M) -> Evaluation
    where
        M: Sbn<H, Input = [f32; X], Target = [f32; Y]> + Sync,
    {
        let split = match self.args.split {
            SplitKind::Train => &self.data.train,
            SplitKind::Valid => &self.data.valid,
            SplitKind::Test => &self.data.test,
        };
        let threads = self.args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        evaluate::<M, X, H, Y, BATCH_CAPACITY>(
            model,
            split,
            self.args.samples,
            self.args.examples,
            self.args.seed,
            9,
            threads,
        )
    }
}

/// The checkpoint file of a run folder, or the path itself.
pub fn checkpoint_file(path: &std::path::Path) -> PathBuf {
    if path.is_dir() { path.join(rebar_host::records::files::CHECKPOINT) } else { path.to_path_buf() }
}

/// Runs the command.
pub fn run(args: &EvalArgs) -> Result<(), Box<dyn std::error::Error>> {
    let file = checkpoint_file(&args.checkpoint);
    let (header, _) = rebar_host::train::checkpoint::read(&file)?;
    let data = load_data(&header.config.data, header.config.binarize)?;
    let e = with_checkpoint(&file, Eval { data: &data, args })?;
    let c = &header.config;
    println!(
        "{} {} trained with {} for {} steps, on {:?} ({} examples):",
        c.task.name(),
        c.model.name(),
        c.estimator.name(),
        header.step,
        args.split,
        e.examples
    );
    println!("  single-sample ELBO   {:.3} nats", e.elbo);
    println!("  IWAE-{:<5} bound     {:.3} nats", e.samples, e.iwae);
    Ok(())
}
