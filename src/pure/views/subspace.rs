//! How similar two models' leading position subspaces are: the principal angles between
//! span(U_k) of each, for models with the same number of positions.

use nalgebra::DMatrix;

use super::ViewError;

/// Returns the principal angles, in radians and ascending, between the spans of the first
/// `k` vectors of `a` and of `b` (each vector one column's worth of values, all of one
/// length).
///
/// Both sets are orthonormalised first (QR), so they need not be exactly orthonormal. The
/// cosines of the angles are the singular values of Q_aᵀ Q_b. 0 means a shared direction,
/// π/2 an orthogonal one.
///
/// # Errors
/// [`ViewError::PositionsDiffer`] when the vector lengths differ; [`ViewError::Empty`] when
/// either set has no vectors or `k` is 0.
pub fn principal_angles(a: &[Vec<f64>], b: &[Vec<f64>], k: usize) -> Result<Vec<f64>, ViewError> {
    let k = k.min(a.len()).min(b.len());
    if k == 0 {
        return Err(ViewError::Empty);
    }
    let q_a = orthonormal_basis(a, k)?;
    let q_b = orthonormal_basis(b, k)?;
    if q_a.nrows() != q_b.nrows() {
        return Err(ViewError::PositionsDiffer {
            n_positions_a: q_a.nrows(),
            n_positions_b: q_b.nrows(),
        });
    }
    let overlap = q_a.tr_mul(&q_b);
    let mut cosines: Vec<f64> = overlap.singular_values().iter().copied().collect();
    cosines.sort_by(|x, y| y.total_cmp(x));
    Ok(cosines
        .into_iter()
        .map(|cosine| cosine.clamp(-1.0, 1.0).acos())
        .collect())
}

/// Returns an orthonormal basis (as columns) of the span of the first `k` vectors.
fn orthonormal_basis(vectors: &[Vec<f64>], k: usize) -> Result<DMatrix<f64>, ViewError> {
    let n = vectors.first().map_or(0, Vec::len);
    if n == 0 {
        return Err(ViewError::Empty);
    }
    if let Some(bad) = vectors.iter().take(k).find(|v| v.len() != n) {
        return Err(ViewError::PositionsDiffer {
            n_positions_a: n,
            n_positions_b: bad.len(),
        });
    }
    let data: Vec<f64> = vectors.iter().take(k).flatten().copied().collect();
    let m = DMatrix::from_column_slice(n, k, &data);
    Ok(m.qr().q())
}

/// Returns the mean of cos² over the angles: 1 for identical subspaces, 0 for orthogonal
/// ones (the normalised squared Frobenius norm of Q_aᵀ Q_b). Empty input gives 0.
pub fn mean_cos_squared(angles_rad: &[f64]) -> f64 {
    if angles_rad.is_empty() {
        return 0.0;
    }
    angles_rad.iter().map(|a| a.cos().powi(2)).sum::<f64>() / angles_rad.len() as f64
}
