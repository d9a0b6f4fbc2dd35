//! Singular value decompositions for the analysis, each result verified before it is returned.
//!
//! The analysis needs every singular value of `W_pos` but only the first `k` (at most 50)
//! left singular vectors. The fast route, [`GramValues`] then [`GramValues::left_vectors`],
//! works on the Gram matrix of the smaller side in f64:
//!
//! 1. `G = AᵀA`, where `A` is `W` when it has at least as many rows as columns and `Wᵀ`
//!    otherwise, so `G` is `min(n_rows, n_cols)` square (only its lower triangle is formed,
//!    by blocked matrix products);
//! 2. Householder reflections reduce `G` to a symmetric tridiagonal matrix `T = QᵀGQ`
//!    (LAPACK's `dsytd2`, with each step's symmetric product and rank-2 update done in one
//!    pass over the lower triangle; nalgebra's own reduction makes four passes);
//! 3. implicit-shift QL iterations give every eigenvalue `λ` of `T`, and `σ = √λ`;
//! 4. only when the vectors are wanted: inverse iteration gives the eigenvectors of `T` for
//!    the `k` largest eigenvalues, `V_k = Q·Z_k` (the reflectors applied to those `k` columns
//!    only), and the exact `U_k = W·V_k / σ` (each column scaled to unit length) (for a wide
//!    `W`, `V_k` already holds its left singular vectors).
//!
//! Squaring the matrix squares its condition number: a singular value `σ` comes out with an
//! absolute error near `ε·σ_max²/σ`, so values above `1e-4·σ_max` keep about eight correct
//! digits, while values below about `1e-8·σ_max` are rounding noise (numpy's own noise floor
//! is `ε·σ_max`). The charts and the approximate rank only look far above that.
//!
//! Every result is verified, and a failed check falls back to the next method:
//! - values: `Σλ` must equal `‖W‖²_F` and `Σλ²` must equal `‖G‖²_F`, no eigenvalue may be
//!   clearly negative;
//! - vectors: `U_kᵀU_k = I` and, with `B = U_kᵀ·W`, `B·Bᵀ = diag(σ_k²)`;
//! - otherwise nalgebra's SVD of the whole matrix, verified the same way on all its vectors
//!   ([`thin_svd`]), and one-sided Jacobi rotations as the last resort ([`thin_svd_jacobi`]).

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
/// Columns per block when forming the lower triangle of the Gram matrix.
const GRAM_BLOCK_COLS: usize = 128;
/// nalgebra 0.35 multiplies matrices with a side of at most this many elements by its own
/// loops instead of `matrixmultiply`, and those loops misread views whose rows are strided
/// (such as a transposed view); such small products get contiguous copies first.
const NALGEBRA_SMALL_DIM: usize = 5;
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

    /// The transposed block as a nalgebra view (no copy).
    fn view_transposed(&self) -> StridedView<'a> {
        StridedView::from_slice_with_strides_generic(
            self.data,
            Dyn(self.n_cols),
            Dyn(self.n_rows),
            Dyn(self.col_stride),
            Dyn(1),
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
    window.check()?;
    match GramValues::compute(window) {
        Some(gram) => Ok(ValuesFirst::Gram(gram)),
        None => thin_svd(&window.to_matrix()).map(ValuesFirst::Complete),
    }
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
    fn compute(window: MatrixWindow<'a>) -> Option<Self> {
        let gram = gram_lower(&window);
        let gram_norm_squared = lower_norm_squared(&gram);
        let matrix_norm_squared = window.norm_squared();
        let reduction = Tridiagonalisation::new(gram);
        let diagonal = reduction.diagonal.clone();
        let off_diagonal = reduction.off_diagonal.clone();
        let tridiagonal_norm = tridiagonal_norm(&diagonal, &off_diagonal);
        let mut eigenvalues = tridiagonal_eigenvalues(&diagonal, &off_diagonal)?;
        eigenvalues.sort_by(|a, b| b.total_cmp(a));
        if !eigenvalues_are_valid(&eigenvalues, matrix_norm_squared, gram_norm_squared) {
            return None;
        }
        let singular_values = eigenvalues.iter().map(|&l| l.max(0.0).sqrt()).collect();
        Some(Self {
            window,
            reduction,
            diagonal,
            off_diagonal,
            eigenvalues,
            singular_values,
            tridiagonal_norm,
        })
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
    fn new(mut matrix: DMatrix<f64>) -> Self {
        let size = matrix.nrows();
        let mut taus = Vec::with_capacity(size.saturating_sub(1));
        let mut diagonal = Vec::with_capacity(size);
        let mut off_diagonal = Vec::with_capacity(size.saturating_sub(1));
        let mut p: Vec<f64> = Vec::with_capacity(size);
        for i in 0..size {
            let (done, trailing) = matrix.as_mut_slice().split_at_mut((i + 1) * size);
            let column_i = done.get_mut(i * size..).unwrap_or_default();
            diagonal.push(column_i.get(i).copied().unwrap_or(0.0));
            let Some(x) = column_i.get_mut(i + 1..) else {
                break;
            };
            if x.is_empty() {
                break;
            }
            let (tau, beta) = householder(x);
            taus.push(tau);
            off_diagonal.push(beta);
            if tau == 0.0 {
                continue;
            }
            let v: &[f64] = x;
            let n_trailing = v.len();
            // p = τ·A₂₂·v from the lower triangle of A₂₂ (rows and columns i + 1..), in one pass.
            p.clear();
            p.resize(n_trailing, 0.0);
            for (jj, column) in trailing.chunks_exact(size).enumerate() {
                let Some(lower) = column.get(i + 1 + jj..) else {
                    continue;
                };
                let (Some(&v_j), Some(v_below)) = (v.get(jj), v.get(jj + 1..)) else {
                    continue;
                };
                let (Some(&a_jj), Some(a_below)) = (lower.first(), lower.get(1..)) else {
                    continue;
                };
                let mut dot = a_jj * v_j;
                if let Some(p_below) = p.get_mut(jj + 1..) {
                    for ((p_r, &a), &v_r) in p_below.iter_mut().zip(a_below).zip(v_below) {
                        *p_r += a * v_j;
                        dot += a * v_r;
                    }
                }
                if let Some(p_j) = p.get_mut(jj) {
                    *p_j += dot;
                }
            }
            let p_dot_v: f64 = p.iter().zip(v).map(|(a, b)| a * b).sum();
            // w = τ·p − (τ²/2)(pᵀv)·v, then A₂₂ −= v·wᵀ + w·vᵀ on the lower triangle.
            let correction = -0.5 * tau * tau * p_dot_v;
            for (p_r, &v_r) in p.iter_mut().zip(v) {
                *p_r = tau * *p_r + correction * v_r;
            }
            let w: &[f64] = &p;
            for (jj, column) in trailing.chunks_exact_mut(size).enumerate() {
                let Some(lower) = column.get_mut(i + 1 + jj..) else {
                    continue;
                };
                let (Some(&v_j), Some(&w_j)) = (v.get(jj), w.get(jj)) else {
                    continue;
                };
                let (Some(v_tail), Some(w_tail)) = (v.get(jj..), w.get(jj..)) else {
                    continue;
                };
                for ((a, &v_r), &w_r) in lower.iter_mut().zip(v_tail).zip(w_tail) {
                    *a -= v_r * w_j + w_r * v_j;
                }
            }
        }
        Self {
            reflectors: matrix,
            taus,
            diagonal,
            off_diagonal,
        }
    }

    /// Returns `Q·z`, applying the reflectors to the columns of `z` only.
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
                let dot: f64 = tail.iter().zip(v).map(|(a, b)| a * b).sum();
                let scale = tau * dot;
                for (a, &v_r) in tail.iter_mut().zip(v) {
                    *a -= scale * v_r;
                }
            }
        }
        z
    }
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
    let beta = -alpha.hypot(rest_norm).copysign(alpha);
    let tau = (beta - alpha) / beta;
    let scale = 1.0 / (alpha - beta);
    for value in rest.iter_mut() {
        *value *= scale;
    }
    *first = 1.0;
    (tau, beta)
}

