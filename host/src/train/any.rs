//! Every estimator behind one type, chosen at run time: the trainer, the variance comparison and
//! the tests hold an [`AnyEstimator`] instead of being generic over the estimator, so each model
//! is compiled once rather than once per estimator.

use rand_core::Rng;
use rebar_core::estimator::{
    Arm, Concrete, Cost, DisArm, Estimator, GradientTotals, MuProp, Nvil, Rebar, RebarConfig, RebarConfigError,
    Reinforce, Relax, Rloo, SimpleMuProp, Temperature, TildeNoise,
};
use rebar_core::state::StateVisitor;
use rebar_core::{Diagnostics, Fork, Sbn};

use super::config::EstimatorKind;

/// Hidden units of RELAX's r network per stochastic layer.
pub const RELAX_HIDDEN: usize = 50;

/// One estimator of any kind for models `M` (inputs of `X` values, `H` latent units per layer,
/// batches of at most `B`).
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
    /// REBAR, fixed or learned temperature.
    Rebar(Box<Rebar<M, X, H, B>>),
    /// RELAX.
    Relax(Box<Relax<M, X, H, B, RELAX_HIDDEN>>),
    /// ARM.
    Arm(Arm),
    /// DisARM.
    DisArm(DisArm),
    /// RLOO with two samples.
    Rloo(Box<Rloo<2, H, B>>),
}

/// Options of the estimators that have them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EstimatorOptions {
    /// (Initial) temperature; `None` for the paper's default of the kind.
    pub temperature: Option<f32>,
    /// REBAR/RELAX: the plain relaxation σ(z/λ) instead of the modified one.
    pub plain_relaxation: bool,
    /// REBAR: how z̃ gets its noise.
    pub tilde: TildeNoise,
}

impl Default for EstimatorOptions {
    fn default() -> Self {
        EstimatorOptions { temperature: None, plain_relaxation: false, tilde: TildeNoise::Coupled }
    }
}

impl<M: Sbn<H, Input = [f32; X]>, const X: usize, const H: usize, const B: usize> AnyEstimator<M, X, H, B> {
    /// A freshly initialised estimator of `kind`; baselines and networks are initialised from
    /// `rng`.
    pub fn new<R: Rng + ?Sized>(
        kind: EstimatorKind,
        options: EstimatorOptions,
        rng: &mut R,
    ) -> Result<Self, RebarConfigError> {
        let temperature = options.temperature.or(kind.default_temperature()).unwrap_or(0.5);
        let rebar_config = |learned: bool| RebarConfig {
            temperature: if learned { Temperature::Learned(temperature) } else { Temperature::Fixed(temperature) },
            plain_relaxation: options.plain_relaxation,
            tilde: options.tilde,
            train_control_variates: true,
        };
        Ok(match kind {
            EstimatorKind::Reinforce => Self::Reinforce(Reinforce),
            EstimatorKind::Nvil => {
                let mut e: Box<Nvil<X, B>> = bytemuck::zeroed_box();
                e.init(rng);
                Self::Nvil(e)
            }
            EstimatorKind::SimpleMuprop => {
                let mut e: Box<SimpleMuProp<X, B>> = bytemuck::zeroed_box();
                e.init(rng);
                Self::SimpleMuProp(e)
            }
            EstimatorKind::Muprop => {
                let mut e: Box<MuProp<X, H, B>> = bytemuck::zeroed_box();
                e.init(rng);
                Self::MuProp(e)
            }
            EstimatorKind::Concrete => Self::Concrete(Concrete { temperature, plain: options.plain_relaxation }),
            EstimatorKind::Rebar | EstimatorKind::RebarFixed => {
                let mut e: Box<Rebar<M, X, H, B>> = bytemuck::zeroed_box();
                e.init(rebar_config(kind == EstimatorKind::Rebar), rng)?;
                Self::Rebar(e)
            }
            EstimatorKind::Relax => {
                let mut e: Box<Relax<M, X, H, B, RELAX_HIDDEN>> = bytemuck::zeroed_box();
                e.init(rebar_config(true), rng)?;
                Self::Relax(e)
            }
            EstimatorKind::Arm => Self::Arm(Arm),
            EstimatorKind::Disarm => Self::DisArm(DisArm),
            EstimatorKind::Rloo => Self::Rloo(bytemuck::zeroed_box()),
        })
    }

