//! One chart of a figure: its series, its axes and how it draws them.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::legend::{densify, legend_position};
use super::scale::{finite_sorted, padded, percentile, tick_label, usable};
use super::{FAMILY, PlotError, draw_error};

/// One named line (optionally with a marker at every point).
pub(super) struct Series {
    pub(super) name: String,
    pub(super) color: RGBColor,
    pub(super) points: Vec<(f64, f64)>,
    pub(super) markers: bool,
}

impl Series {
    pub(super) fn line(name: impl Into<String>, color: RGBColor, points: Vec<(f64, f64)>) -> Self {
        Series { name: name.into(), color, points, markers: false }
    }
}

/// How a panel chooses its y range.
#[derive(Clone, Copy)]
pub(super) enum YRange {
    /// From the finite data, padded by 5%.
    Data,
    /// The preferred range, widened to hold the 1st–99th percentile of the data; points outside
    /// are left out (lines break there).
    Prefer(f64, f64),
    /// From the finite data at x ≥ the value, padded by 5%: the late part of a long run, where
    /// the estimators differ by a nat or less, is not flattened by its first epochs (earlier
    /// points outside the range are left out).
    After(f64),
}

/// One chart.
pub(super) struct Panel {
    pub(super) caption: String,
    pub(super) x_desc: String,
    pub(super) y_desc: String,
    pub(super) series: Vec<Series>,
    /// A fixed x range (panels stacked over the same steps share one); else from the data.
    pub(super) x_range: Option<(f64, f64)>,
    pub(super) y_range: YRange,
    /// Draw a legend inside the chart (else the figure has a shared one).
    pub(super) legend: bool,
}

impl Panel {
    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let xs = finite_sorted(self.series.iter().flat_map(|s| s.points.iter().map(|p| p.0)));
        let ys =
            finite_sorted(self.series.iter().flat_map(|s| s.points.iter().filter(|p| p.0.is_finite()).map(|p| p.1)));
        let x = match (self.x_range, xs.first(), xs.last()) {
            (Some(r), _, _) => r,
            (None, Some(&lo), Some(&hi)) if hi > lo => (lo, hi),
            (None, Some(&lo), Some(_)) => (lo - 1.0, lo + 1.0),
            _ => (0.0, 1.0),
        };
        let y = match self.y_range {
            YRange::Data => padded(&ys, 0.05).unwrap_or((0.0, 1.0)),
            YRange::After(x0) => {
                let late =
                    finite_sorted(self.series.iter().flat_map(|s| s.points.iter().filter(|p| p.0 >= x0).map(|p| p.1)));
                padded(if late.is_empty() { &ys } else { &late }, 0.05).unwrap_or((0.0, 1.0))
            }
            YRange::Prefer(lo, hi) if ys.is_empty() => (lo, hi),
            YRange::Prefer(lo, hi) => {
                let (p1, p99) = (percentile(&ys, 0.01), percentile(&ys, 0.99));
                let (a, b) = (lo.min(p1), hi.max(p99));
                let pad = if a < lo || b > hi { (b - a) * 0.03 } else { 0.0 };
                (a - pad, b + pad)
            }
        };
        (usable(x), usable(y))
    }

    /// Draws the panel on `area`.
    pub(super) fn draw(&self, area: &DrawingArea<BitMapBackend<'_>, Shift>, path: &Path) -> Result<(), PlotError> {
        let err = draw_error(path);
        let ((x0, x1), (y0, y1)) = self.ranges();
        let mut chart = ChartBuilder::on(area)
            .caption(&self.caption, (FAMILY, 20))
            .margin(12)
            .margin_right(30)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(&err)?;
        let x_fmt = |v: &f64| tick_label(*v, x1 - x0);
        let y_fmt = |v: &f64| tick_label(*v, y1 - y0);
        chart
            .configure_mesh()
            .x_desc(&self.x_desc)
            .y_desc(&self.y_desc)
            .x_labels(7)
            .y_labels(8)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .label_style((FAMILY, 13))
            .axis_desc_style((FAMILY, 15))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(&err)?;

        let mut any = false;
        let mut drawn: Vec<(f64, f64)> = Vec::new();
        for s in &self.series {
            // plotters draws thick lines as polygons, which break up where many points share a
            // pixel; a series denser than the pixels is drawn 1 pixel wide instead.
            let (plot_w, _) = chart.plotting_area().dim_in_pixel();
            let width = if s.points.len() as u32 > plot_w / 2 { 1 } else { 2 };
            let style = s.color.stroke_width(width);
            let in_range = |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && y >= y0 && y <= y1;
            // Lines break only where a finite point falls outside a fixed range.
            let mut segments: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
            for p in &s.points {
                if in_range(p) {
                    segments.last_mut().expect("never empty").push(*p);
                } else if p.0.is_finite() && p.1.is_finite() && !segments.last().expect("never empty").is_empty() {
                    segments.push(Vec::new());
                }
            }
            any |= segments.iter().any(|seg| !seg.is_empty());
            drawn.extend(segments.iter().flat_map(|seg| densify(seg)));
            // An empty series carries the legend entry, so estimators without data still appear.
            if self.legend {
                let color = s.color;
                chart
                    .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())
                    .map_err(&err)?
                    .label(s.name.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
            }
            for seg in segments.into_iter().filter(|seg| !seg.is_empty()) {
                // A lone point has no line: it gets a marker too.
                if s.markers || seg.len() == 1 {
                    chart.draw_series(seg.iter().map(|&p| Circle::new(p, 3, s.color.filled()))).map_err(&err)?;
                }
                chart.draw_series(LineSeries::new(seg, style)).map_err(&err)?;
            }
        }
        if self.legend && !self.series.is_empty() {
            let (w, h) = chart.plotting_area().dim_in_pixel();
            let longest = self.series.iter().map(|s| s.name.chars().count()).max().unwrap_or(0);
            // Roughly the legend box plotters draws (13 px text) with its margin, as a fraction of
            // the plot.
            let legend =
                ((longest * 7 + 80) as f64 / w.max(1) as f64, (self.series.len() * 18 + 40) as f64 / h.max(1) as f64);
            chart
                .configure_series_labels()
                .position(legend_position(&drawn, (x0, x1), (y0, y1), legend))
                .label_font((FAMILY, 13))
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(160, 160, 160))
                .draw()
                .map_err(&err)?;
        }
        if !any {
            let (w, h) = area.dim_in_pixel();
            let style = TextStyle::from((FAMILY, 18)).color(&RGBColor(120, 120, 120)).pos(
                plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Center,
                ),
            );
            area.draw_text("no data", &style, (w as i32 / 2, h as i32 / 2)).map_err(&err)?;
        }
        Ok(())
    }
}
