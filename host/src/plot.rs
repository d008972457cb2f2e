//! PNG plots of runs: training curves, variance comparisons, the toy problem, image grids.
//!
//! Every plot is a PNG drawn with `plotters`' bitmap backend. Text goes through plotters'
//! `ab_glyph` backend with a font compiled into the program (a subset of DejaVu Sans,
//! `host/assets/`), so plotting needs no system font, fontconfig or freetype.
//!
//! The functions never panic on their data: empty input gives empty axes marked "no data",
//! non-finite values (NaN, ±∞) are skipped, and a valid PNG is written either way. The parent
//! folder of `path` must exist; an existing file is overwritten.
//!
//! ```no_run
//! use rebar_host::plot;
//! use rebar_host::records::ToyRow;
//!
//! let rows: Vec<ToyRow> = Vec::new(); // normally read from toy.csv
//! plot::toy_figure(&rows, std::path::Path::new("toy.png"))?;
//! # Ok::<(), plot::PlotError>(())
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::records::{EpochRow, ToyRow, VarianceRow};

/// DejaVu Sans (subset; licence in `host/assets/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans-subset.ttf");

/// The font family every plot uses (registered for the names plotters uses by default too).
const FAMILY: &str = "sans-serif";

/// Why a plot could not be written. Every variant names the PNG file.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// Drawing or encoding the PNG failed (such as a missing parent folder).
    #[error("cannot write plot {}: {message}", file.display())]
    Draw {
        /// The PNG file.
        file: PathBuf,
        /// What plotters or the encoder reported.
        message: String,
    },
    /// The input cannot be drawn (such as an image of the wrong size).
    #[error("cannot plot {}: {reason}", file.display())]
    Input {
        /// The PNG file.
        file: PathBuf,
        /// What is wrong with the input.
        reason: String,
    },
    /// The font compiled into the program did not load (a build problem).
    #[error("cannot plot {}: the embedded font failed to load", file.display())]
    Font {
        /// The PNG file.
        file: PathBuf,
    },
}

/// Registers the embedded font once per process.
fn ensure_font(path: &Path) -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        ["sans-serif", "serif", "monospace"].iter().all(|name| register_font(name, FontStyle::Normal, FONT).is_ok())
    });
    if ok { Ok(()) } else { Err(PlotError::Font { file: path.to_path_buf() }) }
}

fn draw_error<E: std::fmt::Display>(path: &Path) -> impl Fn(E) -> PlotError + '_ {
    move |e| PlotError::Draw { file: path.to_path_buf(), message: e.to_string() }
}

/// Line colours: the "tab10" palette.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// One named line (optionally with a marker at every point).
struct Series {
    name: String,
    color: RGBColor,
    points: Vec<(f64, f64)>,
    markers: bool,
}

impl Series {
    fn line(name: impl Into<String>, color: RGBColor, points: Vec<(f64, f64)>) -> Self {
        Series { name: name.into(), color, points, markers: false }
    }
}

