//! The SVD analysis of a positional embedding matrix `W_pos` (`n_positions × d_model`).
//!
//! The analysis mirrors the original notebook: compute every singular value, count the
//! singular values above 1% of the largest one (the "approximate rank"), keep the leading
//! left singular vectors (one value per position) for heatmaps, and then repeat all of it
//! after dropping the first few columns (`W_pos[:, 5:]`) or rows.
//!
//! Two optional pre-processing steps run before everything else, in this order:
//! 1. `skip_offset_rows` removes leading rows that are not positions (OPT and RoBERTa keep
//!    two padding rows before position 0; ViT keeps a CLS row);
//! 2. `center_rows` subtracts each row's mean over `d_model`, as TransformerLens does with
//!    `center_writing_weights=True`.
//!
//! Singular vectors are only defined up to sign. To make charts and tests reproducible,
//! every returned vector is flipped so that its largest-magnitude entry is positive (on a
//! tie, the first such entry decides).

use std::fmt;
use std::ops::ControlFlow;
use std::str::FromStr;

use nalgebra::DMatrix;

use crate::pure::linalg::svd::{
    add_leading_samples, export_gram_half, gram_buffer_bytes, gram_work_share, import_gram_half,
    singular_values_first_reporting, singular_values_from_gram, trailing_gram, GramHalf, GramSum,
    MatrixWindow, SvdError, ValuesFirst,
};
pub use crate::pure::linalg::svd::{fix_sign, thin_svd, thin_svd_jacobi, SvdMethod, ThinSvd};

/// The notebook's relative threshold for the approximate rank: 1% of the largest singular value.
pub const DEFAULT_THRESHOLD_REL: f64 = 0.01;
/// The notebook drops the first five columns for its second analysis.
pub const DEFAULT_DROP_COUNT: usize = 5;
/// Number of leading left singular vectors kept for the heatmaps.
pub const DEFAULT_K_VECTORS: usize = 50;

/// Everything that can go wrong in the analysis.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum AnalysisError {
    /// The matrix has no rows or no columns.
    #[error(
        "the matrix is empty ({n_rows} × {n_cols}); an SVD needs at least one row and one column, \
         so choose a non-empty tensor or skip fewer rows"
    )]
    EmptyMatrix {
        /// Number of rows of the empty matrix.
        n_rows: usize,
        /// Number of columns of the empty matrix.
        n_cols: usize,
    },
    /// Dropping this many rows or columns would leave nothing to analyse.
    #[error(
        "cannot drop the first {drop_count} {axis} of a matrix with only {dim} {axis}; \
         choose a drop count below {dim}"
    )]
    DropTooLarge {
        /// The axis being dropped from.
        axis: DropAxis,
        /// The number of leading rows or columns requested.
        drop_count: usize,
        /// The size of the matrix along that axis.
        dim: usize,
    },
    /// Skipping the offset rows would leave no positions.
    #[error(
        "cannot skip {skip_offset_rows} leading offset rows of a matrix with only {n_rows} rows; \
         turn off the offset skip or choose another tensor"
    )]
    SkipTooLarge {
        /// The number of leading rows to skip.
        skip_offset_rows: usize,
        /// The number of rows in the matrix.
        n_rows: usize,
    },
    /// The SVD iteration did not converge within its budget.
    #[error(
        "the SVD of the {n_rows} × {n_cols} matrix did not converge within {max_iterations} \
         iterations; the values may be extreme, so try another tensor or report the model name"
    )]
    SvdDidNotConverge {
        /// Number of rows of the matrix.
        n_rows: usize,
        /// Number of columns of the matrix.
        n_cols: usize,
        /// The iteration budget that was exhausted.
        max_iterations: usize,
    },
    /// The caller stopped the analysis (see [`analyse_part_values_first`]).
    #[error("the analysis was cancelled; press Analyse to start again")]
    Cancelled,
    /// The relative threshold is not strictly between 0 and 1.
    #[error(
        "the rank threshold {threshold_rel} is not strictly between 0 and 1; \
         use a fraction of the largest singular value such as 0.01"
    )]
    InvalidThreshold {
        /// The rejected threshold.
        threshold_rel: f64,
    },
    /// The number of singular vectors to keep is zero.
    #[error(
        "the number of singular vectors to show is {k_vectors}; choose at least 1 (the default is 50)"
    )]
    InvalidK {
        /// The rejected count.
        k_vectors: usize,
    },
    /// A value in the matrix is NaN or infinite.
    #[error(
        "the matrix contains a non-finite value at row {row}, column {col} (counting from 0); \
         an SVD needs finite numbers, so check the tensor"
    )]
    NonFinite {
        /// Row of the first non-finite value.
        row: usize,
        /// Column of the first non-finite value.
        col: usize,
    },
    /// A drop axis name could not be parsed.
    #[error("unknown drop axis `{value}`; use `cols` or `rows`")]
    InvalidDropAxis {
        /// The rejected text.
        value: String,
    },
}

/// Which leading slices to remove for the second analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DropAxis {
    /// Drop the first columns (model dimensions), as the notebook's `W_pos[:, 5:]`.
    #[default]
    Cols,
    /// Drop the first rows (positions), as `W_pos[5:, :]`.
    Rows,
}

