//! Every unbiased estimator's mean against the exact gradient of E_q[f], computed by enumerating
//! all latent states of small models of every architecture. A z-test per coordinate with a
//! family-wise threshold ([`Z_THRESHOLD`]) must pass for the unbiased estimators, and must fail
//! for the biased Concrete estimator and for a deliberately biased one.

use rebar_core::estimator::{
    Arm, Concrete, DisArm, Estimator, MuProp, Nvil, Rebar, RebarConfig, Reinforce, Relax, Rloo, SimpleMuProp,
    TildeNoise,
};
use rebar_core::model::{Generative, OneLayer, Structured, TwoLayer};
use rebar_core::net::{Absent, Dense, Mlp2};
use rebar_core::random::uniform;
use rebar_core::{Diagnostics, Sbn, Tensors};
use rebar_tests::exact::{Z_THRESHOLD, exact_gradient, max_z, moments};
use rebar_tests::{binary_row, boxed, rng, small_model};

const B: usize = 4;
const N: usize = 3;
const SAMPLES: usize = 40_000;

type Linear1 = OneLayer<6, 3, 6, Dense<6, 3>, Dense<3, 6>, Generative>;
type Linear2 = TwoLayer<6, 3, 6, Dense<6, 3>, Dense<3, 3>, Dense<3, 3>, Dense<3, 6>, Generative>;
type Nonlinear = OneLayer<6, 3, 6, Mlp2<6, 4, 3>, Mlp2<3, 4, 6>, Generative>;
type Linear1Sp = OneLayer<4, 3, 5, Dense<4, 3>, Dense<3, 5>, Structured>;
type Linear2Sp = TwoLayer<4, 3, 5, Dense<4, 3>, Dense<3, 3>, Absent, Dense<3, 5>, Structured>;

struct Problem<M: Sbn<H>, const H: usize> {
    model: Box<M>,
    inputs: Vec<M::Input>,
    targets: Vec<M::Target>,
    exact: Box<M>,
}

fn problem<M, const X: usize, const H: usize, const Y: usize>(seed: u64) -> Problem<M, H>
where
    M: Sbn<H, Input = [f32; X], Target = [f32; Y]>,
{
    let mut r = rng(seed);
    let inputs: Vec<[f32; X]> = (0..N).map(|_| binary_row(&mut r)).collect();
    let targets: Vec<[f32; Y]> = if X == Y && !M::STRUCTURED {
        inputs.iter().map(|x| core::array::from_fn(|i| x[i % X])).collect()
    } else {
        (0..N).map(|_| binary_row(&mut r)).collect()
    };
    let model = small_model::<M, H>(seed + 1, &inputs, &targets);
    let (exact, _) = exact_gradient::<M, H, B>(&model, &inputs, &targets);
    Problem { model, inputs, targets, exact }
}

/// The worst coordinate's |z| for `estimator` on `p`.
fn worst_z<M: Sbn<H>, E: Estimator<M, H, B>, const H: usize>(p: &Problem<M, H>, estimator: &mut E, seed: u64) -> f64 {
    let m = moments::<M, E, H, B>(estimator, &p.model, &p.inputs, &p.targets, SAMPLES, seed);
    max_z::<M, H>(&m, &p.exact).0
}

fn assert_unbiased<M: Sbn<H>, E: Estimator<M, H, B>, const H: usize>(what: &str, p: &Problem<M, H>, e: &mut E) {
    let z = worst_z(p, e, 77);
    assert!(z < Z_THRESHOLD, "{what}: worst |z| = {z:.2} ≥ {Z_THRESHOLD}: the mean is off the exact gradient");
}

/// A REBAR with non-trivial frozen control variates: random η, a random baseline, λ = 0.3.
fn rebar<M: Sbn<H, Input = [f32; X]>, const X: usize, const H: usize>(
    config: RebarConfig,
    seed: u64,
) -> Box<Rebar<M, X, H, B>> {
    let mut r = rng(seed);
    let mut e = boxed::<Rebar<M, X, H, B>>();
    e.init(config, &mut r).unwrap();
    for rho in e.eta.rho.iter_mut() {
        *rho = 2.0 * uniform(&mut r) - 1.0;
    }
    e.log_temperature = 0.3f32.ln();
    e
}

fn nvil<const X: usize>(seed: u64) -> Box<Nvil<X, B>> {
    let mut e = boxed::<Nvil<X, B>>();
    e.init(&mut rng(seed));
    e
}

fn check_all_unbiased<M, const X: usize, const H: usize, const Y: usize>(seed: u64)
where
    M: Sbn<H, Input = [f32; X], Target = [f32; Y]>,
{
    let p = problem::<M, X, H, Y>(seed);
    assert_unbiased("REINFORCE", &p, &mut Reinforce);
    assert_unbiased("NVIL", &p, &mut *nvil::<X>(seed));
    assert_unbiased("REBAR, coupled noise", &p, &mut *rebar::<M, X, H>(RebarConfig::LEARNED, seed));
    assert_unbiased(
        "REBAR, plain relaxation",
        &p,
        &mut *rebar::<M, X, H>(RebarConfig { plain_relaxation: true, ..RebarConfig::LEARNED }, seed),
    );
    let independent = RebarConfig { tilde: TildeNoise::Independent, ..RebarConfig::fixed(0.3) };
    assert_unbiased("REBAR, independent noise", &p, &mut *rebar::<M, X, H>(independent, seed));
    assert_unbiased("RELAX", &p, &mut *relax::<M, X, H>(seed));
    assert_unbiased("SimpleMuProp", &p, &mut *simple_muprop::<X>(seed));
    assert_unbiased("MuProp", &p, &mut *muprop::<X, H>(seed));
    assert_unbiased("ARM", &p, &mut Arm);
    assert_unbiased("DisARM", &p, &mut DisArm);
    assert_unbiased("RLOO, K = 2", &p, &mut *boxed::<Rloo<2, H, B>>());
    assert_unbiased("RLOO, K = 3", &p, &mut *boxed::<Rloo<3, H, B>>());
}

