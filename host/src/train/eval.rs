//! Evaluation of a model on a split: the mean single-sample ELBO and the k-sample
//! importance-weighted bound mean_x[log (1/k) Σ_i exp f(b_i)] (IWAE-k, docs/protocol.md, *Evaluation: IWAE-100*),
//! with the examples spread over threads in fixed chunks so the numbers do not depend on the
//! thread count.

use std::sync::atomic::{AtomicBool, Ordering};

use rebar_core::Sbn;
use rebar_core::estimator::draw_noise;

use super::feed::{Stream, split_row, stream_rng};
use crate::data::{IMAGE_PIXELS, Split};

/// The bounds on one split.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    /// Mean over examples and samples of the single-sample ELBO.
    pub elbo: f64,
    /// Mean over examples of the IWAE-k bound.
    pub iwae: f64,
    /// k.
    pub samples: u32,
    /// Examples evaluated.
    pub examples: usize,
}

/// Evaluates `model` on the first `examples` examples of `split` (all if 0) with `samples` ≥ 1
/// importance samples each, on `threads` threads; `stream` distinguishes splits' noise.
pub fn evaluate<M, const X: usize, const H: usize, const Y: usize, const B: usize>(
    model: &M,
    split: &Split,
    samples: u32,
    examples: usize,
    seed: u64,
    stream: u64,
    threads: usize,
) -> Evaluation
where
    M: Sbn<H, Input = [f32; X], Target = [f32; Y]> + Sync,
{
    let never = AtomicBool::new(false);
    evaluate_until::<M, X, H, Y, B>(model, split, samples, examples, seed, stream, threads, &never)
        .expect("evaluation stops only when its flag is raised")
}

/// [`evaluate`], abandoned (`None`) as soon as `stop` is raised: each thread checks it before
/// each chunk of `B` examples.
pub fn evaluate_until<M, const X: usize, const H: usize, const Y: usize, const B: usize>(
    model: &M,
    split: &Split,
    samples: u32,
    examples: usize,
    seed: u64,
    stream: u64,
    threads: usize,
    stop: &AtomicBool,
) -> Option<Evaluation>
where
    M: Sbn<H, Input = [f32; X], Target = [f32; Y]> + Sync,
{
    let count = if examples == 0 { split.len() } else { examples.min(split.len()) };
    let samples = samples.max(1);
    let chunks = count.div_ceil(B);
    let threads = threads.clamp(1, chunks.max(1));
    // Per chunk: (Σ ELBO over rows and samples, Σ IWAE over rows).
    let mut sums = vec![(0.0f64, 0.0f64); chunks];
    std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for t in 0..threads {
            handles.push(scope.spawn(move || {
                let mut out = Vec::new();
                let mut s: Box<M::Scratch<B>> = bytemuck::zeroed_box();
                let mut full = vec![[0.0f32; IMAGE_PIXELS]; B];
                let mut inputs = vec![[0.0f32; X]; B];
                let mut targets = vec![[0.0f32; Y]; B];
                for c in (t..chunks).step_by(threads) {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let idx: Vec<usize> = (c * B..((c + 1) * B).min(count)).collect();
                    let n = idx.len();
                    let mut rng = stream_rng(seed, Stream::Eval, (stream << 32) | c as u64);
                    split.fill_batch(&idx, &mut full[..n], &mut rng);
                    for r in 0..n {
                        split_row(&full[r], &mut inputs[r], &mut targets[r]);
                    }
                    model.load_batch(&inputs[..n], &targets[..n], &mut s);
                    let (mut max, mut sum, mut elbo) = ([f64::NEG_INFINITY; B], [0.0f64; B], 0.0f64);
                    for _ in 0..samples {
                        draw_noise::<M, H, B, _>(&mut s, &mut rng);
                        model.hard_forward(&mut s, 0);
                        // Running log-sum-exp per row.
                        for (r, &f) in M::rows(&s).elbo[..n].iter().enumerate() {
                            let f = f as f64;
                            elbo += f;
                            if f > max[r] {
                                sum[r] = sum[r] * (max[r] - f).exp() + 1.0;
                                max[r] = f;
                            } else {
                                sum[r] += (f - max[r]).exp();
                            }
                        }
                    }
                    let ln_k = (samples as f64).ln();
                    let iwae: f64 = (0..n).map(|r| max[r] + sum[r].ln() - ln_k).sum();
                    out.push((c, (elbo / samples as f64, iwae)));
                }
                out
            }));
        }
        for h in handles {
            for (c, v) in h.join().expect("evaluation thread panicked") {
                sums[c] = v;
            }
        }
    });
    if stop.load(Ordering::Relaxed) {
        return None;
    }
    let (elbo, iwae) = sums.iter().fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
    Some(Evaluation { elbo: elbo / count.max(1) as f64, iwae: iwae / count.max(1) as f64, samples, examples: count })
}
