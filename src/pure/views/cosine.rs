//! Position–position cosine similarity: the normalised W_pos·W_posᵀ, whole or over a window
//! of positions, and averaged over blocks of positions when there are more positions than
//! cells to draw.
//!
//! The mean cosine over a block of positions A against a block B equals the dot product of
//! the mean unit row of A with the mean unit row of B. A grid of `c × c` cells over `n`
//! positions therefore costs `c² · d_model` multiplications instead of `n² · d_model`, and
//! every cell is still an exact mean of the cosines it covers.

use std::ops::Range;

use nalgebra::DMatrix;

use super::ViewError;

/// The most cells per side the page draws by default: one canvas pixel per cell in a
/// 512-pixel heatmap.
pub const DEFAULT_MAX_CELLS_PER_SIDE: usize = 512;

/// Returns `w` with each row scaled to unit length; a zero row stays zero (its cosine with
/// anything is then 0).
pub fn unit_rows(w: &DMatrix<f64>) -> DMatrix<f64> {
    // Column by column, as the matrix is stored: walking rows of a column-major matrix
    // touches a new cache line for every element.
    let mut squares = vec![0.0_f64; w.nrows()];
    for column in w.column_iter() {
        for (sum, &x) in squares.iter_mut().zip(column.iter()) {
            *sum += x * x;
        }
    }
    let scales: Vec<f64> = squares.iter().map(|&sum| unit_scale(sum)).collect();
    let mut unit = w.clone();
    for mut column in unit.column_iter_mut() {
        for (x, &scale) in column.iter_mut().zip(&scales) {
            *x *= scale;
        }
    }
    unit
}

/// The factor that scales a row with `Σ x² = sum_of_squares` to unit length: `1 / ‖row‖`,
/// or 1 for a zero (or non-finite) row, which then stays as it is.
fn unit_scale(sum_of_squares: f64) -> f64 {
    let norm = sum_of_squares.sqrt();
    if norm > 0.0 && norm.is_finite() {
        1.0 / norm
    } else {
        1.0
    }
}

/// Returns the whole `n_positions × n_positions` cosine similarity matrix.
///
/// Meant for tests and small matrices; the page uses [`CosinePlan`], which averages blocks.
pub fn cosine_matrix(w: &DMatrix<f64>) -> DMatrix<f64> {
    let unit = unit_rows(w);
    &unit * unit.transpose()
}

/// How many positions one cell covers when `n_positions` are drawn in at most
/// `max_cells_per_side` cells: ⌈n_positions / max_cells_per_side⌉, at least 1.
pub fn positions_per_cell(n_positions: usize, max_cells_per_side: usize) -> usize {
    n_positions.div_ceil(max_cells_per_side.max(1)).max(1)
}

/// A square grid of mean cosines over the positions `start..end` on both axes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CosineGrid {
    /// The first position covered.
    pub start: usize,
    /// One past the last position covered.
    pub end: usize,
    /// Positions per cell along each axis (the last cell may cover fewer).
    pub positions_per_cell: usize,
    /// Cells per side.
    pub n_cells: usize,
    /// The mean cosine of each cell, row-major, `n_cells × n_cells`.
    pub values: Vec<f64>,
}

impl CosineGrid {
    /// Returns the mean cosine of cell `(row, col)`, or `None` outside the grid.
    pub fn value(&self, row: usize, col: usize) -> Option<f64> {
        if row >= self.n_cells || col >= self.n_cells {
            return None;
        }
        self.values.get(row * self.n_cells + col).copied()
    }

    /// Returns the positions that cell index `cell` covers along either axis.
    pub fn cell_positions(&self, cell: usize) -> Range<usize> {
        let first = self
            .start
            .saturating_add(cell.saturating_mul(self.positions_per_cell));
        let last = first.saturating_add(self.positions_per_cell).min(self.end);
        first.min(self.end)..last
    }

    /// Returns the grid as rows of values, for the heatmap painter.
    pub fn rows(&self) -> Vec<Vec<f64>> {
        self.values
            .chunks(self.n_cells.max(1))
            .map(<[f64]>::to_vec)
            .collect()
    }
}

