//! Writes the firmware's embedded dataset, `tests/firmware/data/digits14.bin`: binarized MNIST
//! digits from the built-in dataset, downsampled to 14×14 and bit-packed.
//!
//! `cargo run --release -p rebar-host --example firmware_digits [-- OUT]`
//!
//! Downsampling: a 14×14 pixel is 1 if at least two of its 2×2 block of 28×28 pixels are 1.
//! Training digits are the first 1,000 of the built-in train split, held-out digits the first 200
//! of its valid split. Format: `RBDG` · side (u16 LE) · training count (u32 LE) · held-out count
//! (u32 LE) · images, 196 bits each, row-major, padded to 25 bytes, bit k of an image at byte k/8,
//! bit 7 − k%8.

use rebar_host::data::Dataset;

const SIDE: usize = 14;
const BYTES: usize = (SIDE * SIDE).div_ceil(8);
const TRAIN: usize = 1000;
const HELD_OUT: usize = 200;

fn downsample(image: &[f32; 784]) -> [u8; BYTES] {
    let mut out = [0u8; BYTES];
    for r in 0..SIDE {
        for c in 0..SIDE {
            let ones: f32 =
                [(0, 0), (0, 1), (1, 0), (1, 1)].iter().map(|(dr, dc)| image[(2 * r + dr) * 28 + 2 * c + dc]).sum();
            if ones >= 2.0 {
                let k = r * SIDE + c;
                out[k / 8] |= 0x80 >> (k % 8);
            }
        }
    }
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args().nth(1).unwrap_or_else(|| "tests/firmware/data/digits14.bin".into());
    let data = Dataset::builtin()?;
    let mut bytes = b"RBDG".to_vec();
    bytes.extend_from_slice(&(SIDE as u16).to_le_bytes());
    bytes.extend_from_slice(&(TRAIN as u32).to_le_bytes());
    bytes.extend_from_slice(&(HELD_OUT as u32).to_le_bytes());
    for i in 0..TRAIN {
        bytes.extend_from_slice(&downsample(&data.train.image(i)));
    }
    for i in 0..HELD_OUT {
        bytes.extend_from_slice(&downsample(&data.valid.image(i)));
    }
    std::fs::write(&out, &bytes)?;
    println!("wrote {out}: {TRAIN} training and {HELD_OUT} held-out {SIDE}×{SIDE} digits, {} bytes", bytes.len());
    Ok(())
}
