//! The analysis of `W_pos` and its two parts: the pre-processing every part repeats (offset
//! rows, centring, the drop), each part's SVD ([`analyse_part_values_first`]), the parts run
//! one after the other ([`analyse`]) and put together ([`assemble`]), the progress line of a
//! part, and the memory a part allocates first ([`PartMemory`]).

use std::ops::ControlFlow;

use nalgebra::DMatrix;

use super::options::{AnalysisError, AnalysisOptions, AnalysisPart, AnalysisStage, DropAxis};
use super::summary::{summarise, SvdSummary};
use crate::pure::linalg::svd::{gram_buffer_bytes, MatrixWindow, SvdError};

/// The complete result: the analysis of the (pre-processed) matrix and, optionally, of the
/// same matrix with its leading rows or columns dropped.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Analysis {
    /// The options that produced this result.
    pub options: AnalysisOptions,
    /// The analysis of the matrix after offset skipping and optional centring.
    pub full: SvdSummary,
    /// The analysis after dropping `drop_count` leading rows or columns; `None` when
    /// `drop_count` is 0.
    pub dropped: Option<SvdSummary>,
}

/// Time after which a progress line estimates the time left, in milliseconds (shorter runs
/// are over before an estimate would help, and their first shares are too noisy).
const ESTIMATE_AFTER_MS: f64 = 1000.0;

/// The progress line of a part while its singular values are computed: the share done and,
/// once the run has lasted a second, the time left at the pace so far. For example
/// "Full matrix: singular values 40%, about 3 s left".
pub fn values_progress_label(part: AnalysisPart, done_share: f64, elapsed_ms: f64) -> String {
    let part_label = match part {
        AnalysisPart::Full => "Full matrix",
        AnalysisPart::Dropped => "After dropping",
    };
    let done_share = done_share.clamp(0.0, 1.0);
    let percent = (done_share * 100.0).floor();
    if elapsed_ms >= ESTIMATE_AFTER_MS && done_share >= 0.01 {
        let left_s = (elapsed_ms * (1.0 - done_share) / done_share / 1000.0).ceil();
        format!("{part_label}: singular values {percent:.0}%, about {left_s:.0} s left")
    } else {
        format!("{part_label}: singular values {percent:.0}%")
    }
}

/// Runs the whole analysis with default progress reporting switched off.
///
/// # Errors
/// See [`analyse_with_progress`].
pub fn analyse(w_pos: &DMatrix<f64>, options: &AnalysisOptions) -> Result<Analysis, AnalysisError> {
    analyse_with_progress(w_pos, options, &mut |_stage| {})
}

/// Runs the whole analysis, calling `on_stage` before each step and once with
/// [`AnalysisStage::Done`] at the end, so that a worker can report progress.
///
/// It is [`analyse_part`] for [`AnalysisPart::Full`], then for [`AnalysisPart::Dropped`],
/// put together by [`assemble`]; parallel callers run the two parts separately.
///
/// # Errors
/// Invalid options ([`AnalysisError::InvalidThreshold`], [`AnalysisError::InvalidK`]),
/// an empty or non-finite matrix, offset or drop counts that leave nothing, or an SVD that
/// does not converge.
pub fn analyse_with_progress(
    w_pos: &DMatrix<f64>,
    options: &AnalysisOptions,
    on_stage: &mut dyn FnMut(AnalysisStage),
) -> Result<Analysis, AnalysisError> {
    let full = analyse_part(w_pos, options, AnalysisPart::Full, on_stage)?;
    let dropped = analyse_part(w_pos, options, AnalysisPart::Dropped, &mut |stage| {
        // The pre-processing stage was already reported by the full part.
        if stage != AnalysisStage::Centering {
            on_stage(stage);
        }
    })?;
    on_stage(AnalysisStage::Done);
    match full {
        Some(full) => Ok(assemble(options, full, dropped)),
        // The full part always yields a summary; this arm only keeps the code panic-free.
        None => Err(SvdError::EmptyMatrix {
            n_rows: w_pos.nrows(),
            n_cols: w_pos.ncols(),
        }
        .into()),
    }
}

