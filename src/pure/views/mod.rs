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
use crate::pure::source::decode::{
    check_len_bytes, decode_finite, element_size_bytes, DecodeError,
};
use crate::pure::source::format::Dtype;

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

/// Builds [`prepared_matrix`] of a stored row-major tensor straight from its bytes, a band
/// of columns per [`step`](Self::step), so that a caller can spread the work over many
/// short tasks: no step reads or writes the whole matrix, and no full-size matrix exists
/// besides the result (`decode_matrix` followed by `prepared_matrix` holds two).
///
/// The columns are decoded first; with `center_rows`, later steps subtract each row's mean,
/// summed in column order as [`center_rows`] sums it, so the result is the same to the bit.
#[derive(Debug)]
pub struct PreparedMatrixBuilder {
    /// The stored element type.
    dtype: Dtype,
    /// Bytes per stored element.
    elem_bytes: usize,
    /// Rows of the stored tensor (including skipped ones).
    n_stored_rows: usize,
    /// Columns of the tensor.
    n_cols: usize,
    /// Leading rows left out.
    skip_rows: usize,
    /// Whether each row is centred.
    center_rows: bool,
    /// Columns decoded per step.
    cols_per_step: usize,
    /// The result so far, column-major with `n_stored_rows − skip_rows` rows.
    elements: Vec<f64>,
    /// The running sum of each kept row over the decoded columns.
    row_sums: Vec<f64>,
    /// The next column to decode.
    next_decode_col: usize,
    /// The next column to centre.
    next_center_col: usize,
    /// The tensor's name, for error messages.
    tensor_name: String,
}

impl PreparedMatrixBuilder {
    /// Prepares a build of the `n_rows × n_cols` tensor of `dtype` whose bytes are
    /// `bytes_len` long, with `options` applied as the analysis applies them; a step handles
    /// about `elements_per_step` elements.
    ///
    /// # Errors
    /// [`PrepareError::Decode`] for an unsupported dtype or a wrong byte length;
    /// [`PrepareError::View`] with [`ViewError::SkipTooLarge`] when no row would remain.
    pub fn new(
        dtype: Dtype,
        n_rows: usize,
        n_cols: usize,
        bytes_len: usize,
        options: &AnalysisOptions,
        tensor_name: &str,
        elements_per_step: usize,
    ) -> Result<Self, PrepareError> {
        check_len_bytes(bytes_len, dtype, n_rows, n_cols, tensor_name)?;
        let elem_bytes =
            element_size_bytes(dtype).ok_or_else(|| DecodeError::UnsupportedDtype {
                tensor_name: tensor_name.to_owned(),
                dtype,
            })?;
        if options.skip_offset_rows >= n_rows {
            return Err(ViewError::SkipTooLarge {
                skip_offset_rows: options.skip_offset_rows,
                n_rows,
            }
            .into());
        }
        let n_kept_rows = n_rows - options.skip_offset_rows;
        Ok(Self {
            dtype,
            elem_bytes,
            n_stored_rows: n_rows,
            n_cols,
            skip_rows: options.skip_offset_rows,
            center_rows: options.center_rows,
            cols_per_step: (elements_per_step / n_kept_rows).max(1),
            elements: Vec::with_capacity(n_kept_rows.saturating_mul(n_cols)),
            row_sums: vec![0.0; if options.center_rows { n_kept_rows } else { 0 }],
            next_decode_col: 0,
            next_center_col: 0,
            tensor_name: tensor_name.to_owned(),
        })
    }

    /// How many calls of [`step`](Self::step) the whole build takes.
    pub fn step_count(&self) -> usize {
        let bands = self.n_cols.div_ceil(self.cols_per_step);
        if self.center_rows {
            2 * bands
        } else {
            bands
        }
    }

    /// Rows of the result.
    fn n_kept_rows(&self) -> usize {
        self.n_stored_rows - self.skip_rows
    }