/// The prepared work for one [`CosineGrid`]: the mean unit row of each cell's positions.
///
/// Rows of the grid can be computed a band at a time ([`CosinePlan::cell_rows`]), so a page
/// can yield to the browser between bands.
#[derive(Debug, Clone, PartialEq)]
pub struct CosinePlan {
    /// The first position covered.
    start: usize,
    /// One past the last position covered.
    end: usize,
    /// Positions per cell.
    positions_per_cell: usize,
    /// The mean unit row of each cell, one column per cell (`d_model × n_cells`).
    cell_means: DMatrix<f64>,
}

impl CosinePlan {
    /// Prepares the grid over positions `window` (rows of `w`), with at most
    /// `max_cells_per_side` cells per side, in one call (see [`CosinePlanBuilder`] for the
    /// same work in steps).
    ///
    /// # Errors
    /// [`ViewError::BadWindow`] when the window is empty or runs past the last row;
    /// [`ViewError::Empty`] when `w` has no columns.
    pub fn new(
        w: &DMatrix<f64>,
        window: Range<usize>,
        max_cells_per_side: usize,
    ) -> Result<Self, ViewError> {
        let mut builder = CosinePlanBuilder::new(w, window, max_cells_per_side, usize::MAX)?;
        while !builder.step(w) {}
        builder.into_plan().ok_or(ViewError::Empty)
    }

    /// Returns the number of cells per side.
    pub fn n_cells(&self) -> usize {
        self.cell_means.ncols()
    }

    /// Returns the cell rows `rows` of the grid (clamped to the grid), row-major.
    pub fn cell_rows(&self, rows: Range<usize>) -> Vec<f64> {
        let n_cells = self.n_cells();
        let first = rows.start.min(n_cells);
        let last = rows.end.clamp(first, n_cells);
        if first == last {
            return Vec::new();
        }
        let band = self.cell_means.columns(first, last - first);
        // (band rows × all cells), transposed so that column-major order reads row by row.
        let product = self.cell_means.transpose() * band;
        product.iter().copied().collect()
    }

    /// Wraps computed values (all cell rows, in order) into the grid.
    pub fn grid(&self, values: Vec<f64>) -> CosineGrid {
        CosineGrid {
            start: self.start,
            end: self.end,
            positions_per_cell: self.positions_per_cell,
            n_cells: self.n_cells(),
            values,
        }
    }

    /// Computes the whole grid at once.
    pub fn compute(&self) -> CosineGrid {
        self.grid(self.cell_rows(0..self.n_cells()))
    }
}

/// Builds a [`CosinePlan`] a band of model dimensions per [`step`](Self::step), so that a
/// page can yield to the browser in between: first the length of each position's row, then
/// the mean unit row of each cell. The result equals [`CosinePlan::new`] to the bit.
#[derive(Debug, Clone, PartialEq)]
pub struct CosinePlanBuilder {
    /// The first position covered.
    start: usize,
    /// One past the last position covered.
    end: usize,
    /// Positions per cell.
    positions_per_cell: usize,
    /// Model dimensions of the matrix.
    n_dims: usize,
    /// Dimensions handled per step.
    dims_per_step: usize,
    /// `Σ x²` of each position's row over the dimensions summed so far.
    squares: Vec<f64>,
    /// `1 / ‖row‖` of each position (1 for a zero row), once every square is summed.
    scales: Vec<f64>,
    /// The mean unit row of each cell, one column per cell (`n_dims × n_cells`).
    cell_means: DMatrix<f64>,
    /// The next dimension whose squares to add.
    next_square_dim: usize,
    /// The next dimension whose cell means to compute.
    next_mean_dim: usize,
}

