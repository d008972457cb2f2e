//! Data-parallel training steps (`rebar_host::train::parallel`) against one estimate of the whole
//! batch with the same noise: the averaged gradient, the control variates' updated state and the
//! diagnostics must agree up to the rounding of the differently associated sums. REBAR is the
//! case that matters: its variance gradients need the whole batch's g, so a replica that only
//! saw its own shard's would fail here.

use rand_core::{Infallible, TryRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rebar_core::model::{Generative, OneLayer, TwoLayer};
use rebar_core::net::{Dense, Mlp2};
use rebar_core::state::StateVisitor;
use rebar_core::{Adam, AdamConfig, Estimator, Sbn, Tensors};
use rebar_host::train::last_pass::fold_and_step_all;
use rebar_host::train::parallel::DataParallel;
use rebar_host::train::variance::VarianceTracker;
use rebar_host::train::{AnyEstimator, BATCH_CAPACITY, EstimatorKind, EstimatorOptions};
use rebar_tests::{binary_row, boxed, rng, small_model};

type Linear = OneLayer<6, 3, 6, Dense<6, 3>, Dense<3, 6>, Generative>;
type Nonlinear = OneLayer<6, 3, 6, Mlp2<6, 4, 3>, Mlp2<3, 4, 6>, Generative>;

const LR: f32 = 1e-2;

/// Shard `w`'s noise stream of step `step`.
fn shard_rng(step: u64, w: usize) -> Xoshiro256PlusPlus {
    rng(1000 * step + w as u64)
}

/// Yields the shards' numbers in the order one whole-batch estimate draws them: per round (one
/// per sample of each example: RLOO draws all rows' noise for its first sample, then for its
/// second), each shard's draws of that round in shard order. With one stochastic layer the noise
/// is drawn row by row, so the whole batch then sees exactly the noise the shards drew.
struct Chain {
    shards: Vec<Xoshiro256PlusPlus>,
    /// Draws per round of each shard.
    per_round: Vec<usize>,
    shard: usize,
    drawn: usize,
}

impl TryRng for Chain {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        while self.drawn == self.per_round[self.shard] {
            (self.shard, self.drawn) = ((self.shard + 1) % self.shards.len(), 0);
        }
        self.drawn += 1;
        self.shards[self.shard].try_next_u32()
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        unimplemented!("the estimators draw 32-bit uniforms")
    }
    fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), Infallible> {
        unimplemented!("the estimators draw 32-bit uniforms")
    }
}

/// Counts the draws of a generator.
struct Counting(Xoshiro256PlusPlus, usize);

impl TryRng for Counting {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.1 += 1;
        self.0.try_next_u32()
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        unimplemented!()
    }
    fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), Infallible> {
        unimplemented!()
    }
}

/// Every piece of a visited state (parameters, pending gradients, moments, ...), in order.
#[derive(Default)]
struct Pieces(Vec<Vec<f64>>);

impl StateVisitor for Pieces {
    fn f32s(&mut self, _: &'static str, _: usize, v: &mut [f32]) {
        self.0.push(v.iter().map(|&x| x as f64).collect());
    }
    fn f64s(&mut self, _: &'static str, _: usize, v: &mut [f64]) {
        self.0.push(v.to_vec());
    }
    fn u64s(&mut self, _: &'static str, _: usize, v: &mut [u64]) {
        self.0.push(v.iter().map(|&x| x as f64).collect());
    }
}

fn flat_tensors<T: Tensors>(t: &T) -> Vec<f64> {
    (0..T::COUNT).flat_map(|i| t.tensor(i).iter().map(|&x| x as f64).collect::<Vec<_>>()).collect()
}

/// `a` and `b` agree up to the rounding of differently associated single-precision sums,
/// relative to the piece's largest value: sums over the batch that nearly cancel lose some
/// digits, so the bound is `tolerance` of the scale. At 2e-4, a systematic error of 0.1% in η's
/// variance gradient still fails it (checked by mutating the step).
fn assert_close(what: &str, a: &[f64], b: &[f64], tolerance: f64) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let scale = b.iter().fold(1e-6f64, |m, x| m.max(x.abs()));
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tolerance * scale, "{what}[{i}]: sharded {x} vs whole batch {y} (scale {scale})");
    }
}

