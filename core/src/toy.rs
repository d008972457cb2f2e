//! The paper's toy problem (docs/protocol.md, *The toy problem*): minimise E_{b~Bern(θ)}[(b − t)²] over
//! θ = σ(a), with t = 0.45 in the paper. The gradient signal is weak — d/dθ E = (1 − t)² − t² =
//! 1 − 2t = 0.1 — so a noisy estimator wanders while a low-variance one follows exact descent.
//!
//! One-sample estimators of dE/da for f(b) = (b − t)², all from the uniform u of one draw:
//! REINFORCE (no baseline), Concrete(λ) (biased), and REBAR with the modified relaxation, coupled
//! noise and a scale η, whose temperature and η descend the exact d(ĝ²)/dτ and d(ĝ²)/dη. (As in
//! the authors' toy code, η is an unbounded scalar here: a large η·f(σ(a)) acts as a baseline.)

use crate::estimator::coupled_dz_tilde_minus_one;
use crate::math::scalar::{logistic_noise, sigmoid};
use crate::model::Relaxation;
use crate::optim::{Adam, AdamConfig};
use crate::random::uniform;
use rand_core::Rng;

/// The toy objective f(b) = (b − t)².
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Toy {
    /// The target t (0.45 in the paper).
    pub target: f32,
}

/// A one-sample estimate of dE/da and the loss f(b) of its hard sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToySample {
    /// The estimate of dE/da.
    pub gradient: f32,
    /// f(b) for the sample drawn.
    pub loss: f32,
}

/// A REBAR estimate on the toy and the derivatives of its square in τ = log λ and η.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToyRebar {
    /// ĝ, the estimate of dE/da.
    pub gradient: f32,
    /// f(b) for the sample drawn.
    pub loss: f32,
    /// d(ĝ²)/dτ, the single-sample variance gradient in the temperature.
    pub d_square_dtau: f32,
    /// d(ĝ²)/dη, the single-sample variance gradient in the control-variate scale.
    pub d_square_deta: f32,
}

impl Toy {
    /// The paper's toy: t = 0.45.
    pub const PAPER: Toy = Toy { target: 0.45 };

    /// f(b) (or f(y) for relaxed y).
    pub fn f(&self, b: f32) -> f32 {
        (b - self.target) * (b - self.target)
    }

    /// E\[f\] at logit a.
    pub fn expected_loss(&self, a: f32) -> f32 {
        let theta = sigmoid(a);
        theta * self.f(1.0) + (1.0 - theta) * self.f(0.0)
    }

    /// The exact dE/da = (f(1) − f(0))·θ(1 − θ).
    pub fn exact_gradient(&self, a: f32) -> f32 {
        let theta = sigmoid(a);
        (self.f(1.0) - self.f(0.0)) * theta * (1.0 - theta)
    }

    /// REINFORCE without a baseline: f(b)·(b − θ).
    pub fn reinforce<R: Rng + ?Sized>(&self, a: f32, rng: &mut R) -> ToySample {
        let e = logistic_noise(uniform(rng));
        let b = if a + e > 0.0 { 1.0 } else { 0.0 };
        ToySample { gradient: self.f(b) * (b - sigmoid(a)), loss: self.f(b) }
    }

    /// Concrete: d f(y)/da for the relaxed sample y (biased).
    pub fn concrete<R: Rng + ?Sized>(&self, a: f32, relaxation: Relaxation, rng: &mut R) -> ToySample {
        let c = relaxation.coefficients();
        let e = logistic_noise(uniform(rng));
        let y = sigmoid(c.alpha * (a + e) + c.beta * a);
        let b = if a + e > 0.0 { 1.0 } else { 0.0 };
        ToySample { gradient: 2.0 * (y - self.target) * y * (1.0 - y) * (c.alpha + c.beta), loss: self.f(b) }
    }

