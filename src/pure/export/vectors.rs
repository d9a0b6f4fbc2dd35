//! The arrays a notebook expects from an SVD, `S`, `U[:, :k]` and `Vᵀ[:k]`, for the full and
//! the dropped analysis.
//!
//! The analysis keeps only the left singular vectors. The right ones follow exactly from the
//! matrix: `W = U Σ Vᵀ` gives `Vᵀ_k = diag(1/σ) U_kᵀ W` for every non-zero `σ`. So the export
//! re-applies the analysis settings to the decoded matrix ([`prepared_matrices`]) and recovers
//! `Vᵀ_k` from it ([`right_vectors_top_k`]), with the same signs as the page's `U`.

use std::sync::Arc;

use nalgebra::{DMatrix, DVector};

use crate::pure::analysis::SvdSummary;
use crate::pure::analysis::{center_rows, drop_leading, Analysis, AnalysisError, AnalysisOptions};

use super::ExportError;

/// One analysis as row-major arrays, ready for `.npy` files.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportArrays {
    /// `""` for the full analysis, `"_dropped"` for the one after dropping; appended to the
    /// array names (`S`, `U`, `Vt`).
    pub name_suffix: &'static str,
    /// Rows of the analysed matrix (positions).
    pub n_rows: usize,
    /// Columns of the analysed matrix (model dimensions).
    pub n_cols: usize,
    /// How many singular vectors are exported.
    pub k: usize,
    /// Every singular value, descending.
    pub singular_values: Vec<f64>,
    /// `U[:, :k]` in row-major order (`n_rows × k`): entry `(position, j)` at `position·k + j`.
    pub u_top_k_row_major: Vec<f64>,
    /// `Vᵀ[:k]` in row-major order (`k × n_cols`): entry `(j, column)` at `j·n_cols + column`.
    pub vt_top_k_row_major: Vec<f64>,
}

/// Re-applies the analysis settings to the decoded matrix: skips the offset rows, centres the
/// rows when asked, and drops the leading rows or columns for the second analysis.
///
/// Returns the matrix the full analysis saw and, when `drop_count > 0`, the one the dropped
/// analysis saw, in the same order of steps as the analysis itself.
///
/// # Errors
/// [`ExportError::Prepare`] when the offset or drop leaves nothing.
pub fn prepared_matrices(
    w_pos: &DMatrix<f64>,
    options: &AnalysisOptions,
) -> Result<(DMatrix<f64>, Option<DMatrix<f64>>), ExportError> {
    let n_rows = w_pos.nrows();
    if options.skip_offset_rows >= n_rows {
        return Err(ExportError::Prepare(AnalysisError::SkipTooLarge {
            skip_offset_rows: options.skip_offset_rows,
            n_rows,
        }));
    }
    let skipped = w_pos
        .rows(options.skip_offset_rows, n_rows - options.skip_offset_rows)
        .into_owned();
    let full = if options.center_rows {
        center_rows(&skipped)
    } else {
        skipped
    };
    let dropped = if options.drop_count > 0 {
        Some(drop_leading(&full, options.drop_axis, options.drop_count)?)
    } else {
        None
    };
    Ok((full, dropped))
}

/// Recovers the first right singular vectors of `matrix` as rows, `Vᵀ[:k]` with
/// `k = summary.u_top_k.len()`: row `j` is `Wᵀ u_j / σ_j`.
///
/// A singular value at or below `σ_max · max(n_rows, n_cols) · ε` (numpy's default rank
/// tolerance) does not determine its right vector; that row is written as zeros.
///
/// # Errors
/// [`ExportError::MatrixMismatch`] when `matrix` is not the shape `summary` describes.
pub fn right_vectors_top_k(
    matrix: &DMatrix<f64>,
    summary: &SvdSummary,
) -> Result<Vec<Vec<f64>>, ExportError> {
    check_matrix(matrix, summary)?;
    let (n_rows, n_cols) = matrix.shape();
    let tolerance = rank_tolerance(summary, n_rows, n_cols);
    Ok(summary
        .u_top_k
        .iter()
        .zip(&summary.singular_values)
        .map(|(u, &sigma)| right_vector(matrix, u, sigma, tolerance))
        .collect())
}

