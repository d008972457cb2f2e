//! A figure: panels in a grid under a title, with a shared legend below, written as a PNG; and
//! the helpers that turn rows into the panels' points.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;

use super::legend::{LEGEND_ROW, legend_columns};
use super::panel::Panel;
use super::{FAMILY, PlotError, draw_error, ensure_font};

/// Draws `panels` in a `rows × columns` grid under `title`, with `legend` (if not empty) as a
/// shared legend below the panels (the figure grows to hold it), and writes the PNG.
pub(super) fn figure(
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

pub(super) fn points<T>(rows: &[T], f: impl Fn(&T) -> Option<(f64, f64)>) -> Vec<(f64, f64)> {
    rows.iter().filter_map(f).collect()
}

/// Groups `(key, point)` pairs by key, keeping the order in which keys first appear.
pub(super) fn by_name<'a>(
    items: impl Iterator<Item = (&'a str, Option<(f64, f64)>)>,
) -> Vec<(String, Vec<(f64, f64)>)> {
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