/// RELAX with REBAR's random frozen control variates and a random r network.
fn relax<M: Sbn<H, Input = [f32; X]>, const X: usize, const H: usize>(seed: u64) -> Box<Relax<M, X, H, B, 5>> {
    let mut r = rng(seed);
    let mut e = boxed::<Relax<M, X, H, B, 5>>();
    e.init(RebarConfig::LEARNED, &mut r).unwrap();
    for rho in e.rebar.eta.rho.iter_mut() {
        *rho = 2.0 * uniform(&mut r) - 1.0;
    }
    e.rebar.log_temperature = 0.3f32.ln();
    for net in e.nets.iter_mut() {
        for t in 0..4 {
            for v in net.tensor_mut(t) {
                *v = 2.0 * uniform(&mut r) - 1.0;
            }
        }
    }
    e
}

/// SimpleMuProp with a random baseline and a scale s ≠ 1.
fn simple_muprop<const X: usize>(seed: u64) -> Box<SimpleMuProp<X, B>> {
    let mut e = boxed::<SimpleMuProp<X, B>>();
    e.init(&mut rng(seed));
    e.scale.rho[0] = 0.7;
    e
}

/// MuProp with random baselines and scales s0, s1 ≠ 1.
fn muprop<const X: usize, const H: usize>(seed: u64) -> Box<MuProp<X, H, B>> {
    let mut r = rng(seed);
    let mut e = boxed::<MuProp<X, H, B>>();
    e.init(&mut r);
    for rho in e.scales.rho.iter_mut() {
        *rho = 2.0 * uniform(&mut r) - 1.0;
    }
    e
}

#[test]
fn estimators_are_unbiased_on_linear_one_layer() {
    check_all_unbiased::<Linear1, 6, 3, 6>(1);
}

#[test]
fn estimators_are_unbiased_on_linear_two_layer() {
    check_all_unbiased::<Linear2, 6, 3, 6>(2);
}

#[test]
fn estimators_are_unbiased_on_nonlinear() {
    check_all_unbiased::<Nonlinear, 6, 3, 6>(3);
}

#[test]
fn estimators_are_unbiased_on_structured_prediction() {
    check_all_unbiased::<Linear1Sp, 4, 3, 5>(4);
    check_all_unbiased::<Linear2Sp, 4, 3, 5>(5);
}

/// The official code's z̃-pass for multi-layer models (see [`TildeNoise::CoupledAsOfficial`]):
/// unbiased with one stochastic layer, where it coincides with ours, biased with two.
#[test]
fn the_official_multi_layer_tilde_pass_is_biased() {
    let config = RebarConfig { tilde: TildeNoise::CoupledAsOfficial, ..RebarConfig::LEARNED };
    let p1 = problem::<Linear1, 6, 3, 6>(8);
    assert_unbiased("official REBAR, one layer", &p1, &mut *rebar::<Linear1, 6, 3>(config, 8));
    let p2 = problem::<Linear2, 6, 3, 6>(9);
    let z = worst_z(&p2, &mut *rebar::<Linear2, 6, 3>(config, 9), 80);
    assert!(z > Z_THRESHOLD, "the official two-layer z̃-pass looked unbiased (worst |z| = {z:.2})");
}

#[test]
fn concrete_is_detected_as_biased() {
    let p = problem::<Linear1, 6, 3, 6>(6);
    let z = worst_z(&p, &mut Concrete::new(0.5), 78);
    assert!(z > Z_THRESHOLD, "Concrete(0.5) passed the unbiasedness test (worst |z| = {z:.2})");
}

/// REINFORCE plus a constant on one coordinate: the size of a subtle bug (a few standard errors
/// of a 40,000-sample mean), which the test must catch.
struct Shifted {
    inner: Reinforce,
    shift: f32,
}

impl<M: Sbn<H>, const H: usize> Estimator<M, H, B> for Shifted {
    fn name(&self) -> &'static str {
        "shifted"
    }
    fn cost(&self) -> rebar_core::estimator::Cost {
        <Reinforce as Estimator<M, H, B>>::cost(&self.inner)
    }
    fn estimate<R: rand_core::Rng + ?Sized>(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        rng: &mut R,
        grad: &mut M,
    ) -> Diagnostics {
        let d = self.inner.estimate(model, s, rng, grad);
        grad.tensor_mut(0)[0] += self.shift;
        d
    }
    fn update_control_variates(&mut self, _: f32) {}
}

#[test]
fn a_deliberate_bias_is_detected() {
    let p = problem::<Linear1, 6, 3, 6>(7);
    let m = moments::<Linear1, _, 3, B>(&mut Reinforce, &p.model, &p.inputs, &p.targets, SAMPLES, 79);
    // A shift of eight standard errors of the first coordinate.
    let shift = 8.0 * m.std_err[0] as f32;
    let z = worst_z(&p, &mut Shifted { inner: Reinforce, shift }, 79);
    assert!(z > Z_THRESHOLD, "a bias of {shift:e} went unnoticed (worst |z| = {z:.2})");
}
