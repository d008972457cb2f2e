//! Legends: where a panel's own legend goes, and the layout of a figure's shared one.

use plotters::prelude::*;

/// `seg` with extra points along each piece of a short polyline (so a long straight piece still
/// counts as covering the area it crosses).
pub(super) fn densify(seg: &[(f64, f64)]) -> Vec<(f64, f64)> {
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
pub(super) fn legend_position(
    points: &[(f64, f64)],
    x: (f64, f64),
    y: (f64, f64),
    size: (f64, f64),
) -> SeriesLabelPosition {
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

/// Height of one row of a shared legend.
pub(super) const LEGEND_ROW: u32 = 22;

/// Columns of a shared legend and their width in pixels: as many as fit in `width` (at most 4).
pub(super) fn legend_columns(legend: &[(String, RGBColor)], width: u32) -> (usize, i32) {
    let longest = legend.iter().map(|(n, _)| n.chars().count()).max().unwrap_or(0);
    let column = (longest * 8 + 80) as i32;
    let columns = ((width as i32 - 100) / column).clamp(1, 4).min(legend.len().max(1) as i32);
    (columns as usize, (width as i32 - 100) / columns)
}
