//! Singular value decompositions for the analysis, each result verified before it is returned.
//!
//! The analysis needs every singular value of `W_pos` but only the first `k` (at most 50)
//! left singular vectors. The fast route, [`GramValues`] then [`GramValues::left_vectors`],
//! works on the Gram matrix of the smaller side in f64:
//!
//! 1. `G = AᵀA`, where `A` is `W` when it has at least as many rows as columns and `Wᵀ`
//!    otherwise, so `G` is `min(n_rows, n_cols)` square (only its lower triangle is formed,
//!    in 4 × 4 tiles summed from packed chunks of samples);
//! 2. Householder reflections reduce `G` to a symmetric tridiagonal matrix `T = QᵀGQ`,
//!    blocked as LAPACK's `dsytrd`: panels of reflectors, the trailing block read once per
//!    column for its symmetric product, and one rank-2k update per panel through the same
//!    tiles;
//! 3. implicit-shift QL iterations give every eigenvalue `λ` of `T`, and `σ = √λ`;
//! 4. only when the vectors are wanted: inverse iteration gives the eigenvectors of `T` for
//!    the `k` largest eigenvalues, `V_k = Q·Z_k` (the reflectors applied to those `k` columns
//!    only), and the exact `U_k = W·V_k / σ` (each column scaled to unit length) (for a wide
//!    `W`, `V_k` already holds its left singular vectors).
//!
//! Two workers can share step 1: each forms half of one Gram matrix ([`GramHalf`]: alternate
//! columns of tiles, about half the multiply-adds each), they swap halves
//! ([`export_gram_half`], [`import_gram_half`]), and each goes on from the whole with
//! [`singular_values_from_gram`]. A Gram matrix formed elsewhere is checked like any other:
//! its eigenvalues must add up to `‖W‖²_F` of the window it claims to belong to.
//!
//! Squaring the matrix squares its condition number: a singular value `σ` comes out with an
//! absolute error near `ε·σ_max²/σ`, so values above `1e-4·σ_max` keep about eight correct
//! digits, while values below about `1e-8·σ_max` are rounding noise (numpy's own noise floor
//! is `ε·σ_max`). The charts and the approximate rank only look far above that.
//!
//! The inner kernels (tile products, the symmetric product's column steps, dot products,
//! reflections, QL sweeps) are functions of their own, never inlined. A browser first runs
//! WebAssembly on baseline code and optimises a function once it has run hot, but a call
//! already running stays on the code it started with; short kernels called thousands of
//! times switch to optimised code early in the first decomposition of a page. So do the steps
//! that loop over them (one call per panel column of the reduction, per chunk of the Gram
//! matrix, per inverse-iteration vector), and the drivers stay apart from each other, so that
//! no single function is large enough to take long to optimise (the worker's wasm-opt keeps
//! functions called from one place separate unless they are small).
//!
//! Every result is verified, and a failed check falls back to the next method:
//! - values: `Σλ` must equal `‖W‖²_F` and `Σλ²` must equal `‖G‖²_F`, no eigenvalue may be
//!   clearly negative;
//! - vectors: `U_kᵀU_k = I` and, with `B = U_kᵀ·W`, `B·Bᵀ = diag(σ_k²)`;
//! - otherwise nalgebra's SVD of the whole matrix, verified the same way on all its vectors
//!   ([`thin_svd`]), and one-sided Jacobi rotations as the last resort ([`thin_svd_jacobi`]).

use std::ops::ControlFlow;

use nalgebra::linalg::SVD;
use nalgebra::{DMatrix, Dyn, MatrixView};

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
/// Relative tolerance (of `‖W‖²_F` and `‖G‖²_F`) when verifying the Gram route's values.
const GRAM_CHECK_TOLERANCE: f64 = 1e-9;
/// Eigenvalues of the Gram matrix below `-GRAM_NEGATIVE_TOLERANCE · λ_max` show a failure.
const GRAM_NEGATIVE_TOLERANCE: f64 = 1e-9;
/// Largest deviation of `U_kᵀU_k` from the identity accepted for the Gram route's vectors.
const GRAM_ORTHONORMAL_TOLERANCE: f64 = 1e-10;
/// Entries of each sample summed together into one tile of the Gram matrix: a tile is
/// `GRAM_PANEL × GRAM_PANEL`.
const GRAM_PANEL: usize = 4;
/// Samples copied into the panels at a time (a few hundred kilobytes to a few megabytes).
const GRAM_CHUNK_SAMPLES: usize = 256;
/// Reflectors made per panel of the blocked reduction to tridiagonal form.
const TRIDIAGONAL_PANEL: usize = 32;
/// Independent partial sums of a dot product, so that its loop vectorises.
const DOT_LANES: usize = 4;
/// Iteration budget per eigenvalue of the tridiagonal QL iteration (two or three suffice).
const QL_ITERATIONS_PER_VALUE: usize = 60;
/// Inverse-iteration solves per eigenvector; an accurate shift converges in one or two.
const INVERSE_ITERATION_STEPS: usize = 3;
/// Eigenvalues closer than this share of `‖T‖` form a cluster whose eigenvectors are
/// orthogonalised against each other, as LAPACK's `dstein` does.
const CLUSTER_TOLERANCE: f64 = 1e-3;
/// Singular values at most this share of `σ_max` are too small for `U = W·v/σ`.
const GRAM_MIN_SIGMA_REL: f64 = 1e-6;

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

/// A matrix view whose rows and columns may both be strided: used for `W` and for `Wᵀ`.
type StridedView<'a> = MatrixView<'a, f64, Dyn, Dyn, Dyn, Dyn>;

/// A rectangular block of a column-major matrix, read in place: the whole matrix, or the
/// matrix without its leading rows or columns. The decompositions read it without copying.
#[derive(Debug, Clone, Copy)]
pub struct MatrixWindow<'a> {
    /// The column-major elements, starting at the block's first element.
    data: &'a [f64],
    /// Rows of the block.
    n_rows: usize,
    /// Columns of the block.
    n_cols: usize,
    /// Distance between the starts of two neighbouring columns in `data`.
    col_stride: usize,
}

impl<'a> MatrixWindow<'a> {
    /// The whole of `m`.
    pub fn whole(m: &'a DMatrix<f64>) -> Self {
        Self {
            data: m.as_slice(),
            n_rows: m.nrows(),
            n_cols: m.ncols(),
            col_stride: m.nrows(),
        }
    }

    /// This block without its first `count` rows, or `None` when no row would remain.
    pub fn without_leading_rows(self, count: usize) -> Option<Self> {
        let n_rows = self.n_rows.checked_sub(count).filter(|&n| n > 0)?;
        Some(Self {
            data: self.data.get(count..)?,
            n_rows,
            ..self
        })
    }

    /// This block without its first `count` columns, or `None` when no column would remain.
    pub fn without_leading_cols(self, count: usize) -> Option<Self> {
        let n_cols = self.n_cols.checked_sub(count).filter(|&n| n > 0)?;
        let start = count.checked_mul(self.col_stride)?;
        Some(Self {
            data: self.data.get(start..)?,
            n_cols,
            ..self
        })
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of columns.
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// The side of its Gram matrix: the smaller of its two sizes.
    pub fn gram_side(&self) -> usize {
        self.n_rows.min(self.n_cols)
    }

    /// The number of samples its Gram matrix sums: the larger of its two sizes (its rows when
    /// it is tall, its columns when it is wide).
    pub fn n_samples(&self) -> usize {
        self.n_rows.max(self.n_cols)
    }

    /// The block as a nalgebra view (no copy).
    fn view(&self) -> StridedView<'a> {
        StridedView::from_slice_with_strides_generic(
            self.data,
            Dyn(self.n_rows),
            Dyn(self.n_cols),
            Dyn(1),
            Dyn(self.col_stride),
        )
    }

    /// An owned copy of the block, for the fallback methods that need one.
    pub fn to_matrix(&self) -> DMatrix<f64> {
        self.view().into_owned()
    }

    /// The block's columns, each as a slice.
    fn columns(&self) -> impl Iterator<Item = &'a [f64]> + '_ {
        (0..self.n_cols).filter_map(move |col| {
            let start = col.checked_mul(self.col_stride)?;
            self.data.get(start..start.checked_add(self.n_rows)?)
        })
    }

    /// Rejects empty blocks and blocks holding NaN or infinities (the first one in
    /// row-major order is named).
    ///
    /// # Errors
    /// [`SvdError::EmptyMatrix`] or [`SvdError::NonFinite`].
    pub fn check(&self) -> Result<(), SvdError> {
        if self.n_rows == 0 || self.n_cols == 0 {
            return Err(SvdError::EmptyMatrix {
                n_rows: self.n_rows,
                n_cols: self.n_cols,
            });
        }
        if self.columns().flatten().all(|value| value.is_finite()) {
            return Ok(());
        }
        let view = self.view();
        for (row, values) in view.row_iter().enumerate() {
            if let Some(col) = values.iter().position(|value| !value.is_finite()) {
                return Err(SvdError::NonFinite { row, col });
            }
        }
        Ok(())
    }

    /// `‖block‖²_F`.
    #[inline(never)]
    fn norm_squared(&self) -> f64 {
        self.columns().flatten().map(|value| value * value).sum()
    }
}

/// The first half of the Gram route: every singular value, verified, and what the vectors
/// need later. Computing the values first lets a caller show them before the vectors exist.
pub struct GramValues<'a> {
    /// The decomposed block.
    window: MatrixWindow<'a>,
    /// The Householder reflectors that reduced the Gram matrix (kept for `Q`).
    reduction: Tridiagonalisation,
    /// Diagonal of `T`.
    diagonal: Vec<f64>,
    /// Off-diagonal of `T` (length one less).
    off_diagonal: Vec<f64>,
    /// Eigenvalues of `T` in descending order.
    eigenvalues: Vec<f64>,
    /// `√max(λ, 0)` in descending order.
    singular_values: Vec<f64>,
    /// `‖T‖`: the largest row sum of absolute values of `T`.
    tridiagonal_norm: f64,
}