/// Three steps of `kind` on a batch of `n` rows over `shards` shards, each checked against a
/// whole-batch step with the same noise.
fn check<M>(kind: EstimatorKind, n: usize, shards: usize)
where
    M: Sbn<3, Input = [f32; 6], Target = [f32; 6]> + Send + Sync,
{
    let mut data = rng(7);
    let batch: Vec<[f32; 6]> = (0..n).map(|_| binary_row(&mut data)).collect();
    let new = || AnyEstimator::<M, 6, 3, BATCH_CAPACITY>::new(kind, EstimatorOptions::default(), &mut rng(3)).unwrap();

    // Sharded: the host's data-parallel step.
    let mut model = small_model::<M, 3>(5, &batch, &batch);
    let mut adam: Box<Adam<M>> = boxed();
    let mut tracker = VarianceTracker::<M>::new();
    let mut parallel = DataParallel::new(new(), (1..shards).map(|_| new()).collect()).unwrap();

    // Whole batch: the same estimator, model and optimiser, one estimate per step.
    let mut whole_model = small_model::<M, 3>(5, &batch, &batch);
    let mut whole_adam: Box<Adam<M>> = boxed();
    let mut whole = new();
    let (mut grad, mut scratch) = (boxed::<M>(), boxed::<M::Scratch<BATCH_CAPACITY>>());

    let per_shard = n.div_ceil(shards);
    // RELAX's r-network gradient sums products of the whole gradient's tangents that nearly
    // cancel (measured: up to 3.4e-4 of the scale with uneven shards).
    let tolerance = if kind == EstimatorKind::Relax { 6e-4 } else { 2e-4 };
    for step in 0..3 {
        let out = parallel.step(
            &mut model,
            &mut adam,
            Some(&mut tracker),
            &batch,
            &batch,
            |w| shard_rng(step, w),
            LR,
            10.0 * LR,
        );
        assert!(out.finite && out.variance.is_some(), "{}: finite", kind.name());
        assert!(parallel.replicas_agree(), "{}: the replicas' learned state diverged", kind.name());

        // How many numbers each shard drew: a fresh estimator on its rows, counted.
        let rounds = if kind == EstimatorKind::Rloo { 2 } else { 1 };
        let per_round = (0..shards)
            .map(|w| {
                let rows = (w * per_shard).min(n)..((w + 1) * per_shard).min(n);
                let mut counting = Counting(shard_rng(step, w), 0);
                let (mut probe, mut probe_grad) = (new(), boxed::<M>());
                let mut probe_scratch = boxed::<M::Scratch<BATCH_CAPACITY>>();
                whole_model.load_batch(&batch[rows.clone()], &batch[rows], &mut probe_scratch);
                probe.estimate(&whole_model, &mut probe_scratch, &mut counting, &mut probe_grad);
                counting.1 / rounds
            })
            .collect();
        let shard_rngs = (0..shards).map(|w| shard_rng(step, w)).collect();
        let mut chain = Chain { shards: shard_rngs, per_round, shard: 0, drawn: 0 };
        whole_model.load_batch(&batch, &batch, &mut scratch);
        let d = whole.estimate(&whole_model, &mut scratch, &mut chain, &mut grad);
        whole_adam.step(&mut whole_model, &grad, LR, AdamConfig::REBAR);
        whole.update_control_variates(10.0 * LR);

        let name = format!("{} step {step}, {shards} shards of {n} rows", kind.name());
        assert_close(
            &format!("{name}: gradient"),
            &flat_tensors(parallel.gradient()),
            &flat_tensors(&*grad),
            tolerance,
        );
        assert_close(&format!("{name}: model"), &flat_tensors(&*model), &flat_tensors(&*whole_model), tolerance);
        let (mut a, mut b) = (Pieces::default(), Pieces::default());
        parallel.estimator_mut().visit_state(&mut a);
        whole.visit_state(&mut b);
        assert_eq!(a.0.len(), b.0.len());
        for (i, (a, b)) in a.0.iter().zip(&b.0).enumerate() {
            assert_close(&format!("{name}: control-variate state, piece {i}"), a, b, tolerance);
        }
        assert!((out.diagnostics.elbo - d.elbo).abs() <= 1e-4 * d.elbo.abs(), "{name}: ELBO");
        if let (Some(x), Some(y)) = (out.diagnostics.variance_objective, d.variance_objective) {
            assert!((x - y).abs() <= 1e-4 * y.abs(), "{name}: variance objective {x} vs {y}");
        }
    }
}

#[test]
fn sharded_rebar_and_relax_are_the_whole_batch_estimate() {
    for (n, shards) in [(6, 2), (5, 2), (7, 3)] {
        check::<Linear>(EstimatorKind::Rebar, n, shards);
        check::<Linear>(EstimatorKind::RebarFixed, n, shards);
        check::<Linear>(EstimatorKind::Relax, n, shards);
        check::<Nonlinear>(EstimatorKind::Rebar, n, shards);
    }
}

