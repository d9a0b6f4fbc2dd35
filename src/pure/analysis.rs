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
use std::str::FromStr;

use nalgebra::linalg::SVD;
use nalgebra::DMatrix;

/// The notebook's relative threshold for the approximate rank: 1% of the largest singular value.
pub const DEFAULT_THRESHOLD_REL: f64 = 0.01;
/// The notebook drops the first five columns for its second analysis.
pub const DEFAULT_DROP_COUNT: usize = 5;
/// Number of leading left singular vectors kept for the heatmaps.
pub const DEFAULT_K_VECTORS: usize = 50;

/// Tolerance (times machine epsilon) below which nalgebra treats a bidiagonal entry as zero.
const SVD_EPS_FACTOR: f64 = 5.0;
/// Fixed part of the iteration budget for the implicit-shift QR sweeps.
const SVD_BASE_ITERATIONS: usize = 1_000;
/// Iterations allowed per singular value on top of the fixed budget; convergence usually
/// takes two or three, so this is a generous limit that still stops a runaway loop.
const SVD_ITERATIONS_PER_VALUE: usize = 100;
/// Looser nalgebra tolerance for the second attempt; values this small relative to the
/// largest entry are far below anything the analysis reports.
const SVD_LOOSE_EPS: f64 = 1e-12;
/// Relative tolerance (of `‖m‖²_F`) when verifying an SVD result.
const SVD_CHECK_TOLERANCE: f64 = 1e-9;
/// Convergence threshold of the Jacobi fallback: columns count as orthogonal when
/// `|cos angle|` is below this.
const JACOBI_TOLERANCE: f64 = 1e-13;
/// Share of `‖m‖²_F` below which a Jacobi column counts as zero (a norm ratio of 1e-14).
const JACOBI_NEGLIGIBLE_ENERGY: f64 = 1e-28;
/// Maximum number of Jacobi sweeps; quadratic convergence needs far fewer.
const JACOBI_MAX_SWEEPS: usize = 60;

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

/// The left half of a thin SVD: `m = u · diag(singular_values) · v_t` for some `v_t` with
/// orthonormal rows. Sorted by descending singular value, with deterministic column signs.
#[derive(Debug, Clone, PartialEq)]
pub struct ThinSvd {
    /// Left singular vectors as columns, `n_rows × min(n_rows, n_cols)`.
    pub u: DMatrix<f64>,
    /// Singular values in descending order, length `min(n_rows, n_cols)`.
    pub singular_values: Vec<f64>,
    /// Which algorithm produced the verified result.
    pub method: SvdMethod,
}

