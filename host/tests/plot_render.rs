//! Every plot renders to a PNG that decodes, with text drawn by the embedded font, and none of
//! them panics on empty or non-finite input.
//!
//! Set `REBAR_KEEP_PLOTS=DIR` to keep the PNGs in DIR (to look at them).

use std::path::{Path, PathBuf};

use rebar_host::plot::{self, PlotError};
use rebar_host::records::{EpochRow, ToyRow, VarianceRow};

/// The output folder: `$REBAR_KEEP_PLOTS/<test>` or a temporary one.
fn out_dir(test: &str) -> (Option<tempfile::TempDir>, PathBuf) {
    match std::env::var_os("REBAR_KEEP_PLOTS") {
        Some(dir) => {
            let dir = PathBuf::from(dir).join(test);
            std::fs::create_dir_all(&dir).unwrap();
            (None, dir)
        }
        None => {
            let t = tempfile::tempdir().unwrap();
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    }
}

/// Decodes the PNG: (width, height, RGB(A) bytes, bytes per pixel).
fn decode(path: &Path) -> (u32, u32, Vec<u8>, usize) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let decoder = png::Decoder::new(file);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf, info.color_type.samples())
}

/// Dark pixels (all channels < 100) in rows `y0..y1` of a decoded PNG.
fn dark_pixels(png: &(u32, u32, Vec<u8>, usize), y0: u32, y1: u32) -> usize {
    let (w, _, buf, bpp) = png;
    (y0..y1)
        .flat_map(|y| (0..*w).map(move |x| ((y * w + x) as usize) * bpp))
        .filter(|&o| buf[o..o + 3].iter().all(|&c| c < 100))
        .count()
}

fn epoch_rows(n: u64, with_control: bool) -> Vec<EpochRow> {
    (1..=n)
        .map(|e| {
            let t = e as f64;
            EpochRow {
                epoch: e,
                step: e * 2084,
                train_elbo: -140.0 + 40.0 * (1.0 - (-t / 8.0).exp()),
                log_variance: -2.0 - 0.05 * t + 0.2 * (t * 0.7).sin(),
                temperature: with_control.then(|| 0.5 * (-t / 30.0).exp() + 0.1),
                eta_mean: with_control.then(|| 1.0 - 0.3 * (-t / 10.0).exp()),
                valid_iwae: (e % 5 == 0).then(|| -135.0 + 40.0 * (1.0 - (-t / 8.0).exp())),
                test_iwae: (e % 5 == 0).then(|| -135.5 + 40.0 * (1.0 - (-t / 8.0).exp())),
            }
        })
        .collect()
}

fn toy_rows(steps: u64) -> Vec<ToyRow> {
    let mut rows = Vec::new();
    for (k, name) in ["exact", "reinforce", "concrete(0.5)", "rebar", "rebar-fixed"].iter().enumerate() {
        for step in 0..steps {
            let t = step as f64;
            let unbiased = matches!(*name, "reinforce" | "rebar" | "rebar-fixed");
            rows.push(ToyRow {
                step,
                estimator: name.to_string(),
                theta: 0.5 - 0.4 * t / steps as f64,
                loss: 0.25,
                loss_average: 0.25 - 0.04 * t / steps as f64 * (1.0 + k as f64 * 0.1),
                log_variance: unbiased.then(|| -3.0 - k as f64 - t / steps as f64),
                temperature: 0.5,
                eta: 1.0,
            });
        }
    }
    rows
}

fn variance_rows() -> Vec<VarianceRow> {
    let mut rows = Vec::new();
    for (k, name) in ["nvil", "muprop", "rebar(0.1)", "rebar"].iter().enumerate() {
        for epoch in 1..=30u64 {
            for scope in ["all", "enc0"] {
                rows.push(VarianceRow {
                    step: epoch * 2084,
                    epoch,
                    estimator: name.to_string(),
                    scope: scope.to_string(),
                    log_variance: 3.0 - 2.0 * k as f64 - 0.03 * epoch as f64,
                    log_bias_check: -12.0,
                    train_elbo: -100.0,
                });
            }
        }
    }
    rows
}

