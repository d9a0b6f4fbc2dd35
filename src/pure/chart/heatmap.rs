//! Heatmap pixels for a canvas `ImageData`, and the hit test that maps a pointer to a cell.

use super::color::diverging_rgb;

/// Returns RGBA bytes, row-major with one pixel per cell, coloured by [`diverging_rgb`].
///
/// The image is as wide as the longest row; cells missing from shorter rows are fully
/// transparent. The result has `rows.len() × longest_row × 4` bytes.
pub fn heatmap_rgba(rows: &[Vec<f64>], abs_max: f64) -> Vec<u8> {
    let n_cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let len_bytes = rows
        .len()
        .checked_mul(n_cols)
        .and_then(|cells| cells.checked_mul(4))
        .unwrap_or(0);
    let mut rgba = Vec::with_capacity(len_bytes);
    for row in rows {
        for col in 0..n_cols {
            match row.get(col) {
                Some(&value) => {
                    let [r, g, b] = diverging_rgb(value, abs_max);
                    rgba.extend_from_slice(&[r, g, b, 255]);
                }
                None => rgba.extend_from_slice(&[0, 0, 0, 0]),
            }
        }
    }
    rgba
}

/// A heatmap of `n_rows × n_cols` cells stretched over `width_px × height_px` pixels.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HeatmapLayout {
    /// How many rows of cells (drawn top to bottom).
    pub n_rows: usize,
    /// How many columns of cells (drawn left to right).
    pub n_cols: usize,
    /// The drawn width.
    pub width_px: f64,
    /// The drawn height.
    pub height_px: f64,
}

impl HeatmapLayout {
    /// Returns the `(row, col)` under a point measured from the heatmap's top-left corner,
    /// or `None` outside it. The left and top edges belong to the heatmap; the right and
    /// bottom edges do not.
    pub fn cell_at(&self, x_px: f64, y_px: f64) -> Option<(usize, usize)> {
        let row = Self::index_along(y_px, self.height_px, self.n_rows)?;
        let col = Self::index_along(x_px, self.width_px, self.n_cols)?;
        Some((row, col))
    }

    /// Returns the cell index along one axis of `length_px` split into `n_cells`.
    fn index_along(position_px: f64, length_px: f64, n_cells: usize) -> Option<usize> {
        if n_cells == 0
            || !length_px.is_finite()
            || length_px <= 0.0
            || !position_px.is_finite()
            || position_px < 0.0
            || position_px >= length_px
        {
            return None;
        }
        let index = (position_px / length_px * n_cells as f64).floor();
        let last = n_cells - 1;
        Some(if index >= last as f64 {
            last
        } else {
            index as usize
        })
    }

    /// Returns the pixel rectangle `(x_px, y_px, width_px, height_px)` of a cell, or `None`
    /// for a cell outside the grid.
    pub fn cell_rect(&self, row: usize, col: usize) -> Option<(f64, f64, f64, f64)> {
        if row >= self.n_rows || col >= self.n_cols {
            return None;
        }
        let cell_width_px = self.width_px / self.n_cols as f64;
        let cell_height_px = self.height_px / self.n_rows as f64;
        Some((
            col as f64 * cell_width_px,
            row as f64 * cell_height_px,
            cell_width_px,
            cell_height_px,
        ))
    }
}
