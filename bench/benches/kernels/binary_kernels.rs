//! The binary-input kernels over densities of ones, and building their index lists.

use criterion::Criterion;
use rebar_core::linalg::{self, simd};
use std::hint::black_box;

use super::harness::run;
use super::inputs::{binary, fill};
use super::{DENSITIES, SHAPES};

/// The binary kernels at batch 24 over [`DENSITIES`], at dense-equivalent flops, and building
/// the index lists.
pub(super) fn binary_kernels(c: &mut Criterion) {
    const ROWS: usize = 24;
    for (n_in, n_out) in SHAPES {
        for percent in DENSITIES {
            let x = binary(ROWS * n_in, percent, 4);
            let w = fill(n_in * n_out, 2);
            let dy = fill(ROWS * n_out, 3);
            let (mut idx, mut counts) = (vec![0u16; ROWS * n_in], vec![0u16; ROWS]);
            linalg::active_indices(&x, n_in, &mut idx, &mut counts).unwrap();
            let mut y = vec![0.0; ROWS * n_out];
            let mut dw = vec![0.0; n_in * n_out];
            let flops = (2 * ROWS * n_in * n_out) as f64;
            let id = format!("{n_in}x{n_out}/b{ROWS}/d{percent}");
            run(c, "binary/matmul_acc", &id, flops, || {
                simd::matmul_acc_binary(
                    black_box(&idx),
                    black_box(&counts),
                    black_box(&w),
                    black_box(&mut y),
                    n_in,
                    n_out,
                )
            });
            run(c, "binary/outer_acc", &id, flops, || {
                simd::outer_acc_binary(
                    black_box(&idx),
                    black_box(&counts),
                    black_box(&dy),
                    black_box(&mut dw),
                    n_in,
                    n_out,
                )
            });
            // The weight gradient input by input, with the centre term (as the encoder uses it).
            let (mut rows_of, mut counts_of) = (vec![0u16; n_in * ROWS], vec![0u16; n_in]);
            linalg::active_rows(&idx, &counts, n_in, ROWS, &mut rows_of, &mut counts_of);
            let (center, sum) = (fill(n_in, 5), fill(n_out, 6));
            let bin = linalg::BinaryRows {
                idx: &idx,
                counts: &counts,
                rows_of: &rows_of,
                counts_of: &counts_of,
                stride: ROWS,
                center: &center,
                scale: 1.0,
            };
            run(c, "binary/outer_acc_affine", &id, flops, || {
                simd::outer_acc_binary_affine(
                    black_box(&bin),
                    black_box(&dy),
                    black_box(&sum),
                    black_box(&mut dw),
                    n_in,
                    n_out,
                )
            });
            if n_out == SHAPES[0].1 || n_in == 200 && n_out == 200 {
                run(c, "binary/index", &format!("{n_in}/b{ROWS}/d{percent}"), 0.0, || {
                    black_box(linalg::active_indices(black_box(&x), n_in, &mut idx, &mut counts));
                });
            }
        }
    }
}