impl DropAxis {
    /// Returns the share-link spelling: `"cols"` or `"rows"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DropAxis::Cols => "cols",
            DropAxis::Rows => "rows",
        }
    }
}

impl fmt::Display for DropAxis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self {
            DropAxis::Cols => "columns",
            DropAxis::Rows => "rows",
        };
        f.write_str(label)
    }
}

impl FromStr for DropAxis {
    type Err = AnalysisError;

    /// Parses `cols`/`columns`/`col` or `rows`/`row`, ignoring ASCII case and surrounding spaces.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "cols" | "col" | "columns" | "column" => Ok(DropAxis::Cols),
            "rows" | "row" => Ok(DropAxis::Rows),
            _ => Err(AnalysisError::InvalidDropAxis {
                value: text.to_owned(),
            }),
        }
    }
}

/// Settings of one analysis run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AnalysisOptions {
    /// Relative threshold for the approximate rank: count `σ > threshold_rel · σ_max`.
    pub threshold_rel: f64,
    /// Number of leading rows or columns to drop for the second analysis (0 = no second analysis).
    pub drop_count: usize,
    /// Whether `drop_count` applies to columns or rows.
    pub drop_axis: DropAxis,
    /// Subtract each row's mean over `d_model` before the SVD.
    pub center_rows: bool,
    /// Number of leading left singular vectors to return.
    pub k_vectors: usize,
    /// Number of leading rows removed before everything else (position offsets).
    pub skip_offset_rows: usize,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        Self {
            threshold_rel: DEFAULT_THRESHOLD_REL,
            drop_count: DEFAULT_DROP_COUNT,
            drop_axis: DropAxis::Cols,
            center_rows: false,
            k_vectors: DEFAULT_K_VECTORS,
            skip_offset_rows: 0,
        }
    }
}

impl AnalysisOptions {
    /// Checks the options that do not depend on the matrix shape.
    ///
    /// # Errors
    /// [`AnalysisError::InvalidThreshold`] unless `0 < threshold_rel < 1`, and
    /// [`AnalysisError::InvalidK`] when `k_vectors` is 0.
    pub fn validate(&self) -> Result<(), AnalysisError> {
        validate_threshold(self.threshold_rel)?;
        validate_k(self.k_vectors)
    }
}

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

/// Steps of [`analyse_with_progress`], reported before each one starts (and `Done` at the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AnalysisStage {
    /// Skipping offset rows, checking values, and centring when asked.
    Centering,
    /// The SVD of the whole matrix.
    SvdFull,
    /// The SVD after dropping leading rows or columns.
    SvdDropped,
    /// All work is finished.
    Done,
}

impl AnalysisStage {
    /// Returns a short human-readable description for a progress line.
    pub fn label(self) -> &'static str {
        match self {
            AnalysisStage::Centering => "Preparing the matrix",
            AnalysisStage::SvdFull => "Computing the SVD",
            AnalysisStage::SvdDropped => "Computing the SVD after dropping",
            AnalysisStage::Done => "Done",
        }
    }
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
        None => Err(AnalysisError::EmptyMatrix {
            n_rows: w_pos.nrows(),
            n_cols: w_pos.ncols(),
        }),
    }
}

/// One of the two independent halves of an analysis, which may run in parallel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnalysisPart {
    /// The SVD of the whole (pre-processed) matrix.
    Full,
    /// The SVD after dropping `drop_count` leading rows or columns.
    Dropped,
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
/// [`crate::pure::linalg::svd::singular_values_first_reporting`]), and once more (with 1) between the
/// values and the vectors; answering [`ControlFlow::Break`] stops the part there.
///
/// # Errors
/// As [`analyse_with_progress`], and [`AnalysisError::Cancelled`] when `on_progress` stopped
/// the part.
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

/// How the two parts of an analysis can share one Gram matrix, formed half by each of the
/// two workers that run them (see [`GramHalf`]).
///
/// The Gram route works on the Gram matrix of the smaller side. Dropping leading rows or
/// columns either removes leading rows and columns of that Gram matrix (dropping columns of a
/// tall matrix, or rows of a wide one), or removes samples from its sum (dropping rows of a
/// tall matrix, or columns of a wide one). Either way one Gram matrix serves both parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GramSharing {
    /// The shared Gram matrix is the full part's; the dropped part's is its trailing block
    /// without the first `count` rows and columns.
    TrailingBlock {
        /// Rows and columns of the Gram matrix the drop removes.
        count: usize,
    },
    /// The shared Gram matrix is the dropped part's; the full part's adds the outer products
    /// of the `count` dropped samples (a sum of positive terms, so nothing cancels).
    PlusLeadingSamples {
        /// Samples the drop removes.
        count: usize,
    },
}