    /// Does the next band of work: decodes a band of columns of `bytes` (the bytes given to
    /// [`new`](Self::new)), or, once all are decoded, centres a band. Returns `true` when
    /// nothing is left to do.
    ///
    /// # Errors
    /// [`PrepareError::Decode`] naming a NaN or infinity, or bytes shorter than announced.
    pub fn step(&mut self, bytes: &[u8]) -> Result<bool, PrepareError> {
        if self.next_decode_col < self.n_cols {
            self.decode_band(bytes)?;
        } else if self.center_rows && self.next_center_col < self.n_cols {
            self.center_band();
        }
        Ok(self.is_done())
    }

    /// Whether every step has run.
    pub fn is_done(&self) -> bool {
        self.next_decode_col >= self.n_cols
            && (!self.center_rows || self.next_center_col >= self.n_cols)
    }

    /// Decodes the next band of columns, row by row (each row's band is contiguous in the
    /// bytes), into place.
    fn decode_band(&mut self, bytes: &[u8]) -> Result<(), PrepareError> {
        let first = self.next_decode_col;
        let width = self.cols_per_step.min(self.n_cols - first);
        let n_kept = self.n_kept_rows();
        let band_start = self.elements.len();
        self.elements.resize(band_start + width * n_kept, 0.0);
        let mut row_values = vec![0.0_f64; width];
        let row_len_bytes = self.n_cols * self.elem_bytes;
        for kept_row in 0..n_kept {
            let stored_row = kept_row + self.skip_rows;
            let start = stored_row * row_len_bytes + first * self.elem_bytes;
            let Some(row_bytes) = bytes.get(start..start + width * self.elem_bytes) else {
                return Err(self.too_short(bytes.len()));
            };
            decode_finite(
                row_bytes,
                self.dtype,
                &mut row_values,
                &self.tensor_name,
                stored_row,
                first,
            )?;
            let band = self.elements.get_mut(band_start..).unwrap_or_default();
            let targets = band.get_mut(kept_row..).unwrap_or_default();
            for (target, &value) in targets.iter_mut().step_by(n_kept).zip(&row_values) {
                *target = value;
            }
        }
        if self.center_rows {
            let band = self.elements.get(band_start..).unwrap_or_default();
            for column in band.chunks_exact(n_kept) {
                for (sum, &value) in self.row_sums.iter_mut().zip(column) {
                    *sum += value;
                }
            }
        }
        self.next_decode_col = first + width;
        Ok(())
    }

    /// Subtracts the row means from the next band of columns.
    fn center_band(&mut self) {
        let first = self.next_center_col;
        let width = self.cols_per_step.min(self.n_cols - first);
        let n_kept = self.n_kept_rows();
        // Converting a column count to f64 is exact for every realistic size.
        let n_cols_f64 = self.n_cols as f64;
        let band = self
            .elements
            .get_mut(first * n_kept..(first + width) * n_kept)
            .unwrap_or_default();
        for column in band.chunks_exact_mut(n_kept) {
            for (value, &sum) in column.iter_mut().zip(&self.row_sums) {
                *value -= sum / n_cols_f64;
            }
        }
        self.next_center_col = first + width;
    }

    /// The error for bytes shorter than announced.
    fn too_short(&self, actual_len: usize) -> PrepareError {
        DecodeError::WrongLength {
            tensor_name: self.tensor_name.clone(),
            dtype: self.dtype,
            n_rows: self.n_stored_rows,
            n_cols: self.n_cols,
            expected_bytes: u64::try_from(self.n_stored_rows * self.n_cols * self.elem_bytes)
                .unwrap_or(u64::MAX),
            actual_bytes: u64::try_from(actual_len).unwrap_or(u64::MAX),
        }
        .into()
    }

    /// The prepared matrix, once [`is_done`](Self::is_done); `None` before.
    pub fn into_matrix(self) -> Option<DMatrix<f64>> {
        if !self.is_done() {
            return None;
        }
        let n_kept = self.n_kept_rows();
        Some(DMatrix::from_vec(n_kept, self.n_cols, self.elements))
    }
}

/// What can stop a [`PreparedMatrixBuilder`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PrepareError {
    /// The bytes cannot be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The options cannot be applied.
    #[error(transparent)]
    View(#[from] ViewError),
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