    fn inner(&mut self) -> &mut dyn EstimatorObject<M, H, B> {
        match self {
            Self::Reinforce(e) => e,
            Self::Nvil(e) => &mut **e,
            Self::SimpleMuProp(e) => &mut **e,
            Self::MuProp(e) => &mut **e,
            Self::Concrete(e) => e,
            Self::Rebar(e) => &mut **e,
            Self::Relax(e) => &mut **e,
            Self::Arm(e) => e,
            Self::DisArm(e) => e,
            Self::Rloo(e) => &mut **e,
        }
    }
}

/// The object-safe part of [`Estimator`]; `estimate`, generic over the generator, is dispatched
/// by [`AnyEstimator::estimate_with`].
trait EstimatorObject<M: Sbn<H>, const H: usize, const B: usize> {
    fn name(&self) -> &'static str;
    fn cost(&self) -> Cost;
    fn update_control_variates(&mut self, lr: f32);
    fn visit_state(&mut self, v: &mut dyn StateVisitor);
    fn visit_pending_gradients(&mut self, f: &mut dyn FnMut(&mut [f32]));
}

impl<M: Sbn<H>, const H: usize, const B: usize, E: Estimator<M, H, B>> EstimatorObject<M, H, B> for E {
    fn name(&self) -> &'static str {
        Estimator::name(self)
    }
    fn cost(&self) -> Cost {
        Estimator::cost(self)
    }
    fn update_control_variates(&mut self, lr: f32) {
        Estimator::update_control_variates(self, lr)
    }
    fn visit_state(&mut self, v: &mut dyn StateVisitor) {
        Estimator::visit_state(self, v)
    }
    fn visit_pending_gradients(&mut self, f: &mut dyn FnMut(&mut [f32])) {
        Estimator::visit_pending_gradients(self, f)
    }
}

