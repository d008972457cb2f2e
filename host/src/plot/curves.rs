//! Training curves: one run's bounds, variance and control variate, and several runs overlaid.

use std::path::Path;

use plotters::prelude::*;

use super::PlotError;
use super::color;
use super::figure::{figure, points};
use super::panel::{Panel, Series, YRange};
use super::scale::finite_sorted;
use crate::records::EpochRow;

/// Training curves of one run (one [`EpochRow`] per epoch), in stacked panels against the
/// training step: (1) training ELBO with the validation and test IWAE bounds where evaluated,
/// (2) log gradient variance, (3) temperature λ and mean η, only if any row has them.
pub fn training_curves(rows: &[EpochRow], title: &str, path: &Path) -> Result<(), PlotError> {
    let x = |r: &EpochRow| r.step as f64;
    // The panels share the x axis: all epochs' steps.
    let steps = finite_sorted(rows.iter().map(x));
    let shared = match (steps.first(), steps.last()) {
        (Some(&lo), Some(&hi)) if hi > lo => Some((lo, hi)),
        _ => None,
    };
    let mut panels = vec![
        Panel {
            caption: "bounds".into(),
            x_desc: "training step".into(),
            y_desc: "nats".into(),
            series: vec![
                Series::line("training ELBO", color(0), points(rows, |r| Some((x(r), r.train_elbo)))),
                Series {
                    markers: true,
                    ..Series::line("valid IWAE", color(1), points(rows, |r| r.valid_iwae.map(|v| (x(r), v))))
                },
                Series {
                    markers: true,
                    ..Series::line("test IWAE", color(2), points(rows, |r| r.test_iwae.map(|v| (x(r), v))))
                },
            ],
            x_range: shared,
            y_range: YRange::Data,
            legend: true,
        },
        Panel {
            caption: "gradient variance".into(),
            x_desc: "training step".into(),
            y_desc: "log variance".into(),
            series: vec![Series::line("log variance", color(3), points(rows, |r| Some((x(r), r.log_variance))))],
            x_range: shared,
            y_range: YRange::Data,
            legend: true,
        },
    ];
    if rows.iter().any(|r| r.temperature.is_some() || r.eta_mean.is_some()) {
        panels.push(Panel {
            caption: "control variate".into(),
            x_desc: "training step".into(),
            y_desc: "value".into(),
            series: vec![
                Series::line("temperature λ", color(4), points(rows, |r| r.temperature.map(|v| (x(r), v)))),
                Series::line("mean η", color(5), points(rows, |r| r.eta_mean.map(|v| (x(r), v)))),
            ],
            x_range: shared,
            y_range: YRange::Data,
            legend: true,
        });
    }
    let n = panels.len();
    figure(path, (1000, 40 + 330 * n as u32), title, (n, 1), &panels, &[])
}

/// Several runs overlaid, one line each: training ELBO (left) and log gradient variance (right)
/// against the training step, with a legend of the runs' names (the `String`s) below both.
/// `rebar report` passes one mean curve per group of seeds.
pub fn compare_runs(runs: &[(String, Vec<EpochRow>)], title: &str, path: &Path) -> Result<(), PlotError> {
    compare_runs_from(runs, title, path, None)
}

/// [`compare_runs`] with both panels' y ranges fitted to the steps from `zoom_from` on (the
/// earlier, lower part of the curves runs off the bottom), for long runs whose last epochs
/// differ by less than their first ones move.
pub fn compare_runs_from(
    runs: &[(String, Vec<EpochRow>)],
    title: &str,
    path: &Path,
    zoom_from: Option<f64>,
) -> Result<(), PlotError> {
    let y_range = zoom_from.map_or(YRange::Data, YRange::After);
    let line = |i: usize, name: &str, f: &dyn Fn(&EpochRow) -> f64, rows: &[EpochRow]| {
        Series::line(name, color(i), points(rows, |r| Some((r.step as f64, f(r)))))
    };
    let steps = finite_sorted(runs.iter().flat_map(|(_, rows)| rows.iter().map(|r| r.step as f64)));
    let shared = match (steps.first(), steps.last()) {
        (Some(&lo), Some(&hi)) if hi > lo => Some((lo, hi)),
        _ => None,
    };
    let legend: Vec<(String, RGBColor)> = runs.iter().enumerate().map(|(i, (n, _))| (n.clone(), color(i))).collect();
    let panels = [
        Panel {
            caption: "training ELBO".into(),
            x_desc: "training step".into(),
            y_desc: "nats".into(),
            series: runs.iter().enumerate().map(|(i, (n, rows))| line(i, n, &|r| r.train_elbo, rows)).collect(),
            x_range: shared,
            y_range,
            legend: false,
        },
        Panel {
            caption: "gradient variance".into(),
            x_desc: "training step".into(),
            y_desc: "log variance".into(),
            series: runs.iter().enumerate().map(|(i, (n, rows))| line(i, n, &|r| r.log_variance, rows)).collect(),
            x_range: shared,
            y_range,
            legend: false,
        },
    ];
    figure(path, (1500, 600), title, (1, 2), &panels, &legend)
}