    /// REBAR with control-variate scale η and relaxation `relaxation` (modified or plain):
    /// ĝ = (f(b) − η·f(y))·(b − θ) − η·s̄·α·(∂z̃/∂a − 1), with s̄ = f'(y)·y(1 − y).
    pub fn rebar<R: Rng + ?Sized>(&self, a: f32, eta: f32, relaxation: Relaxation, rng: &mut R) -> ToyRebar {
        let c = relaxation.coefficients();
        let e = logistic_noise(uniform(rng));
        let z = a + e;
        let b = if z > 0.0 { 1.0 } else { 0.0 };
        let theta = sigmoid(a);
        let y = sigmoid(c.alpha * z + c.beta * a);
        let slope = y * (1.0 - y);
        let f_prime = 2.0 * (y - self.target);
        let s_bar = f_prime * slope;
        let d = coupled_dz_tilde_minus_one(a, e, b);
        let gradient = (self.f(b) - eta * self.f(y)) * (b - theta) - eta * s_bar * c.alpha * d;
        // τ-derivatives: ṡ = dα·z + dβ·a, ẏ = y(1 − y)·ṡ, ṡ̄ = f''·ẏ·y(1 − y) + f'·(1 − 2y)·ẏ.
        let y_dot = slope * (c.d_alpha * z + c.d_beta * a);
        let s_bar_dot = 2.0 * y_dot * slope + f_prime * (1.0 - 2.0 * y) * y_dot;
        let dg_dtau = -eta * f_prime * y_dot * (b - theta) - eta * (s_bar_dot * c.alpha + s_bar * c.d_alpha) * d;
        let dg_deta = -self.f(y) * (b - theta) - s_bar * c.alpha * d;
        ToyRebar {
            gradient,
            loss: self.f(b),
            d_square_dtau: 2.0 * gradient * dg_dtau,
            d_square_deta: 2.0 * gradient * dg_deta,
        }
    }
}

/// The estimators [`ToyTrainer`] can follow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ToyEstimator {
    /// The exact gradient.
    Exact,
    /// REINFORCE without a baseline.
    Reinforce,
    /// Concrete with the modified relaxation at a fixed temperature.
    Concrete(f32),
    /// REBAR with the modified relaxation; temperature and η learned if `learned`.
    Rebar {
        /// Learn λ and η by descending d(ĝ²)/d(τ, η).
        learned: bool,
    },
}

/// One step of a [`ToyTrainer`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToyStep {
    /// θ = σ(a) before the step.
    pub theta: f32,
    /// The estimate followed.
    pub gradient: f32,
    /// The exact gradient at the same point.
    pub exact_gradient: f32,
    /// f(b) for the step's sample (the exact E\[f\] for [`ToyEstimator::Exact`]).
    pub loss: f32,
    /// λ used by the step (1 for estimators without one).
    pub temperature: f32,
    /// η used by the step (1 for estimators without one).
    pub eta: f32,
}

/// The paper's toy protocol: one sample per step, SGD with learning rate 0.1 on the logit a
/// from a = 0 (θ = 0.5); REBAR's log λ (from log 0.5) and η (from 1) follow their exact variance
/// gradient with Adam (learning rate 0.03, β₂ = 0.999).
#[derive(Debug, Clone)]
pub struct ToyTrainer {
    /// The objective.
    pub toy: Toy,
    /// The estimator followed.
    pub estimator: ToyEstimator,
    /// The logit a.
    pub a: f32,
    /// SGD learning rate on a.
    pub learning_rate: f32,
    /// Adam learning rate on (log λ, η).
    pub cv_learning_rate: f32,
    /// [log λ, η].
    pub control: [f32; 2],
    adam: Adam<[f32; 2]>,
}

impl ToyTrainer {
    /// The paper's protocol for `estimator`.
    pub fn new(toy: Toy, estimator: ToyEstimator) -> Self {
        let lambda = if let ToyEstimator::Concrete(l) = estimator { l } else { 0.5 };
        ToyTrainer {
            toy,
            estimator,
            a: 0.0,
            learning_rate: 0.1,
            cv_learning_rate: 0.03,
            control: [libm::logf(lambda), 1.0],
            adam: bytemuck::Zeroable::zeroed(),
        }
    }

    /// One SGD step; returns what it used.
    pub fn step<R: Rng + ?Sized>(&mut self, rng: &mut R) -> ToyStep {
        let (a, toy) = (self.a, self.toy);
        let exact = toy.exact_gradient(a);
        let temperature = libm::expf(self.control[0]);
        let relaxation = Relaxation::Modified { temperature };
        let (gradient, loss) = match self.estimator {
            ToyEstimator::Exact => (exact, toy.expected_loss(a)),
            ToyEstimator::Reinforce => {
                let s = toy.reinforce(a, rng);
                (s.gradient, s.loss)
            }
            ToyEstimator::Concrete(_) => {
                let s = toy.concrete(a, relaxation, rng);
                (s.gradient, s.loss)
            }
            ToyEstimator::Rebar { learned } => {
                let e = toy.rebar(a, self.control[1], relaxation, rng);
                if learned {
                    let c = AdamConfig { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
                    self.adam.step(&mut self.control, &[e.d_square_dtau, e.d_square_deta], self.cv_learning_rate, c);
                }
                (e.gradient, e.loss)
            }
        };
        self.a -= self.learning_rate * gradient;
        ToyStep { theta: sigmoid(a), gradient, exact_gradient: exact, loss, temperature, eta: self.control[1] }
    }
}
