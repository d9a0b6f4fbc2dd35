//! The settings of an analysis ([`AnalysisOptions`], [`DropAxis`]), its two parts
//! ([`AnalysisPart`]) and stages ([`AnalysisStage`]), and how it fails ([`AnalysisError`]).

use std::fmt;
use std::str::FromStr;

use crate::pure::linalg::svd::SvdError;

/// The notebook's relative threshold for the approximate rank: 1% of the largest singular value.
pub const DEFAULT_THRESHOLD_REL: f64 = 0.01;
/// The notebook drops the first five columns for its second analysis.
pub const DEFAULT_DROP_COUNT: usize = 5;
/// Number of leading left singular vectors kept for the heatmaps.
pub const DEFAULT_K_VECTORS: usize = 50;

/// Everything that can go wrong in the analysis.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum AnalysisError {
    /// The decomposition failed: an empty matrix, a NaN or infinity in it, no method that
    /// converges, or the caller stopped it (see
    /// [`crate::pure::analysis::analyse_part_values_first`]).
    #[error(transparent)]
    Svd(#[from] SvdError),
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

/// Rejects thresholds outside the open interval (0, 1), including NaN.
pub(super) fn validate_threshold(threshold_rel: f64) -> Result<(), AnalysisError> {
    if threshold_rel > 0.0 && threshold_rel < 1.0 {
        Ok(())
    } else {
        Err(AnalysisError::InvalidThreshold { threshold_rel })
    }
}

/// Rejects a request for zero singular vectors.
pub(super) fn validate_k(k_vectors: usize) -> Result<(), AnalysisError> {
    if k_vectors >= 1 {
        Ok(())
    } else {
        Err(AnalysisError::InvalidK { k_vectors })
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

/// Steps of [`crate::pure::analysis::analyse_with_progress`], reported before each one starts
/// (and `Done` at the end).
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
