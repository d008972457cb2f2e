//! The table printed after criterion's output: every benchmark's times, GFLOP/s and fraction
//! of the peak, and the crossover densities of the binary kernels.

use super::harness::ROWS;
use super::{DENSITIES, SHAPES};

pub(super) fn summary() {
    ROWS.with(|rows| {
        let rows = rows.borrow();
        let peak = rows.iter().filter(|r| r.name.starts_with("peak/")).map(|r| r.flops / r.best).fold(0.0, f64::max);
        println!();
        println!(
            "{:<40} {:>11} {:>11} {:>9} {:>9} {:>8} {:>8}",
            "benchmark", "median", "best", "GFLOP/s", "(median)", "of peak", "(local)"
        );
        for r in rows.iter() {
            let (g, gm) = (r.flops / r.best / 1e9, r.flops / r.median / 1e9);
            let pct = |p: f64| {
                if p > 0.0 && r.flops > 0.0 { format!("{:.1}%", 100.0 * r.flops / r.best / p) } else { "-".into() }
            };
            println!(
                "{:<40} {:>8.2} µs {:>8.2} µs {:>9.2} {:>9.2} {:>8} {:>8}",
                r.name,
                r.median * 1e6,
                r.best * 1e6,
                g,
                gm,
                pct(peak),
                pct(r.local_peak)
            );
        }
        if peak > 0.0 {
            println!("measured single-core FMA peak: {:.1} GFLOP/s", peak / 1e9);
        }
        // Crossover: the lowest density at which a binary kernel is no faster than the dense one.
        let best = |name: &str| rows.iter().find(|r| r.name == name).map(|r| r.best);
        for (kernel, dense) in [("matmul_acc", "simd/matmul_acc"), ("outer_acc", "simd/outer_acc")] {
            for (n_in, n_out) in SHAPES {
                let Some(d) = best(&format!("{dense}/{n_in}x{n_out}/b24")) else { continue };
                let times: Vec<(usize, f64)> = DENSITIES
                    .iter()
                    .filter_map(|&p| best(&format!("binary/{kernel}/{n_in}x{n_out}/b24/d{p}")).map(|t| (p, t)))
                    .collect();
                if times.is_empty() {
                    continue;
                }
                let ratios: Vec<String> = times.iter().map(|&(p, t)| format!("d{p}: {:.2}", d / t)).collect();
                let cross = times.windows(2).find(|w| w[0].1 < d && w[1].1 >= d).map(|w| {
                    let (p0, t0, p1, t1) = (w[0].0 as f64, w[0].1, w[1].0 as f64, w[1].1);
                    p0 + (d - t0) / (t1 - t0) * (p1 - p0)
                });
                let cross = match (cross, times.first(), times.last()) {
                    (Some(p), _, _) => format!("≈ {p:.0}%"),
                    (None, Some(&(p, t)), _) if t >= d => format!("< {p}%"),
                    (None, _, Some(&(p, _))) => format!("> {p}%"),
                    _ => "-".into(),
                };
                println!(
                    "binary {kernel} {n_in}x{n_out} b24: speed-up over dense [{}], crossover {cross}",
                    ratios.join(", ")
                );
            }
        }
    });
}