/// The singular values, computed by the Gram route when it verifies and by nalgebra's
/// full SVD otherwise; see [`singular_values_first`].
pub enum ValuesFirst<'a> {
    /// The Gram route's values; the vectors follow from [`GramValues::left_vectors`].
    Gram(GramValues<'a>),
    /// The Gram route failed verification; this complete, verified SVD replaces it.
    Complete(ThinSvd),
}

impl ValuesFirst<'_> {
    /// All singular values in descending order.
    pub fn singular_values(&self) -> &[f64] {
        match self {
            ValuesFirst::Gram(gram) => &gram.singular_values,
            ValuesFirst::Complete(svd) => &svd.singular_values,
        }
    }

    /// Finishes the decomposition with the first `k_vectors` left singular vectors (fewer when
    /// the matrix has fewer singular values).
    ///
    /// # Errors
    /// [`SvdError::DidNotConverge`] when no method converges.
    pub fn into_top_k(self, k_vectors: usize) -> Result<TopKSvd, SvdError> {
        match self {
            ValuesFirst::Gram(gram) => gram.left_vectors(k_vectors),
            ValuesFirst::Complete(svd) => Ok(top_k_of(svd, k_vectors)),
        }
    }
}

/// Computes every singular value of `window`, verified, as the first step of [`svd_top_k`].
///
/// # Errors
/// [`SvdError::EmptyMatrix`], [`SvdError::NonFinite`], or [`SvdError::DidNotConverge`] when
/// no method converges.
pub fn singular_values_first(window: MatrixWindow<'_>) -> Result<ValuesFirst<'_>, SvdError> {
    singular_values_first_reporting(window, &mut |_done_share| ControlFlow::Continue(()))
}

/// As [`singular_values_first`], telling `on_progress` the share of the work done so far
/// (from 0 to 1, never decreasing, a few hundred calls at most), so that a long run can show
/// how far it is and estimate what is left. When `on_progress` answers
/// [`ControlFlow::Break`], the decomposition stops there.
///
/// # Errors
/// As [`singular_values_first`], and [`SvdError::Cancelled`] when `on_progress` stopped it.
pub fn singular_values_first_reporting<'a>(
    window: MatrixWindow<'a>,
    on_progress: &mut dyn FnMut(f64) -> ControlFlow<()>,
) -> Result<ValuesFirst<'a>, SvdError> {
    window.check()?;
    match GramValues::compute(window, on_progress)? {
        Some(gram) => Ok(ValuesFirst::Gram(gram)),
        None => thin_svd(&window.to_matrix()).map(ValuesFirst::Complete),
    }
}

/// As [`singular_values_first_reporting`], from `gram`, the lower triangle of the Gram matrix
/// of `window` formed elsewhere (for example half by each of two workers: see [`GramHalf`]).
/// `on_progress` hears shares from [`gram_work_share`] on. A Gram matrix of the wrong size,
/// or one whose eigenvalues do not match `window` (its trace must be `‖window‖²_F`), is
/// replaced by nalgebra's SVD of `window`.
///
/// # Errors
/// As [`singular_values_first_reporting`].
pub fn singular_values_from_gram<'a>(
    window: MatrixWindow<'a>,
    gram: DMatrix<f64>,
    on_progress: &mut dyn FnMut(f64) -> ControlFlow<()>,
) -> Result<ValuesFirst<'a>, SvdError> {
    window.check()?;
    match GramValues::from_gram(window, gram, on_progress)? {
        Some(gram) => Ok(ValuesFirst::Gram(gram)),
        None => thin_svd(&window.to_matrix()).map(ValuesFirst::Complete),
    }
}

/// The share of the values' work that forming the Gram matrix of `window` takes (the rest is
/// the reduction to tridiagonal form): the progress a caller reports once the Gram matrix is
/// formed.
pub fn gram_work_share(window: &MatrixWindow<'_>) -> f64 {
    // The Gram matrix takes `size²·samples` multiply-adds at full speed; the reduction takes
    // `(2/3)·size³` at about a third of that speed (half of it is memory-bound).
    let size = window.gram_side() as f64;
    let n_samples = window.n_samples() as f64;
    let gram_work = size * size * n_samples;
    let reduction_work = 4.0 * size * size * size;
    gram_work / (gram_work + reduction_work).max(1.0)
}

/// One of the two halves of a Gram matrix that two workers form at the same time, each from
/// the same samples: the first half forms the even columns of tiles (of four
/// columns each), the second half the odd ones, so that each does about half of the
/// multiply-adds. Each then sends the other its columns ([`export_gram_half`],
/// [`import_gram_half`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GramHalf {
    /// The even columns of tiles.
    First,
    /// The odd columns of tiles.
    Second,
}

impl GramHalf {
    /// The half the other worker forms.
    pub fn other(self) -> Self {
        match self {
            GramHalf::First => GramHalf::Second,
            GramHalf::Second => GramHalf::First,
        }
    }

    /// Whether this half forms the tiles of tile column `q`.
    fn owns_tile_column(self, q: usize) -> bool {
        q.is_multiple_of(2) == (self == GramHalf::First)
    }

    /// The columns of a `side × side` Gram matrix this half forms, in order.
    fn columns(self, side: usize) -> impl Iterator<Item = usize> {
        (0..side).filter(move |&col| self.owns_tile_column(col / GRAM_PANEL))
    }

    /// The number of values [`export_gram_half`] gives for a `side × side` Gram matrix: each
    /// of this half's columns from its diagonal down.
    pub fn exported_len(self, side: usize) -> usize {
        self.columns(side).map(|col| side - col).sum()
    }

    /// Where this half's columns lie in the column-major storage of a `side × side` Gram
    /// matrix, each from its diagonal down, in the order of an export.
    pub fn column_ranges(self, side: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
        self.columns(side)
            .map(move |col| col * side + col..(col + 1) * side)
    }
}

/// Forms `half` of the lower triangle of the Gram matrix of `window`, tile by tile;
/// the other half's columns stay zero. `None` when `on_progress` (told the share of samples
/// summed after each chunk) stops it.
pub fn gram_lower_half(
    window: &MatrixWindow<'_>,
    half: GramHalf,
    on_progress: &mut dyn FnMut(f64) -> ControlFlow<()>,
) -> Option<DMatrix<f64>> {
    gram_lower(window, Some(half), on_progress)
}

/// `half`'s columns of the lower triangle of `gram`, each from its diagonal down, one after
/// the other: what the other worker needs ([`GramHalf::exported_len`] values).
pub fn export_gram_half(gram: &DMatrix<f64>, half: GramHalf) -> Vec<f64> {
    let side = gram.nrows();
    let mut values = Vec::with_capacity(half.exported_len(side));
    for range in half.column_ranges(side) {
        if let Some(column) = gram.as_slice().get(range) {
            values.extend_from_slice(column);
        }
    }
    values
}

/// Writes `values`, exported from `half` of a Gram matrix of the same size
/// ([`export_gram_half`]), into `gram`. Returns false, writing nothing, when their number
/// does not fit that size.
pub fn import_gram_half(gram: &mut DMatrix<f64>, half: GramHalf, values: &[f64]) -> bool {
    let side = gram.nrows();
    if gram.ncols() != side || values.len() != half.exported_len(side) {
        return false;
    }
    let mut offset = 0;
    for range in half.column_ranges(side) {
        let len = range.len();
        if let (Some(column), Some(column_values)) = (
            gram.as_mut_slice().get_mut(range),
            values.get(offset..offset + len),
        ) {
            column.copy_from_slice(column_values);
        }
        offset += len;
    }
    true
}

/// Adds the products `x_k·x_kᵀ` of the first `count` samples of `window` (its rows when it is
/// tall, its columns when it is wide) to the lower triangle of `gram`: the Gram matrix of
/// `window` from that of `window` without those samples.
pub fn add_leading_samples(gram: &mut DMatrix<f64>, window: &MatrixWindow<'_>, count: usize) {
    let is_tall = window.n_rows >= window.n_cols;
    let size = window.gram_side();
    if gram.nrows() != size || gram.ncols() != size {
        return;
    }
    let panel_len = GRAM_CHUNK_SAMPLES * GRAM_PANEL;
    let mut panels = vec![0.0_f64; size.div_ceil(GRAM_PANEL) * panel_len];
    let count = count.min(window.n_samples());
    let mut first = 0;
    while first < count {
        let n_chunk = GRAM_CHUNK_SAMPLES.min(count - first);
        pack_samples(window, is_tall, first, n_chunk, &mut panels);
        add_chunk_products(gram, &panels, n_chunk, None);
        first += n_chunk;
    }
}

/// The lower triangle of the trailing block of `gram` without its first `count` rows and
/// columns: the Gram matrix of a window without its first `count` columns (tall) or rows
/// (wide).
pub fn trailing_gram(gram: DMatrix<f64>, count: usize) -> DMatrix<f64> {
    let count = count.min(gram.nrows()).min(gram.ncols());
    gram.remove_columns(0, count).remove_rows(0, count)
}

/// Computes every singular value and the first `k_vectors` left singular vectors of `window`
/// (fewer when the matrix has fewer singular values), verified.
///
/// # Errors
/// As [`singular_values_first`].
pub fn svd_top_k(window: MatrixWindow<'_>, k_vectors: usize) -> Result<TopKSvd, SvdError> {
    singular_values_first(window)?.into_top_k(k_vectors)
}