/// The algorithm that produced a [`ThinSvd`].
///
/// nalgebra's implicit-shift SVD is fast but, in some releases, returns wrong singular
/// values for certain inputs (often rank-deficient ones, such as centred matrices). Every
/// result is therefore verified, and the next method is tried when the check fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SvdMethod {
    /// nalgebra's SVD with its default tolerance.
    Nalgebra,
    /// nalgebra's SVD with a looser tolerance for negligible values.
    NalgebraLooseTolerance,
    /// nalgebra's SVD of the transpose, taking its right singular vectors.
    NalgebraTransposed,
    /// One-sided Jacobi rotations: slower but reliably accurate.
    Jacobi,
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
    options.validate()?;
    check_non_empty(w_pos)?;
    check_finite(w_pos)?;

    on_stage(AnalysisStage::Centering);
    let (n_rows_in, _) = w_pos.shape();
    if options.skip_offset_rows >= n_rows_in {
        return Err(AnalysisError::SkipTooLarge {
            skip_offset_rows: options.skip_offset_rows,
            n_rows: n_rows_in,
        });
    }
    let skipped = if options.skip_offset_rows == 0 {
        w_pos.clone()
    } else {
        w_pos
            .rows(
                options.skip_offset_rows,
                n_rows_in - options.skip_offset_rows,
            )
            .into_owned()
    };
    let prepared = if options.center_rows {
        center_rows(&skipped)
    } else {
        skipped
    };

    // Validate the drop before the expensive SVD so that a bad setting fails fast, in
    // either part; only the dropped part needs the reduced copy itself.
    if options.drop_count > 0 {
        check_drop(&prepared, options.drop_axis, options.drop_count)?;
    }

    match part {
        AnalysisPart::Full => {
            on_stage(AnalysisStage::SvdFull);
            svd_summary(&prepared, options.k_vectors, options.threshold_rel).map(Some)
        }
        AnalysisPart::Dropped if options.drop_count == 0 => Ok(None),
        AnalysisPart::Dropped => {
            let matrix = drop_leading(&prepared, options.drop_axis, options.drop_count)?;
            on_stage(AnalysisStage::SvdDropped);
            svd_summary(&matrix, options.k_vectors, options.threshold_rel).map(Some)
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
    let (n_rows, n_cols) = m.shape();
    let svd = thin_svd(m)?;
    let k = k_vectors.min(svd.u.ncols());
    let u_top_k: Vec<Vec<f64>> = svd
        .u
        .column_iter()
        .take(k)
        .map(|column| column.iter().copied().collect())
        .collect();
    let energy_share = energy_shares(&svd.singular_values);
    let cumulative_energy = cumulative_sum(&energy_share);
    Ok(SvdSummary {
        n_rows,
        n_cols,
        rank_at_threshold: approx_rank(&svd.singular_values, threshold_rel),
        singular_values: svd.singular_values,
        energy_share,
        cumulative_energy,
        threshold_rel,
        u_top_k,
    })
}

/// Computes the left singular vectors and singular values of `m`, sorted by descending
/// singular value, with the sign of each vector fixed (largest-magnitude entry positive).
///
/// The result is verified: with `b = uᵀ · m`, the rows of `b` must be orthogonal with
/// squared norms `σ²`, and `Σ σ²` must equal `‖m‖²_F`. nalgebra is tried first (with two
/// tolerances, then on the transpose); one-sided Jacobi rotations are the final fallback.
///
/// # Errors
/// [`AnalysisError::EmptyMatrix`], [`AnalysisError::NonFinite`] or
/// [`AnalysisError::SvdDidNotConverge`].
pub fn thin_svd(m: &DMatrix<f64>) -> Result<ThinSvd, AnalysisError> {
    check_non_empty(m)?;
    check_finite(m)?;
    let (n_rows, n_cols) = m.shape();
    let min_dim = n_rows.min(n_cols);
    let max_iterations = SVD_ITERATIONS_PER_VALUE
        .saturating_mul(min_dim)
        .saturating_add(SVD_BASE_ITERATIONS);

    let attempts = [
        (SvdMethod::Nalgebra, f64::EPSILON * SVD_EPS_FACTOR),
        (SvdMethod::NalgebraLooseTolerance, SVD_LOOSE_EPS),
    ];
    for (method, eps) in attempts {
        if let Some(svd) = SVD::try_new_unordered(m.clone(), true, false, eps, max_iterations) {
            if let Some(u) = svd.u {
                let sigma: Vec<f64> = svd.singular_values.iter().map(|s| s.abs()).collect();
                if is_valid_left_svd(m, &u, &sigma) {
                    return Ok(sorted_with_signs(&u, &sigma, method));
                }
            }
        }
    }

    let eps = f64::EPSILON * SVD_EPS_FACTOR;
    if let Some(svd) = SVD::try_new_unordered(m.transpose(), false, true, eps, max_iterations) {
        if let Some(v_t) = svd.v_t {
            let u = v_t.transpose();
            let sigma: Vec<f64> = svd.singular_values.iter().map(|s| s.abs()).collect();
            if is_valid_left_svd(m, &u, &sigma) {
                return Ok(sorted_with_signs(&u, &sigma, SvdMethod::NalgebraTransposed));
            }
        }
    }

    thin_svd_jacobi(m)
}

/// Computes the same result as [`thin_svd`] with one-sided Jacobi rotations only.
///
/// The method orthogonalises the columns of `mᵀ` by plane rotations and accumulates the
/// rotations, whose product holds the left singular vectors of `m`. It is accurate even
/// for rank-deficient matrices but needs `O(n_rows² · (n_rows + n_cols))` work per sweep,
/// so [`thin_svd`] uses it only when nalgebra's result fails verification.
///
/// # Errors
/// [`AnalysisError::EmptyMatrix`], [`AnalysisError::NonFinite`], or
/// [`AnalysisError::SvdDidNotConverge`] when the sweeps do not converge.
pub fn thin_svd_jacobi(m: &DMatrix<f64>) -> Result<ThinSvd, AnalysisError> {
    check_non_empty(m)?;
    check_finite(m)?;
    let (n_rows, n_cols) = m.shape();
    // Column j of `y` is row j of `m`; column j of `w` starts as the unit vector e_j.
    let mut y: Vec<Vec<f64>> = m
        .row_iter()
        .map(|row| row.iter().copied().collect())
        .collect();
    let mut w: Vec<Vec<f64>> = (0..n_rows)
        .map(|j| {
            (0..n_rows)
                .map(|i| if i == j { 1.0 } else { 0.0 })
                .collect()
        })
        .collect();

    // Columns whose squared norm falls below this are rounding noise in the null space:
    // rotating them against each other would never converge and changes nothing that matters.
    let negligible_energy = JACOBI_NEGLIGIBLE_ENERGY * m.norm_squared();
    let mut converged = false;
    for _sweep in 0..JACOBI_MAX_SWEEPS {
        let mut rotated = false;
        for q in 1..n_rows {
            let (y_left, y_right) = y.split_at_mut(q);
            let (w_left, w_right) = w.split_at_mut(q);
            let (Some(y_q), Some(w_q)) = (y_right.first_mut(), w_right.first_mut()) else {
                continue;
            };
            for (y_p, w_p) in y_left.iter_mut().zip(w_left.iter_mut()) {
                let alpha: f64 = y_p.iter().map(|x| x * x).sum();
                let beta: f64 = y_q.iter().map(|x| x * x).sum();
                let gamma: f64 = y_p.iter().zip(y_q.iter()).map(|(a, b)| a * b).sum();
                if gamma == 0.0
                    || alpha <= negligible_energy
                    || beta <= negligible_energy
                    || gamma.abs() <= JACOBI_TOLERANCE * (alpha * beta).sqrt()
                {
                    continue;
                }
                rotated = true;
                // The rotation that makes columns p and q orthogonal (Hestenes' method).
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
                let c = 1.0 / (1.0 + t * t).sqrt();
                let s = c * t;
                rotate_pair(y_p, y_q, c, s);
                rotate_pair(w_p, w_q, c, s);
            }
        }
        if !rotated {
            converged = true;
            break;
        }
    }
    if !converged {
        return Err(AnalysisError::SvdDidNotConverge {
            n_rows,
            n_cols,
            max_iterations: JACOBI_MAX_SWEEPS,
        });
    }

    let sigma: Vec<f64> = y
        .iter()
        .map(|column| column.iter().map(|x| x * x).sum::<f64>().sqrt())
        .collect();
    let w_flat: Vec<f64> = w.into_iter().flatten().collect();
    let u_all = DMatrix::from_vec(n_rows, n_rows, w_flat);
    let mut svd = sorted_with_signs(&u_all, &sigma, SvdMethod::Jacobi);
    // Only min(n_rows, n_cols) singular values can be non-zero; keep that many.
    let min_dim = n_rows.min(n_cols);
    svd.singular_values.truncate(min_dim);
    svd.u = svd.u.columns(0, min_dim).into_owned();
    Ok(svd)
}

/// Applies the plane rotation `(a, b) ← (c·a − s·b, s·a + c·b)` to two columns.
fn rotate_pair(a: &mut [f64], b: &mut [f64], c: f64, s: f64) {
    for (x, y) in a.iter_mut().zip(b.iter_mut()) {
        let (old_x, old_y) = (*x, *y);
        *x = c * old_x - s * old_y;
        *y = s * old_x + c * old_y;
    }
}

/// Checks that `u` and `sigma` form the left half of an SVD of `m`: with `b = uᵀ · m`,
/// `b · bᵀ` must equal `diag(σ²)` and `Σ σ²` must equal `‖m‖²_F`, both to a small
/// tolerance relative to `‖m‖²_F`.
fn is_valid_left_svd(m: &DMatrix<f64>, u: &DMatrix<f64>, sigma: &[f64]) -> bool {
    if u.nrows() != m.nrows() || u.ncols() != sigma.len() {
        return false;
    }
    let total_energy = m.norm_squared();
    let sigma_energy: f64 = sigma.iter().map(|s| s * s).sum();
    if total_energy == 0.0 {
        return sigma_energy == 0.0;
    }
    let tolerance = SVD_CHECK_TOLERANCE * total_energy;
    if (sigma_energy - total_energy).abs() > tolerance {
        return false;
    }
    let b = u.transpose() * m;
    let gram = &b * b.transpose();
    gram.column_iter().enumerate().all(|(j, column)| {
        column.iter().enumerate().all(|(i, value)| {
            let expected = if i == j {
                sigma.get(i).map_or(f64::NAN, |s| s * s)
            } else {
                0.0
            };
            (value - expected).abs() <= tolerance
        })
    })
}

/// Sorts singular values in descending order, reorders the columns of `u` to match, and
/// fixes each column's sign.
fn sorted_with_signs(u: &DMatrix<f64>, sigma: &[f64], method: SvdMethod) -> ThinSvd {
    let mut order: Vec<usize> = (0..sigma.len().min(u.ncols())).collect();
    order.sort_by(|&a, &b| {
        let sigma_a = sigma.get(a).copied().unwrap_or(0.0);
        let sigma_b = sigma.get(b).copied().unwrap_or(0.0);
        sigma_b.total_cmp(&sigma_a)
    });
    let singular_values: Vec<f64> = order
        .iter()
        .filter_map(|&i| sigma.get(i).copied())
        .collect();
    let mut u_flat: Vec<f64> = Vec::with_capacity(u.nrows().saturating_mul(order.len()));
    for &src in &order {
        let mut column: Vec<f64> = u.column(src).iter().copied().collect();
        fix_sign(&mut column);
        u_flat.extend(column);
    }
    ThinSvd {
        u: DMatrix::from_vec(u.nrows(), order.len(), u_flat),
        singular_values,
        method,
    }
}

/// Flips `vector` in place so that its largest-magnitude entry is positive (the first such
/// entry on a tie) and returns whether it was flipped. All-zero vectors are left alone.
pub fn fix_sign(vector: &mut [f64]) -> bool {
    let mut best_abs = 0.0_f64;
    let mut best_value = 0.0_f64;
    for &value in vector.iter() {
        if value.abs() > best_abs {
            best_abs = value.abs();
            best_value = value;
        }
    }
    if best_value < 0.0 {
        for value in vector.iter_mut() {
            *value = -*value;
        }
        true
    } else {
        false
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
    let n_cols = m.ncols();
    if n_cols == 0 {
        return m.clone();
    }
    // Converting a column count to f64 is exact for every realistic size.
    let n_cols_f64 = n_cols as f64;
    let row_means = m.column_sum() / n_cols_f64;
    let mut centred = m.clone();
    for mut column in centred.column_iter_mut() {
        column -= &row_means;
    }
    centred
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
    let remaining = check_drop(m, axis, count)?;
    Ok(match axis {
        DropAxis::Cols => m.columns(count, remaining).into_owned(),
        DropAxis::Rows => m.rows(count, remaining).into_owned(),
    })
}

/// Returns how many rows or columns remain after dropping the first `count` along `axis`.
///
/// # Errors
/// [`AnalysisError::DropTooLarge`] when none would remain.
fn check_drop(m: &DMatrix<f64>, axis: DropAxis, count: usize) -> Result<usize, AnalysisError> {
    let dim = match axis {
        DropAxis::Cols => m.ncols(),
        DropAxis::Rows => m.nrows(),
    };
    dim.checked_sub(count)
        .filter(|&remaining| remaining > 0)
        .ok_or(AnalysisError::DropTooLarge {
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

/// Rejects matrices without rows or columns (nalgebra's SVD would panic on them).
fn check_non_empty(m: &DMatrix<f64>) -> Result<(), AnalysisError> {
    let (n_rows, n_cols) = m.shape();
    if n_rows == 0 || n_cols == 0 {
        Err(AnalysisError::EmptyMatrix { n_rows, n_cols })
    } else {
        Ok(())
    }
}

/// Rejects matrices holding NaN or infinities, naming the first one in row-major order.
fn check_finite(m: &DMatrix<f64>) -> Result<(), AnalysisError> {
    if m.iter().all(|value| value.is_finite()) {
        return Ok(());
    }
    for (row, values) in m.row_iter().enumerate() {
        if let Some(col) = values.iter().position(|value| !value.is_finite()) {
            return Err(AnalysisError::NonFinite { row, col });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

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
}