/// Forms the lower triangle (with the diagonal) of the Gram matrix of the smaller side:
/// `WᵀW` for a tall block, `W·Wᵀ` for a wide one. The strict upper triangle stays zero.
fn gram_lower(window: &MatrixWindow<'_>) -> DMatrix<f64> {
    let (a, a_t) = if window.n_rows >= window.n_cols {
        (window.view(), window.view_transposed())
    } else {
        (window.view_transposed(), window.view())
    };
    let size = a.ncols();
    let mut gram = DMatrix::<f64>::zeros(size, size);
    let mut start = 0;
    while start < size {
        let width = GRAM_BLOCK_COLS.min(size - start);
        let height = size - start;
        let left = a_t.rows(start, height);
        let right = a.columns(start, width);
        let mut block = gram.view_mut((start, start), (height, width));
        if height.min(width).min(left.ncols()) > NALGEBRA_SMALL_DIM {
            block.gemm(1.0, &left, &right, 0.0);
        } else {
            block.gemm(1.0, &left.into_owned(), &right.into_owned(), 0.0);
        }
        start += width;
    }
    gram
}

/// `‖G‖²_F` of a symmetric matrix from its lower triangle.
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

/// One implicit QL sweep with a Wilkinson-like shift over the unreduced block `l..=m`.
fn ql_sweep(d: &mut [f64], e: &mut [f64], l: usize, m: usize) -> Option<()> {
    let d_l = *d.get(l)?;
    let e_l = *e.get(l)?;
    let mut g = (*d.get(l + 1)? - d_l) / (2.0 * e_l);
    let mut r = g.hypot(1.0);
    g = *d.get(m)? - d_l + e_l / (g + r.copysign(g));
    let (mut s, mut c, mut p) = (1.0_f64, 1.0_f64, 0.0_f64);
    let mut i = m;
    while i > l {
        i -= 1;
        let e_i = *e.get(i)?;
        let f = s * e_i;
        let b = c * e_i;
        r = f.hypot(g);
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
        for _step in 0..INVERSE_ITERATION_STEPS {
            normalise(&mut x);
            factors.solve(&mut x);
            for previous in vectors.iter().skip(cluster_start) {
                let dot: f64 = previous.iter().zip(&x).map(|(a, b)| a * b).sum();
                for (value, p) in x.iter_mut().zip(previous) {
                    *value -= dot * p;
                }
            }
        }
        normalise(&mut x);
        vectors.push(x);
    }
    let k = vectors.len();
    DMatrix::from_vec(size, k, vectors.into_iter().flatten().collect())
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

    #[test]
    fn tridiagonal_reduction_keeps_the_eigenvalues_of_nalgebra() {
        for (size, seed) in [(1, 3), (2, 5), (7, 11), (40, 13), (131, 17)] {
            let a = orthogonal(size, seed);
            let symmetric = &a
                * DMatrix::from_fn(size, size, |r, c| if r == c { r as f64 - 3.5 } else { 0.0 })
                * a.transpose();
            let reduction = Tridiagonalisation::new(symmetric.clone());
            let mut ours =
                tridiagonal_eigenvalues(&reduction.diagonal, &reduction.off_diagonal).unwrap();
            ours.sort_by(f64::total_cmp);
            let mut theirs: Vec<f64> = SymmetricEigen::new(symmetric)
                .eigenvalues
                .iter()
                .copied()
                .collect();
            theirs.sort_by(f64::total_cmp);
            for (a, b) in ours.iter().zip(&theirs) {
                assert!((a - b).abs() < 1e-10 * size as f64, "{size}: {a} vs {b}");
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
        assert_eq!(
            both.view_transposed().into_owned(),
            m.view((2, 3), (4, 2)).transpose()
        );
        assert!(MatrixWindow::whole(&m).without_leading_rows(6).is_none());
        assert!(MatrixWindow::whole(&m).without_leading_cols(5).is_none());
        let svd = svd_top_k(both, 2).unwrap();
        let copy = thin_svd(&both.to_matrix()).unwrap();
        for (a, b) in svd.singular_values.iter().zip(&copy.singular_values) {
            assert!((a - b).abs() < 1e-9 * copy.singular_values[0]);
        }
    }
}