/// Keeps the first `k_vectors` columns of a complete SVD.
fn top_k_of(svd: ThinSvd, k_vectors: usize) -> TopKSvd {
    let k = k_vectors.min(svd.u.ncols());
    TopKSvd {
        u_top_k: svd.u.columns(0, k).into_owned(),
        singular_values: svd.singular_values,
        method: svd.method,
    }
}

impl<'a> GramValues<'a> {
    /// Runs steps 1 to 3 of the module documentation and verifies the eigenvalues; `None`
    /// when the QL iteration does not converge or the check fails.
    ///
    /// # Errors
    /// [`SvdError::Cancelled`] when `on_progress` stops the work.
    #[inline(never)]
    fn compute(
        window: MatrixWindow<'a>,
        on_progress: &mut dyn FnMut(f64) -> ControlFlow<()>,
    ) -> Result<Option<Self>, SvdError> {
        let gram_share = gram_work_share(&window);
        let gram = gram_lower(&window, None, &mut |done| on_progress(gram_share * done))
            .ok_or(SvdError::Cancelled)?;
        Self::from_gram(window, gram, on_progress)
    }

    /// Runs steps 2 and 3 of the module documentation on `gram`, the lower triangle of the
    /// Gram matrix of `window`, and verifies the eigenvalues against `window` (so a Gram
    /// matrix that does not belong to it fails the check); `None` when the QL iteration does
    /// not converge or the check fails. `on_progress` hears shares from
    /// [`gram_work_share`] on.
    ///
    /// # Errors
    /// [`SvdError::Cancelled`] when `on_progress` stops the work.
    #[inline(never)]
    fn from_gram(
        window: MatrixWindow<'a>,
        gram: DMatrix<f64>,
        on_progress: &mut dyn FnMut(f64) -> ControlFlow<()>,
    ) -> Result<Option<Self>, SvdError> {
        if gram.nrows() != window.gram_side() || gram.ncols() != window.gram_side() {
            return Ok(None);
        }
        let gram_share = gram_work_share(&window);
        let gram_norm_squared = lower_norm_squared(&gram);
        let matrix_norm_squared = window.norm_squared();
        let reduction = Tridiagonalisation::new(gram, &mut |done| {
            on_progress(gram_share + (1.0 - gram_share) * done)
        })
        .ok_or(SvdError::Cancelled)?;
        let diagonal = reduction.diagonal.clone();
        let off_diagonal = reduction.off_diagonal.clone();
        let tridiagonal_norm = tridiagonal_norm(&diagonal, &off_diagonal);
        let Some(mut eigenvalues) = tridiagonal_eigenvalues(&diagonal, &off_diagonal) else {
            return Ok(None);
        };
        eigenvalues.sort_by(|a, b| b.total_cmp(a));
        if !eigenvalues_are_valid(&eigenvalues, matrix_norm_squared, gram_norm_squared) {
            return Ok(None);
        }
        let singular_values = eigenvalues.iter().map(|&l| l.max(0.0).sqrt()).collect();
        Ok(Some(Self {
            window,
            reduction,
            diagonal,
            off_diagonal,
            eigenvalues,
            singular_values,
            tridiagonal_norm,
        }))
    }

    /// All singular values in descending order.
    pub fn singular_values(&self) -> &[f64] {
        &self.singular_values
    }

    /// Step 4 of the module documentation: the first `k_vectors` left singular vectors,
    /// verified; falls back to nalgebra's full SVD (and Jacobi) when the check fails.
    ///
    /// # Errors
    /// [`SvdError::DidNotConverge`] when the fallbacks do not converge either.
    pub fn left_vectors(self, k_vectors: usize) -> Result<TopKSvd, SvdError> {
        let k = k_vectors.min(self.eigenvalues.len());
        if let Some(u_top_k) = self.gram_left_vectors(k) {
            return Ok(TopKSvd {
                singular_values: self.singular_values,
                u_top_k,
                method: SvdMethod::Gram,
            });
        }
        thin_svd(&self.window.to_matrix()).map(|svd| top_k_of(svd, k))
    }

    /// The Gram route's vectors, or `None` when they fail verification.
    #[inline(never)]
    fn gram_left_vectors(&self, k: usize) -> Option<DMatrix<f64>> {
        let sigma_max = self.singular_values.first().copied().unwrap_or(0.0);
        let sigma_k = self.singular_values.get(..k)?;
        let is_tall = self.window.n_rows >= self.window.n_cols;
        if k == 0 || sigma_k.iter().any(|&s| s <= GRAM_MIN_SIGMA_REL * sigma_max) {
            return None;
        }
        let z = tridiagonal_eigenvectors(
            &self.diagonal,
            &self.off_diagonal,
            self.eigenvalues.get(..k)?,
            self.tridiagonal_norm,
        );
        let v_k = self.reduction.apply_q(z);
        let mut u = if is_tall {
            let mut u = DMatrix::<f64>::zeros(self.window.n_rows, k);
            u.gemm(1.0, &self.window.view(), &v_k, 0.0);
            // `‖W·v‖ = σ` in exact arithmetic; dividing by the computed norm keeps each
            // vector at unit length even where `σ` carries the Gram route's rounding.
            for mut column in u.column_iter_mut() {
                let norm = column.norm();
                column /= norm;
            }
            u
        } else {
            v_k
        };
        for mut column in u.column_iter_mut() {
            fix_sign(column.as_mut_slice());
        }
        self.is_valid_top_k(&u, sigma_k).then_some(u)
    }

    /// Checks `UᵀU = I` and, with `B = Uᵀ·W`, `B·Bᵀ = diag(σ²)`.
    #[inline(never)]
    fn is_valid_top_k(&self, u: &DMatrix<f64>, sigma_k: &[f64]) -> bool {
        let k = u.ncols();
        let gram_u = u.transpose() * u;
        let identity = DMatrix::<f64>::identity(k, k);
        let deviation = (gram_u - identity).amax();
        if deviation.is_nan() || deviation > GRAM_ORTHONORMAL_TOLERANCE {
            return false;
        }
        let mut b = DMatrix::<f64>::zeros(k, self.window.n_cols);
        b.gemm(1.0, &u.transpose(), &self.window.view(), 0.0);
        let b_gram = &b * b.transpose();
        let tolerance = SVD_CHECK_TOLERANCE * self.window.norm_squared();
        b_gram.column_iter().enumerate().all(|(j, column)| {
            column.iter().enumerate().all(|(i, value)| {
                let expected = if i == j {
                    sigma_k.get(i).map_or(f64::NAN, |s| s * s)
                } else {
                    0.0
                };
                (value - expected).abs() <= tolerance
            })
        })
    }
}

/// The reduction of a symmetric matrix to tridiagonal form by Householder reflections
/// `H_i = I − τ_i·v_i·v_iᵀ`, with `Q = H_0·H_1·…`.
struct Tridiagonalisation {
    /// Column `i` holds `v_i` in rows `i + 1..` (its first entry is 1); the rest is unused.
    reflectors: DMatrix<f64>,
    /// `τ_i` of each reflector (0 where no reflection was needed).
    taus: Vec<f64>,
    /// Diagonal of `T`.
    diagonal: Vec<f64>,
    /// Off-diagonal of `T`.
    off_diagonal: Vec<f64>,
}

impl Tridiagonalisation {
    /// Reduces `matrix`, of which only the lower triangle (with the diagonal) is read.
    ///
    /// Blocked as LAPACK's `dsytrd`: the reflectors are made [`TRIDIAGONAL_PANEL`] columns at
    /// a time. Within a panel, each column is brought up to date on its own and the trailing
    /// block is read once per column (for `A₂₂·v`) with the panel's pending update subtracted
    /// from the product; after the panel, one rank-`2·width` update `A₂₂ −= V·Wᵀ + W·Vᵀ`
    /// applies it, tile by tile. The unblocked reduction reads and writes the trailing block
    /// for every column.
    /// `None` when `on_progress` stops the work (it hears the share done after each panel).
    #[inline(never)]
    fn new(
        mut matrix: DMatrix<f64>,
        on_progress: &mut dyn FnMut(f64) -> ControlFlow<()>,
    ) -> Option<Self> {
        let size = matrix.nrows();
        let n_reflectors = size.saturating_sub(1);
        let mut taus = Vec::with_capacity(n_reflectors);
        let mut diagonal = Vec::with_capacity(size);
        let mut off_diagonal = Vec::with_capacity(n_reflectors);
        // The panel's reflectors `v` and vectors `w`, as columns of length `size` that are
        // zero above each reflector's first row.
        let mut v_panel = vec![0.0_f64; size * TRIDIAGONAL_PANEL];
        let mut w_panel = vec![0.0_f64; size * TRIDIAGONAL_PANEL];
        let mut p: Vec<f64> = Vec::with_capacity(size);
        let mut first = 0;
        while first < n_reflectors {
            let width = TRIDIAGONAL_PANEL.min(n_reflectors - first);
            v_panel.fill(0.0);
            w_panel.fill(0.0);
            for jj in 0..width {
                let (diagonal_j, tau, beta) = reduce_panel_column(
                    matrix.as_mut_slice(),
                    size,
                    first + jj,
                    jj,
                    &mut v_panel,
                    &mut w_panel,
                    &mut p,
                );
                diagonal.push(diagonal_j);
                taus.push(tau);
                off_diagonal.push(beta);
            }
            rank_2k_update(&mut matrix, first + width, &v_panel, &w_panel, width);
            first += width;
            // The work left is about proportional to the cube of the trailing size.
            let left_share = (n_reflectors - first) as f64 / n_reflectors as f64;
            if on_progress(1.0 - left_share * left_share * left_share).is_break() {
                return None;
            }
        }
        if let Some(last) = size.checked_sub(1) {
            diagonal.push(matrix.get((last, last)).copied().unwrap_or(0.0));
        }
        Some(Self {
            reflectors: matrix,
            taus,
            diagonal,
            off_diagonal,
        })
    }

