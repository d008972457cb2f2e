//! Axis ranges and tick labels: which part of the data a panel shows, and how its ticks read.

/// Sorted finite values.
pub(super) fn finite_sorted(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = values.filter(|v| v.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// `(lo, hi)` with `lo < hi`, padded by `pad` of the span; `None` without data.
pub(super) fn padded(values: &[f64], pad: f64) -> Option<(f64, f64)> {
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
pub(super) fn usable((lo, hi): (f64, f64)) -> (f64, f64) {
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

pub(super) fn percentile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A tick label with as many decimals as the axis span needs.
pub(super) fn tick_label(v: f64, span: f64) -> String {
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
