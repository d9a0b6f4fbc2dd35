//! The summary of one matrix ([`SvdSummary`]): its singular values, their energies, the
//! approximate rank and the leading left singular vectors, the values handed on before the
//! vectors are computed.

use std::ops::ControlFlow;

use nalgebra::DMatrix;

use super::options::{validate_k, validate_threshold, AnalysisError};
use crate::pure::linalg::svd::{
    singular_values_first_reporting, MatrixWindow, SvdError, ValuesFirst,
};

/// The SVD results for one matrix.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SvdSummary {
    /// Number of rows (positions) of the analysed matrix.
    pub n_rows: usize,
    /// Number of columns (model dimensions) of the analysed matrix.
    pub n_cols: usize,
    /// All singular values in descending order; length `min(n_rows, n_cols)`.
    pub singular_values: Vec<f64>,
    /// Share of the total energy per singular value, `σ_i² / Σ σ_j²` (all zero for a zero matrix).
    pub energy_share: Vec<f64>,
    /// Running sum of `energy_share`.
    pub cumulative_energy: Vec<f64>,
    /// Number of singular values above `threshold_rel · σ_max`.
    pub rank_at_threshold: usize,
    /// The threshold used for `rank_at_threshold`.
    pub threshold_rel: f64,
    /// The first `k` left singular vectors as `[vector][position]`, with
    /// `k = min(k_vectors, min(n_rows, n_cols))`; each has its largest-magnitude entry positive.
    pub u_top_k: Vec<Vec<f64>>,
}

impl SvdSummary {
    /// The summary of an `n_rows × n_cols` matrix with these singular values (in descending
    /// order): their energies and the rank at `threshold_rel`, and no vectors yet.
    pub fn from_values(
        n_rows: usize,
        n_cols: usize,
        singular_values: Vec<f64>,
        threshold_rel: f64,
    ) -> Self {
        let energy_share = energy_shares(&singular_values);
        let cumulative_energy = cumulative_sum(&energy_share);
        SvdSummary {
            n_rows,
            n_cols,
            rank_at_threshold: approx_rank(&singular_values, threshold_rel),
            singular_values,
            energy_share,
            cumulative_energy,
            threshold_rel,
            u_top_k: Vec::new(),
        }
    }
}

/// Counts the singular values strictly above `threshold_rel · σ_max`, as the notebook's
/// `(S > 0.01 * S.max()).sum()`. The slice need not be sorted; NaNs are never counted.
pub fn approx_rank(singular_values: &[f64], threshold_rel: f64) -> usize {
    let sigma_max = singular_values
        .iter()
        .copied()
        .filter(|sigma| !sigma.is_nan())
        .fold(f64::NEG_INFINITY, f64::max);
    if !sigma_max.is_finite() {
        return 0;
    }
    let cutoff = threshold_rel * sigma_max;
    singular_values
        .iter()
        .filter(|&&sigma| sigma > cutoff)
        .count()
}

/// Returns each `σ_i² / Σ σ_j²`; all zeros when every singular value is zero.
pub fn energy_shares(singular_values: &[f64]) -> Vec<f64> {
    let total: f64 = singular_values.iter().map(|sigma| sigma * sigma).sum();
    if total > 0.0 && total.is_finite() {
        singular_values
            .iter()
            .map(|sigma| sigma * sigma / total)
            .collect()
    } else {
        vec![0.0; singular_values.len()]
    }
}

/// Returns the running sums of `values`.
pub fn cumulative_sum(values: &[f64]) -> Vec<f64> {
    values
        .iter()
        .scan(0.0_f64, |running, value| {
            *running += value;
            Some(*running)
        })
        .collect()
}

/// Computes the singular values, energies, approximate rank and leading left singular
/// vectors of one matrix (no pre-processing).
///
/// # Errors
/// Invalid `k_vectors` or `threshold_rel`, an empty or non-finite matrix, or an SVD that
/// does not converge.
pub fn svd_summary(
    m: &DMatrix<f64>,
    k_vectors: usize,
    threshold_rel: f64,
) -> Result<SvdSummary, AnalysisError> {
    validate_threshold(threshold_rel)?;
    validate_k(k_vectors)?;
    summarise(
        MatrixWindow::whole(m),
        k_vectors,
        threshold_rel,
        &mut |_values| {},
        &mut |_done_share| ControlFlow::Continue(()),
    )
}

/// The summary of one block: the singular values first (handed to `on_values` in a summary
/// without vectors), then the leading left singular vectors.
pub(super) fn summarise(
    window: MatrixWindow<'_>,
    k_vectors: usize,
    threshold_rel: f64,
    on_values: &mut dyn FnMut(&SvdSummary),
    on_progress: &mut dyn FnMut(f64) -> ControlFlow<()>,
) -> Result<SvdSummary, AnalysisError> {
    let values = singular_values_first_reporting(window, on_progress)?;
    summarise_values(
        window,
        values,
        k_vectors,
        threshold_rel,
        on_values,
        on_progress,
    )
}

/// As [`summarise`], once the values are computed.
pub(super) fn summarise_values(
    window: MatrixWindow<'_>,
    values: ValuesFirst<'_>,
    k_vectors: usize,
    threshold_rel: f64,
    on_values: &mut dyn FnMut(&SvdSummary),
    on_progress: &mut dyn FnMut(f64) -> ControlFlow<()>,
) -> Result<SvdSummary, AnalysisError> {
    let early = summary_of(&window, values.singular_values().to_vec(), threshold_rel);
    on_values(&early);
    if on_progress(1.0).is_break() {
        return Err(SvdError::Cancelled.into());
    }
    let top_k = values.into_top_k(k_vectors)?;
    let mut summary = if top_k.singular_values == early.singular_values {
        early
    } else {
        summary_of(&window, top_k.singular_values, threshold_rel)
    };
    summary.u_top_k = top_k
        .u_top_k
        .column_iter()
        .map(|column| column.iter().copied().collect())
        .collect();
    Ok(summary)
}

/// A summary with the values, energies and rank, and no vectors yet.
fn summary_of(
    window: &MatrixWindow<'_>,
    singular_values: Vec<f64>,
    threshold_rel: f64,
) -> SvdSummary {
    SvdSummary::from_values(
        window.n_rows(),
        window.n_cols(),
        singular_values,
        threshold_rel,
    )
}