/// Computes one part of the analysis: the same validation and pre-processing as
/// [`analyse_with_progress`], then only that part's SVD.
///
/// `on_stage` hears [`AnalysisStage::Centering`] and then [`AnalysisStage::SvdFull`] or
/// [`AnalysisStage::SvdDropped`]; never [`AnalysisStage::Done`], which belongs to the whole.
/// Every part validates everything (including the drop count), so a bad setting fails the
/// same way whichever part runs.
///
/// # Errors
/// As [`analyse_with_progress`].
///
/// # Returns
/// `Some` summary, except `None` for [`AnalysisPart::Dropped`] when `drop_count` is 0.
pub fn analyse_part(
    w_pos: &DMatrix<f64>,
    options: &AnalysisOptions,
    part: AnalysisPart,
    on_stage: &mut dyn FnMut(AnalysisStage),
) -> Result<Option<SvdSummary>, AnalysisError> {
    analyse_part_values_first(
        w_pos,
        options,
        part,
        on_stage,
        &mut |_values| {},
        &mut |_done_share| ControlFlow::Continue(()),
    )
}

/// [`analyse_part`], also handing `on_values` the part's summary without vectors (its
/// `u_top_k` is empty) as soon as the singular values are known, before the vectors are
/// computed. The returned summary is complete; its values are the ones reported early,
/// unless verifying the vectors forced another method. `on_progress` hears the share of the
/// values' work done so far, from 0 to 1 (see
/// [`crate::pure::linalg::svd::singular_values_first_reporting`]), and once more (with 1)
/// between the values and the vectors; answering [`ControlFlow::Break`] stops the part there.
///
/// # Errors
/// As [`analyse_with_progress`], and [`SvdError::Cancelled`] (as [`AnalysisError::Svd`]) when
/// `on_progress` stopped the part.
pub fn analyse_part_values_first(
    w_pos: &DMatrix<f64>,
    options: &AnalysisOptions,
    part: AnalysisPart,
    on_stage: &mut dyn FnMut(AnalysisStage),
    on_values: &mut dyn FnMut(&SvdSummary),
    on_progress: &mut dyn FnMut(f64) -> ControlFlow<()>,
) -> Result<Option<SvdSummary>, AnalysisError> {
    options.validate()?;
    MatrixWindow::whole(w_pos).check()?;

    on_stage(AnalysisStage::Centering);
    let n_rows_in = w_pos.nrows();
    // The offset rows and the dropped rows or columns are skipped in place: no copy of the
    // matrix is made unless it is centred.
    let skipped = MatrixWindow::whole(w_pos)
        .without_leading_rows(options.skip_offset_rows)
        .ok_or(AnalysisError::SkipTooLarge {
            skip_offset_rows: options.skip_offset_rows,
            n_rows: n_rows_in,
        })?;
    let centred = options
        .center_rows
        .then(|| center_rows_in_place(skipped.to_matrix()));
    let prepared = centred.as_ref().map_or(skipped, MatrixWindow::whole);

    // Validate the drop before the expensive SVD so that a bad setting fails fast, in
    // either part.
    let dropped = if options.drop_count > 0 {
        Some(drop_window(
            prepared,
            options.drop_axis,
            options.drop_count,
        )?)
    } else {
        None
    };

    let k_vectors = options.k_vectors;
    let threshold_rel = options.threshold_rel;
    match (part, dropped) {
        (AnalysisPart::Full, _) => {
            on_stage(AnalysisStage::SvdFull);
            summarise(prepared, k_vectors, threshold_rel, on_values, on_progress).map(Some)
        }
        (AnalysisPart::Dropped, None) => Ok(None),
        (AnalysisPart::Dropped, Some(window)) => {
            on_stage(AnalysisStage::SvdDropped);
            summarise(window, k_vectors, threshold_rel, on_values, on_progress).map(Some)
        }
    }
}

/// Puts the two parts computed by [`analyse_part`] together into the complete result.
pub fn assemble(
    options: &AnalysisOptions,
    full: SvdSummary,
    dropped: Option<SvdSummary>,
) -> Analysis {
    Analysis {
        options: options.clone(),
        full,
        dropped,
    }
}

