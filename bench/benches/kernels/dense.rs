//! The dense kernels (`simd`, `baseline`, `scalar`) at every shape and batch size.

use criterion::Criterion;
use rebar_core::linalg::{scalar, simd};
use std::hint::black_box;

use super::baseline;
use super::harness::run;
use super::inputs::fill;
use super::{batches, shapes};

type Kernel = fn(&[f32], &[f32], &mut [f32], usize, usize);

/// The three dense kernels of one implementation.
fn kernels(imp: &str) -> [(&'static str, Kernel); 3] {
    match imp {
        "simd" => {
            [("matmul_acc", simd::matmul_acc), ("matmul_t_acc", simd::matmul_t_acc), ("outer_acc", simd::outer_acc)]
        }
        "baseline" => [
            ("matmul_acc", baseline::matmul_acc),
            ("matmul_t_acc", baseline::matmul_t_acc),
            ("outer_acc", baseline::outer_acc),
        ],
        _ => [
            ("matmul_acc", scalar::matmul_acc),
            ("matmul_t_acc", scalar::matmul_t_acc),
            ("outer_acc", scalar::outer_acc),
        ],
    }
}

pub(super) fn dense(c: &mut Criterion) {
    for imp in ["simd", "baseline", "scalar"] {
        for (name, kernel) in kernels(imp) {
            for (n_in, n_out) in shapes() {
                for rows in batches() {
                    let x = fill(rows * n_in, 1);
                    let w = fill(n_in * n_out, 2);
                    let dy = fill(rows * n_out, 3);
                    let mut y = vec![0.0; rows * n_out];
                    let mut dx = vec![0.0; rows * n_in];
                    let mut dw = vec![0.0; n_in * n_out];
                    let flops = (2 * rows * n_in * n_out) as f64;
                    let (group, id) = (format!("{imp}/{name}"), format!("{n_in}x{n_out}/b{rows}"));
                    match name {
                        "matmul_acc" => run(c, &group, &id, flops, || {
                            kernel(black_box(&x), black_box(&w), black_box(&mut y), n_in, n_out)
                        }),
                        "matmul_t_acc" => run(c, &group, &id, flops, || {
                            kernel(black_box(&dy), black_box(&w), black_box(&mut dx), n_in, n_out)
                        }),
                        _ => run(c, &group, &id, flops, || {
                            kernel(black_box(&x), black_box(&dy), black_box(&mut dw), n_in, n_out)
                        }),
                    }
                }
            }
        }
    }
}