    /// Returns `Q·z`, applying the reflectors to the columns of `z` only.
    #[inline(never)]
    fn apply_q(&self, mut z: DMatrix<f64>) -> DMatrix<f64> {
        let size = self.reflectors.nrows();
        for (i, &tau) in self.taus.iter().enumerate().rev() {
            if tau == 0.0 {
                continue;
            }
            let Some(v) = self
                .reflectors
                .as_slice()
                .get(i * size + i + 1..(i + 1) * size)
            else {
                continue;
            };
            for mut column in z.column_iter_mut() {
                let Some(tail) = column.as_mut_slice().get_mut(i + 1..) else {
                    continue;
                };
                reflect(tail, v, tau);
            }
        }
        z
    }
}

/// Column `j` of the blocked reduction, the `jj`-th of its panel (see
/// [`Tridiagonalisation::new`]): brings the column up to date with the panel so far, makes its
/// reflector `v` and the panel vector `w = τ·p − (τ²/2)(pᵀv)·v` with `p = A₂₂·v`, and stores
/// both in column `jj` of `v_panel` and `w_panel`. Returns `(diagonal entry, τ, β)`.
///
/// A separate function, called once per column, so that the browser switches it to optimised
/// code part of the way through the first reduction it runs.
#[inline(never)]
fn reduce_panel_column(
    matrix: &mut [f64],
    size: usize,
    j: usize,
    jj: usize,
    v_panel: &mut [f64],
    w_panel: &mut [f64],
    p: &mut Vec<f64>,
) -> (f64, f64, f64) {
    let (done, trailing) = matrix.split_at_mut((j + 1) * size);
    let column_j = done.get_mut(j * size + j..).unwrap_or_default();
    // Bring column j (from the diagonal down) up to date with the panel so far.
    for (v_l, w_l) in v_panel
        .chunks_exact(size)
        .zip(w_panel.chunks_exact(size))
        .take(jj)
    {
        let (Some(&v_lj), Some(&w_lj)) = (v_l.get(j), w_l.get(j)) else {
            continue;
        };
        let v_rows = v_l.get(j..).unwrap_or_default();
        let w_rows = w_l.get(j..).unwrap_or_default();
        for ((a, &v_r), &w_r) in column_j.iter_mut().zip(v_rows).zip(w_rows) {
            *a -= v_r * w_lj + w_r * v_lj;
        }
    }
    let diagonal_j = column_j.first().copied().unwrap_or(0.0);
    let x = column_j.get_mut(1..).unwrap_or_default();
    let (tau, beta) = householder(x);
    if tau == 0.0 {
        // No reflection: its v and w stay zero and change nothing.
        return (diagonal_j, tau, beta);
    }
    let v: &[f64] = x;
    // p = A₂₂·v from the lower triangle of the trailing block as it was at the start of the
    // panel…
    p.clear();
    p.resize(v.len(), 0.0);
    symmetric_product(trailing, size, j + 1, v, p);
    // …minus the panel's pending update: (V·Wᵀ + W·Vᵀ)·v on rows j + 1...
    for (v_l, w_l) in v_panel
        .chunks_exact(size)
        .zip(w_panel.chunks_exact(size))
        .take(jj)
    {
        let v_rows = v_l.get(j + 1..).unwrap_or_default();
        let w_rows = w_l.get(j + 1..).unwrap_or_default();
        let w_dot_v = dot(w_rows, v);
        let v_dot_v = dot(v_rows, v);
        for ((p_r, &v_r), &w_r) in p.iter_mut().zip(v_rows).zip(w_rows) {
            *p_r -= v_r * w_dot_v + w_r * v_dot_v;
        }
    }
    // w = τ·p − (τ²/2)(pᵀv)·v.
    let correction = -0.5 * tau * tau * dot(p, v);
    let start = jj * size + j + 1;
    if let Some(w_column) = w_panel.get_mut(start..(jj + 1) * size) {
        for ((w_r, &p_r), &v_r) in w_column.iter_mut().zip(p.iter()).zip(v) {
            *w_r = tau * p_r + correction * v_r;
        }
    }
    if let Some(v_column) = v_panel.get_mut(start..(jj + 1) * size) {
        v_column.copy_from_slice(v);
    }
    (diagonal_j, tau, beta)
}

/// Applies `H = I − τ·v·vᵀ` to `x` in place.
#[inline(never)]
fn reflect(x: &mut [f64], v: &[f64], tau: f64) {
    let scale = tau * dot(x, v);
    for (x_r, &v_r) in x.iter_mut().zip(v) {
        *x_r -= scale * v_r;
    }
}

/// Adds `A₂₂·v` to `p`, where `A₂₂` is the symmetric block of rows and columns
/// `first..size` of the column-major `size × size` matrix whose columns from `first` on are
/// `trailing` (only the lower triangle is read, in one pass).
#[inline(never)]
fn symmetric_product(trailing: &[f64], size: usize, first: usize, v: &[f64], p: &mut [f64]) {
    for (jj, column) in trailing.chunks_exact(size).enumerate() {
        let Some(lower) = column.get(first + jj..) else {
            continue;
        };
        let (Some(&v_j), Some(v_below)) = (v.get(jj), v.get(jj + 1..)) else {
            continue;
        };
        let (Some(&a_jj), Some(a_below)) = (lower.first(), lower.get(1..)) else {
            continue;
        };
        let mut row_j = a_jj * v_j;
        if let Some(p_below) = p.get_mut(jj + 1..) {
            row_j += symmetric_column_step(p_below, a_below, v_below, v_j);
        }
        if let Some(p_j) = p.get_mut(jj) {
            *p_j += row_j;
        }
    }
}

/// `aᵀ·b`, summed in [`DOT_LANES`] independent lanes so that the loop vectorises.
#[inline(never)]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut lanes = [0.0_f64; DOT_LANES];
    let mut a_chunks = a.chunks_exact(DOT_LANES);
    let mut b_chunks = b.chunks_exact(DOT_LANES);
    for (a_chunk, b_chunk) in (&mut a_chunks).zip(&mut b_chunks) {
        for ((lane, &a_r), &b_r) in lanes.iter_mut().zip(a_chunk).zip(b_chunk) {
            *lane += a_r * b_r;
        }
    }
    let tail: f64 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(a_r, b_r)| a_r * b_r)
        .sum();
    lanes.iter().sum::<f64>() + tail
}

/// The first `width` columns (each of length `size`) of `panel`, from row `first` on.
fn panel_columns(panel: &[f64], size: usize, width: usize, first: usize) -> Vec<&[f64]> {
    panel
        .chunks_exact(size)
        .take(width)
        .map(|column| column.get(first..).unwrap_or_default())
        .collect()
}

/// `A −= V·Wᵀ + W·Vᵀ` on the lower triangle of rows and columns `first..`, where `V` and `W`
/// are the first `width` columns (each of length `size`) of `v_panel` and `w_panel`.
///
/// The update is a product with `2·width` samples, `[V W]` times `[W V]ᵀ`: both are copied
/// into panels of [`GRAM_PANEL`] rows and summed tile by tile with [`add_tile_products`].
#[inline(never)]
fn rank_2k_update(
    matrix: &mut DMatrix<f64>,
    first: usize,
    v_panel: &[f64],
    w_panel: &[f64],
    width: usize,
) {
    let size = matrix.nrows();
    let n_rows = size.saturating_sub(first);
    if n_rows == 0 || width == 0 {
        return;
    }
    let n_samples = 2 * width;
    let n_panels = n_rows.div_ceil(GRAM_PANEL);
    let panel_len = n_samples * GRAM_PANEL;
    // left[p][k][c] = [V W](first + GRAM_PANEL·p + c, k), right the same for [W V].
    let mut left = vec![0.0_f64; n_panels * panel_len];
    let mut right = vec![0.0_f64; n_panels * panel_len];
    let v_columns = panel_columns(v_panel, size, width, first);
    let w_columns = panel_columns(w_panel, size, width, first);
    let left_samples = v_columns.iter().chain(&w_columns);
    let right_samples = w_columns.iter().chain(&v_columns);
    for (packed, samples) in [(&mut left, left_samples), (&mut right, right_samples)] {
        for (k, column) in samples.enumerate() {
            pack_sample(packed, panel_len, k, column);
        }
    }
    add_tile_products(
        matrix, first, &left, &right, panel_len, n_samples, -1.0, None,
    );
}

/// One column of the symmetric product `p = A·v` from the lower triangle: adds `a·v_j` to
/// `p` (the column's share of the rows below the diagonal) and returns `aᵀ·v` (the share of
/// row `j`, by symmetry). The dot product is summed in [`DOT_LANES`] independent lanes so
/// that the loop vectorises.
#[inline(never)]
fn symmetric_column_step(p: &mut [f64], a: &[f64], v: &[f64], v_j: f64) -> f64 {
    let mut lanes = [0.0_f64; DOT_LANES];
    let mut p_chunks = p.chunks_exact_mut(DOT_LANES);
    let mut a_chunks = a.chunks_exact(DOT_LANES);
    let mut v_chunks = v.chunks_exact(DOT_LANES);
    for ((p_chunk, a_chunk), v_chunk) in (&mut p_chunks).zip(&mut a_chunks).zip(&mut v_chunks) {
        for (((lane, p_r), &a_r), &v_r) in lanes.iter_mut().zip(p_chunk).zip(a_chunk).zip(v_chunk) {
            *p_r += a_r * v_j;
            *lane += a_r * v_r;
        }
    }
    let mut dot: f64 = lanes.iter().sum();
    for ((p_r, &a_r), &v_r) in p_chunks
        .into_remainder()
        .iter_mut()
        .zip(a_chunks.remainder())
        .zip(v_chunks.remainder())
    {
        *p_r += a_r * v_j;
        dot += a_r * v_r;
    }
    dot
}