#[test]
fn sharded_estimators_are_the_whole_batch_estimate() {
    for kind in [
        EstimatorKind::Reinforce,
        EstimatorKind::Nvil,
        EstimatorKind::SimpleMuprop,
        EstimatorKind::Muprop,
        EstimatorKind::Concrete,
        EstimatorKind::Arm,
        EstimatorKind::Disarm,
        EstimatorKind::Rloo,
    ] {
        check::<Linear>(kind, 5, 2);
    }
}

#[test]
fn the_same_seed_and_shard_count_give_identical_runs() {
    let batch: Vec<[f32; 6]> = {
        let mut data = rng(9);
        (0..8).map(|_| binary_row(&mut data)).collect()
    };
    let run = || {
        let new = || {
            AnyEstimator::<Linear, 6, 3, BATCH_CAPACITY>::new(
                EstimatorKind::Rebar,
                EstimatorOptions::default(),
                &mut rng(3),
            )
            .unwrap()
        };
        let mut model = small_model::<Linear, 3>(5, &batch, &batch);
        let (mut adam, mut tracker) = (boxed::<Adam<Linear>>(), VarianceTracker::<Linear>::new());
        let mut parallel = DataParallel::new(new(), vec![new(), new()]).unwrap();
        for step in 0..20 {
            parallel.step(
                &mut model,
                &mut adam,
                Some(&mut tracker),
                &batch,
                &batch,
                |w| shard_rng(step, w),
                LR,
                10.0 * LR,
            );
        }
        flat_tensors(&*model)
    };
    assert_eq!(run(), run());
}

/// A model whose weight tensors span several of the reduction's 1,024-value blocks, so that
/// two or three threads split them (the small models' fit in one block).
type Wide = OneLayer<96, 32, 96, Dense<96, 32>, Dense<32, 96>, Generative>;
/// The same with MLP encoder and decoder, whose encoder tangent pair is two passes (one shard on
/// several threads runs them side by side: REBAR's halves, `Estimator::splits_in_halves`).
type WideMlp = OneLayer<96, 32, 96, Mlp2<96, 24, 32>, Mlp2<32, 24, 96>, Generative>;
/// Two stochastic layers (one shard on several threads computes their tangents side by side).
type WideTwoLayer = TwoLayer<96, 32, 96, Dense<96, 32>, Dense<32, 32>, Dense<32, 32>, Dense<32, 96>, Generative>;

/// Everything a step leaves behind, bit for bit: the gradient, the model, the estimator's state
/// (η, baselines, temperature, pending gradients), Adam's moments, the variance metric and the
/// ELBO.
fn fingerprint<M: Sbn<32, Input = [f32; 96]>>(
    grad: Vec<f64>,
    model: &M,
    estimator: &mut AnyEstimator<M, 96, 32, BATCH_CAPACITY>,
    adam: &Adam<M>,
    variance: Option<f64>,
    elbo: f32,
) -> Vec<u64> {
    let mut pieces = Pieces::default();
    estimator.visit_state(&mut pieces);
    let floats = [grad, flat_tensors(model), flat_tensors(&adam.m), flat_tensors(&adam.v)];
    let mut bits: Vec<u64> = floats.iter().chain(&pieces.0).flatten().map(|x| x.to_bits()).collect();
    bits.extend([variance.map_or(u64::MAX, f64::to_bits), u64::from(elbo.to_bits())]);
    bits
}

/// `steps` steps of `kind` on `Wide` over `shards` shards on `threads` threads (`None`: the
/// single-threaded step of `rebar train --train-threads 1`, with its own variance metric), and
/// the fingerprint of each.
fn run_wide<M>(kind: EstimatorKind, shards: usize, threads: Option<usize>, steps: u64) -> Vec<Vec<u64>>
where
    M: Sbn<32, Input = [f32; 96], Target = [f32; 96]> + Send + Sync,
{
    run_wide_with::<M>(kind, EstimatorOptions::default(), shards, threads, steps)
}