/// How the parts of an analysis of an `n_rows × n_cols` matrix with `options` share a Gram
/// matrix, or `None` when they cannot: nothing is dropped, the rows are centred (each part
/// would centre its own copy), a setting is invalid, or the drop turns a tall matrix wide (or
/// a wide one tall).
fn gram_sharing(n_rows: usize, n_cols: usize, options: &AnalysisOptions) -> Option<GramSharing> {
    if options.drop_count == 0 || options.center_rows || options.validate().is_err() {
        return None;
    }
    let rows = n_rows.checked_sub(options.skip_offset_rows)?;
    let (dropped_rows, dropped_cols) = match options.drop_axis {
        DropAxis::Cols => (rows, n_cols.checked_sub(options.drop_count)?),
        DropAxis::Rows => (rows.checked_sub(options.drop_count)?, n_cols),
    };
    if rows == 0 || n_cols == 0 || dropped_rows == 0 || dropped_cols == 0 {
        return None;
    }
    let is_tall = rows >= n_cols;
    if is_tall != (dropped_rows >= dropped_cols) {
        return None;
    }
    let drops_gram_side = match options.drop_axis {
        DropAxis::Cols => is_tall,
        DropAxis::Rows => !is_tall,
    };
    let count = options.drop_count;
    Some(if drops_gram_side {
        GramSharing::TrailingBlock { count }
    } else {
        GramSharing::PlusLeadingSamples { count }
    })
}

/// The windows of both parts, as [`analyse_part_values_first`] reads them (the full part's,
/// the dropped part's), and how they share a Gram matrix; `None` when they cannot
/// ([`gram_sharing`]).
fn shared_windows<'a>(
    w_pos: &'a DMatrix<f64>,
    options: &AnalysisOptions,
) -> Option<(MatrixWindow<'a>, MatrixWindow<'a>, GramSharing)> {
    let sharing = gram_sharing(w_pos.nrows(), w_pos.ncols(), options)?;
    let full = MatrixWindow::whole(w_pos).without_leading_rows(options.skip_offset_rows)?;
    let dropped = drop_window(full, options.drop_axis, options.drop_count).ok()?;
    Some((full, dropped, sharing))
}

/// Whether the two parts of an analysis of an `n_rows × n_cols` matrix with `options` can
/// share one Gram matrix, each worker forming half of it ([`part_gram_half`], then
/// [`analyse_part_with_gram_halves`]).
pub fn parts_share_gram(n_rows: usize, n_cols: usize, options: &AnalysisOptions) -> bool {
    gram_sharing(n_rows, n_cols, options).is_some()
}

/// One part's half of the Gram matrix both parts share (see [`parts_share_gram`]).
pub struct PartGramHalf {
    /// The half this part formed: the first for the full part, the second for the dropped.
    half: GramHalf,
    /// The shared Gram matrix with only this half's columns formed (and the other half's
    /// once imported).
    gram: DMatrix<f64>,
    /// Whether the other half was written in ([`PartGramHalf::import`] or
    /// [`PartGramHalf::import_with`]).
    has_other_half: bool,
}

impl PartGramHalf {
    /// The values the other part needs from this half (see [`export_gram_half`]).
    pub fn exported(&self) -> Vec<f64> {
        export_gram_half(&self.gram, self.half)
    }

    /// The number of values in this half's export.
    pub fn exported_len(&self) -> usize {
        self.half.exported_len(self.gram.nrows())
    }

    /// Hands `write` this half's export, a column at a time, in order: each run with its
    /// offset in the export (what [`PartGramHalf::exported`] gives, without the copy).
    pub fn export_with(&self, mut write: impl FnMut(usize, &[f64])) {
        let mut offset = 0;
        for range in self.half.column_ranges(self.gram.nrows()) {
            if let Some(column) = self.gram.as_slice().get(range) {
                write(offset, column);
                offset += column.len();
            }
        }
    }

    /// Writes the other half in from the other part's export (see [`import_gram_half`]).
    /// Returns false, writing nothing, when its length does not fit this Gram matrix; the part
    /// is then computed alone.
    pub fn import(&mut self, values: &[f64]) -> bool {
        let imported = import_gram_half(&mut self.gram, self.half.other(), values);
        self.has_other_half |= imported;
        imported
    }

    /// Writes the other half in place from an export of `other_len` values: `read` fills
    /// each of the other half's columns in turn, given its offset in that export. Returns
    /// false, reading nothing, when `other_len` does not fit this Gram matrix; the part is
    /// then computed alone.
    pub fn import_with(
        &mut self,
        other_len: usize,
        mut read: impl FnMut(usize, &mut [f64]),
    ) -> bool {
        let side = self.gram.nrows();
        let other = self.half.other();
        if other_len != other.exported_len(side) {
            return false;
        }
        let mut offset = 0;
        for range in other.column_ranges(side) {
            if let Some(column) = self.gram.as_mut_slice().get_mut(range) {
                let len = column.len();
                read(offset, column);
                offset += len;
            }
        }
        self.has_other_half = true;
        true
    }
}

/// The first step of one part of an analysis whose parts share a Gram matrix: the same
/// validation as [`analyse_part_values_first`], then this part's half of the shared Gram
/// matrix (the full part forms the first half, the dropped part the second, at the same
/// time). `Ok(None)` when the parts cannot share one ([`parts_share_gram`]).
///
/// `on_stage` hears [`AnalysisStage::Centering`] and this part's SVD stage; `on_progress`
/// hears the share of the part's values done, up to the Gram matrix's share of them.
///
/// # Errors
/// As [`analyse_part_values_first`].
pub fn part_gram_half(
    w_pos: &DMatrix<f64>,
    options: &AnalysisOptions,
    part: AnalysisPart,
    on_stage: &mut dyn FnMut(AnalysisStage),
    on_progress: &mut dyn FnMut(f64) -> ControlFlow<()>,
) -> Result<Option<PartGramHalf>, AnalysisError> {
    complete_gram_half(w_pos, options, part, None, on_stage, on_progress)
}