fn check_png(path: &Path, min_size: (u32, u32)) -> (u32, u32, Vec<u8>, usize) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{} is not a PNG", path.display());
    let png = decode(path);
    assert!(png.0 >= min_size.0 && png.1 >= min_size.1, "{}: {}×{}", path.display(), png.0, png.1);
    png
}

/// The title strip (top 40 pixels) has text in it: the embedded font rendered.
fn assert_title_drawn(png: &(u32, u32, Vec<u8>, usize), path: &Path) {
    let dark = dark_pixels(png, 0, 40);
    assert!(dark > 100, "{}: only {dark} dark pixels in the title strip; was the text drawn?", path.display());
}

#[test]
fn training_curves_render_with_text() {
    let (_t, dir) = out_dir("training_curves");
    let path = dir.join("curves.png");
    plot::training_curves(&epoch_rows(60, true), "linear1 · rebar · lr 0.0003 · seed 0", &path).unwrap();
    let png = check_png(&path, (800, 900));
    assert_title_drawn(&png, &path);

    // No temperature or η: two panels, a shorter figure.
    let path2 = dir.join("curves-two-panels.png");
    plot::training_curves(&epoch_rows(60, false), "nvil", &path2).unwrap();
    let png2 = check_png(&path2, (800, 600));
    assert!(png2.1 < png.1);
}

#[test]
fn compare_runs_renders() {
    let (_t, dir) = out_dir("compare_runs");
    let path = dir.join("compare.png");
    let mut b = epoch_rows(40, true);
    for r in &mut b {
        r.train_elbo -= 5.0;
        r.log_variance += 1.5;
    }
    let runs = vec![("gen/linear1/rebar".to_string(), epoch_rows(50, true)), ("gen/linear1/nvil".to_string(), b)];
    plot::compare_runs(&runs, "Comparison", &path).unwrap();
    assert_title_drawn(&check_png(&path, (1000, 400)), &path);
}

#[test]
fn variance_comparison_renders() {
    let (_t, dir) = out_dir("variance_comparison");
    let path = dir.join("variance.png");
    plot::variance_comparison(&variance_rows(), &path).unwrap();
    assert_title_drawn(&check_png(&path, (800, 400)), &path);
}

#[test]
fn toy_figure_renders() {
    let (_t, dir) = out_dir("toy_figure");
    let path = dir.join("toy.png");
    plot::toy_figure(&toy_rows(500), &path).unwrap();
    assert_title_drawn(&check_png(&path, (1000, 400)), &path);
}

#[test]
fn image_grid_renders_grey_levels() {
    let (_t, dir) = out_dir("image_grid");
    let path = dir.join("grid.png");
    // Ten 28×28 images: image k is a diagonal gradient scaled by k/9, and a NaN pixel.
    let images: Vec<Vec<f32>> = (0..10)
        .map(|k| {
            let mut im: Vec<f32> = (0..784).map(|j| ((j % 28 + j / 28) as f32 / 54.0) * k as f32 / 9.0).collect();
            im[0] = f32::NAN;
            im
        })
        .collect();
    plot::image_grid(&images, 28, 5, &path).unwrap();
    let (w, h, buf, bpp) = check_png(&path, (1, 1));
    // 5 columns × (28·3) + 6 gaps of 2; 2 rows.
    assert_eq!((w, h), (5 * 84 + 12, 2 * 84 + 6));
    // Image 9's bottom-right pixel is white, image 0's is black, the NaN pixel red.
    let px = |x: u32, y: u32| &buf[((y * w + x) as usize) * bpp..((y * w + x) as usize) * bpp + 3];
    let (x9, y9) = (2 + 4 * 86, 2 + 86); // top-left of image 9 (row 1, column 4)
    assert_eq!(px(x9 + 83, y9 + 83), [255, 255, 255]);
    assert_eq!(px(2 + 83, 2 + 83), [0, 0, 0]);
    assert_eq!(px(2, 2), [220, 30, 30]);
    assert_eq!(px(0, 0), [128, 128, 128]); // gap
}

