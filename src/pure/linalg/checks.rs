//! The checks every result passes before it is returned: the Gram route's eigenvalues
//! against `‖W‖²_F` and `‖G‖²_F`, its vectors for orthonormality and `B·Bᵀ = diag(σ²)`,
//! and a complete SVD the same way on all its vectors.

use nalgebra::DMatrix;

use super::window::MatrixWindow;

/// Relative tolerance (of `‖m‖²_F`) when verifying an SVD result.
const SVD_CHECK_TOLERANCE: f64 = 1e-9;
/// Relative tolerance (of `‖W‖²_F` and `‖G‖²_F`) when verifying the Gram route's values.
const GRAM_CHECK_TOLERANCE: f64 = 1e-9;
/// Eigenvalues of the Gram matrix below `-GRAM_NEGATIVE_TOLERANCE · λ_max` show a failure.
const GRAM_NEGATIVE_TOLERANCE: f64 = 1e-9;
/// Largest deviation of `U_kᵀU_k` from the identity accepted for the Gram route's vectors.
const GRAM_ORTHONORMAL_TOLERANCE: f64 = 1e-10;

/// `‖G‖²_F` of a symmetric matrix from its lower triangle.
#[inline(never)]
pub(super) fn lower_norm_squared(gram: &DMatrix<f64>) -> f64 {
    let mut total = 0.0;
    for (col, column) in gram.column_iter().enumerate() {
        for (row, value) in column.iter().enumerate().skip(col) {
            let weight = if row == col { 1.0 } else { 2.0 };
            total += weight * value * value;
        }
    }
    total
}

/// Checks the Gram eigenvalues: `Σλ = ‖W‖²_F`, `Σλ² = ‖G‖²_F`, none clearly negative.
pub(super) fn eigenvalues_are_valid(
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

/// Checks that `u` and `sigma` form the left half of an SVD of `m`: with `b = uᵀ · m`,
/// `b · bᵀ` must equal `diag(σ²)` and `Σ σ²` must equal `‖m‖²_F`, both to a small
/// tolerance relative to `‖m‖²_F`.
pub(super) fn is_valid_left_svd(m: &DMatrix<f64>, u: &DMatrix<f64>, sigma: &[f64]) -> bool {
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
    is_diagonal_of_squares(&gram, sigma, tolerance)
}

/// Checks the Gram route's first vectors `U` of `window`: `UᵀU = I` and, with `B = Uᵀ·W`,
/// `B·Bᵀ = diag(σ²)`.
#[inline(never)]
pub(super) fn is_valid_top_k(window: &MatrixWindow<'_>, u: &DMatrix<f64>, sigma_k: &[f64]) -> bool {
    let k = u.ncols();
    let gram_u = u.transpose() * u;
    let identity = DMatrix::<f64>::identity(k, k);
    let deviation = (gram_u - identity).amax();
    if deviation.is_nan() || deviation > GRAM_ORTHONORMAL_TOLERANCE {
        return false;
    }
    let mut b = DMatrix::<f64>::zeros(k, window.n_cols());
    b.gemm(1.0, &u.transpose(), &window.view(), 0.0);
    let b_gram = &b * b.transpose();
    let tolerance = SVD_CHECK_TOLERANCE * window.norm_squared();
    is_diagonal_of_squares(&b_gram, sigma_k, tolerance)
}

/// Whether `gram` equals `diag(σ²)` entry by entry, to `tolerance` (a missing `σ` fails).
fn is_diagonal_of_squares(gram: &DMatrix<f64>, sigma: &[f64], tolerance: f64) -> bool {
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
