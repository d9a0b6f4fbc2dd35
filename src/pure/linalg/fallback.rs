//! The fallbacks when the Gram route fails its checks: nalgebra's SVD of the whole matrix
//! ([`thin_svd`], with two tolerances, then on the transpose) and one-sided Jacobi rotations
//! as the last resort ([`thin_svd_jacobi`]), and the sign convention of every returned vector
//! ([`fix_sign`]).

use nalgebra::linalg::SVD;
use nalgebra::DMatrix;

use super::checks::is_valid_left_svd;
use super::results::{SvdError, SvdMethod, ThinSvd};
use super::window::MatrixWindow;

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
/// Convergence threshold of the Jacobi fallback: columns count as orthogonal when
/// `|cos angle|` is below this.
const JACOBI_TOLERANCE: f64 = 1e-13;
/// Share of `‖m‖²_F` below which a Jacobi column counts as zero (a norm ratio of 1e-14).
const JACOBI_NEGLIGIBLE_ENERGY: f64 = 1e-28;
/// Maximum number of Jacobi sweeps; quadratic convergence needs far fewer.
const JACOBI_MAX_SWEEPS: usize = 60;
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
