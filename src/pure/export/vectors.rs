//! The arrays a notebook expects from an SVD, `S`, `U[:, :k]` and `Vᵀ[:k]`, for the full and
//! the dropped analysis.
//!
//! The analysis keeps only the left singular vectors. The right ones follow exactly from the
//! matrix: `W = U Σ Vᵀ` gives `Vᵀ_k = diag(1/σ) U_kᵀ W` for every non-zero `σ`. So the export
//! re-applies the analysis settings to the decoded matrix ([`prepared_matrices`]) and recovers
//! `Vᵀ_k` from it ([`right_vectors_top_k`]), with the same signs as the page's `U`.

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
    let sigma_max = summary.singular_values.first().copied().unwrap_or(0.0);
    // Converting a dimension to f64 is exact for every realistic size.
    #[allow(clippy::cast_precision_loss)]
    let tolerance = sigma_max * n_rows.max(n_cols) as f64 * f64::EPSILON;
    Ok(summary
        .u_top_k
        .iter()
        .zip(&summary.singular_values)
        .map(|(u, &sigma)| {
            if sigma.is_nan() || sigma <= tolerance {
                return vec![0.0; n_cols];
            }
            let u = DVector::from_column_slice(u);
            let v = matrix.tr_mul(&u) / sigma;
            v.iter().copied().collect()
        })
        .collect())
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
    Ok(ExportArrays {
        name_suffix,
        n_rows,
        n_cols: summary.n_cols,
        k,
        singular_values: summary.singular_values.clone(),
        u_top_k_row_major,
        vt_top_k_row_major: vt_rows.into_iter().flatten().collect(),
    })
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
