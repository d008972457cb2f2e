//! Every estimator of the core on one model type, boxed and ready, for the tests that sweep all of
//! them (determinism, allocation audits, golden values).

use crate::{boxed, rng};
use rand_core::Rng;
use rebar_core::estimator::{
    Arm, Concrete, Cost, DisArm, Estimator, MuProp, Nvil, Rebar, RebarConfig, Reinforce, Relax, Rloo, SimpleMuProp,
    TildeNoise,
};
use rebar_core::{Diagnostics, Sbn};

/// Any estimator behind one type.
pub enum AnyEstimator<M: Sbn<H, Input = [f32; X]>, const X: usize, const H: usize, const B: usize> {
    /// REINFORCE.
    Reinforce(Reinforce),
    /// NVIL.
    Nvil(Box<Nvil<X, B>>),
    /// SimpleMuProp.
    SimpleMuProp(Box<SimpleMuProp<X, B>>),
    /// MuProp.
    MuProp(Box<MuProp<X, H, B>>),
    /// Concrete.
    Concrete(Concrete),
    /// REBAR (any configuration).
    Rebar(Box<Rebar<M, X, H, B>>),
    /// RELAX.
    Relax(Box<Relax<M, X, H, B, 8>>),
    /// ARM.
    Arm(Arm),
    /// DisARM.
    DisArm(DisArm),
    /// RLOO with two samples.
    Rloo(Box<Rloo<2, H, B>>),
}

impl<M: Sbn<H, Input = [f32; X]>, const X: usize, const H: usize, const B: usize> AnyEstimator<M, X, H, B> {
    /// One of each, initialised from `seed`, with a label.
    pub fn all(seed: u64) -> Vec<(&'static str, Self)> {
        let mut r = rng(seed);
        let mut nvil = boxed::<Nvil<X, B>>();
        nvil.init(&mut r);
        let mut smp = boxed::<SimpleMuProp<X, B>>();
        smp.init(&mut r);
        let mut mp = boxed::<MuProp<X, H, B>>();
        mp.init(&mut r);
        let rebar = |c: RebarConfig, r: &mut rand_xoshiro::Xoshiro256PlusPlus| {
            let mut e = boxed::<Rebar<M, X, H, B>>();
            e.init(c, r).unwrap();
            e
        };
        let mut relax = boxed::<Relax<M, X, H, B, 8>>();
        relax.init(RebarConfig::LEARNED, &mut r).unwrap();
        let independent = RebarConfig { tilde: TildeNoise::Independent, ..RebarConfig::fixed(0.1) };
        vec![
            ("reinforce", AnyEstimator::Reinforce(Reinforce)),
            ("nvil", AnyEstimator::Nvil(nvil)),
            ("simple-muprop", AnyEstimator::SimpleMuProp(smp)),
            ("muprop", AnyEstimator::MuProp(mp)),
            ("concrete", AnyEstimator::Concrete(Concrete::new(0.1))),
            ("rebar", AnyEstimator::Rebar(rebar(RebarConfig::LEARNED, &mut r))),
            ("rebar-fixed", AnyEstimator::Rebar(rebar(RebarConfig::fixed(0.1), &mut r))),
            ("rebar-independent", AnyEstimator::Rebar(rebar(independent, &mut r))),
            ("relax", AnyEstimator::Relax(relax)),
            ("arm", AnyEstimator::Arm(Arm)),
            ("disarm", AnyEstimator::DisArm(DisArm)),
            ("rloo", AnyEstimator::Rloo(boxed())),
        ]
    }

    /// The estimator as a trait object-like dispatch: estimate.
    pub fn estimate<R: Rng + ?Sized>(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        rng: &mut R,
        grad: &mut M,
    ) -> Diagnostics {
        match self {
            Self::Reinforce(e) => e.estimate(model, s, rng, grad),
            Self::Nvil(e) => e.estimate(model, s, rng, grad),
            Self::SimpleMuProp(e) => e.estimate(model, s, rng, grad),
            Self::MuProp(e) => e.estimate(model, s, rng, grad),
            Self::Concrete(e) => e.estimate(model, s, rng, grad),
            Self::Rebar(e) => e.estimate(model, s, rng, grad),
            Self::Relax(e) => e.estimate(model, s, rng, grad),
            Self::Arm(e) => e.estimate(model, s, rng, grad),
            Self::DisArm(e) => e.estimate(model, s, rng, grad),
            Self::Rloo(e) => e.estimate(model, s, rng, grad),
        }
    }

    /// Applies the control-variate update.
    pub fn update_control_variates(&mut self, lr: f32) {
        match self {
            Self::Reinforce(e) => Estimator::<M, H, B>::update_control_variates(e, lr),
            Self::Nvil(e) => Estimator::<M, H, B>::update_control_variates(&mut **e, lr),
            Self::SimpleMuProp(e) => Estimator::<M, H, B>::update_control_variates(&mut **e, lr),
            Self::MuProp(e) => Estimator::<M, H, B>::update_control_variates(&mut **e, lr),
            Self::Concrete(e) => Estimator::<M, H, B>::update_control_variates(e, lr),
            Self::Rebar(e) => e.update_control_variates(lr),
            Self::Relax(e) => e.update_control_variates(lr),
            Self::Arm(e) => Estimator::<M, H, B>::update_control_variates(e, lr),
            Self::DisArm(e) => Estimator::<M, H, B>::update_control_variates(e, lr),
            Self::Rloo(e) => Estimator::<M, H, B>::update_control_variates(&mut **e, lr),
        }
    }

    /// The estimator's cost.
    pub fn cost(&self) -> Cost {
        match self {
            Self::Reinforce(e) => Estimator::<M, H, B>::cost(e),
            Self::Nvil(e) => Estimator::<M, H, B>::cost(&**e),
            Self::SimpleMuProp(e) => Estimator::<M, H, B>::cost(&**e),
            Self::MuProp(e) => Estimator::<M, H, B>::cost(&**e),
            Self::Concrete(e) => Estimator::<M, H, B>::cost(e),
            Self::Rebar(e) => e.cost(),
            Self::Relax(e) => e.cost(),
            Self::Arm(e) => Estimator::<M, H, B>::cost(e),
            Self::DisArm(e) => Estimator::<M, H, B>::cost(e),
            Self::Rloo(e) => Estimator::<M, H, B>::cost(&**e),
        }
    }
}
