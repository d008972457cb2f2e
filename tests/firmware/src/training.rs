//! On-device learning: a sigmoid belief network on 14×14 binarized digits embedded in flash,
//! trained with learned-temperature REBAR and Adam from a fixed seed. Passes only if the mean
//! held-out ELBO improves by at least [`REQUIRED_GAIN`] nats.
//!
//! The digits (`data/digits14.bin`) come from the host's built-in MNIST:
//! `cargo run --release -p rebar-host --example firmware_digits` regenerates them.

use cortex_m::singleton;
use rand_xoshiro::Xoshiro256PlusPlus;
use rebar_core::estimator::{Estimator, Rebar, RebarConfig, draw_noise};
use rebar_core::model::{Generative, OneLayer};
use rebar_core::net::Dense;
use rebar_core::{Adam, AdamConfig, Sbn};

/// Pixels per digit (14×14).
pub const PIXELS: usize = 196;
/// Latent units.
pub const LATENT: usize = 32;
/// Examples per batch.
pub const BATCH: usize = 16;
/// Training steps.
pub const STEPS: u32 = 600;
/// Adam learning rate of the model (control variates use 10×).
pub const LEARNING_RATE: f32 = 3e-3;
/// The held-out ELBO must rise by at least this much (nats).
pub const REQUIRED_GAIN: f32 = 15.0;
/// Noise samples per held-out digit when measuring the ELBO.
const EVAL_SAMPLES: usize = 4;

/// The model: 196 → 32 binary units → 196, affine maps.
pub type Model = OneLayer<PIXELS, LATENT, PIXELS, Dense<PIXELS, LATENT>, Dense<LATENT, PIXELS>, Generative>;
type Scratch = <Model as Sbn<LATENT>>::Scratch<BATCH>;

static DIGITS: &[u8] = include_bytes!("../data/digits14.bin");

/// The embedded digits: `RBDG`, side, training count, held-out count, 25-byte bit-packed images.
struct Digits {
    train: usize,
    held_out: usize,
}

impl Digits {
    const HEADER: usize = 14;
    const BYTES: usize = PIXELS.div_ceil(8);

    fn parse() -> Result<Digits, &'static str> {
        let h = DIGITS.get(..Self::HEADER).ok_or("digits: truncated header")?;
        if &h[..4] != b"RBDG" || u16::from_le_bytes([h[4], h[5]]) != 14 {
            return Err("digits: not a 14x14 RBDG file");
        }
        let train = u32::from_le_bytes([h[6], h[7], h[8], h[9]]) as usize;
        let held_out = u32::from_le_bytes([h[10], h[11], h[12], h[13]]) as usize;
        if DIGITS.len() != Self::HEADER + (train + held_out) * Self::BYTES {
            return Err("digits: size does not match the counts");
        }
        Ok(Digits { train, held_out })
    }

    /// Digit `i` (training digits first, then held-out ones) as 0/1 floats.
    fn image(&self, i: usize, out: &mut [f32; PIXELS]) {
        let bytes = &DIGITS[Self::HEADER + i * Self::BYTES..][..Self::BYTES];
        for (k, v) in out.iter_mut().enumerate() {
            *v = f32::from((bytes[k / 8] >> (7 - k % 8)) & 1);
        }
    }
}

/// Mean single-sample ELBO of the held-out digits, averaged over noise draws.
fn held_out_elbo(model: &Model, digits: &Digits, s: &mut Scratch, rng: &mut Xoshiro256PlusPlus) -> f32 {
    let mut batch = [[0.0f32; PIXELS]; BATCH];
    let (mut total, mut count) = (0.0f32, 0usize);
    let mut start = 0;
    while start < digits.held_out {
        let n = (digits.held_out - start).min(BATCH);
        for (r, row) in batch[..n].iter_mut().enumerate() {
            digits.image(digits.train + start + r, row);
        }
        model.load_batch(&batch[..n], &batch[..n], s);
        for _ in 0..EVAL_SAMPLES {
            draw_noise::<Model, LATENT, BATCH, _>(s, rng);
            model.hard_forward(s, 0);
            total += Model::rows(s).elbo[..n].iter().sum::<f32>();
            count += n;
        }
        start += n;
    }
    total / count as f32
}