/// [`part_gram_half`], continuing the sum `ahead` made over the leading rows while the
/// tensor downloaded ([`gram_half_ahead`]): only the rows it has not summed are added. The
/// result is exactly [`part_gram_half`]'s. A sum made for other options or another part is
/// ignored.
///
/// # Errors
/// As [`part_gram_half`].
pub fn complete_gram_half(
    w_pos: &DMatrix<f64>,
    options: &AnalysisOptions,
    part: AnalysisPart,
    ahead: Option<GramHalfAhead>,
    on_stage: &mut dyn FnMut(AnalysisStage),
    on_progress: &mut dyn FnMut(f64) -> ControlFlow<()>,
) -> Result<Option<PartGramHalf>, AnalysisError> {
    options.validate()?;
    MatrixWindow::whole(w_pos).check()?;
    let Some((full, dropped, sharing)) = shared_windows(w_pos, options) else {
        return Ok(None);
    };
    on_stage(AnalysisStage::Centering);
    let (shared, own) = shared_and_own(full, dropped, sharing);
    let (half, stage, part_window) = match part {
        AnalysisPart::Full => (GramHalf::First, AnalysisStage::SvdFull, own),
        AnalysisPart::Dropped => (GramHalf::Second, AnalysisStage::SvdDropped, dropped),
    };
    on_stage(stage);
    // The progress of the part's own values: its Gram matrix's share of them, half done here.
    let gram_share = gram_work_share(&part_window);
    let mut sum = ahead
        .filter(|ahead| ahead.half == half && ahead.options == *options)
        .map_or_else(|| GramSum::new(&shared, Some(half)), |ahead| ahead.sum);
    let summed = sum.add_available(&shared, shared.n_samples(), &mut |done| {
        on_progress(gram_share * done)
    });
    if summed.is_break() {
        return Err(AnalysisError::Cancelled);
    }
    Ok(Some(PartGramHalf {
        half,
        gram: sum.into_gram(),
        has_other_half: false,
    }))
}

/// The window whose Gram matrix both parts share, and the full part's own window.
fn shared_and_own<'a>(
    full: MatrixWindow<'a>,
    dropped: MatrixWindow<'a>,
    sharing: GramSharing,
) -> (MatrixWindow<'a>, MatrixWindow<'a>) {
    match sharing {
        GramSharing::TrailingBlock { .. } => (full, full),
        GramSharing::PlusLeadingSamples { .. } => (dropped, full),
    }
}

/// One part's half of the shared Gram matrix (see [`part_gram_half`]) summed ahead, a chunk of
/// rows at a time, over the leading rows of W_pos decoded while the rest of the tensor
/// downloads ([`GramHalfAhead::add_rows`]); [`complete_gram_half`] adds the rest.
#[derive(Debug, Clone)]
pub struct GramHalfAhead {
    /// The options the sum was made for.
    options: AnalysisOptions,
    /// The half this part forms.
    half: GramHalf,
    /// The sum so far.
    sum: GramSum,
}

/// An empty ahead sum of `part`'s half of the shared Gram matrix of an analysis of `w_pos`
/// (its shape is what counts; its rows may still be zero) with `options`. `None` when the
/// parts share no Gram matrix ([`parts_share_gram`]) or the shared window is wide: its samples
/// are then columns, and none is complete before the last row.
pub fn gram_half_ahead(
    w_pos: &DMatrix<f64>,
    options: &AnalysisOptions,
    part: AnalysisPart,
) -> Option<GramHalfAhead> {
    let (full, dropped, sharing) = shared_windows(w_pos, options)?;
    let (shared, _) = shared_and_own(full, dropped, sharing);
    if shared.n_rows() < shared.n_cols() {
        return None;
    }
    let half = match part {
        AnalysisPart::Full => GramHalf::First,
        AnalysisPart::Dropped => GramHalf::Second,
    };
    Some(GramHalfAhead {
        options: options.clone(),
        half,
        sum: GramSum::new(&shared, Some(half)),
    })
}

impl GramHalfAhead {
    /// Sums the chunks of rows that the first `rows_decoded` rows of `w_pos` (the matrix the
    /// sum was made for) complete.
    pub fn add_rows(&mut self, w_pos: &DMatrix<f64>, rows_decoded: usize) {
        let Some((full, dropped, sharing)) = shared_windows(w_pos, &self.options) else {
            return;
        };
        let (shared, _) = shared_and_own(full, dropped, sharing);
        // The shared window leaves out leading rows only.
        let first_row = w_pos.nrows().saturating_sub(shared.n_rows());
        let available = rows_decoded.saturating_sub(first_row);
        let _always_continues = self
            .sum
            .add_available(&shared, available, &mut |_| ControlFlow::Continue(()));
    }

    /// The number of the shared window's rows summed so far.
    pub fn rows_summed(&self) -> usize {
        self.sum.samples_done()
    }
}