#[test]
fn image_grid_rejects_bad_sizes_naming_the_file() {
    let (_t, dir) = out_dir("image_grid_errors");
    let path = dir.join("bad.png");
    let e = plot::image_grid(&[vec![0.0; 10]], 28, 4, &path).unwrap_err();
    assert!(matches!(e, PlotError::Input { .. }));
    assert!(e.to_string().contains("bad.png") && e.to_string().contains("image 0 has 10 values"), "{e}");
    assert!(plot::image_grid(&[], 0, 4, &path).is_err());
    assert!(plot::image_grid(&[], 28, 0, &path).is_err());
    // No images: one empty tile.
    plot::image_grid(&[], 28, 4, &path).unwrap();
    assert_eq!(check_png(&path, (1, 1)).0, 84 + 4);
}

#[test]
fn empty_and_non_finite_input_still_gives_a_png() {
    let (_t, dir) = out_dir("degenerate");
    let p = |name: &str| dir.join(name);
    plot::training_curves(&[], "empty", &p("curves-empty.png")).unwrap();
    plot::compare_runs(&[], "empty", &p("compare-empty.png")).unwrap();
    plot::compare_runs(&[("no rows".into(), vec![])], "one empty run", &p("compare-empty-run.png")).unwrap();
    plot::variance_comparison(&[], &p("variance-empty.png")).unwrap();
    plot::toy_figure(&[], &p("toy-empty.png")).unwrap();

    let mut rows = epoch_rows(20, true);
    for (i, r) in rows.iter_mut().enumerate() {
        if i % 3 == 0 {
            r.train_elbo = f64::NAN;
            r.log_variance = f64::INFINITY;
            r.temperature = Some(f64::NEG_INFINITY);
        }
    }
    plot::training_curves(&rows, "NaN and ∞", &p("curves-nan.png")).unwrap();
    // A single row: a degenerate x range.
    plot::training_curves(&rows[1..2], "one row", &p("curves-one.png")).unwrap();
    let all_nan: Vec<EpochRow> =
        rows.iter().map(|r| EpochRow { train_elbo: f64::NAN, log_variance: f64::NAN, ..r.clone() }).collect();
    plot::compare_runs(&[("nan".into(), all_nan)], "all NaN", &p("compare-nan.png")).unwrap();
    // Extreme and nearly equal values.
    let mut extreme = epoch_rows(4, false);
    extreme[0].train_elbo = -1e308;
    extreme[1].train_elbo = 1e308;
    for (i, r) in extreme.iter_mut().enumerate() {
        r.log_variance = 1.0 + i as f64 * 1e-300;
    }
    plot::training_curves(&extreme, "extreme", &p("curves-extreme.png")).unwrap();

    let mut toy = toy_rows(50);
    for r in &mut toy {
        r.loss_average = f64::NAN;
        r.log_variance = r.log_variance.map(|_| f64::NAN);
    }
    plot::toy_figure(&toy, &p("toy-nan.png")).unwrap();
    let mut var = variance_rows();
    var.iter_mut().for_each(|r| r.log_variance = f64::NEG_INFINITY);
    plot::variance_comparison(&var, &p("variance-inf.png")).unwrap();

    for name in [
        "curves-empty.png",
        "compare-empty.png",
        "compare-empty-run.png",
        "variance-empty.png",
        "toy-empty.png",
        "curves-nan.png",
        "curves-one.png",
        "compare-nan.png",
        "curves-extreme.png",
        "toy-nan.png",
        "variance-inf.png",
    ] {
        check_png(&p(name), (100, 100));
    }
}

#[test]
fn a_missing_folder_is_an_error_naming_the_file() {
    let (_t, dir) = out_dir("missing");
    let path = dir.join("no/such/folder/curves.png");
    let e = plot::training_curves(&epoch_rows(3, false), "x", &path).unwrap_err();
    assert!(e.to_string().contains("no/such/folder/curves.png"), "{e}");
}
