//! Every estimator behind one type, chosen at run time: the trainer, the variance comparison and
//! the tests hold an [`AnyEstimator`] instead of being generic over the estimator, so each model
//! is compiled once rather than once per estimator.

use rand_core::Rng;
use rebar_core::estimator::{
    Arm, Concrete, Cost, DisArm, Estimator, GradientTotals, MuProp, Nvil, Rebar, RebarConfig, RebarConfigError,
    Reinforce, Relax, Rloo, Shape, ShardEstimate, SimpleMuProp, Temperature, TildeNoise,
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
}

/// `$body` with `$e` bound to the estimator inside `$self` (`ref`: shared, `mut`: mutable),
/// whichever kind it is.
macro_rules! each {
    (ref $self:expr, $e:ident => $body:expr) => {
        each!(@arms $self, $e, $body, x => x, x => &**x)
    };
    (mut $self:expr, $e:ident => $body:expr) => {
        each!(@arms $self, $e, $body, x => x, x => &mut **x)
    };
    (@arms $self:expr, $e:ident, $body:expr, $p:ident => $plain:expr, $q:ident => $boxed:expr) => {
        match $self {
            AnyEstimator::Reinforce($p) => { let $e = $plain; $body }
            AnyEstimator::Nvil($q) => { let $e = $boxed; $body }
            AnyEstimator::SimpleMuProp($q) => { let $e = $boxed; $body }
            AnyEstimator::MuProp($q) => { let $e = $boxed; $body }
            AnyEstimator::Concrete($p) => { let $e = $plain; $body }
            AnyEstimator::Rebar($q) => { let $e = $boxed; $body }
            AnyEstimator::Relax($q) => { let $e = $boxed; $body }
            AnyEstimator::Arm($p) => { let $e = $plain; $body }
            AnyEstimator::DisArm($p) => { let $e = $plain; $body }
            AnyEstimator::Rloo($q) => { let $e = $boxed; $body }
        }
    };
}

/// Every method forwards to the estimator inside (the stages too: a driver holding an
/// [`AnyEstimator`] never asks which one it is).
impl<M: Sbn<H, Input = [f32; X]>, const X: usize, const H: usize, const B: usize> Estimator<M, H, B>
    for AnyEstimator<M, X, H, B>
{
    fn name(&self) -> &'static str {
        each!(ref self, e => Estimator::<M, H, B>::name(e))
    }

    fn cost(&self) -> Cost {
        each!(ref self, e => Estimator::<M, H, B>::cost(e))
    }

    fn estimate<R: Rng + ?Sized>(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        rng: &mut R,
        grad: &mut M,
    ) -> Diagnostics {
        each!(mut self, e => Estimator::estimate(e, model, s, rng, grad))
    }

    fn update_control_variates(&mut self, lr: f32) {
        each!(mut self, e => Estimator::<M, H, B>::update_control_variates(e, lr))
    }

    fn visit_state(&mut self, v: &mut dyn StateVisitor) {
        each!(mut self, e => Estimator::<M, H, B>::visit_state(e, v))
    }

    fn visit_pending_gradients(&mut self, f: &mut dyn FnMut(&mut [f32])) {
        each!(mut self, e => Estimator::<M, H, B>::visit_pending_gradients(e, f))
    }

    fn shape(&self) -> Shape {
        each!(ref self, e => Estimator::<M, H, B>::shape(e))
    }

    fn splits_in_halves(&self) -> bool {
        each!(ref self, e => Estimator::<M, H, B>::splits_in_halves(e))
    }

    fn estimate_shard<R: Rng + ?Sized, F: Fork>(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        second: Option<&mut M::Scratch<B>>,
        rng: &mut R,
        grad: &mut M,
        fork: &F,
    ) -> ShardEstimate
    where
        M: Send + Sync,
        M::Scratch<B>: Send,
    {
        each!(mut self, e => Estimator::estimate_shard(e, model, s, second, rng, grad, fork))
    }

    fn finish_batch_elbo(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        grad: &mut M,
        batch_elbo_sum: f32,
        batch_size: usize,
    ) -> Diagnostics {
        each!(mut self, e => Estimator::finish_batch_elbo(e, model, s, grad, batch_elbo_sum, batch_size))
    }

    fn control_variate_tensor(&self, t: usize) -> Option<&[f32]> {
        each!(ref self, e => Estimator::<M, H, B>::control_variate_tensor(e, t))
    }

    fn combine(&self, t: usize, g: &mut [f32], b: &[f32]) -> GradientTotals {
        each!(ref self, e => Estimator::<M, H, B>::combine(e, t, g, b))
    }

    fn finish_shard<F: Fork>(
        &mut self,
        model: &M,
        s: &mut M::Scratch<B>,
        second: Option<&mut M::Scratch<B>>,
        total: &M,
        totals: &GradientTotals,
        fork: &F,
    ) -> Diagnostics
    where
        M: Sync,
        M::Scratch<B>: Send,
    {
        each!(mut self, e => Estimator::finish_shard(e, model, s, second, total, totals, fork))
    }
}