/// Turns `x` into the reflector `v` (with `v[0] = 1`) of `H = I − τ·v·vᵀ`, where
/// `H·x = β·e₁`, and returns `(τ, β)` (LAPACK's `dlarfg`); `τ = 0` when `x` is already
/// a multiple of `e₁`.
fn householder(x: &mut [f64]) -> (f64, f64) {
    let Some((first, rest)) = x.split_first_mut() else {
        return (0.0, 0.0);
    };
    let alpha = *first;
    let rest_norm = rest.iter().map(|v| v * v).sum::<f64>().sqrt();
    if rest_norm == 0.0 {
        return (0.0, alpha);
    }
    let beta = -hypot(alpha, rest_norm).copysign(alpha);
    let tau = (beta - alpha) / beta;
    let scale = 1.0 / (alpha - beta);
    for value in rest.iter_mut() {
        *value *= scale;
    }
    *first = 1.0;
    (tau, beta)
}

/// The two buffers the Gram route allocates for a Gram matrix of `side × side`, in bytes and
/// in that order: the matrix itself, then the panels its samples are packed into.
pub fn gram_buffer_bytes(side: u64) -> (u64, u64) {
    let f64_bytes = std::mem::size_of::<f64>() as u64;
    let panel = GRAM_PANEL as u64;
    let matrix = f64_bytes.saturating_mul(side).saturating_mul(side);
    let panels = f64_bytes
        .saturating_mul(GRAM_CHUNK_SAMPLES as u64)
        .saturating_mul(panel)
        .saturating_mul(side.div_ceil(panel));
    (matrix, panels)
}

/// Forms the lower triangle (with the diagonal) of the Gram matrix of the smaller side:
/// `WᵀW` for a tall block, `W·Wᵀ` for a wide one. The strict upper triangle stays zero.
///
/// Both are `G = Σ_k x_k·x_kᵀ` over the samples `x_k` of the larger side (the rows of a tall
/// block, the columns of a wide one). The samples are copied a chunk at a time into panels
/// of [`GRAM_PANEL`] entries, so that each `GRAM_PANEL × GRAM_PANEL` tile of `G` is summed
/// from two short contiguous runs; only the tiles on or below the diagonal are formed.
///
/// `None` when `on_progress` (told the share of samples summed after each chunk) stops it.
///
/// With `half`, only that half's columns of tiles are formed (see [`GramHalf`]).
#[inline(never)]
fn gram_lower(
    window: &MatrixWindow<'_>,
    half: Option<GramHalf>,
    on_progress: &mut dyn FnMut(f64) -> ControlFlow<()>,
) -> Option<DMatrix<f64>> {
    let mut sum = GramSum::new(window, half);
    sum.add_available(window, window.n_samples(), &mut |done| on_progress(done))
        .is_continue()
        .then(|| sum.into_gram())
}

/// The lower triangle of the Gram matrix of a window (or one half of it, see [`GramHalf`]),
/// summed a chunk of 256 samples at a time as the samples become available: a tall window's
/// leading rows can be summed while its later rows are still downloading. The chunks are the
/// same whenever the samples arrive, so the sum is exactly the one formed in one go
/// ([`gram_lower_half`]).
#[derive(Debug, Clone)]
pub struct GramSum {
    /// With `Some`, only that half's columns of tiles (see [`GramHalf`]).
    half: Option<GramHalf>,
    /// The window's shape, `(n_rows, n_cols)`: every call must pass a window of this shape.
    shape: (usize, usize),
    /// The sum so far, lower triangle only.
    gram: DMatrix<f64>,
    /// `panels[p][k][c] = x_(first + k)[GRAM_PANEL·p + c]`, zero past the last entry.
    panels: Vec<f64>,
    /// Samples summed so far.
    samples_done: usize,
}

impl GramSum {
    /// An empty sum for `window`'s Gram matrix (or `half` of it).
    pub fn new(window: &MatrixWindow<'_>, half: Option<GramHalf>) -> Self {
        let size = window.gram_side();
        Self {
            half,
            shape: (window.n_rows, window.n_cols),
            gram: DMatrix::<f64>::zeros(size, size),
            panels: vec![0.0_f64; size.div_ceil(GRAM_PANEL) * GRAM_CHUNK_SAMPLES * GRAM_PANEL],
            samples_done: 0,
        }
    }

    /// The number of samples summed so far.
    pub fn samples_done(&self) -> usize {
        self.samples_done
    }

    /// Sums every chunk whose samples are all among `window`'s first `available` samples (the
    /// last, shorter chunk once all are). `window` must have the shape this sum was made for
    /// (another shape adds nothing). Breaks when `on_progress` (told the share of samples
    /// summed after each chunk) does. Generic, not `dyn`: a call while the bytes arrive and
    /// the job's call each get their own code, with no indirect call for the browser to
    /// specialise on the first callee it sees.
    #[inline(never)]
    pub fn add_available(
        &mut self,
        window: &MatrixWindow<'_>,
        available: usize,
        on_progress: &mut impl FnMut(f64) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        if (window.n_rows, window.n_cols) != self.shape {
            return ControlFlow::Continue(());
        }
        let is_tall = window.n_rows >= window.n_cols;
        let n_samples = window.n_samples();
        let available = available.min(n_samples);
        while self.samples_done < n_samples {
            let first = self.samples_done;
            let n_chunk = GRAM_CHUNK_SAMPLES.min(n_samples - first);
            if first + n_chunk > available {
                break;
            }
            pack_samples(window, is_tall, first, n_chunk, &mut self.panels);
            add_chunk_products(&mut self.gram, &self.panels, n_chunk, self.half);
            self.samples_done += n_chunk;
            on_progress(self.samples_done as f64 / n_samples as f64)?;
        }
        ControlFlow::Continue(())
    }

    /// The sum: the Gram matrix once every sample was added.
    pub fn into_gram(self) -> DMatrix<f64> {
        self.gram
    }
}

/// Adds the products of one chunk of `n_chunk` packed samples (see [`gram_lower`]) to the lower
/// triangle of `gram`; with `half`, only that half's tiles.
fn add_chunk_products(
    gram: &mut DMatrix<f64>,
    panels: &[f64],
    n_chunk: usize,
    half: Option<GramHalf>,
) {
    let panel_len = GRAM_CHUNK_SAMPLES * GRAM_PANEL;
    add_tile_products(gram, 0, panels, panels, panel_len, n_chunk, 1.0, half);
}

/// Adds `scale·Σ_k a_k·b_kᵀ` to the lower triangle of the block of rows and columns `first..`
/// of `matrix`, tile by tile with [`tile_product`], where `left` and `right` hold the samples
/// `a_k` and `b_k` packed into panels of [`GRAM_PANEL`] rows, `panel_len` apart, of which the
/// first `n_samples` samples are used. With `half`, only that half's tile columns.
///
/// The one loop over tiles of both the Gram matrix and the reduction's rank-`2k` updates,
/// called once per chunk or panel, so that the browser can switch it to optimised code between
/// two calls.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn add_tile_products(
    matrix: &mut DMatrix<f64>,
    first: usize,
    left: &[f64],
    right: &[f64],
    panel_len: usize,
    n_samples: usize,
    scale: f64,
    half: Option<GramHalf>,
) {
    let used_len = n_samples * GRAM_PANEL;
    for (p, left_p) in left.chunks_exact(panel_len).enumerate() {
        let left_p = left_p.get(..used_len).unwrap_or_default();
        for (q, right_q) in right.chunks_exact(panel_len).take(p + 1).enumerate() {
            if half.is_some_and(|half| !half.owns_tile_column(q)) {
                continue;
            }
            let right_q = right_q.get(..used_len).unwrap_or_default();
            let tile = tile_product(left_p, right_q);
            add_lower_tile(matrix, first, p, q, &tile, scale);
        }
    }
}

/// Copies samples `first..first + n_chunk` into the panels (see [`gram_lower`]).
#[inline(never)]
fn pack_samples(
    window: &MatrixWindow<'_>,
    is_tall: bool,
    first: usize,
    n_chunk: usize,
    panels: &mut [f64],
) {
    let panel_len = GRAM_CHUNK_SAMPLES * GRAM_PANEL;
    if is_tall {
        // Sample k is row k: entry i of it is column i's k-th element.
        for (i, column) in window.columns().enumerate() {
            let (p, c) = (i / GRAM_PANEL, i % GRAM_PANEL);
            let Some(panel) = panels.get_mut(p * panel_len..(p + 1) * panel_len) else {
                continue;
            };
            let rows = column.get(first..first + n_chunk).unwrap_or_default();
            for (slot, &value) in panel.iter_mut().skip(c).step_by(GRAM_PANEL).zip(rows) {
                *slot = value;
            }
        }
    } else {
        // Sample k is column k, already contiguous.
        for (k, column) in window.columns().skip(first).take(n_chunk).enumerate() {
            pack_sample(panels, panel_len, k, column);
        }
    }
}

/// Copies the contiguous sample `k` into the panels: entries `GRAM_PANEL·p..` of it go to
/// panel `p` (each `panel_len` long), at offset `k·GRAM_PANEL`.
fn pack_sample(panels: &mut [f64], panel_len: usize, k: usize, sample: &[f64]) {
    for (p, entries) in sample.chunks(GRAM_PANEL).enumerate() {
        let start = p * panel_len + k * GRAM_PANEL;
        if let Some(slots) = panels.get_mut(start..start + entries.len()) {
            slots.copy_from_slice(entries);
        }
    }
}