/// [`run_wide`] with the estimator's `options`.
fn run_wide_with<M>(
    kind: EstimatorKind,
    options: EstimatorOptions,
    shards: usize,
    threads: Option<usize>,
    steps: u64,
) -> Vec<Vec<u64>>
where
    M: Sbn<32, Input = [f32; 96], Target = [f32; 96]> + Send + Sync,
{
    let batch: Vec<[f32; 96]> = {
        let mut data = rng(11);
        (0..9).map(|_| binary_row(&mut data)).collect()
    };
    let new = || AnyEstimator::<M, 96, 32, BATCH_CAPACITY>::new(kind, options, &mut rng(3)).unwrap();
    let mut model = small_model::<M, 32>(5, &batch, &batch);
    let (mut adam, mut tracker) = (boxed::<Adam<M>>(), VarianceTracker::<M>::new());
    let mut prints = Vec::new();
    match threads {
        None => {
            let (mut estimator, mut grad) = (new(), boxed::<M>());
            let mut scratch = boxed::<M::Scratch<BATCH_CAPACITY>>();
            for step in 0..steps {
                model.load_batch(&batch, &batch, &mut scratch);
                let d = estimator.estimate(&model, &mut scratch, &mut shard_rng(step, 0), &mut grad);
                let variance = fold_and_step_all(&*grad, &mut tracker, &mut *model, &mut *adam, LR);
                estimator.update_control_variates(10.0 * LR);
                prints.push(fingerprint(flat_tensors(&*grad), &*model, &mut estimator, &adam, variance, d.elbo));
            }
        }
        Some(threads) => {
            let replicas = (1..shards).map(|_| new()).collect();
            let mut parallel = DataParallel::with_threads(new(), replicas, threads).unwrap();
            for step in 0..steps {
                let rng = |w| shard_rng(step, w);
                let out = parallel.step(&mut model, &mut adam, Some(&mut tracker), &batch, &batch, rng, LR, 10.0 * LR);
                assert!(out.finite, "{}: finite", kind.name());
                let grad = flat_tensors(parallel.gradient());
                let elbo = out.diagnostics.elbo;
                prints.push(fingerprint(grad, &*model, parallel.estimator_mut(), &adam, out.variance, elbo));
            }
        }
    }
    prints
}

#[test]
fn one_shard_on_several_threads_is_the_single_threaded_step_bit_for_bit() {
    for kind in EstimatorKind::ALL {
        let single = run_wide::<Wide>(kind, 1, None, 3);
        for threads in [1, 2, 3] {
            assert!(run_wide::<Wide>(kind, 1, Some(threads), 3) == single, "{} on {threads} threads", kind.name());
        }
    }
    // REBAR and RELAX split their variance gradients' encoder tangents over the threads: an MLP
    // encoder's two tangents (an affine one makes one pass for both), two layers' tangents.
    for kind in [EstimatorKind::Rebar, EstimatorKind::RebarFixed, EstimatorKind::Relax] {
        let (mlp, two_layers) = (run_wide::<WideMlp>(kind, 1, None, 3), run_wide::<WideTwoLayer>(kind, 1, None, 3));
        for threads in [2, 3] {
            let name = kind.name();
            assert!(run_wide::<WideMlp>(kind, 1, Some(threads), 3) == mlp, "{name} (MLP) on {threads} threads");
            let forked = run_wide::<WideTwoLayer>(kind, 1, Some(threads), 3);
            assert!(forked == two_layers, "{name} (two layers) on {threads} threads");
        }
    }
    // Independent noise for z̃ draws B's noise after A's, so REBAR does not split in halves; on
    // two layers its variance gradients once read a second workspace that held no hard pass.
    let independent = EstimatorOptions { tilde: rebar_core::estimator::TildeNoise::Independent, ..Default::default() };
    let single = run_wide_with::<WideTwoLayer>(EstimatorKind::RebarFixed, independent, 1, None, 3);
    for threads in [2, 3] {
        let forked = run_wide_with::<WideTwoLayer>(EstimatorKind::RebarFixed, independent, 1, Some(threads), 3);
        assert!(forked == single, "rebar-fixed, independent noise (two layers) on {threads} threads");
    }
}

#[test]
fn threads_do_not_change_a_sharded_run() {
    for kind in [EstimatorKind::Rebar, EstimatorKind::Relax, EstimatorKind::Nvil, EstimatorKind::Reinforce] {
        let one = run_wide::<Wide>(kind, 2, Some(1), 3);
        for threads in [2, 3] {
            assert!(
                run_wide::<Wide>(kind, 2, Some(threads), 3) == one,
                "{}: 2 shards on {threads} threads",
                kind.name()
            );
        }
    }
}

