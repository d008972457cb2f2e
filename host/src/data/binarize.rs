//! Bernoulli binarization of grey-level pixels, and the bit packing of binary images.
//!
//! # The draw
//!
//! A pixel with grey level `p` (0..=255) becomes 1 with probability `p/255`. For each pixel one
//! `u32` is drawn with [`rand_core::Rng::next_u32`] — for `rand_xoshiro` 0.8's
//! `Xoshiro256PlusPlus` that is the upper 32 bits of `next_u64` — and the pixel is 1 iff
//! `u/2³² < p/255`, evaluated exactly in integers as `u·255 < p·2³²` ([`bernoulli_bit`]).
//! There is no floating point anywhere, so the result is the same on every machine. A draw is
//! made for every pixel, including those at 0 (always 0) and 255 (always 1), so the position
//! in the random stream depends only on the pixel's position, never on the grey levels.
//!
//! # The packing
//!
//! A binary image's 784 bits are stored in 98 bytes: pixel `j` (row-major, `j = 28·row +
//! col`) is bit `7 − j % 8` of byte `j / 8`, most significant bit first (numpy's `packbits`
//! order).

use rand_core::Rng;

use super::{IMAGE_BYTES, IMAGE_PIXELS};

/// The Bernoulli decision for one pixel: `true` (ink) iff `u / 2³² < pixel / 255`, computed
/// exactly as `u·255 < pixel·2³²`. For uniform `u` this is 1 with probability
/// `⌈pixel·2³²/255⌉ / 2³²`, within 2⁻³² of `pixel/255`, and exactly 0 and 1 at the ends.
#[inline]
pub fn bernoulli_bit(u: u32, pixel: u8) -> bool {
    u64::from(u) * 255 < u64::from(pixel) << 32
}

/// Binarizes whole images (`pixels.len()` a multiple of 784) in order, image after image and
/// row-major within each, one `next_u32` per pixel, and appends the packed bits to `out`.
pub(crate) fn binarize_packed<R: Rng + ?Sized>(pixels: &[u8], rng: &mut R, out: &mut Vec<u8>) {
    debug_assert_eq!(pixels.len() % IMAGE_PIXELS, 0);
    out.reserve(pixels.len() / 8);
    for byte in pixels.chunks_exact(8) {
        let mut packed = 0u8;
        for &p in byte {
            packed = (packed << 1) | u8::from(bernoulli_bit(rng.next_u32(), p));
        }
        out.push(packed);
    }
}

/// Appends the packed bits of one binary image (row-major) to `out`, as described above.
pub(crate) fn push_packed(bits: &[bool; IMAGE_PIXELS], out: &mut Vec<u8>) {
    for byte in bits.chunks_exact(8) {
        out.push(byte.iter().fold(0u8, |packed, &b| (packed << 1) | u8::from(b)));
    }
}

/// One fresh Bernoulli sample of a grey-level image, as 0.0/1.0, one `next_u32` per pixel in
/// row-major order.
pub(crate) fn sample_into<R: Rng + ?Sized>(grey: &[u8], rng: &mut R, out: &mut [f32; IMAGE_PIXELS]) {
    for (o, &p) in out.iter_mut().zip(grey) {
        *o = f32::from(u8::from(bernoulli_bit(rng.next_u32(), p)));
    }
}

/// Unpacks one 98-byte image into 0.0/1.0 values.
pub(crate) fn unpack_into(bits: &[u8], out: &mut [f32; IMAGE_PIXELS]) {
    debug_assert_eq!(bits.len(), IMAGE_BYTES);
    for (chunk, &byte) in out.chunks_exact_mut(8).zip(bits) {
        for (k, o) in chunk.iter_mut().enumerate() {
            *o = f32::from((byte >> (7 - k)) & 1);
        }
    }
}