/// `tile[j][i] = Σ_k a_k[i]·b_k[j]` over two panels of interleaved samples.
#[inline(never)]
fn tile_product(panel_a: &[f64], panel_b: &[f64]) -> [[f64; GRAM_PANEL]; GRAM_PANEL] {
    let mut tile = [[0.0_f64; GRAM_PANEL]; GRAM_PANEL];
    for (a, b) in panel_a
        .chunks_exact(GRAM_PANEL)
        .zip(panel_b.chunks_exact(GRAM_PANEL))
    {
        for (tile_column, &b_j) in tile.iter_mut().zip(b) {
            for (entry, &a_i) in tile_column.iter_mut().zip(a) {
                *entry += a_i * b_j;
            }
        }
    }
    tile
}

/// Adds `scale·tile` to tile `(p, q)` of the block of rows and columns `first..` of
/// `matrix`, on and below the diagonal only.
fn add_lower_tile(
    matrix: &mut DMatrix<f64>,
    first: usize,
    p: usize,
    q: usize,
    tile: &[[f64; GRAM_PANEL]; GRAM_PANEL],
    scale: f64,
) {
    let size = matrix.nrows();
    let first_row = first + p * GRAM_PANEL;
    let first_col = first + q * GRAM_PANEL;
    if p > q && first_row + GRAM_PANEL <= size {
        // A whole tile below the diagonal: four runs of four entries.
        let start = first_col * size + first_row;
        let Some(block) = matrix.as_mut_slice().get_mut(start..) else {
            return;
        };
        for (column, tile_column) in block.chunks_mut(size).zip(tile) {
            for (entry, &value) in column.iter_mut().zip(tile_column) {
                *entry += scale * value;
            }
        }
        return;
    }
    let n_tile_rows = GRAM_PANEL.min(size.saturating_sub(first_row));
    for (j, tile_column) in tile.iter().enumerate() {
        let col = first_col + j;
        if col >= size {
            break;
        }
        // Rows from max(first_row, col): on or below the diagonal.
        let skip = col.saturating_sub(first_row);
        let start = col * size + first_row;
        let Some(target) = matrix.as_mut_slice().get_mut(start..start + n_tile_rows) else {
            continue;
        };
        for (entry, &value) in target.iter_mut().zip(tile_column).skip(skip) {
            *entry += scale * value;
        }
    }
}

/// `‖G‖²_F` of a symmetric matrix from its lower triangle.
#[inline(never)]
fn lower_norm_squared(gram: &DMatrix<f64>) -> f64 {
    let mut total = 0.0;
    for (col, column) in gram.column_iter().enumerate() {
        for (row, value) in column.iter().enumerate().skip(col) {
            let weight = if row == col { 1.0 } else { 2.0 };
            total += weight * value * value;
        }
    }
    total
}

/// The largest row sum of absolute values of a symmetric tridiagonal matrix.
fn tridiagonal_norm(diagonal: &[f64], off_diagonal: &[f64]) -> f64 {
    diagonal
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let before = i
                .checked_sub(1)
                .and_then(|j| off_diagonal.get(j))
                .map_or(0.0, |e| e.abs());
            let after = off_diagonal.get(i).map_or(0.0, |e| e.abs());
            d.abs() + before + after
        })
        .fold(0.0, f64::max)
}

/// Checks the Gram eigenvalues: `Σλ = ‖W‖²_F`, `Σλ² = ‖G‖²_F`, none clearly negative.
fn eigenvalues_are_valid(
    eigenvalues: &[f64],
    matrix_norm_squared: f64,
    gram_norm_squared: f64,
) -> bool {
    if eigenvalues.iter().any(|l| !l.is_finite()) {
        return false;
    }
    let sum: f64 = eigenvalues.iter().sum();
    let sum_squares: f64 = eigenvalues.iter().map(|l| l * l).sum();
    let lambda_max = eigenvalues.first().copied().unwrap_or(0.0);
    let lambda_min = eigenvalues.last().copied().unwrap_or(0.0);
    (sum - matrix_norm_squared).abs() <= GRAM_CHECK_TOLERANCE * matrix_norm_squared
        && (sum_squares - gram_norm_squared).abs() <= GRAM_CHECK_TOLERANCE * gram_norm_squared
        && lambda_min >= -GRAM_NEGATIVE_TOLERANCE * lambda_max
}

/// Every eigenvalue of the symmetric tridiagonal matrix with the given diagonal and
/// off-diagonal, by implicit-shift QL iterations (unsorted); `None` when they do not converge.
#[inline(never)]
fn tridiagonal_eigenvalues(diagonal: &[f64], off_diagonal: &[f64]) -> Option<Vec<f64>> {
    let size = diagonal.len();
    let mut d = diagonal.to_vec();
    // e[i] couples i and i + 1; the extra trailing zero keeps the sweeps free of edge cases.
    let mut e: Vec<f64> = off_diagonal.iter().copied().chain([0.0]).collect();
    e.truncate(size);
    let max_iterations = QL_ITERATIONS_PER_VALUE;
    for l in 0..size {
        let mut iterations = 0;
        loop {
            // The first negligible off-diagonal entry at or after l splits the problem.
            let mut m = l;
            while m + 1 < size {
                let scale = d.get(m)?.abs() + d.get(m + 1)?.abs();
                if e.get(m)?.abs() <= f64::EPSILON * scale {
                    break;
                }
                m += 1;
            }
            if m == l {
                break;
            }
            iterations += 1;
            if iterations > max_iterations {
                return None;
            }
            ql_sweep(&mut d, &mut e, l, m)?;
        }
    }
    Some(d)
}

/// `√(a² + b²)`: the plain formula where `a² + b²` is a normal number (no overflow, no
/// underflow), the careful and much slower `f64::hypot` otherwise.
fn hypot(a: f64, b: f64) -> f64 {
    let sum_squares = a * a + b * b;
    if sum_squares.is_normal() {
        sum_squares.sqrt()
    } else {
        a.hypot(b)
    }
}

/// One implicit QL sweep with a Wilkinson-like shift over the unreduced block `l..=m`.
#[inline(never)]
fn ql_sweep(d: &mut [f64], e: &mut [f64], l: usize, m: usize) -> Option<()> {
    let d_l = *d.get(l)?;
    let e_l = *e.get(l)?;
    let mut g = (*d.get(l + 1)? - d_l) / (2.0 * e_l);
    let mut r = hypot(g, 1.0);
    g = *d.get(m)? - d_l + e_l / (g + r.copysign(g));
    let (mut s, mut c, mut p) = (1.0_f64, 1.0_f64, 0.0_f64);
    let mut i = m;
    while i > l {
        i -= 1;
        let e_i = *e.get(i)?;
        let f = s * e_i;
        let b = c * e_i;
        r = hypot(f, g);
        *e.get_mut(i + 1)? = r;
        if r == 0.0 {
            // Underflow: the block splits here; the caller searches again.
            *d.get_mut(i + 1)? -= p;
            *e.get_mut(m)? = 0.0;
            return Some(());
        }
        s = f / r;
        c = g / r;
        g = *d.get(i + 1)? - p;
        r = (*d.get(i)? - g) * s + 2.0 * c * b;
        p = s * r;
        *d.get_mut(i + 1)? = g + p;
        g = c * r - b;
    }
    *d.get_mut(l)? -= p;
    *e.get_mut(l)? = g;
    *e.get_mut(m)? = 0.0;
    Some(())
}

/// Eigenvectors (as columns) of the symmetric tridiagonal matrix for the given eigenvalues,
/// in descending order, by inverse iteration. Vectors whose eigenvalues lie within
/// `CLUSTER_TOLERANCE · ‖T‖` of each other are orthogonalised against each other, and equal
/// eigenvalues are separated by a few rounding units first, as LAPACK's `dstein` does.
#[inline(never)]
fn tridiagonal_eigenvectors(
    diagonal: &[f64],
    off_diagonal: &[f64],
    eigenvalues: &[f64],
    norm: f64,
) -> DMatrix<f64> {
    let size = diagonal.len();
    let mut vectors: Vec<Vec<f64>> = Vec::with_capacity(eigenvalues.len());
    let separation = 10.0 * f64::EPSILON * norm;
    let tiny_pivot = f64::EPSILON * norm.max(f64::MIN_POSITIVE);
    let mut shifts: Vec<f64> = Vec::with_capacity(eigenvalues.len());
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for &lambda in eigenvalues {
        let shift = match shifts.last() {
            Some(&previous) if previous - lambda < separation => previous - separation,
            _ => lambda,
        };
        shifts.push(shift);
        let factors = TridiagonalLu::new(diagonal, off_diagonal, shift, tiny_pivot);
        // A fixed pseudo-random start keeps the result reproducible.
        let mut x: Vec<f64> = (0..size)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                // The top 53 bits as a fraction in [0, 1), shifted to [-1, 1).
                ((seed >> 11) as f64) * (2.0 / 9_007_199_254_740_992.0) - 1.0
            })
            .collect();
        let cluster_start = shifts
            .iter()
            .rposition(|&s| s - shift > CLUSTER_TOLERANCE * norm)
            .map_or(0, |i| i + 1);
        inverse_iteration(
            &factors,
            vectors.get(cluster_start..).unwrap_or_default(),
            &mut x,
        );
        vectors.push(x);
    }
    let k = vectors.len();
    DMatrix::from_vec(size, k, vectors.into_iter().flatten().collect())
}