/// The shards' weighted sum, added up where each block of the gradient is folded and stepped
/// (estimators without a variance phase), is the sum of the shards' own estimates in shard order,
/// bit for bit, and Adam's step on it; over tensors that span several blocks and pieces.
#[test]
fn sharded_gradient_is_the_weighted_sum_of_the_shards_bit_for_bit() {
    let batch: Vec<[f32; 96]> = {
        let mut data = rng(11);
        (0..9).map(|_| binary_row(&mut data)).collect()
    };
    for kind in [EstimatorKind::Nvil, EstimatorKind::Disarm, EstimatorKind::Rebar] {
        let new = || {
            AnyEstimator::<Wide, 96, 32, BATCH_CAPACITY>::new(kind, EstimatorOptions::default(), &mut rng(3)).unwrap()
        };
        for threads in [1, 2, 3] {
            let mut model = small_model::<Wide, 32>(5, &batch, &batch);
            let mut expected_model = small_model::<Wide, 32>(5, &batch, &batch);
            let mut adam = boxed::<Adam<Wide>>();
            let mut parallel = DataParallel::with_threads(new(), vec![new()], threads).unwrap();
            let out = parallel.step(&mut model, &mut adam, None, &batch, &batch, |w| shard_rng(0, w), LR, 10.0 * LR);
            assert!(out.finite, "{}", kind.name());

            // Each shard's estimate on its own (5 and 4 rows), summed in shard order.
            let mut expected = boxed::<Wide>();
            for (w, rows) in [0..5, 5..9].into_iter().enumerate() {
                let (mut estimator, mut grad) = (new(), boxed::<Wide>());
                let mut scratch = boxed::<<Wide as Sbn<32>>::Scratch<BATCH_CAPACITY>>();
                expected_model.load_batch(&batch[rows.clone()], &batch[rows.clone()], &mut scratch);
                estimator.estimate(&expected_model, &mut scratch, &mut shard_rng(0, w), &mut grad);
                let c = rows.len() as f32 / 9.0;
                for t in 0..Wide::COUNT {
                    for (e, &g) in expected.tensor_mut(t).iter_mut().zip(grad.tensor(t)) {
                        *e = if w == 0 { c * g } else { *e + c * g };
                    }
                }
            }
            if kind == EstimatorKind::Rebar {
                // REBAR's shards add η·B to their summed A (in `reduce`): the tensors without a
                // B are the plain sum.
                for t in (0..Wide::COUNT).filter(|t| !Wide::encoder_tensors(0).contains(t)) {
                    assert_eq!(parallel.gradient().tensor(t), expected.tensor(t), "{} tensor {t}", kind.name());
                }
                continue;
            }
            let got = flat_tensors(parallel.gradient());
            assert!(got == flat_tensors(&*expected), "{} on {threads} threads: gradient", kind.name());
            let mut expected_adam = boxed::<Adam<Wide>>();
            expected_adam.step(&mut expected_model, &expected, LR, AdamConfig::REBAR);
            assert!(
                flat_tensors(&*model) == flat_tensors(&*expected_model),
                "{} on {threads} threads: model",
                kind.name()
            );
        }
    }
}

/// The step's phase times are laps of its own clock: the phases that do work take some time,
/// the replicas' control-variate phase none with one shard, and together they fit within the
/// call.
#[test]
fn phase_times_cover_the_step() {
    let batch: Vec<[f32; 96]> = {
        let mut data = rng(11);
        (0..9).map(|_| binary_row(&mut data)).collect()
    };
    for (kind, shards) in [(EstimatorKind::Rebar, 1), (EstimatorKind::Rebar, 2), (EstimatorKind::Nvil, 2)] {
        let new = || {
            AnyEstimator::<Wide, 96, 32, BATCH_CAPACITY>::new(kind, EstimatorOptions::default(), &mut rng(3)).unwrap()
        };
        let mut model = small_model::<Wide, 32>(5, &batch, &batch);
        let mut adam = boxed::<Adam<Wide>>();
        let replicas = (1..shards).map(|_| new()).collect();
        let mut parallel = DataParallel::with_threads(new(), replicas, 2).unwrap();
        let start = std::time::Instant::now();
        let out = parallel.step(&mut model, &mut adam, None, &batch, &batch, |w| shard_rng(0, w), LR, 10.0 * LR);
        let wall = start.elapsed().as_secs_f64();
        let p = out.phases;
        let what = format!("{} on {shards} shards: {p:?}", kind.name());
        assert!(p.estimate > 0.0 && p.update > 0.0, "{what}");
        if kind == EstimatorKind::Rebar {
            assert!(p.reduce > 0.0 && p.variance_gradients > 0.0, "{what}");
        }
        assert_eq!(p.control_variates > 0.0, shards > 1, "{what}");
        let sum: f64 = p.named().iter().map(|(_, s)| s).sum();
        assert!(sum <= wall, "{what}: the phases take {sum} s of a {wall} s call");
    }
}
