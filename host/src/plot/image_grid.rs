//! Grids of grey-level images, such as data samples or a model's reconstructions.

use std::path::Path;

use plotters::prelude::*;

use super::{PlotError, draw_error};

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