/// Refines the start `x` into a unit eigenvector by [`INVERSE_ITERATION_STEPS`] solves with
/// the shifted factors, each followed by orthogonalisation against the vectors of its cluster.
/// A separate function, called once per vector (see [`reduce_panel_column`]).
#[inline(never)]
fn inverse_iteration(factors: &TridiagonalLu, cluster: &[Vec<f64>], x: &mut [f64]) {
    for _step in 0..INVERSE_ITERATION_STEPS {
        normalise(x);
        factors.solve(x);
        for previous in cluster {
            let dot: f64 = previous.iter().zip(x.iter()).map(|(a, b)| a * b).sum();
            for (value, p) in x.iter_mut().zip(previous) {
                *value -= dot * p;
            }
        }
    }
    normalise(x);
}

/// Scales `x` to unit length (a zero vector becomes the first unit vector).
fn normalise(x: &mut [f64]) {
    let scale = x.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    if scale == 0.0 || !scale.is_finite() {
        x.iter_mut().for_each(|v| *v = 0.0);
        if let Some(first) = x.first_mut() {
            *first = 1.0;
        }
        return;
    }
    x.iter_mut().for_each(|v| *v /= scale);
    let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
    x.iter_mut().for_each(|v| *v /= norm);
}

/// The LU factors, with partial pivoting, of `T − shift·I` for a symmetric tridiagonal `T`
/// (LAPACK's `dgttrf` layout): `u0`, `u1`, `u2` are the diagonal and two superdiagonals of
/// `U`, `l` the multipliers, `swapped[i]` whether rows `i` and `i + 1` were exchanged.
struct TridiagonalLu {
    /// Diagonal of `U`; zero pivots are replaced by a tiny value.
    u0: Vec<f64>,
    /// First superdiagonal of `U`.
    u1: Vec<f64>,
    /// Second superdiagonal of `U`.
    u2: Vec<f64>,
    /// Multipliers of `L`.
    l: Vec<f64>,
    /// Row exchanges.
    swapped: Vec<bool>,
}

impl TridiagonalLu {
    /// Factors `T − shift·I`.
    #[inline(never)]
    fn new(diagonal: &[f64], off_diagonal: &[f64], shift: f64, tiny_pivot: f64) -> Self {
        let size = diagonal.len();
        let mut u0: Vec<f64> = diagonal.iter().map(|d| d - shift).collect();
        let mut u1: Vec<f64> = off_diagonal.to_vec();
        let mut l: Vec<f64> = off_diagonal.to_vec();
        let mut u2 = vec![0.0; size.saturating_sub(2)];
        let mut swapped = vec![false; size.saturating_sub(1)];
        for i in 0..size.saturating_sub(1) {
            let (Some(&pivot), Some(&below), Some(&next)) = (u0.get(i), l.get(i), u0.get(i + 1))
            else {
                break;
            };
            let above = u1.get(i).copied().unwrap_or(0.0);
            if pivot.abs() >= below.abs() {
                if pivot != 0.0 {
                    let factor = below / pivot;
                    set(&mut l, i, factor);
                    set(&mut u0, i + 1, next - factor * above);
                }
            } else {
                let factor = pivot / below;
                set(&mut u0, i, below);
                set(&mut l, i, factor);
                set(&mut u1, i, next);
                set(&mut u0, i + 1, above - factor * next);
                if let Some(&after) = u1.get(i + 1) {
                    set(&mut u2, i, after);
                    set(&mut u1, i + 1, -factor * after);
                }
                set(&mut swapped, i, true);
            }
        }
        for pivot in &mut u0 {
            if pivot.abs() < tiny_pivot {
                *pivot = tiny_pivot.copysign(*pivot);
            }
        }
        Self {
            u0,
            u1,
            u2,
            l,
            swapped,
        }
    }

    /// Solves `(T − shift·I)·x = b` in place.
    fn solve(&self, b: &mut [f64]) {
        let size = b.len();
        for i in 0..size.saturating_sub(1) {
            let (Some(&factor), Some(&swap)) = (self.l.get(i), self.swapped.get(i)) else {
                break;
            };
            let (Some(&b_i), Some(&b_next)) = (b.get(i), b.get(i + 1)) else {
                break;
            };
            if swap {
                set(b, i, b_next);
                set(b, i + 1, b_i - factor * b_next);
            } else {
                set(b, i + 1, b_next - factor * b_i);
            }
        }
        for i in (0..size).rev() {
            let next = b.get(i + 1).copied().unwrap_or(0.0);
            let after = b.get(i + 2).copied().unwrap_or(0.0);
            let u1 = self.u1.get(i).copied().unwrap_or(0.0);
            let u2 = self.u2.get(i).copied().unwrap_or(0.0);
            let pivot = self.u0.get(i).copied().unwrap_or(1.0);
            if let Some(value) = b.get_mut(i) {
                *value = (*value - u1 * next - u2 * after) / pivot;
            }
        }
    }
}

/// Writes `value` at `index` when it exists.
fn set<T>(values: &mut [T], index: usize, value: T) {
    if let Some(place) = values.get_mut(index) {
        *place = value;
    }
}

