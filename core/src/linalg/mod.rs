//! Dense kernels over a batch: the scalar reference ([`scalar`]) and the SIMD path ([`simd`]),
//! with identical names and signatures.
//!
//! # Layout
//! Weights are stored **input-major**: `w[i][o]` (flat `w[i * n_out + o]`) connects input `i`
//! to output `o`. Every kernel then streams contiguous runs of `n_out` weights:
//! the forward pass `y += x·W` is a sum of weight rows scaled by inputs (and skips nothing
//! for dense inputs, but a binary input selects whole rows), the input gradient `dx = dy·Wᵀ`
//! is a dot product of `dy` with each weight row, and the weight gradient `dW += xᵀ·dy` adds a
//! scaled `dy` to each weight row. All three vectorise along `n_out` without gathers.
//!
//! # Panics
//! The kernels index with the dimensions they are given: `w` must hold `n_in · n_out` values.
//! The typed layers ([`crate::Dense`]) guarantee this by construction.
//!
//! # Binary inputs
//! The data and the latent samples are 0/1. For such inputs `y += x·W` is the sum of the
//! weight rows of the active (one-valued) inputs and `dW += xᵀ·dy` adds `dy[r]` to those rows
//! only. [`active_indices`] turns 0/1 rows into per-row lists of active inputs (into buffers
//! the caller owns), and [`simd::matmul_acc_binary`] / [`simd::outer_acc_binary`] (with
//! references in [`scalar`]) use them; [`active_rows`] transposes the lists for
//! [`simd::outer_acc_binary_affine`], which visits each weight row once. Their cost is proportional to the number of active
//! inputs, the dense kernels' to all of them, but the dense kernels reuse each weight load
//! across a block of rows and run at a larger fraction of the peak. With AVX-512 the binary path
//! pays off for the data (≈ 13% ones: 1.6–2.5× faster forward, 1.1–1.4× faster weight
//! gradient) but not for the latent samples (≈ 50% ones: 2–3× slower); in the portable build it
//! wins for both. The measured crossovers (batch 24, the workspace's benchmark `kernels`) are in the
//! [`simd`] module documentation.

pub mod scalar;
pub mod simd;

/// A batch of inputs known to be `scale·(b − center)` with `b` binary, given by the indices of
/// the ones of each row (as [`crate::linalg::active_indices`] writes them: `idx` has `IN` slots
/// per row). An affine first layer then sums selected weight rows instead of multiplying:
/// `x·W = scale·(Σ_{i: b_i = 1} W[i] − center·W)`. The encoder's input x − x̄ (scale 1, center
/// x̄) and every latent input 2b − 1 (scale 2, center ½) have this form.
#[derive(Debug, Clone, Copy)]
pub struct BinaryRows<'a> {
    /// Active indices, `IN` slots per row.
    pub idx: &'a [u16],
    /// Active count per row.
    pub counts: &'a [u16],
    /// The same ones by input ([`crate::linalg::active_rows`]): the rows where input `i` is
    /// one, at `rows_of[i·stride..][..counts_of[i]]`.
    pub rows_of: &'a [u16],
    /// Active count per input.
    pub counts_of: &'a [u16],
    /// Slots per input in `rows_of`.
    pub stride: usize,
    /// The center subtracted from `b`.
    pub center: &'a [f32],
    /// The factor applied after centring.
    pub scale: f32,
}

/// Lists the active (one-valued) inputs of each row of a binary batch.
///
/// `x` is `rows × n_in` (row-major) with every value 0 or 1. For each row `r`, the indices `i`
/// with `x[r][i] == 1` are written in increasing order to `idx[r·n_in..r·n_in + counts[r]]` (the
/// rest of the row's slot is unspecified) and their number to `counts[r]`. Rows are
/// `min(x.len() / n_in, counts.len(), idx.len() / n_in)`.
///
/// Returns the total number of active inputs, or `None` if some value is neither 0 nor 1 (then
/// `idx` and `counts` are unspecified and the dense kernels must be used).
///
/// # Panics
/// If `n_in > u16::MAX` (indices and counts are `u16`).
pub fn active_indices(x: &[f32], n_in: usize, idx: &mut [u16], counts: &mut [u16]) -> Option<usize> {
    assert!(n_in <= usize::from(u16::MAX), "active_indices: n_in = {n_in} does not fit u16 indices");
    if n_in == 0 {
        counts.fill(0);
        return Some(0);
    }
    let mut total = 0;
    let mut binary = true;
    for ((xr, ir), cnt) in x.chunks_exact(n_in).zip(idx.chunks_exact_mut(n_in)).zip(counts.iter_mut()) {
        let (k, ok) = simd::active_row(xr, ir);
        binary &= ok;
        *cnt = k as u16;
        total += k;
    }
    binary.then_some(total)
}

/// Transposes a table of active inputs ([`active_indices`]' `idx` and `counts`, `n_in` slots per
/// row): for each input `i`, the rows where it is active, in increasing order, go to
/// `rows_of[i·stride..i·stride + counts_of[i]]`, so that a weight gradient can visit each weight
/// row once ([`simd::outer_acc_binary_affine`]). `stride` must be at least the number of rows.
///
/// # Panics
/// If a row index does not fit `u16` or `stride` is smaller than the number of rows.
pub fn active_rows(
    idx: &[u16],
    counts: &[u16],
    n_in: usize,
    stride: usize,
    rows_of: &mut [u16],
    counts_of: &mut [u16],
) {
    let counts_of = &mut counts_of[..n_in];
    counts_of.fill(0);
    for (r, &cnt) in counts.iter().enumerate() {
        for &i in &idx[r * n_in..][..usize::from(cnt)] {
            let slot = &mut counts_of[usize::from(i)];
            rows_of[usize::from(i) * stride + usize::from(*slot)] = r as u16;
            *slot += 1;
        }
    }
}

#[cfg(test)]
mod tests;
