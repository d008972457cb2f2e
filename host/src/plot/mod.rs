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

mod curves;
mod figure;
mod image_grid;
mod legend;
mod panel;
mod scale;
mod toy;
mod variance;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

pub use curves::{compare_runs, compare_runs_from, training_curves};
pub use image_grid::image_grid;
pub use toy::toy_figure;
pub use variance::variance_comparison;

/// DejaVu Sans (subset; licence in `host/assets/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans-subset.ttf");

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