/// Computes the left singular vectors and singular values of `m`, sorted by descending
/// singular value, with the sign of each vector fixed (largest-magnitude entry positive).
///
/// The result is verified: with `b = uᵀ · m`, the rows of `b` must be orthogonal with
/// squared norms `σ²`, and `Σ σ²` must equal `‖m‖²_F`. nalgebra is tried first (with two
/// tolerances, then on the transpose); one-sided Jacobi rotations are the final fallback.
///
/// # Errors
/// [`SvdError::EmptyMatrix`], [`SvdError::NonFinite`] or [`SvdError::DidNotConverge`].
pub fn thin_svd(m: &DMatrix<f64>) -> Result<ThinSvd, SvdError> {
    MatrixWindow::whole(m).check()?;
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
/// [`SvdError::EmptyMatrix`], [`SvdError::NonFinite`], or [`SvdError::DidNotConverge`]
/// when the sweeps do not converge.
pub fn thin_svd_jacobi(m: &DMatrix<f64>) -> Result<ThinSvd, SvdError> {
    MatrixWindow::whole(m).check()?;
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
        return Err(SvdError::DidNotConverge {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;
    use nalgebra::linalg::SymmetricEigen;

    /// A deterministic orthogonal matrix from the QR decomposition of a fixed pseudo-random one.
    fn orthogonal(size: usize, seed: u64) -> DMatrix<f64> {
        let mut state = seed;
        let m = DMatrix::from_fn(size, size, |_, _| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 11) as f64) / 9_007_199_254_740_992.0 - 0.5
        });
        m.qr().q()
    }

    /// `W = P·diag(σ)·Qᵀ` with the given singular values (tall: rows ≥ columns).
    fn with_singular_values(n_rows: usize, sigma: &[f64], seed: u64) -> DMatrix<f64> {
        let n_cols = sigma.len();
        let p = orthogonal(n_rows, seed).columns(0, n_cols).into_owned();
        let q = orthogonal(n_cols, seed + 1);
        p * DMatrix::from_diagonal(&nalgebra::DVector::from_row_slice(sigma)) * q.transpose()
    }

    /// The two halves of the Gram matrix of `window`, each formed alone, then completed with
    /// the other's export, as two workers do.
    fn gram_from_halves(window: &MatrixWindow<'_>) -> [DMatrix<f64>; 2] {
        let go = &mut |_share: f64| ControlFlow::Continue(());
        let first = gram_lower_half(window, GramHalf::First, go).unwrap();
        let second = gram_lower_half(window, GramHalf::Second, go).unwrap();
        let first_values = export_gram_half(&first, GramHalf::First);
        let second_values = export_gram_half(&second, GramHalf::Second);
        let side = window.gram_side();
        assert_eq!(first_values.len(), GramHalf::First.exported_len(side));
        assert_eq!(
            first_values.len() + second_values.len(),
            side * (side + 1) / 2,
            "the halves cover the lower triangle once"
        );
        let mut first_done = first;
        assert!(import_gram_half(
            &mut first_done,
            GramHalf::Second,
            &second_values
        ));
        let mut second_done = second;
        assert!(import_gram_half(
            &mut second_done,
            GramHalf::First,
            &first_values
        ));
        [first_done, second_done]
    }

    #[test]
    fn gram_halves_make_the_whole_gram_matrix() {
        // Sides that end inside a tile and on a tile's edge, tall and wide, and one tile only.
        for (n_rows, n_cols) in [(41, 13), (13, 41), (300, 16), (9, 3), (3, 9), (700, 37)] {
            let m = DMatrix::from_fn(n_rows, n_cols, |r, c| {
                ((r * 31 + c * 17) % 23) as f64 - 11.0 + 0.25 * (r as f64 + 1.0).ln()
            });
            let window = MatrixWindow::whole(&m);
            let whole = gram_lower(&window, None, &mut |_| ControlFlow::Continue(())).unwrap();
            for (index, gram) in gram_from_halves(&window).iter().enumerate() {
                assert_eq!(gram, &whole, "{n_rows} × {n_cols}, half {index}");
            }
        }
    }

    #[test]
    fn gram_halves_reject_a_wrong_count_and_keep_the_matrix() {
        let m = DMatrix::from_fn(20, 10, |r, c| (r as f64 - c as f64).sin());
        let window = MatrixWindow::whole(&m);
        let mut gram =
            gram_lower_half(&window, GramHalf::First, &mut |_| ControlFlow::Continue(())).unwrap();
        let before = gram.clone();
        let too_short = vec![1.0; GramHalf::Second.exported_len(10) - 1];
        assert!(!import_gram_half(&mut gram, GramHalf::Second, &too_short));
        assert!(!import_gram_half(&mut gram, GramHalf::Second, &[]));
        assert_eq!(gram, before);
    }

    #[test]
    fn values_from_a_shared_gram_matrix_take_the_gram_route() {
        let sigma: Vec<f64> = (0..40).map(|i| 10.0 * 0.8_f64.powi(i)).collect();
        let w = with_singular_values(90, &sigma, 7);
        let window = MatrixWindow::whole(&w);
        let [gram, _] = gram_from_halves(&window);
        let shared =
            singular_values_from_gram(window, gram, &mut |_| ControlFlow::Continue(())).unwrap();
        assert!(matches!(shared, ValuesFirst::Gram(_)));
        let alone = singular_values_first(window).unwrap();
        assert_eq!(shared.singular_values(), alone.singular_values());
        let (shared, alone) = (shared.into_top_k(8).unwrap(), alone.into_top_k(8).unwrap());
        assert_eq!(shared.method, SvdMethod::Gram);
        assert_eq!(shared.u_top_k, alone.u_top_k);

        // The dropped part's matrix without its first 3 columns: the trailing block.
        let dropped = window.without_leading_cols(3).unwrap();
        let [gram, _] = gram_from_halves(&window);
        let block = trailing_gram(gram, 3);
        let direct = gram_lower(&dropped, None, &mut |_| ControlFlow::Continue(())).unwrap();
        assert_eq!(block, direct);

        // The full matrix's from the matrix without its first 4 rows, plus those rows.
        let without_rows = window.without_leading_rows(4).unwrap();
        let [mut gram, _] = gram_from_halves(&without_rows);
        add_leading_samples(&mut gram, &window, 4);
        let direct = gram_lower(&window, None, &mut |_| ControlFlow::Continue(())).unwrap();
        let scale = direct.amax();
        assert!((gram - direct).amax() <= 1e-13 * scale);
    }

    #[test]
    fn a_gram_matrix_that_does_not_belong_to_the_window_falls_back() {
        let sigma: Vec<f64> = (0..12).map(|i| 3.0 - 0.2 * i as f64).collect();
        let w = with_singular_values(30, &sigma, 11);
        let window = MatrixWindow::whole(&w);
        let go = &mut |_share: f64| ControlFlow::Continue(());
        // Only one half: the trace no longer matches ‖W‖²_F.
        let half = gram_lower_half(&window, GramHalf::First, go).unwrap();
        let values = singular_values_from_gram(window, half, go).unwrap();
        assert!(matches!(values, ValuesFirst::Complete(_)));
        // The wrong size.
        let values = singular_values_from_gram(window, DMatrix::zeros(5, 5), go).unwrap();
        assert!(matches!(values, ValuesFirst::Complete(_)));
        for (got, want) in values.singular_values().iter().zip(&sigma) {
            assert!((got - want).abs() <= 1e-12 * sigma[0]);
        }
    }

    #[test]
    fn tridiagonal_reduction_keeps_the_eigenvalues_of_nalgebra() {
        for (size, seed) in [(1, 3), (2, 5), (7, 11), (40, 13), (131, 17)] {
            let a = orthogonal(size, seed);
            let symmetric = &a
                * DMatrix::from_fn(size, size, |r, c| if r == c { r as f64 - 3.5 } else { 0.0 })
                * a.transpose();
            let reduction =
                Tridiagonalisation::new(symmetric.clone(), &mut |_| ControlFlow::Continue(()))
                    .unwrap();
            let mut ours =
                tridiagonal_eigenvalues(&reduction.diagonal, &reduction.off_diagonal).unwrap();
            ours.sort_by(f64::total_cmp);
            let mut theirs: Vec<f64> = SymmetricEigen::new(symmetric.clone())
                .eigenvalues
                .iter()
                .copied()
                .collect();
            theirs.sort_by(f64::total_cmp);
            for (a, b) in ours.iter().zip(&theirs) {
                assert!((a - b).abs() < 1e-10 * size as f64, "{size}: {a} vs {b}");
            }
            // Q·T·Qᵀ gives the matrix back, whatever the panel boundaries.
            let q = reduction.apply_q(DMatrix::identity(size, size));
            let t = DMatrix::from_fn(size, size, |r, c| match r.abs_diff(c) {
                0 => reduction.diagonal[r],
                1 => reduction.off_diagonal[r.min(c)],
                _ => 0.0,
            });
            let rebuilt = &q * t * q.transpose();
            assert!(
                (rebuilt - &symmetric).amax() < 1e-11 * size as f64,
                "{size}"
            );
        }
    }

    #[test]
    fn progress_rises_to_one_in_order() {
        for (n_rows, n_cols) in [(300, 200), (150, 420)] {
            let m = DMatrix::from_fn(n_rows, n_cols, |r, c| {
                (((r * 131 + c * 71 + 7) * 2_654_435_761) % 1000) as f64 / 1000.0 - 0.5
            });
            let mut shares = Vec::new();
            let values = singular_values_first_reporting(MatrixWindow::whole(&m), &mut |share| {
                shares.push(share);
                ControlFlow::Continue(())
            })
            .unwrap();
            assert!(matches!(values, ValuesFirst::Gram(_)));
            assert!(shares.len() >= 3, "{shares:?}");
            assert!(shares.windows(2).all(|w| w[0] <= w[1]), "{shares:?}");
            assert!(shares.iter().all(|&s| (0.0..=1.0).contains(&s)));
            assert!((shares.last().unwrap() - 1.0).abs() < 1e-12, "{shares:?}");
        }
    }

    #[test]
    fn progress_can_stop_the_values_in_either_phase() {
        let m = DMatrix::from_fn(300, 200, |r, c| {
            (((r * 131 + c * 71 + 7) * 2_654_435_761) % 1000) as f64 / 1000.0 - 0.5
        });
        let mut n_calls = 0;
        let _ = singular_values_first_reporting(MatrixWindow::whole(&m), &mut |_| {
            n_calls += 1;
            ControlFlow::Continue(())
        })
        .unwrap();
        // Stop at the first call (in the Gram matrix), in the middle, and at the last (the
        // reduction's last panel): each ends at once with `Cancelled`, never in a fallback.
        for stop_at in [1, n_calls / 2, n_calls] {
            let mut calls = 0;
            let outcome = singular_values_first_reporting(MatrixWindow::whole(&m), &mut |_| {
                calls += 1;
                if calls >= stop_at {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
            assert!(
                matches!(outcome, Err(SvdError::Cancelled)),
                "stop at {stop_at}"
            );
            assert_eq!(calls, stop_at, "no call after the stop");
        }
    }

    #[test]
    fn gram_lower_matches_the_product_for_tall_wide_and_offset_blocks() {
        // Sizes off the tile width and sample counts past one chunk of samples.
        let m = DMatrix::from_fn(601, 263, |r, c| {
            ((r * 31 + c * 17) % 97) as f64 / 97.0 - 0.4
        });
        let whole = MatrixWindow::whole(&m);
        let windows = [
            (whole, m.clone()),
            (
                whole.without_leading_cols(5).unwrap(),
                m.columns(5, 258).into_owned(),
            ),
            (
                whole.without_leading_rows(3).unwrap(),
                m.rows(3, 598).into_owned(),
            ),
        ];
        for (window, copy) in windows {
            for (block, expected) in [
                (window, copy.transpose() * &copy),
                (
                    MatrixWindow::whole(&copy.transpose()),
                    &copy.transpose() * &copy,
                ),
            ] {
                let gram = gram_lower(&block, None, &mut |_| ControlFlow::Continue(())).unwrap();
                let size = expected.nrows();
                assert_eq!(gram.shape(), (size, size));
                for c in 0..size {
                    for r in 0..size {
                        let want = if r >= c { expected[(r, c)] } else { 0.0 };
                        assert!((gram[(r, c)] - want).abs() < 1e-9, "({r}, {c})");
                    }
                }
            }
        }
    }

    #[test]
    fn repeated_singular_values_still_take_the_gram_route() {
        // Clusters of exactly equal values: inverse iteration must separate the shifts and
        // orthogonalise within each cluster.
        let sigma = [3.0, 3.0, 3.0, 2.0, 1.0, 1.0, 0.5, 0.25];
        for (n_rows, seed) in [(8, 1), (20, 7)] {
            let m = with_singular_values(n_rows, &sigma, seed);
            let svd = svd_top_k(MatrixWindow::whole(&m), 6).unwrap();
            assert_eq!(svd.method, SvdMethod::Gram, "{n_rows} rows");
            for (ours, expected) in svd.singular_values.iter().zip(sigma) {
                assert!((ours - expected).abs() < 1e-12, "{ours} vs {expected}");
            }
            let gram = svd.u_top_k.transpose() * &svd.u_top_k;
            assert!((gram - DMatrix::<f64>::identity(6, 6)).amax() < 1e-12);
            // A wide matrix takes the Gram matrix of its rows and gives the same values.
            let wide = svd_top_k(MatrixWindow::whole(&m.transpose()), 6).unwrap();
            assert_eq!(wide.method, SvdMethod::Gram);
            for (a, b) in wide.singular_values.iter().zip(&svd.singular_values) {
                assert!((a - b).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn windows_read_blocks_in_place() {
        let m = DMatrix::from_fn(6, 5, |r, c| (10 * r + c) as f64);
        let rows = MatrixWindow::whole(&m).without_leading_rows(2).unwrap();
        assert_eq!(rows.to_matrix(), m.rows(2, 4).into_owned());
        let both = rows.without_leading_cols(3).unwrap();
        assert_eq!(both.to_matrix(), m.view((2, 3), (4, 2)).into_owned());
        assert!(MatrixWindow::whole(&m).without_leading_rows(6).is_none());
        assert!(MatrixWindow::whole(&m).without_leading_cols(5).is_none());
        let svd = svd_top_k(both, 2).unwrap();
        let copy = thin_svd(&both.to_matrix()).unwrap();
        for (a, b) in svd.singular_values.iter().zip(&copy.singular_values) {
            assert!((a - b).abs() < 1e-9 * copy.singular_values[0]);
        }
    }
}