/// Checks that `matrix` is the shape `summary` describes, and so are its left vectors.
fn check_matrix(matrix: &DMatrix<f64>, summary: &SvdSummary) -> Result<(), ExportError> {
    let (n_rows, n_cols) = matrix.shape();
    let u_lengths_match = summary.u_top_k.iter().all(|u| u.len() == n_rows);
    if n_rows != summary.n_rows || n_cols != summary.n_cols || !u_lengths_match {
        return Err(ExportError::MatrixMismatch {
            n_rows,
            n_cols,
            want_rows: summary.n_rows,
            want_cols: summary.n_cols,
        });
    }
    Ok(())
}

/// numpy's default rank tolerance for `summary`'s singular values: `σ_max · max(n_rows,
/// n_cols) · ε`.
fn rank_tolerance(summary: &SvdSummary, n_rows: usize, n_cols: usize) -> f64 {
    let sigma_max = summary.singular_values.first().copied().unwrap_or(0.0);
    // Converting a dimension to f64 is exact for every realistic size.
    #[allow(clippy::cast_precision_loss)]
    let tolerance = sigma_max * n_rows.max(n_cols) as f64 * f64::EPSILON;
    tolerance
}

/// One right singular vector, `Wᵀ u / σ`, or zeros when `σ` is at or below `tolerance`.
fn right_vector(matrix: &DMatrix<f64>, u: &[f64], sigma: f64, tolerance: f64) -> Vec<f64> {
    if sigma.is_nan() || sigma <= tolerance {
        return vec![0.0; matrix.ncols()];
    }
    let u = DVector::from_column_slice(u);
    let v = matrix.tr_mul(&u) / sigma;
    v.iter().copied().collect()
}

/// Builds the exported arrays of `analysis`: the full analysis and, when present, the dropped
/// one, each with `S`, `U[:, :k]` and `Vᵀ[:k]` (`k` as many vectors as the page shows).
///
/// `w_pos` is the decoded matrix before any setting was applied (the tensor as stored, seen as
/// `n_rows × n_cols`).
///
/// # Errors
/// [`ExportError::Prepare`] or [`ExportError::MatrixMismatch`] when `w_pos` is not the matrix
/// the analysis saw.
pub fn export_arrays(
    w_pos: &DMatrix<f64>,
    analysis: &Analysis,
) -> Result<Vec<ExportArrays>, ExportError> {
    let (full_matrix, dropped_matrix) = prepared_matrices(w_pos, &analysis.options)?;
    let mut out = vec![arrays_of(&full_matrix, &analysis.full, "")?];
    if let (Some(matrix), Some(summary)) = (dropped_matrix.as_ref(), analysis.dropped.as_ref()) {
        out.push(arrays_of(matrix, summary, "_dropped")?);
    }
    Ok(out)
}

/// The arrays of one summary, with `Vᵀ` recovered from its matrix.
fn arrays_of(
    matrix: &DMatrix<f64>,
    summary: &SvdSummary,
    name_suffix: &'static str,
) -> Result<ExportArrays, ExportError> {
    let vt_rows = right_vectors_top_k(matrix, summary)?;
    Ok(assemble(summary, vt_rows, name_suffix))
}

/// The arrays of one summary, given the rows of `Vᵀ` recovered from its matrix.
fn assemble(
    summary: &SvdSummary,
    vt_rows: Vec<Vec<f64>>,
    name_suffix: &'static str,
) -> ExportArrays {
    let k = summary.u_top_k.len();
    let n_rows = summary.n_rows;
    let u_top_k_row_major = (0..n_rows)
        .flat_map(|position| {
            summary
                .u_top_k
                .iter()
                .map(move |u| u.get(position).copied().unwrap_or(f64::NAN))
        })
        .collect();
    ExportArrays {
        name_suffix,
        n_rows,
        n_cols: summary.n_cols,
        k,
        singular_values: summary.singular_values.clone(),
        u_top_k_row_major,
        vt_top_k_row_major: vt_rows.into_iter().flatten().collect(),
    }
}