impl CosinePlanBuilder {
    /// Prepares the steps for positions `window` of `w`, with at most `max_cells_per_side`
    /// cells per side and about `elements_per_step` elements read per step.
    ///
    /// # Errors
    /// As [`CosinePlan::new`].
    pub fn new(
        w: &DMatrix<f64>,
        window: Range<usize>,
        max_cells_per_side: usize,
        elements_per_step: usize,
    ) -> Result<Self, ViewError> {
        let n_positions = w.nrows();
        if window.start >= window.end || window.end > n_positions {
            return Err(ViewError::BadWindow {
                start: window.start,
                end: window.end,
                n_positions,
            });
        }
        if w.ncols() == 0 {
            return Err(ViewError::Empty);
        }
        let len = window.end - window.start;
        let per_cell = positions_per_cell(len, max_cells_per_side);
        let n_cells = len.div_ceil(per_cell);
        Ok(Self {
            start: window.start,
            end: window.end,
            positions_per_cell: per_cell,
            n_dims: w.ncols(),
            dims_per_step: (elements_per_step / len).max(1),
            squares: vec![0.0; len],
            scales: Vec::new(),
            cell_means: DMatrix::zeros(w.ncols(), n_cells),
            next_square_dim: 0,
            next_mean_dim: 0,
        })
    }

    /// How many calls of [`step`](Self::step) the plan takes.
    pub fn step_count(&self) -> usize {
        2 * self.n_dims.div_ceil(self.dims_per_step)
    }

    /// The window's part of column `dim` of `w`.
    fn window_of<'w>(&self, w: &'w DMatrix<f64>, dim: usize) -> &'w [f64] {
        let offset = dim * w.nrows();
        w.as_slice()
            .get(offset + self.start..offset + self.end)
            .unwrap_or_default()
    }

    /// Does the next band of work on `w` (the matrix given to [`new`](Self::new)); returns
    /// `true` when the plan is complete.
    pub fn step(&mut self, w: &DMatrix<f64>) -> bool {
        let n_dims = self.n_dims.min(w.ncols());
        if self.next_square_dim < n_dims {
            let last = (self.next_square_dim + self.dims_per_step).min(n_dims);
            for dim in self.next_square_dim..last {
                let column = self.window_of(w, dim);
                for (sum, &x) in self.squares.iter_mut().zip(column) {
                    *sum += x * x;
                }
            }
            self.next_square_dim = last;
            if last == n_dims {
                self.scales = self.squares.iter().map(|&sum| unit_scale(sum)).collect();
            }
        } else if self.next_mean_dim < n_dims {
            let last = (self.next_mean_dim + self.dims_per_step).min(n_dims);
            for dim in self.next_mean_dim..last {
                let column = self.window_of(w, dim);
                let blocks = column
                    .chunks(self.positions_per_cell)
                    .zip(self.scales.chunks(self.positions_per_cell));
                for (cell, (block, scales)) in blocks.enumerate() {
                    let sum: f64 = block.iter().zip(scales).map(|(&x, &scale)| x * scale).sum();
                    if let Some(slot) = self.cell_means.get_mut((dim, cell)) {
                        *slot = sum / block.len() as f64;
                    }
                }
            }
            self.next_mean_dim = last;
        }
        self.is_done()
    }

    /// Whether every step has run.
    pub fn is_done(&self) -> bool {
        self.next_square_dim >= self.n_dims && self.next_mean_dim >= self.n_dims
    }

    /// The plan, once [`is_done`](Self::is_done); `None` before.
    pub fn into_plan(self) -> Option<CosinePlan> {
        self.is_done().then_some(CosinePlan {
            start: self.start,
            end: self.end,
            positions_per_cell: self.positions_per_cell,
            cell_means: self.cell_means,
        })
    }
}

/// Computes the grid of mean cosines over `window` in at most `max_cells_per_side` cells per
/// side, in one call.
///
/// # Errors
/// As [`CosinePlan::new`].
pub fn cosine_grid(
    w: &DMatrix<f64>,
    window: Range<usize>,
    max_cells_per_side: usize,
) -> Result<CosineGrid, ViewError> {
    Ok(CosinePlan::new(w, window, max_cells_per_side)?.compute())
}