/// How a panel chooses its y range.
#[derive(Clone, Copy)]
enum YRange {
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
struct Panel {
    caption: String,
    x_desc: String,
    y_desc: String,
    series: Vec<Series>,
    /// A fixed x range (panels stacked over the same steps share one); else from the data.
    x_range: Option<(f64, f64)>,
    y_range: YRange,
    /// Draw a legend inside the chart (else the figure has a shared one).
    legend: bool,
}

/// Sorted finite values.
fn finite_sorted(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = values.filter(|v| v.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// `(lo, hi)` with `lo < hi`, padded by `pad` of the span; `None` without data.
fn padded(values: &[f64], pad: f64) -> Option<(f64, f64)> {
    let (lo, hi) = (*values.first()?, *values.last()?);
    if hi > lo {
        let p = (hi - lo) * pad;
        Some((lo - p, hi + p))
    } else {
        let p = if lo == 0.0 { 1.0 } else { lo.abs() * 0.05 };
        Some((lo - p, hi + p))
    }
}

/// `r` if plotters can draw it (finite, with a finite, not vanishingly small width), else a
/// range around its middle that it can.
fn usable((lo, hi): (f64, f64)) -> (f64, f64) {
    let mid = if (lo / 2.0 + hi / 2.0).is_finite() { lo / 2.0 + hi / 2.0 } else { 0.0 };
    let span = hi - lo;
    if span.is_finite() && span > mid.abs() * 1e-9 && span > 1e-200 {
        (lo, hi)
    } else if !span.is_finite() || lo.is_infinite() || hi.is_infinite() {
        (-f64::MAX / 4.0, f64::MAX / 4.0)
    } else {
        let half = (mid.abs() * 1e-6).max(1e-100);
        (mid - half, mid + half)
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
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
    fn draw(&self, area: &DrawingArea<BitMapBackend<'_>, Shift>, path: &Path) -> Result<(), PlotError> {
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

/// `seg` with extra points along each piece of a short polyline (so a long straight piece still
/// counts as covering the area it crosses).
fn densify(seg: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let k = (400 / seg.len().max(1)).max(1);
    let mut out = Vec::with_capacity(seg.len() * k);
    for w in seg.windows(2) {
        for i in 0..k {
            let t = i as f64 / k as f64;
            out.push((w[0].0 + t * (w[1].0 - w[0].0), w[0].1 + t * (w[1].1 - w[0].1)));
        }
    }
    out.extend(seg.last());
    out
}

/// The corner whose legend-sized box (`size`, fractions of the plot) covers the fewest drawn
/// points; upper right first on ties.
fn legend_position(points: &[(f64, f64)], x: (f64, f64), y: (f64, f64), size: (f64, f64)) -> SeriesLabelPosition {
    let corners = [
        (SeriesLabelPosition::UpperRight, true, true),
        (SeriesLabelPosition::LowerRight, true, false),
        (SeriesLabelPosition::UpperLeft, false, true),
        (SeriesLabelPosition::LowerLeft, false, false),
    ];
    let (bw, bh) = (size.0.min(1.0), size.1.min(1.0));
    let count = |right: bool, upper: bool| {
        points
            .iter()
            .filter(|&&(px, py)| {
                let fx = (px - x.0) / (x.1 - x.0);
                let fy = (py - y.0) / (y.1 - y.0);
                let in_x = if right { fx >= 1.0 - bw } else { fx <= bw };
                let in_y = if upper { fy >= 1.0 - bh } else { fy <= bh };
                in_x && in_y
            })
            .count()
    };
    let mut best = (usize::MAX, SeriesLabelPosition::UpperRight);
    for (pos, right, upper) in corners {
        let c = count(right, upper);
        if c < best.0 {
            best = (c, pos);
        }
    }
    best.1
}

/// A tick label with as many decimals as the axis span needs.
fn tick_label(v: f64, span: f64) -> String {
    if v.abs() >= 1e7 || span >= 1e7 || (span > 0.0 && span < 1e-6) {
        return format!("{v:.3e}");
    }
    let decimals = if span >= 20.0 {
        0
    } else if span >= 2.0 {
        1
    } else if span > 0.0 {
        ((-span.log10()).ceil() as usize + 1).min(8)
    } else {
        2
    };
    let s = format!("{v:.decimals$}");
    // "-0" and "-0.0" read as noise.
    if s.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') {
        s.trim_start_matches('-').to_string()
    } else {
        s
    }
}

/// Height of one row of a shared legend.
const LEGEND_ROW: u32 = 22;

/// Columns of a shared legend and their width in pixels: as many as fit in `width` (at most 4).
fn legend_columns(legend: &[(String, RGBColor)], width: u32) -> (usize, i32) {
    let longest = legend.iter().map(|(n, _)| n.chars().count()).max().unwrap_or(0);
    let column = (longest * 8 + 80) as i32;
    let columns = ((width as i32 - 100) / column).clamp(1, 4).min(legend.len().max(1) as i32);
    (columns as usize, (width as i32 - 100) / columns)
}

/// Draws `panels` in a `rows × columns` grid under `title`, with `legend` (if not empty) as a
/// shared legend below the panels (the figure grows to hold it), and writes the PNG.
fn figure(
    path: &Path,
    size: (u32, u32),
    title: &str,
    grid: (usize, usize),
    panels: &[Panel],
    legend: &[(String, RGBColor)],
) -> Result<(), PlotError> {
    ensure_font(path)?;
    let err = draw_error(path);
    let (columns, column_width) = legend_columns(legend, size.0);
    let legend_height = if legend.is_empty() { 0 } else { legend.len().div_ceil(columns) as u32 * LEGEND_ROW + 16 };
    let root = BitMapBackend::new(path, (size.0, size.1 + legend_height)).into_drawing_area();
    root.fill(&WHITE).map_err(&err)?;
    let (top, bottom) = root.split_vertically(size.1);
    let body = if title.is_empty() { top.clone() } else { top.titled(title, (FAMILY, 24)).map_err(&err)? };
    if !legend.is_empty() {
        let style = TextStyle::from((FAMILY, 14)).pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Left,
            plotters::style::text_anchor::VPos::Center,
        ));
        for (i, (name, color)) in legend.iter().enumerate() {
            let x = 80 + (i % columns) as i32 * column_width;
            let y = 8 + (i / columns) as i32 * LEGEND_ROW as i32 + LEGEND_ROW as i32 / 2;
            bottom.draw(&PathElement::new(vec![(x, y), (x + 28, y)], color.stroke_width(3))).map_err(&err)?;
            // (+2: the ab_glyph backend centres text a little high.)
            bottom.draw_text(name, &style, (x + 36, y + 2)).map_err(&err)?;
        }
    }
    let areas = body.split_evenly(grid);
    for (panel, area) in panels.iter().zip(areas.iter()) {
        panel.draw(area, path)?;
    }
    root.present().map_err(&err)?;
    Ok(())
}

fn points<T>(rows: &[T], f: impl Fn(&T) -> Option<(f64, f64)>) -> Vec<(f64, f64)> {
    rows.iter().filter_map(f).collect()
}

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

/// Groups `(key, point)` pairs by key, keeping the order in which keys first appear.
fn by_name<'a>(items: impl Iterator<Item = (&'a str, Option<(f64, f64)>)>) -> Vec<(String, Vec<(f64, f64)>)> {
    let mut order: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, p) in items {
        let i = *index.entry(name).or_insert_with(|| {
            order.push((name.to_string(), Vec::new()));
            order.len() - 1
        });
        if let Some(p) = p {
            order[i].1.push(p);
        }
    }
    order
}

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