/// What [`ExportArraysBuilder::step`] does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NextStep {
    /// The next rows of `Vᵀ` of the full analysis (`dropped == false`) or the dropped one.
    VtRows {
        /// Whether these are the dropped analysis' rows.
        dropped: bool,
    },
    /// The matrix the dropped analysis saw, from the prepared one.
    Drop,
    /// Nothing: the arrays are built.
    Done,
}

/// Builds [`export_arrays`] from the prepared matrix (the matrix the full analysis saw: the
/// offset rows skipped and the rows centred as asked, as [`prepared_matrices`] makes it and
/// `pure::views::PreparedMatrixBuilder` builds it from the tensor's bytes), a few rows of
/// `Vᵀ` per [`step`](Self::step), so that a caller can spread the work over many short
/// tasks.
///
/// Each value comes from the same code as in [`export_arrays`] on the same matrix, so the
/// arrays are the same to the bit.
#[derive(Debug)]
pub struct ExportArraysBuilder {
    /// The matrix the full analysis saw.
    full: Arc<DMatrix<f64>>,
    /// The analysis whose arrays are built.
    analysis: Arc<Analysis>,
    /// The matrix the dropped analysis saw, once built.
    dropped_matrix: Option<DMatrix<f64>>,
    /// What the next step does.
    next: NextStep,
    /// The rows of `Vᵀ` of the analysis under way.
    vt_rows: Vec<Vec<f64>>,
    /// The finished analyses' arrays, full first.
    done: Vec<ExportArrays>,
    /// Rows of `Vᵀ` per step.
    rows_per_step: usize,
    /// How many steps have run.
    steps_done: usize,
    /// How many steps the whole build takes.
    step_count: usize,
}

impl ExportArraysBuilder {
    /// Prepares the build of `analysis`' arrays from `full`, the matrix its full analysis
    /// saw; a step reads about `elements_per_step` matrix elements (at least one row of
    /// `Vᵀ`).
    ///
    /// # Errors
    /// [`ExportError::MatrixMismatch`] when `full` is not the shape the analysis describes.
    pub fn new(
        full: Arc<DMatrix<f64>>,
        analysis: Arc<Analysis>,
        elements_per_step: usize,
    ) -> Result<Self, ExportError> {
        check_matrix(&full, &analysis.full)?;
        let rows_per_step = (elements_per_step / full.len().max(1)).max(1);
        let row_steps = |summary: &SvdSummary| vt_row_count(summary).div_ceil(rows_per_step).max(1);
        let mut step_count = row_steps(&analysis.full);
        if analysis.options.drop_count > 0 {
            step_count += 1 + analysis.dropped.as_ref().map_or(0, row_steps);
        }
        Ok(Self {
            full,
            analysis,
            dropped_matrix: None,
            next: NextStep::VtRows { dropped: false },
            vt_rows: Vec::new(),
            done: Vec::new(),
            rows_per_step,
            steps_done: 0,
            step_count,
        })
    }

    /// How many calls of [`step`](Self::step) the whole build takes.
    pub fn step_count(&self) -> usize {
        self.step_count
    }

    /// How many steps have run.
    pub fn steps_done(&self) -> usize {
        self.steps_done
    }

    /// Whether every step has run.
    pub fn is_done(&self) -> bool {
        self.next == NextStep::Done
    }

    /// Does the next step: a few rows of `Vᵀ` (with the analysis' arrays once its last row
    /// is in), or the dropped analysis' matrix. Returns `true` when nothing is left to do.
    ///
    /// # Errors
    /// [`ExportError::Prepare`] when the drop leaves nothing, [`ExportError::MatrixMismatch`]
    /// when the dropped matrix is not the one the dropped analysis saw.
    pub fn step(&mut self) -> Result<bool, ExportError> {
        match self.next {
            NextStep::Done => return Ok(true),
            NextStep::Drop => {
                let options = &self.analysis.options;
                let matrix = drop_leading(&self.full, options.drop_axis, options.drop_count)?;
                self.next = match self.analysis.dropped.as_ref() {
                    Some(summary) => {
                        check_matrix(&matrix, summary)?;
                        NextStep::VtRows { dropped: true }
                    }
                    None => NextStep::Done,
                };
                self.dropped_matrix = Some(matrix);
            }
            NextStep::VtRows { dropped } => self.vt_rows_step(dropped)?,
        }
        self.steps_done += 1;
        Ok(self.is_done())
    }

