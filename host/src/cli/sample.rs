//! `rebar sample`: what a person looks at first — digits sampled from the trained model, and
//! test digits beside their reconstructions.

use std::path::PathBuf;

use clap::Args;
use rebar_core::Sbn;
use rebar_core::math::scalar::logistic_noise;
use rebar_core::random::uniform;
use rebar_host::data::{Dataset, IMAGE_PIXELS, IMAGE_SIDE};
use rebar_host::train::checkpoint::Header;
use rebar_host::train::feed::{Stream, split_row, stream_rng};
use rebar_host::train::{BATCH_CAPACITY, WithModel, with_checkpoint};

use super::eval::checkpoint_file;
use super::train::load_data;

/// The most digits a grid may hold (rows × columns): 10,000 make a 2,800 × 2,800 PNG (a 100 ×
/// 100 grid); a larger grid only costs memory and time, unbounded (100,000 × 100,000 asks for
/// hundreds of gigabytes).
pub const MAX_GRID_DIGITS: usize = 10_000;

/// Options of `rebar sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// A run folder (its checkpoint.rbck) or a checkpoint file.
    pub checkpoint: PathBuf,
    /// Digits per row of each grid (rows × columns at most 10,000).
    #[arg(long, default_value_t = 10)]
    pub columns: usize,
    /// Rows of each grid.
    #[arg(long, default_value_t = 10)]
    pub rows: usize,
    /// Output folder for samples.png and reconstructions.png (default: the run folder).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Seed of the sampling noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// The images to draw: samples (generative models only) and pairs (test digit, its
/// reconstruction or, for structured prediction, its top half completed by the prediction).
struct Draw<'a> {
    data: &'a Dataset,
    count: usize,
    seed: u64,
}

type Images = (Option<Vec<Vec<f32>>>, Vec<Vec<f32>>);

fn fill_noise<M: Sbn<H>, const H: usize, const B: usize>(s: &mut M::Scratch<B>, rng: &mut impl rand_core::Rng) {
    for l in 0..M::LAYERS {
        for row in M::layer_mut(s, l).noise.iter_mut() {
            for e in row {
                *e = logistic_noise(uniform(rng));
            }
        }
    }
}

impl WithModel for Draw<'_> {
    type Output = Images;
    fn run<M, const X: usize, const H: usize, const Y: usize>(self, _: &Header, model: &M) -> Images
    where
        M: Sbn<H, Input = [f32; X], Target = [f32; Y]> + Sync,
    {
        const B: usize = BATCH_CAPACITY;
        let mut s: Box<M::Scratch<B>> = bytemuck::zeroed_box();
        let mut rng = stream_rng(self.seed, Stream::Eval, 77);
        let mut out = vec![[0.0f32; Y]; B];
        let mut samples = Vec::new();
        let mut generative = true;
        while generative && samples.len() < self.count {
            fill_noise::<M, H, B>(&mut s, &mut rng);
            let n = (self.count - samples.len()).min(B);
            generative = model.generate(&mut s, n, &mut out);
            samples.extend(out[..n].iter().map(|r| r.to_vec()));
        }
        // Pairs: half the grid originals, half reconstructions.
        let pairs = self.count / 2;
        let mut originals = Vec::new();
        let mut full = vec![[0.0f32; IMAGE_PIXELS]; pairs.min(B)];
        let (mut inputs, mut targets) = (vec![[0.0f32; X]; B], vec![[0.0f32; Y]; B]);
        let mut recon = Vec::new();
        let mut start = 0;
        while start < pairs {
            let n = (pairs - start).min(B);
            let idx: Vec<usize> = (start..start + n).collect();
            self.data.test.fill_batch(&idx, &mut full[..n], &mut rng);
            for r in 0..n {
                split_row(&full[r], &mut inputs[r], &mut targets[r]);
            }
            model.load_batch(&inputs[..n], &targets[..n], &mut s);
            fill_noise::<M, H, B>(&mut s, &mut rng);
            model.hard_forward(&mut s, 0);
            model.reconstruct(&s, &mut out[..n]);
            for r in 0..n {
                originals.push(full[r].to_vec());
                // Structured prediction predicts the bottom half: show it under the given top.
                let mut image = full[r].to_vec();
                let offset = IMAGE_PIXELS - Y;
                image[offset..].copy_from_slice(&out[r]);
                recon.push(image);
            }
            start += n;
        }
        let mut grid = Vec::new();
        for (o, r) in originals.into_iter().zip(recon) {
            grid.push(o);
            grid.push(r);
        }
        (generative.then_some(samples), grid)
    }
}

/// Runs the command.
pub fn run(args: &SampleArgs) -> Result<(), Box<dyn std::error::Error>> {
    let count = args.columns.checked_mul(args.rows).filter(|&n| n <= MAX_GRID_DIGITS).ok_or_else(|| {
        format!(
            "--rows {} --columns {}: a grid holds at most {MAX_GRID_DIGITS} digits (rows × columns)",
            args.rows, args.columns
        )
    })?;
    let file = checkpoint_file(&args.checkpoint);
    let (header, _) = rebar_host::train::checkpoint::read(&file)?;
    let data = load_data(&header.config.data, header.config.binarize)?;
    let count = count.max(2);
    let (samples, pairs) = with_checkpoint(&file, Draw { data: &data, count, seed: args.seed })?;
    let dir = args.out.clone().unwrap_or_else(|| file.parent().map_or_else(|| ".".into(), |p| p.to_path_buf()));
    std::fs::create_dir_all(&dir)?;
    let columns = args.columns.max(2) / 2 * 2;
    if let Some(samples) = samples {
        let path = dir.join("samples.png");
        rebar_host::plot::image_grid(&samples, IMAGE_SIDE, args.columns.max(1), &path)?;
        println!(
            "wrote {} ({} digits sampled from the model: p(x | b), b from the prior)",
            path.display(),
            samples.len()
        );
    } else {
        println!("structured prediction has no prior to sample from: only reconstructions are drawn");
    }
    let path = dir.join("reconstructions.png");
    rebar_host::plot::image_grid(&pairs, IMAGE_SIDE, columns, &path)?;
    println!(
        "wrote {} (test digits, each followed by {})",
        path.display(),
        if header.config.task == rebar_host::train::TaskKind::Sp {
            "its top half with the predicted bottom half"
        } else {
            "the decoder's mean for a sample b ~ q(b | x)"
        }
    );
    Ok(())
}
