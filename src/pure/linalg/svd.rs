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
//!
//! The steps live in the sibling modules of [`crate::pure::linalg`]; this module drives them
//! and re-exports what callers use, so every item is reachable as `linalg::svd::…`.

use std::ops::ControlFlow;

use nalgebra::DMatrix;

use super::checks::{eigenvalues_are_valid, is_valid_top_k, lower_norm_squared};
use super::gram::gram_lower;
use super::inverse_iteration::tridiagonal_eigenvectors;
use super::ql::tridiagonal_eigenvalues;
use super::tridiagonal::{tridiagonal_norm, Tridiagonalisation};

pub use super::fallback::{fix_sign, thin_svd, thin_svd_jacobi};
pub use super::gram::{add_leading_samples, gram_buffer_bytes, gram_lower_half, GramHalf, GramSum};
pub use super::results::{SvdError, SvdMethod, ThinSvd, TopKSvd};
pub use super::shared::{
    export_gram_half, export_gram_half_with, import_gram_half, import_gram_half_with,
    trailing_gram, GramSharing,
};
pub use super::window::MatrixWindow;

/// Singular values at most this share of `σ_max` are too small for `U = W·v/σ`.
const GRAM_MIN_SIGMA_REL: f64 = 1e-6;

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
        let is_tall = self.window.n_rows() >= self.window.n_cols();
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
            let mut u = DMatrix::<f64>::zeros(self.window.n_rows(), k);
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
        is_valid_top_k(&self.window, &u, sigma_k).then_some(u)
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