    /// The next rows of `Vᵀ` of one analysis.
    fn vt_rows_step(&mut self, dropped: bool) -> Result<(), ExportError> {
        let (matrix, summary) = if dropped {
            match (self.dropped_matrix.as_ref(), self.analysis.dropped.as_ref()) {
                (Some(matrix), Some(summary)) => (matrix, summary),
                _ => {
                    self.next = NextStep::Done;
                    return Ok(());
                }
            }
        } else {
            (&*self.full, &self.analysis.full)
        };
        let (n_rows, n_cols) = matrix.shape();
        let tolerance = rank_tolerance(summary, n_rows, n_cols);
        let first = self.vt_rows.len();
        let rows = summary
            .u_top_k
            .iter()
            .zip(&summary.singular_values)
            .skip(first)
            .take(self.rows_per_step)
            .map(|(u, &sigma)| right_vector(matrix, u, sigma, tolerance));
        self.vt_rows.extend(rows);
        if self.vt_rows.len() >= vt_row_count(summary) {
            let vt_rows = std::mem::take(&mut self.vt_rows);
            let suffix = if dropped { "_dropped" } else { "" };
            self.done.push(assemble(summary, vt_rows, suffix));
            self.next = if !dropped && self.analysis.options.drop_count > 0 {
                NextStep::Drop
            } else {
                NextStep::Done
            };
        }
        Ok(())
    }

    /// The arrays, once [`is_done`](Self::is_done); `None` before.
    pub fn into_arrays(self) -> Option<Vec<ExportArrays>> {
        self.is_done().then_some(self.done)
    }
}

/// How many rows of `Vᵀ` are recovered for `summary` (one per left vector with its σ).
fn vt_row_count(summary: &SvdSummary) -> usize {
    summary.u_top_k.len().min(summary.singular_values.len())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::pure::analysis::{analyse, DropAxis};

    #[test]
    fn recovered_vectors_rebuild_the_matrix_and_are_orthonormal() {
        let m = DMatrix::from_fn(12, 5, |r, c| {
            ((r * r * 7 + c * c * 13 + r * c * 5) % 17) as f64
        });
        let options = AnalysisOptions {
            k_vectors: 5,
            drop_count: 2,
            drop_axis: DropAxis::Cols,
            center_rows: true,
            skip_offset_rows: 1,
            ..AnalysisOptions::default()
        };
        let analysis = analyse(&m, &options).unwrap();
        let arrays = export_arrays(&m, &analysis).unwrap();
        assert_eq!(arrays.len(), 2);
        let (full, _) = prepared_matrices(&m, &options).unwrap();
        let a = &arrays[0];
        assert_eq!((a.n_rows, a.n_cols, a.k), (11, 5, 5));
        let u = DMatrix::from_row_slice(a.n_rows, a.k, &a.u_top_k_row_major);
        let vt = DMatrix::from_row_slice(a.k, a.n_cols, &a.vt_top_k_row_major);
        // Centring makes the matrix rank 4: the fifth σ is ~0, so its row is zeros.
        let rank = a.singular_values.iter().filter(|&&s| s > 1e-9).count();
        assert_eq!(rank, 4);
        let s = DMatrix::from_diagonal(&DVector::from_vec(a.singular_values[..a.k].to_vec()));
        let rebuilt = &u * s * &vt;
        assert!((rebuilt - &full).abs().max() < 1e-10);
        let gram = vt.rows(0, rank) * vt.rows(0, rank).transpose();
        assert!((gram - DMatrix::identity(rank, rank)).abs().max() < 1e-10);
    }

    #[test]
    fn a_matrix_of_the_wrong_shape_is_refused() {
        let m = DMatrix::from_fn(6, 4, |r, c| (r + 2 * c) as f64);
        let options = AnalysisOptions {
            drop_count: 0,
            ..AnalysisOptions::default()
        };
        let analysis = analyse(&m, &options).unwrap();
        let other = DMatrix::from_fn(6, 3, |r, c| (r + c) as f64);
        assert!(matches!(
            right_vectors_top_k(&other, &analysis.full),
            Err(ExportError::MatrixMismatch { .. })
        ));
    }
}