/// Subtracts each row's mean over its columns (`d_model`), like TransformerLens's
/// `center_writing_weights`. A matrix without columns is returned unchanged.
pub fn center_rows(m: &DMatrix<f64>) -> DMatrix<f64> {
    center_rows_in_place(m.clone())
}

/// [`center_rows`] on a matrix the caller gives up.
fn center_rows_in_place(mut m: DMatrix<f64>) -> DMatrix<f64> {
    let n_cols = m.ncols();
    if n_cols == 0 {
        return m;
    }
    // Converting a column count to f64 is exact for every realistic size.
    let n_cols_f64 = n_cols as f64;
    let row_means = m.column_sum() / n_cols_f64;
    for mut column in m.column_iter_mut() {
        column -= &row_means;
    }
    m
}

/// Returns `m` without its first `count` rows or columns.
///
/// # Errors
/// [`AnalysisError::DropTooLarge`] when `count` is not smaller than the size along `axis`
/// (at least one row or column must remain).
pub fn drop_leading(
    m: &DMatrix<f64>,
    axis: DropAxis,
    count: usize,
) -> Result<DMatrix<f64>, AnalysisError> {
    drop_window(MatrixWindow::whole(m), axis, count).map(|window| window.to_matrix())
}

/// Returns `window` without its first `count` rows or columns, without copying.
///
/// # Errors
/// [`AnalysisError::DropTooLarge`] when none would remain.
pub(super) fn drop_window(
    window: MatrixWindow<'_>,
    axis: DropAxis,
    count: usize,
) -> Result<MatrixWindow<'_>, AnalysisError> {
    let (remaining, dim) = match axis {
        DropAxis::Cols => (window.without_leading_cols(count), window.n_cols()),
        DropAxis::Rows => (window.without_leading_rows(count), window.n_rows()),
    };
    remaining.ok_or(AnalysisError::DropTooLarge {
        axis,
        drop_count: count,
        dim,
    })
}

/// The first large blocks one part of the analysis allocates, in bytes, in the order it
/// allocates them: the tensor bytes, the decoded matrix in f64, then, with the bytes freed,
/// the Gram matrix of the smaller side and its packed panels (none of these when the rows are
/// centred first, which copies the matrix in between).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartMemory {
    /// The tensor bytes, copied into the worker (freed once decoded).
    pub tensor_bytes: u64,
    /// The decoded `n_rows × n_cols` matrix in f64.
    pub matrix_bytes: u64,
    /// The Gram matrix of the smaller side (0 when the rows are centred).
    pub gram_bytes: u64,
    /// The samples packed for the Gram matrix, 256 at a time (0 when the rows are centred).
    pub panel_bytes: u64,
}

impl PartMemory {
    /// The first blocks of one part of the analysis of an `n_rows × n_cols` tensor stored as
    /// `tensor_bytes` bytes. A worker that knows them ahead of the job can allocate the same
    /// blocks in the same order while the tensor downloads: the job's own blocks then land on
    /// memory already mapped, at the same addresses, and the memory grows no further.
    pub fn of_part(n_rows: usize, n_cols: usize, tensor_bytes: u64, center_rows: bool) -> Self {
        let (rows, cols) = (n_rows as u64, n_cols as u64);
        let side = rows.min(cols);
        let f64_bytes = 8_u64;
        let (gram_bytes, panel_bytes) = if center_rows {
            (0, 0)
        } else {
            gram_buffer_bytes(side)
        };
        Self {
            tensor_bytes,
            matrix_bytes: f64_bytes.saturating_mul(rows).saturating_mul(cols),
            gram_bytes,
            panel_bytes,
        }
    }

    /// All the blocks together, in bytes.
    pub fn total_bytes(&self) -> u64 {
        self.tensor_bytes
            .saturating_add(self.matrix_bytes)
            .saturating_add(self.gram_bytes)
            .saturating_add(self.panel_bytes)
    }
}