/// The rest of one part of an analysis whose parts share a Gram matrix: this part's half
/// ([`part_gram_half`]), with the other part's half written in ([`PartGramHalf::import`] or
/// [`PartGramHalf::import_with`]), makes the shared Gram matrix, from which this part's own
/// is taken; then its values and vectors as [`analyse_part_values_first`] gives them.
///
/// Without the other half (its export did not fit) the part computes its analysis alone
/// ([`analyse_part_values_first`]); a Gram matrix whose eigenvalues do not match the part's
/// matrix falls back to nalgebra's SVD (see [`singular_values_from_gram`]).
///
/// # Errors
/// As [`analyse_part_values_first`].
pub fn analyse_part_with_gram_halves(
    w_pos: &DMatrix<f64>,
    options: &AnalysisOptions,
    part: AnalysisPart,
    own_half: PartGramHalf,
    on_values: &mut dyn FnMut(&SvdSummary),
    on_progress: &mut dyn FnMut(f64) -> ControlFlow<()>,
) -> Result<Option<SvdSummary>, AnalysisError> {
    options.validate()?;
    let PartGramHalf {
        mut gram,
        has_other_half,
        ..
    } = own_half;
    let shared = shared_windows(w_pos, options).filter(|_| has_other_half);
    let Some((full, dropped, sharing)) = shared else {
        // No usable other half: the part is computed alone.
        return analyse_part_values_first(
            w_pos,
            options,
            part,
            &mut |_| {},
            on_values,
            on_progress,
        );
    };
    let (window, gram) = match (part, sharing) {
        (AnalysisPart::Full, GramSharing::TrailingBlock { .. }) => (full, gram),
        (AnalysisPart::Full, GramSharing::PlusLeadingSamples { count }) => {
            add_leading_samples(&mut gram, &full, count);
            (full, gram)
        }
        (AnalysisPart::Dropped, GramSharing::TrailingBlock { count }) => {
            (dropped, trailing_gram(gram, count))
        }
        (AnalysisPart::Dropped, GramSharing::PlusLeadingSamples { .. }) => (dropped, gram),
    };
    let values = singular_values_from_gram(window, gram, on_progress)?;
    summarise_values(
        window,
        values,
        options.k_vectors,
        options.threshold_rel,
        on_values,
        on_progress,
    )
    .map(Some)
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
fn summarise(
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
fn summarise_values(
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
        return Err(AnalysisError::Cancelled);
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
fn drop_window(
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

/// Rejects thresholds outside the open interval (0, 1), including NaN.
fn validate_threshold(threshold_rel: f64) -> Result<(), AnalysisError> {
    if threshold_rel > 0.0 && threshold_rel < 1.0 {
        Ok(())
    } else {
        Err(AnalysisError::InvalidThreshold { threshold_rel })
    }
}

/// Rejects a request for zero singular vectors.
fn validate_k(k_vectors: usize) -> Result<(), AnalysisError> {
    if k_vectors >= 1 {
        Ok(())
    } else {
        Err(AnalysisError::InvalidK { k_vectors })
    }
}

impl From<SvdError> for AnalysisError {
    fn from(err: SvdError) -> Self {
        match err {
            SvdError::EmptyMatrix { n_rows, n_cols } => {
                AnalysisError::EmptyMatrix { n_rows, n_cols }
            }
            SvdError::NonFinite { row, col } => AnalysisError::NonFinite { row, col },
            SvdError::DidNotConverge {
                n_rows,
                n_cols,
                max_iterations,
            } => AnalysisError::SvdDidNotConverge {
                n_rows,
                n_cols,
                max_iterations,
            },
            SvdError::Cancelled => AnalysisError::Cancelled,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

    /// Drop axes and offset rows under which both parts share one Gram matrix.
    const SHARING_CASES: [(DropAxis, usize); 4] = [
        (DropAxis::Cols, 0),
        (DropAxis::Rows, 0),
        (DropAxis::Cols, 2),
        (DropAxis::Rows, 2),
    ];

    /// A full-rank test matrix with distinct singular values.
    fn test_matrix(n_rows: usize, n_cols: usize) -> DMatrix<f64> {
        DMatrix::from_fn(n_rows, n_cols, |r, c| {
            let (r, c) = (r as f64 + 1.0, c as f64 + 1.0);
            (r * c * 0.37).sin() + 0.02 * r - 0.01 * c * c.sqrt()
        })
    }

    /// Runs one part through the shared Gram matrix, with the other part's export as given.
    fn shared_part(
        w_pos: &DMatrix<f64>,
        options: &AnalysisOptions,
        part: AnalysisPart,
        other_export: Option<Vec<f64>>,
    ) -> SvdSummary {
        let go = &mut |_share: f64| ControlFlow::Continue(());
        let other_part = match part {
            AnalysisPart::Full => AnalysisPart::Dropped,
            AnalysisPart::Dropped => AnalysisPart::Full,
        };
        let mut own = part_gram_half(w_pos, options, part, &mut |_| {}, go)
            .unwrap()
            .unwrap();
        let other = other_export.unwrap_or_else(|| {
            part_gram_half(w_pos, options, other_part, &mut |_| {}, go)
                .unwrap()
                .unwrap()
                .exported()
        });
        own.import(&other);
        analyse_part_with_gram_halves(w_pos, options, part, own, &mut |_| {}, go)
            .unwrap()
            .unwrap()
    }

    fn assert_same_summary(shared: &SvdSummary, alone: &SvdSummary, label: &str) {
        assert_eq!(
            (shared.n_rows, shared.n_cols),
            (alone.n_rows, alone.n_cols),
            "{label}"
        );
        let sigma_max = alone.singular_values[0];
        for (a, b) in shared.singular_values.iter().zip(&alone.singular_values) {
            assert!((a - b).abs() <= 1e-11 * sigma_max, "{label}: {a} vs {b}");
        }
        assert_eq!(shared.u_top_k.len(), alone.u_top_k.len(), "{label}");
        for (a, b) in shared.u_top_k.iter().zip(&alone.u_top_k).take(4) {
            let cos: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            assert!(cos.abs() >= 1.0 - 1e-9, "{label}: cos {cos}");
        }
    }

    #[test]
    fn both_parts_share_one_gram_matrix_in_every_direction() {
        let go = &mut |_share: f64| ControlFlow::Continue(());
        for (n_rows, n_cols) in [(60, 24), (24, 60)] {
            let w_pos = test_matrix(n_rows, n_cols);
            for (axis, skip) in SHARING_CASES {
                let options = AnalysisOptions {
                    drop_axis: axis,
                    drop_count: 3,
                    skip_offset_rows: skip,
                    k_vectors: 6,
                    ..AnalysisOptions::default()
                };
                assert!(parts_share_gram(n_rows, n_cols, &options));
                for part in [AnalysisPart::Full, AnalysisPart::Dropped] {
                    let label = format!("{n_rows}×{n_cols} {axis:?} skip {skip} {part:?}");
                    let alone = analyse_part_values_first(
                        &w_pos,
                        &options,
                        part,
                        &mut |_| {},
                        &mut |_| {},
                        go,
                    )
                    .unwrap()
                    .unwrap();
                    let shared = shared_part(&w_pos, &options, part, None);
                    assert_same_summary(&shared, &alone, &label);
                    // An export of the wrong length: the part is computed alone.
                    let repaired = shared_part(&w_pos, &options, part, Some(vec![0.5; 7]));
                    assert_same_summary(&repaired, &alone, &format!("{label}, bad export"));
                }
            }
        }
    }

    #[test]
    fn gram_halves_summed_while_rows_arrive_are_exactly_the_halves() {
        let go = &mut |_share: f64| ControlFlow::Continue(());
        // Tall enough for several chunks of rows, with a short last chunk.
        let w_pos = test_matrix(700, 20);
        for (axis, skip) in SHARING_CASES {
            let options = AnalysisOptions {
                drop_axis: axis,
                k_vectors: 4,
                skip_offset_rows: skip,
                ..AnalysisOptions::default()
            };
            for part in [AnalysisPart::Full, AnalysisPart::Dropped] {
                let label = format!("{axis:?} skip {skip} {part:?}");
                let expected = part_gram_half(&w_pos, &options, part, &mut |_| {}, go)
                    .unwrap()
                    .unwrap();
                // The rows arrive in uneven steps into a matrix that starts at zero.
                let mut arriving = DMatrix::<f64>::zeros(700, 20);
                let mut ahead = gram_half_ahead(&arriving, &options, part).unwrap();
                let mut rows_decoded = 0;
                let mut summed_before_the_end = 0;
                while rows_decoded < 700 {
                    let next = (rows_decoded + 97).min(700);
                    for row in rows_decoded..next {
                        arriving.set_row(row, &w_pos.row(row));
                    }
                    rows_decoded = next;
                    if rows_decoded < 700 {
                        ahead.add_rows(&arriving, rows_decoded);
                        summed_before_the_end = ahead.rows_summed();
                        assert!(summed_before_the_end <= rows_decoded, "{label}");
                    }
                }
                assert!(
                    summed_before_the_end >= 256,
                    "{label}: {summed_before_the_end}"
                );
                let completed =
                    complete_gram_half(&arriving, &options, part, Some(ahead), &mut |_| {}, go)
                        .unwrap()
                        .unwrap();
                assert_eq!(completed.exported(), expected.exported(), "{label}");
            }
        }
        // An ahead sum for other options is set aside.
        let options = AnalysisOptions::default();
        let other = AnalysisOptions {
            drop_count: 7,
            ..AnalysisOptions::default()
        };
        let mut stale = gram_half_ahead(&w_pos, &other, AnalysisPart::Full).unwrap();
        stale.add_rows(&w_pos, 700);
        let completed = complete_gram_half(
            &w_pos,
            &options,
            AnalysisPart::Full,
            Some(stale),
            &mut |_| {},
            go,
        )
        .unwrap()
        .unwrap();
        let expected = part_gram_half(&w_pos, &options, AnalysisPart::Full, &mut |_| {}, go)
            .unwrap()
            .unwrap();
        assert_eq!(completed.exported(), expected.exported());
        // A wide shared window sums columns: nothing can be summed before the last row.
        assert!(gram_half_ahead(&test_matrix(20, 700), &options, AnalysisPart::Full).is_none());
        // Parts that share no Gram matrix have no ahead sum.
        let alone = AnalysisOptions {
            drop_count: 0,
            ..AnalysisOptions::default()
        };
        assert!(gram_half_ahead(&w_pos, &alone, AnalysisPart::Full).is_none());
    }

    #[test]
    fn halves_move_in_place_as_the_workers_move_them() {
        let go = &mut |_share: f64| ControlFlow::Continue(());
        let w_pos = test_matrix(50, 21);
        let options = AnalysisOptions {
            k_vectors: 5,
            ..AnalysisOptions::default()
        };
        let mut half = |part| {
            part_gram_half(&w_pos, &options, part, &mut |_| {}, go)
                .unwrap()
                .unwrap()
        };
        let mut full = half(AnalysisPart::Full);
        let dropped = half(AnalysisPart::Dropped);
        // The export a run at a time into a buffer, then the import a column at a time.
        let mut message = vec![f64::NAN; dropped.exported_len()];
        dropped.export_with(|offset, column| {
            message[offset..offset + column.len()].copy_from_slice(column);
        });
        assert_eq!(message, dropped.exported());
        let mut reads = 0;
        assert!(!full.import_with(message.len() + 1, |_, _| reads += 1));
        assert_eq!(reads, 0, "nothing is read");
        assert!(full.import_with(message.len(), |offset, column| {
            let len = column.len();
            column.copy_from_slice(&message[offset..offset + len]);
        }));
        let shared = analyse_part_with_gram_halves(
            &w_pos,
            &options,
            AnalysisPart::Full,
            full,
            &mut |_| {},
            go,
        )
        .unwrap()
        .unwrap();
        let alone = analyse_part_values_first(
            &w_pos,
            &options,
            AnalysisPart::Full,
            &mut |_| {},
            &mut |_| {},
            go,
        )
        .unwrap()
        .unwrap();
        assert_same_summary(&shared, &alone, "in place");
    }

    #[test]
    fn parts_share_a_gram_matrix_only_when_one_serves_both() {
        let tall = test_matrix(40, 30);
        let share = |w: &DMatrix<f64>, options: AnalysisOptions| {
            parts_share_gram(w.nrows(), w.ncols(), &options)
        };
        let base = AnalysisOptions::default();
        assert!(share(&tall, base.clone()));
        // Nothing dropped, rows centred, a bad setting, or nothing left after the drop.
        let cannot = [
            AnalysisOptions {
                drop_count: 0,
                ..base.clone()
            },
            AnalysisOptions {
                center_rows: true,
                ..base.clone()
            },
            AnalysisOptions {
                k_vectors: 0,
                ..base.clone()
            },
            AnalysisOptions {
                drop_count: 30,
                ..base.clone()
            },
        ];
        for options in cannot {
            assert!(!share(&tall, options.clone()), "{options:?}");
        }
        let rows = |count| AnalysisOptions {
            drop_axis: DropAxis::Rows,
            drop_count: count,
            ..base.clone()
        };
        assert!(share(&tall, rows(10)));
        assert!(!share(&tall, rows(11)), "29 × 30 is wide");
        // A part that cannot share answers `None` and is computed alone.
        let go = &mut |_share: f64| ControlFlow::Continue(());
        let half = part_gram_half(&tall, &rows(11), AnalysisPart::Full, &mut |_| {}, go).unwrap();
        assert!(half.is_none());
    }

    #[test]
    fn a_part_stops_between_its_values_and_its_vectors() {
        let w = DMatrix::from_fn(120, 80, |r, c| {
            ((r * 7 + c * 13) % 17) as f64 - 8.0 + r as f64 * 0.01
        });
        let options = AnalysisOptions::default();
        let values_seen = std::cell::Cell::new(false);
        let outcome = analyse_part_values_first(
            &w,
            &options,
            AnalysisPart::Full,
            &mut |_stage| {},
            &mut |_summary| values_seen.set(true),
            &mut |share| {
                if share >= 1.0 && values_seen.get() {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        );
        assert!(values_seen.get());
        assert_eq!(outcome, Err(AnalysisError::Cancelled));
        assert!(AnalysisError::Cancelled.to_string().contains("cancelled"));
    }

    #[test]
    fn values_progress_lines_estimate_only_long_runs() {
        assert_eq!(
            values_progress_label(AnalysisPart::Full, 0.25, 400.0),
            "Full matrix: singular values 25%"
        );
        assert_eq!(
            values_progress_label(AnalysisPart::Dropped, 0.4, 2000.0),
            "After dropping: singular values 40%, about 3 s left"
        );
        assert_eq!(
            values_progress_label(AnalysisPart::Full, 0.0, 5000.0),
            "Full matrix: singular values 0%"
        );
    }

    #[test]
    fn diagonal_matrix_has_sorted_values_and_rank() {
        let m = DMatrix::from_row_slice(3, 3, &[1.0, 0.0, 0.0, 0.0, -5.0, 0.0, 0.0, 0.0, 0.001]);
        let summary = svd_summary(&m, 10, 0.01).unwrap();
        assert!((summary.singular_values[0] - 5.0).abs() < 1e-12);
        assert!((summary.singular_values[1] - 1.0).abs() < 1e-12);
        assert!((summary.singular_values[2] - 0.001).abs() < 1e-12);
        assert_eq!(summary.rank_at_threshold, 2);
        assert_eq!(summary.u_top_k.len(), 3);
        // The vector for σ = 5 is e_2 with a positive sign after the convention.
        assert!((summary.u_top_k[0][1] - 1.0).abs() < 1e-12);
        assert!((summary.cumulative_energy[2] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn options_are_validated() {
        let m = DMatrix::from_element(4, 3, 1.0);
        for threshold_rel in [0.0, 1.0, -0.5, f64::NAN] {
            let options = AnalysisOptions {
                threshold_rel,
                ..AnalysisOptions::default()
            };
            assert!(matches!(
                analyse(&m, &options),
                Err(AnalysisError::InvalidThreshold { .. })
            ));
        }
        let options = AnalysisOptions {
            k_vectors: 0,
            ..AnalysisOptions::default()
        };
        assert!(matches!(
            analyse(&m, &options),
            Err(AnalysisError::InvalidK { .. })
        ));
        let options = AnalysisOptions {
            drop_count: 3,
            ..AnalysisOptions::default()
        };
        assert!(matches!(
            analyse(&m, &options),
            Err(AnalysisError::DropTooLarge { dim: 3, .. })
        ));
        let options = AnalysisOptions {
            skip_offset_rows: 4,
            drop_count: 0,
            ..AnalysisOptions::default()
        };
        assert!(matches!(
            analyse(&m, &options),
            Err(AnalysisError::SkipTooLarge { .. })
        ));
        let empty = DMatrix::<f64>::zeros(0, 3);
        assert!(matches!(
            analyse(&empty, &AnalysisOptions::default()),
            Err(AnalysisError::EmptyMatrix { .. })
        ));
    }

    #[test]
    fn progress_stages_are_reported_in_order() {
        let m = DMatrix::from_fn(12, 8, |r, c| ((r * 7 + c * 3) % 5) as f64 - 2.0);
        let mut stages = Vec::new();
        let options = AnalysisOptions {
            center_rows: true,
            skip_offset_rows: 2,
            ..AnalysisOptions::default()
        };
        let analysis = analyse_with_progress(&m, &options, &mut |s| stages.push(s)).unwrap();
        assert_eq!(
            stages,
            vec![
                AnalysisStage::Centering,
                AnalysisStage::SvdFull,
                AnalysisStage::SvdDropped,
                AnalysisStage::Done
            ]
        );
        assert_eq!((analysis.full.n_rows, analysis.full.n_cols), (10, 8));
        let dropped = analysis.dropped.unwrap();
        assert_eq!((dropped.n_rows, dropped.n_cols), (10, 3));
    }

    #[test]
    fn parts_assembled_equal_the_whole_analysis() {
        let m = DMatrix::from_fn(14, 9, |r, c| {
            ((r * 5 + c * 11) % 7) as f64 - 3.0 + 0.1 * c as f64
        });
        let variants = [
            AnalysisOptions::default(),
            AnalysisOptions {
                drop_count: 0,
                ..AnalysisOptions::default()
            },
            AnalysisOptions {
                drop_axis: DropAxis::Rows,
                center_rows: true,
                skip_offset_rows: 2,
                k_vectors: 3,
                ..AnalysisOptions::default()
            },
        ];
        for options in variants {
            let whole = analyse(&m, &options).unwrap();
            let full = analyse_part(&m, &options, AnalysisPart::Full, &mut |_| {})
                .unwrap()
                .unwrap();
            let dropped = analyse_part(&m, &options, AnalysisPart::Dropped, &mut |_| {}).unwrap();
            assert_eq!(dropped.is_none(), options.drop_count == 0);
            assert_eq!(assemble(&options, full, dropped), whole);
        }
        let too_many = AnalysisOptions {
            drop_count: 9,
            ..AnalysisOptions::default()
        };
        for part in [AnalysisPart::Full, AnalysisPart::Dropped] {
            assert!(matches!(
                analyse_part(&m, &too_many, part, &mut |_| {}),
                Err(AnalysisError::DropTooLarge { .. })
            ));
        }
    }

    #[test]
    fn centring_makes_row_sums_zero() {
        let m = DMatrix::from_fn(5, 4, |r, c| (r * r + 3 * c) as f64);
        let centred = center_rows(&m);
        for row in centred.row_iter() {
            assert!(row.sum().abs() < 1e-12);
        }
    }

    #[test]
    fn drop_axis_round_trips_through_text() {
        for axis in [DropAxis::Cols, DropAxis::Rows] {
            assert_eq!(axis.as_str().parse::<DropAxis>().unwrap(), axis);
        }
        assert!("diagonal".parse::<DropAxis>().is_err());
    }

    #[test]
    fn part_memory_names_the_bytes_the_matrix_and_the_gram_matrix() {
        // GPT-2's W_pos in F32: 3 MiB of bytes, 6 MiB as f64, the 768² Gram matrix.
        let bytes = 1024 * 768 * 4;
        let memory = PartMemory::of_part(1024, 768, bytes, false);
        assert_eq!(memory.tensor_bytes, bytes);
        assert_eq!(memory.matrix_bytes, 8 * 1024 * 768);
        assert_eq!(memory.gram_bytes, 8 * 768 * 768);
        assert_eq!(memory.panel_bytes, 8 * 256 * 768);
        assert_eq!(
            memory.total_bytes(),
            bytes + 8 * 1024 * 768 + 8 * 768 * 768 + 8 * 256 * 768
        );
        // A wide matrix's Gram matrix is on its rows.
        assert_eq!(PartMemory::of_part(768, 1024, bytes, false), memory);
        // Centring copies the matrix before the Gram matrix: only the first two are known.
        let centred = PartMemory::of_part(1024, 768, bytes, true);
        assert_eq!((centred.gram_bytes, centred.panel_bytes), (0, 0));
        // Absurd shapes saturate instead of overflowing.
        let absurd = PartMemory::of_part(usize::MAX, usize::MAX, u64::MAX, false);
        assert_eq!(absurd.total_bytes(), u64::MAX);
    }
}
