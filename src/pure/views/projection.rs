//! Where the positions sit: their coordinates along the singular directions (σᵢuᵢ, the
//! projection of each row of W_pos onto the i-th right singular vector) and their norms.

use std::ops::Range;

use nalgebra::DMatrix;

use super::ViewError;
use crate::pure::analysis::SvdSummary;

/// Returns σᵢ·uᵢ: every position's coordinate along singular direction `index`
/// (0 is the direction of the largest singular value). This equals W_pos·vᵢ.
///
/// # Errors
/// [`ViewError::DirectionOutOfRange`] when the analysis did not keep that vector.
pub fn scaled_direction(summary: &SvdSummary, index: usize) -> Result<Vec<f64>, ViewError> {
    let available = summary.u_top_k.len();
    let (Some(u), Some(&sigma)) = (
        summary.u_top_k.get(index),
        summary.singular_values.get(index),
    ) else {
        return Err(ViewError::DirectionOutOfRange { index, available });
    };
    Ok(u.iter().map(|&value| sigma * value).collect())
}

/// The positions in the plane of two singular directions.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlaneProjection {
    /// The direction on the x axis.
    pub x_direction: usize,
    /// The direction on the y axis.
    pub y_direction: usize,
    /// σₓ·uₓ, one value per position.
    pub xs: Vec<f64>,
    /// σᵧ·uᵧ, one value per position.
    pub ys: Vec<f64>,
}

/// Returns the positions at (σᵢuᵢ, σⱼuⱼ).
///
/// # Errors
/// [`ViewError::DirectionOutOfRange`] for a direction the analysis did not keep.
pub fn plane_projection(
    summary: &SvdSummary,
    x_direction: usize,
    y_direction: usize,
) -> Result<PlaneProjection, ViewError> {
    Ok(PlaneProjection {
        x_direction,
        y_direction,
        xs: scaled_direction(summary, x_direction)?,
        ys: scaled_direction(summary, y_direction)?,
    })
}

/// Returns each position's coordinates along three singular directions, `[x, y, z]`.
///
/// # Errors
/// [`ViewError::DirectionOutOfRange`] for a direction the analysis did not keep.
pub fn space_projection(
    summary: &SvdSummary,
    directions: [usize; 3],
) -> Result<Vec<[f64; 3]>, ViewError> {
    let [a, b, c] = directions;
    let xs = scaled_direction(summary, a)?;
    let ys = scaled_direction(summary, b)?;
    let zs = scaled_direction(summary, c)?;
    Ok(xs
        .iter()
        .zip(&ys)
        .zip(&zs)
        .map(|((&x, &y), &z)| [x, y, z])
        .collect())
}

/// Returns ‖W_pos\[p\]‖ (the Euclidean norm of each row) for every position p.
///
/// The squares are summed column by column, as the matrix is stored: walking its rows would
/// touch a new cache line for every element.
pub fn row_norms(w: &DMatrix<f64>) -> Vec<f64> {
    let mut squares = vec![0.0_f64; w.nrows()];
    add_row_squares(w, 0..w.ncols(), &mut squares);
    squares.into_iter().map(f64::sqrt).collect()
}

/// Adds `Σ x²` over the columns `cols` of each row of `w` to `squares` (one per row), so
/// that [`row_norms`] can be summed a band of columns at a time: after every band, in
/// order, `√squares` equals `row_norms(w)` to the bit.
pub fn add_row_squares(w: &DMatrix<f64>, cols: Range<usize>, squares: &mut [f64]) {
    let n_rows = w.nrows().max(1);
    let first = cols.start.min(w.ncols());
    let last = cols.end.clamp(first, w.ncols());
    let band = w
        .as_slice()
        .get(first * n_rows..last * n_rows)
        .unwrap_or_default();
    for column in band.chunks_exact(n_rows) {
        for (sum, &x) in squares.iter_mut().zip(column) {
            *sum += x * x;
        }
    }
}