impl<M: Sbn<H, Input = [f32; X]>, const X: usize, const H: usize, const B: usize> AnyEstimator<M, X, H, B> {
    /// The estimator's name.
    pub fn name(&mut self) -> &'static str {
        self.inner().name()
    }

    /// Its cost per example.
    pub fn cost(&mut self) -> Cost {
        self.inner().cost()
    }

    /// One estimate (see [`Estimator::estimate`]).
    pub fn estimate(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        rng: &mut rand_xoshiro::Xoshiro256PlusPlus,
        grad: &mut M,
    ) -> Diagnostics {
        self.estimate_with(model, s, rng, grad)
    }

    /// [`AnyEstimator::estimate`] with any generator (e.g. a test's scripted one).
    pub fn estimate_with<R: Rng + ?Sized>(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        rng: &mut R,
        grad: &mut M,
    ) -> Diagnostics {
        match self {
            Self::Reinforce(e) => Estimator::estimate(e, model, s, rng, grad),
            Self::Nvil(e) => Estimator::estimate(&mut **e, model, s, rng, grad),
            Self::SimpleMuProp(e) => Estimator::estimate(&mut **e, model, s, rng, grad),
            Self::MuProp(e) => Estimator::estimate(&mut **e, model, s, rng, grad),
            Self::Concrete(e) => Estimator::estimate(e, model, s, rng, grad),
            Self::Rebar(e) => Estimator::estimate(&mut **e, model, s, rng, grad),
            Self::Relax(e) => Estimator::estimate(&mut **e, model, s, rng, grad),
            Self::Arm(e) => Estimator::estimate(e, model, s, rng, grad),
            Self::DisArm(e) => Estimator::estimate(e, model, s, rng, grad),
            Self::Rloo(e) => Estimator::estimate(&mut **e, model, s, rng, grad),
        }
    }

    /// See [`Estimator::update_control_variates`].
    pub fn update_control_variates(&mut self, lr: f32) {
        self.inner().update_control_variates(lr)
    }

    /// See [`Estimator::visit_state`].
    pub fn visit_state(&mut self, v: &mut dyn StateVisitor) {
        self.inner().visit_state(v)
    }

    /// See [`Estimator::visit_pending_gradients`].
    pub fn visit_pending_gradients(&mut self, f: &mut dyn FnMut(&mut [f32])) {
        self.inner().visit_pending_gradients(f)
    }

    /// The REBAR part of REBAR (fixed or learned temperature) and RELAX: the estimators whose
    /// control variates descend the variance of the whole gradient, and whose estimate
    /// therefore splits in two stages ([`Rebar::estimate_parts`], [`Rebar::variance_gradients`]).
    pub fn rebar_part(&self) -> Option<&Rebar<M, X, H, B>> {
        match self {
            Self::Rebar(e) => Some(e),
            Self::Relax(e) => Some(&e.rebar),
            _ => None,
        }
    }

    /// Stage 1 of REBAR's and RELAX's estimate (see [`AnyEstimator::rebar_part`]); `None` for
    /// the other estimators.
    pub fn estimate_parts<R: Rng + ?Sized>(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        rng: &mut R,
        grad: &mut M,
    ) -> Option<bool> {
        match self {
            Self::Rebar(e) => Some(e.estimate_parts(model, s, rng, grad)),
            Self::Relax(e) => Some(e.estimate_parts(model, s, rng, grad)),
            _ => None,
        }
    }

    /// [`AnyEstimator::estimate_parts`] with REBAR's two halves run through `fork`
    /// ([`Rebar::estimate_parts_forked`], also RELAX's REBAR part; `s_score` must hold the same
    /// batch as `s`); `None` for the other estimators, whose estimates do not split this way.
    #[allow(clippy::too_many_arguments)]
    pub fn estimate_parts_forked<R: Rng + ?Sized, F: Fork>(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        s_score: &mut M::Scratch<B>,
        rng: &mut R,
        grad: &mut M,
        fork: &F,
    ) -> Option<bool>
    where
        M: Send + Sync,
        M::Scratch<B>: Send,
    {
        match self {
            Self::Rebar(e) => Some(e.estimate_parts_forked(model, s, s_score, rng, grad, fork)),
            Self::Relax(e) => Some(e.estimate_parts_forked(model, s, s_score, rng, grad, fork)),
            _ => None,
        }
    }

    /// Stage 2 of REBAR's and RELAX's estimate; `None` for the other estimators.
    pub fn variance_gradients(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        grad: &M,
        totals: &GradientTotals,
    ) -> Option<Diagnostics> {
        match self {
            Self::Rebar(e) => Some(e.variance_gradients(model, s, grad, totals)),
            Self::Relax(e) => Some(e.variance_gradients(model, s, grad, totals)),
            _ => None,
        }
    }

    /// [`AnyEstimator::variance_gradients`] with the encoder tangents it needs split over the
    /// closures of `fork`, the second working in `s_score` (REBAR's and RELAX's
    /// `variance_gradients_forked`: the same results).
    pub fn variance_gradients_forked<F: Fork>(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        s_score: &mut M::Scratch<B>,
        grad: &M,
        totals: &GradientTotals,
        fork: &F,
    ) -> Option<Diagnostics>
    where
        M: Sync,
        M::Scratch<B>: Send,
    {
        match self {
            Self::Rebar(e) => Some(e.variance_gradients_forked(model, s, s_score, grad, totals, fork)),
            Self::Relax(e) => Some(e.variance_gradients_forked(model, s, s_score, grad, totals, fork)),
            _ => None,
        }
    }
}
