//! What the decompositions return ([`ThinSvd`], [`TopKSvd`], the [`SvdMethod`] that made
//! them) and how they fail ([`SvdError`]).

use nalgebra::DMatrix;

/// Everything that can go wrong in a decomposition.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum SvdError {
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
    /// Every method failed to converge or to pass verification.
    #[error(
        "the SVD of the {n_rows} × {n_cols} matrix did not converge within {max_iterations} \
         iterations; the values may be extreme, so try another tensor or report the model name"
    )]
    DidNotConverge {
        /// Number of rows of the matrix.
        n_rows: usize,
        /// Number of columns of the matrix.
        n_cols: usize,
        /// The iteration budget that was exhausted.
        max_iterations: usize,
    },
    /// The caller's progress callback asked to stop.
    #[error("the analysis was cancelled; press Analyse to start again")]
    Cancelled,
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

/// The algorithm that produced a [`ThinSvd`] or a [`TopKSvd`].
///
/// nalgebra's implicit-shift SVD is fast but, in some releases, returns wrong singular
/// values for certain inputs (often rank-deficient ones, such as centred matrices). Every
/// result is therefore verified, and the next method is tried when the check fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SvdMethod {
    /// The Gram matrix of the smaller side: tridiagonalisation, QL iterations, inverse
    /// iteration for the leading vectors (see the module documentation).
    Gram,
    /// nalgebra's SVD with its default tolerance.
    Nalgebra,
    /// nalgebra's SVD with a looser tolerance for negligible values.
    NalgebraLooseTolerance,
    /// nalgebra's SVD of the transpose, taking its right singular vectors.
    NalgebraTransposed,
    /// One-sided Jacobi rotations: slower but reliably accurate.
    Jacobi,
}

/// The singular values and the leading left singular vectors of a matrix, sorted by
/// descending singular value, each vector's largest-magnitude entry positive.
#[derive(Debug, Clone, PartialEq)]
pub struct TopKSvd {
    /// All singular values in descending order, length `min(n_rows, n_cols)`.
    pub singular_values: Vec<f64>,
    /// The first `k` left singular vectors as columns, `n_rows × k`.
    pub u_top_k: DMatrix<f64>,
    /// Which algorithm produced the verified result.
    pub method: SvdMethod,
}
