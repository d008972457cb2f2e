//! The paper's Figure 2: gradient variance of the estimators along a shared trajectory.

use std::path::Path;

use plotters::prelude::*;

use super::PlotError;
use super::color;
use super::figure::{by_name, figure};
use super::panel::{Panel, Series, YRange};
use crate::records::VarianceRow;

/// The paper's Figure 2: log gradient variance of each estimator against the training step
/// along a shared trajectory, one line per estimator, from the rows with scope `all`; the
/// legend is below the chart.
pub fn variance_comparison(rows: &[VarianceRow], path: &Path) -> Result<(), PlotError> {
    let groups = by_name(
        rows.iter().filter(|r| r.scope == "all").map(|r| (r.estimator.as_str(), Some((r.step as f64, r.log_variance)))),
    );
    let legend: Vec<(String, RGBColor)> = groups.iter().enumerate().map(|(i, (n, _))| (n.clone(), color(i))).collect();
    let panel = Panel {
        caption: "all parameters".into(),
        x_desc: "training step".into(),
        y_desc: "log variance".into(),
        series: groups.into_iter().enumerate().map(|(i, (n, p))| Series::line(n, color(i), p)).collect(),
        x_range: None,
        y_range: YRange::Data,
        legend: false,
    };
    figure(path, (1000, 620), "Gradient variance (EMA 0.999, pooled mean)", (1, 1), &[panel], &legend)
}
