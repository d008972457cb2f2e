//! The paper's Figure 1: the toy problem's gradient variance and loss per estimator.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;

use super::PlotError;
use super::color;
use super::figure::{by_name, figure};
use super::panel::{Panel, Series, YRange};
use crate::records::ToyRow;

/// The paper's Figure 1 for the toy problem, one line per estimator against the step: (left)
/// log variance of the unbiased estimators (rows with a `log_variance`), y range −10..−2 unless
/// the data reach further; (right) the exponential average of the sampled loss. One legend for
/// both, below them.
pub fn toy_figure(rows: &[ToyRow], path: &Path) -> Result<(), PlotError> {
    let all = by_name(rows.iter().map(|r| (r.estimator.as_str(), Some((r.step as f64, r.loss_average)))));
    let legend: Vec<(String, RGBColor)> = all.iter().enumerate().map(|(i, (n, _))| (n.clone(), color(i))).collect();
    let colors: BTreeMap<String, RGBColor> = all.iter().enumerate().map(|(i, (n, _))| (n.clone(), color(i))).collect();
    let variance: Vec<Series> =
        by_name(rows.iter().map(|r| (r.estimator.as_str(), r.log_variance.map(|v| (r.step as f64, v)))))
            .into_iter()
            .filter(|(_, p)| !p.is_empty())
            .map(|(n, p)| {
                let c = colors[&n];
                Series::line(n, c, p)
            })
            .collect();
    let panels = [
        Panel {
            caption: "log variance of the gradient estimate".into(),
            x_desc: "step".into(),
            y_desc: "log(EMA of ĝ² − g²)".into(),
            series: variance,
            x_range: None,
            y_range: YRange::Prefer(-10.0, -2.0),
            legend: false,
        },
        Panel {
            caption: "loss".into(),
            x_desc: "step".into(),
            y_desc: "EMA of (b − t)²".into(),
            series: all.into_iter().map(|(n, p)| Series::line(n.clone(), colors[&n], p)).collect(),
            x_range: None,
            y_range: YRange::Data,
            legend: false,
        },
    ];
    figure(path, (1500, 600), "Toy problem: minimise E[(b − t)²], b ~ Bernoulli(θ)", (1, 2), &panels, &legend)
}
