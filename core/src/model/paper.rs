//! The paper's models at their published sizes (docs/estimators.md, *Model conventions*): 784 binary pixels,
//! 200 units per stochastic layer, 200 tanh units per hidden layer of the nonlinear maps.

use super::{Generative, OneLayer, Structured, TwoLayer};
use crate::net::{Dense, Mlp2};

/// Pixels per image.
pub const PIXELS: usize = 784;
/// Pixels in each half of an image for structured prediction (rows 0–13 and 14–27).
pub const HALF: usize = PIXELS / 2;
/// Units per stochastic layer.
pub const LATENT: usize = 200;
/// Units per deterministic hidden layer of the nonlinear maps.
pub const HIDDEN: usize = 200;

/// "Linear 1 layer": q(b|x) 784→200, p(x|b) 200→784.
pub type Linear1 = OneLayer<PIXELS, LATENT, PIXELS, Dense<PIXELS, LATENT>, Dense<LATENT, PIXELS>, Generative>;
/// "Linear 2 layer": q 784→200→200, p 200→200→784.
pub type Linear2 = TwoLayer<
    PIXELS,
    LATENT,
    PIXELS,
    Dense<PIXELS, LATENT>,
    Dense<LATENT, LATENT>,
    Dense<LATENT, LATENT>,
    Dense<LATENT, PIXELS>,
    Generative,
>;
/// "Nonlinear": q 784→200 tanh→200 tanh→200, p mirrored, one stochastic layer.
pub type Nonlinear =
    OneLayer<PIXELS, LATENT, PIXELS, Mlp2<PIXELS, HIDDEN, LATENT>, Mlp2<LATENT, HIDDEN, PIXELS>, Generative>;

/// Structured prediction, linear 1 layer: top half 392→200, 200→392 bottom half.
pub type Linear1Sp = OneLayer<HALF, LATENT, HALF, Dense<HALF, LATENT>, Dense<LATENT, HALF>, Structured>;
/// Structured prediction, linear 2 layer: top half 392→200→200, the top layer →392 bottom half
/// (the official code's generative path, see docs/estimators.md, *Models: structured prediction*).
pub type Linear2Sp = TwoLayer<
    HALF,
    LATENT,
    HALF,
    Dense<HALF, LATENT>,
    Dense<LATENT, LATENT>,
    crate::net::Absent,
    Dense<LATENT, HALF>,
    Structured,
>;
/// Structured prediction, nonlinear.
pub type NonlinearSp = OneLayer<HALF, LATENT, HALF, Mlp2<HALF, HIDDEN, LATENT>, Mlp2<LATENT, HIDDEN, HALF>, Structured>;