/// Pixels per image pixel in [`image_grid`].
const GRID_SCALE: usize = 3;
/// Pixels between images in [`image_grid`].
const GRID_GAP: usize = 2;

/// A grid of grey-level square images (`side × side` values each, row-major, 0 = black,
/// 1 = white; values are clamped to \[0, 1\] and non-finite ones drawn red), `columns` per row,
/// each image pixel drawn as a 3×3 block with 2-pixel grey gaps. No images gives one empty
/// tile. Errors if `side` or `columns` is 0 or an image does not have `side²` values.
pub fn image_grid(images: &[Vec<f32>], side: usize, columns: usize, path: &Path) -> Result<(), PlotError> {
    let input = |reason: String| PlotError::Input { file: path.to_path_buf(), reason };
    if side == 0 || columns == 0 {
        return Err(input(format!("image side ({side}) and columns ({columns}) must be positive")));
    }
    if let Some((i, im)) = images.iter().enumerate().find(|(_, im)| im.len() != side * side) {
        return Err(input(format!("image {i} has {} values, expected {side}×{side} = {}", im.len(), side * side)));
    }
    let columns = columns.min(images.len().max(1));
    let rows = images.len().div_ceil(columns).max(1);
    let tile = side * GRID_SCALE;
    let width = columns * tile + (columns + 1) * GRID_GAP;
    let height = rows * tile + (rows + 1) * GRID_GAP;
    if width > 32_768 || height > 32_768 {
        return Err(input(format!("the grid would be {width}×{height} pixels; use fewer images or more columns")));
    }
    let mut buf = vec![128u8; width * height * 3];
    for (k, im) in images.iter().enumerate() {
        let (x0, y0) = (GRID_GAP + (k % columns) * (tile + GRID_GAP), GRID_GAP + (k / columns) * (tile + GRID_GAP));
        for (j, &v) in im.iter().enumerate() {
            let rgb = if v.is_finite() {
                let g = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
                [g, g, g]
            } else {
                [220, 30, 30]
            };
            let (px, py) = (x0 + (j % side) * GRID_SCALE, y0 + (j / side) * GRID_SCALE);
            for dy in 0..GRID_SCALE {
                for dx in 0..GRID_SCALE {
                    let o = ((py + dy) * width + px + dx) * 3;
                    buf[o..o + 3].copy_from_slice(&rgb);
                }
            }
        }
    }
    let err = draw_error(path);
    let mut backend = BitMapBackend::new(path, (width as u32, height as u32));
    backend.blit_bitmap((0, 0), (width as u32, height as u32), &buf).map_err(&err)?;
    backend.present().map_err(&err)?;
    Ok(())
}
