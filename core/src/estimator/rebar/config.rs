//! REBAR's settings: the temperature, the noise of z̃, and why a configuration cannot run.

/// Whether the temperature is fixed (REBAR(λ)) or learned (the paper's "REBAR").
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Temperature {
    /// REBAR(λ): λ stays at this value.
    Fixed(f32),
    /// λ starts at this value and descends the variance objective (official initial value 0.5).
    Learned(f32),
}

/// How the conditional sample z̃ ~ p(z | b) gets its noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TildeNoise {
    /// v derived from the hard sample's u: z̃ = z in value (official default). Layers above the
    /// relaxed one use the same noise in both relaxed passes.
    #[default]
    Coupled,
    /// As the official code: like `Coupled`, but in the z̃-pass of layer k every higher layer l
    /// also uses the coupled ũ_l computed from its hard logits, whose gradient reaches those
    /// logits without a matching score term. **Biased for two or more stochastic layers** (shown
    /// by exact enumeration in `tests/tests/unbiasedness.rs`); kept to reproduce the official
    /// code. Identical to `Coupled` for one stochastic layer.
    CoupledAsOfficial,
    /// An independent v ~ U(0, 1). Unbiased too, with a separate relaxed pass; fixed temperature
    /// only.
    Independent,
}

/// REBAR's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RebarConfig {
    /// Fixed or learned temperature, and its (initial) value.
    pub temperature: Temperature,
    /// Use the plain relaxation σ(z/λ) instead of the modified σ(z/λ + a·λ/(λ+1)).
    pub plain_relaxation: bool,
    /// Coupled or independent noise for z̃.
    pub tilde: TildeNoise,
    /// Train η and the baseline by the variance objective (official); if false they stay at
    /// their initial values (η = 1, baseline as initialised).
    pub train_control_variates: bool,
}

impl RebarConfig {
    /// The paper's "REBAR": learned temperature from 0.5, modified relaxation, coupled noise.
    pub const LEARNED: RebarConfig = RebarConfig {
        temperature: Temperature::Learned(0.5),
        plain_relaxation: false,
        tilde: TildeNoise::Coupled,
        train_control_variates: true,
    };

    /// The paper's REBAR(λ): fixed temperature.
    pub const fn fixed(temperature: f32) -> RebarConfig {
        RebarConfig { temperature: Temperature::Fixed(temperature), ..Self::LEARNED }
    }
}

/// Why a configuration cannot run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RebarConfigError {
    /// The temperature must be finite and positive.
    BadTemperature,
    /// A learned temperature needs coupled noise (the exact τ-gradient with independent noise
    /// would need a second-order pass through every parameter).
    LearnedTemperatureNeedsCoupledNoise,
    /// RELAX is implemented for coupled noise (`TildeNoise::Coupled`) only.
    RelaxNeedsCoupledNoise,
}

impl core::fmt::Display for RebarConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::BadTemperature => "the temperature must be finite and positive",
            Self::LearnedTemperatureNeedsCoupledNoise => "a learned temperature needs coupled noise for z̃",
            Self::RelaxNeedsCoupledNoise => "RELAX needs coupled noise for z̃",
        })
    }
}

impl core::error::Error for RebarConfigError {}