/// Trains the model and checks the held-out ELBO.
pub fn run(rng: &mut Xoshiro256PlusPlus) -> Result<(), &'static str> {
    let digits = Digits::parse()?;
    defmt::info!(
        "training: {=usize} digits ({=usize} held out), model 196-{=usize}-196, batch {=usize}, {=u32} steps, REBAR with learned temperature",
        digits.train,
        digits.held_out,
        LATENT,
        BATCH,
        STEPS
    );
    // Everything the training step touches lives in statics (.bss), owned by this function.
    let model = singleton!(: Model = bytemuck::Zeroable::zeroed()).ok_or("model already taken")?;
    let grad = singleton!(: Model = bytemuck::Zeroable::zeroed()).ok_or("gradient already taken")?;
    let adam = singleton!(: Adam<Model> = bytemuck::Zeroable::zeroed()).ok_or("adam already taken")?;
    let s = singleton!(: Scratch = bytemuck::Zeroable::zeroed()).ok_or("scratch already taken")?;
    let rebar = singleton!(: Rebar<Model, PIXELS, LATENT, BATCH> = bytemuck::Zeroable::zeroed())
        .ok_or("estimator already taken")?;
    defmt::info!(
        "state: model {=usize} B, gradient {=usize} B, Adam {=usize} B, scratch {=usize} B, REBAR {=usize} B",
        core::mem::size_of::<Model>(),
        core::mem::size_of::<Model>(),
        core::mem::size_of::<Adam<Model>>(),
        core::mem::size_of::<Scratch>(),
        core::mem::size_of::<Rebar<Model, PIXELS, LATENT, BATCH>>()
    );

    // Initialise, with the training digits' mean as the fixed centring and output bias.
    model.init(rng);
    let mut mean = [0.0f32; PIXELS];
    let mut image = [0.0f32; PIXELS];
    for i in 0..digits.train {
        digits.image(i, &mut image);
        for (m, &v) in mean.iter_mut().zip(&image) {
            *m += v / digits.train as f32;
        }
    }
    model.set_data_mean(&mean, &mean);
    rebar.init(RebarConfig::LEARNED, rng).map_err(|_| "bad REBAR configuration")?;

    let before = held_out_elbo(model, &digits, s, rng);
    defmt::info!("held-out ELBO before training: {=f32} nats", before);

    let mut batch = [[0.0f32; PIXELS]; BATCH];
    let (mut window, mut next) = (0.0f32, 0usize);
    for step in 1..=STEPS {
        for row in batch.iter_mut() {
            digits.image(next, row);
            next = (next + 1) % digits.train;
        }
        model.load_batch(&batch, &batch, s);
        let d = rebar.estimate(model, s, rng, grad);
        if !d.elbo.is_finite() {
            return Err("non-finite ELBO during training");
        }
        adam.step(model, grad, LEARNING_RATE, AdamConfig::REBAR);
        rebar.update_control_variates(10.0 * LEARNING_RATE);
        window += d.elbo;
        if step % 100 == 0 {
            defmt::info!(
                "step {=u32}: training ELBO {=f32} (mean of the last 100 steps), temperature {=f32}, mean eta {=f32}",
                step,
                window / 100.0,
                d.temperature.unwrap_or(0.0),
                d.eta_mean.unwrap_or(0.0)
            );
            window = 0.0;
        }
    }

    let after = held_out_elbo(model, &digits, s, rng);
    let gain = after - before;
    defmt::info!(
        "held-out ELBO after training: {=f32} nats (gain {=f32}, required {=f32})",
        after,
        gain,
        REQUIRED_GAIN
    );
    if gain >= REQUIRED_GAIN { Ok(()) } else { Err("the held-out ELBO did not improve enough") }
}
