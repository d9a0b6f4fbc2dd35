//! The views that go beyond the notebook, computed from the analysed matrix and its SVD
//! summary: how the energy spreads over directions ([`spectrum`]), how positions relate to
//! each other ([`cosine`]), where positions sit in the planes of the singular directions
//! ([`projection`]), which model dimensions carry each direction ([`right_vectors`]), how
//! periodic each left singular vector is ([`frequency`]), and how similar two models'
//! leading subspaces are ([`subspace`]).
//!
//! Every function takes plain matrices, slices and the existing
//! [`SvdSummary`]; nothing here recomputes the SVD.

pub mod cosine;
pub mod frequency;
pub mod projection;
pub mod right_vectors;
pub mod spectrum;
pub mod subspace;

use nalgebra::DMatrix;

use crate::pure::analysis::{center_rows, AnalysisOptions, SvdSummary};

/// Everything that can go wrong while computing a view.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ViewError {
    /// The matrix is not the one the summary was computed from.
    #[error("The matrix is {matrix_rows} × {matrix_cols} but its analysis was of a {summary_rows} × {summary_cols} matrix. Run the analysis again.")]
    ShapeMismatch {
        /// Rows of the matrix given.
        matrix_rows: usize,
        /// Columns of the matrix given.
        matrix_cols: usize,
        /// Rows of the analysed matrix.
        summary_rows: usize,
        /// Columns of the analysed matrix.
        summary_cols: usize,
    },
    /// A singular direction was asked for that the analysis did not keep.
    #[error("Singular direction {index} is not available: the analysis kept {available}. Raise k (the number of singular vectors) and analyse again.")]
    DirectionOutOfRange {
        /// The direction asked for (0 is the largest singular value).
        index: usize,
        /// How many directions the analysis kept.
        available: usize,
    },
    /// A window of positions is empty or runs past the last position.
    #[error("The window of positions {start}..{end} is not inside 0..{n_positions}. Pick a start below the end and an end of at most {n_positions}.")]
    BadWindow {
        /// First position of the window.
        start: usize,
        /// One past the last position of the window.
        end: usize,
        /// How many positions there are.
        n_positions: usize,
    },
    /// Two models must share the number of positions to compare their position subspaces.
    #[error("The models have {n_positions_a} and {n_positions_b} positions; their position subspaces can only be compared when the counts match.")]
    PositionsDiffer {
        /// Positions of the first model.
        n_positions_a: usize,
        /// Positions of the second model.
        n_positions_b: usize,
    },
    /// The matrix or the vectors are empty.
    #[error("There is nothing to draw: the matrix or its singular vectors are empty. Analyse a non-empty tensor.")]
    Empty,
    /// The options cannot be applied to this matrix.
    #[error("{skip_offset_rows} offset rows cannot be skipped from a matrix of {n_rows} rows. Turn off skip_offset.")]
    SkipTooLarge {
        /// Rows the options skip.
        skip_offset_rows: usize,
        /// Rows of the matrix.
        n_rows: usize,
    },
}

/// Returns the matrix the full analysis took its SVD of: the offset rows skipped and, when
/// asked, each row centred, exactly as the analysis prepares it.
///
/// # Errors
/// [`ViewError::SkipTooLarge`] when no row would remain.
pub fn prepared_matrix(
    w_pos: &DMatrix<f64>,
    options: &AnalysisOptions,
) -> Result<DMatrix<f64>, ViewError> {
    let n_rows = w_pos.nrows();
    if options.skip_offset_rows >= n_rows {
        return Err(ViewError::SkipTooLarge {
            skip_offset_rows: options.skip_offset_rows,
            n_rows,
        });
    }
    let skipped = w_pos
        .rows(options.skip_offset_rows, n_rows - options.skip_offset_rows)
        .into_owned();
    Ok(if options.center_rows {
        center_rows(&skipped)
    } else {
        skipped
    })
}

/// Checks that `w` has the shape of the matrix `summary` describes.
///
/// # Errors
/// [`ViewError::ShapeMismatch`] otherwise.
pub fn check_shape(w: &DMatrix<f64>, summary: &SvdSummary) -> Result<(), ViewError> {
    if w.nrows() == summary.n_rows && w.ncols() == summary.n_cols {
        Ok(())
    } else {
        Err(ViewError::ShapeMismatch {
            matrix_rows: w.nrows(),
            matrix_cols: w.ncols(),
            summary_rows: summary.n_rows,
            summary_cols: summary.n_cols,
        })
    }
}
