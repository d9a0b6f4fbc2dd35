//! Right singular vectors (directions in d_model) and how many model dimensions carry each.
//!
//! The analysis keeps U's first k columns and every singular value. Since W = U Σ Vᵀ, the
//! first k rows of Vᵀ follow exactly: vᵢ = Wᵀ uᵢ / σᵢ for every σᵢ > 0.

use nalgebra::{DMatrix, DVector};

use super::{check_shape, ViewError};
use crate::pure::analysis::SvdSummary;

/// The share of a vector's mass (Σ vⱼ²) that [`dims_for_mass`] counts towards by default.
pub const DEFAULT_MASS_SHARE: f64 = 0.9;

/// The first rows of Vᵀ and, for each, how many model dimensions hold most of its mass.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RightVectors {
    /// vᵢ for i = 0, 1, …, each `d_model` long, with the sign that matches uᵢ.
    pub rows: Vec<Vec<f64>>,
    /// For each vᵢ, the fewest model dimensions holding `mass_share` of Σ vᵢⱼ².
    pub dims_for_share: Vec<usize>,
    /// The share of the mass counted, for example 0.9.
    pub mass_share: f64,
}

/// Returns the first `k` rows of Vᵀ of `w` (the matrix `summary` was computed from), from
/// its kept left singular vectors: vᵢ = Wᵀ uᵢ / σᵢ.
///
/// Rows stop early at the first singular value that is zero (to rounding): their right
/// vector is not determined by W.
///
/// # Errors
/// [`ViewError::ShapeMismatch`] when `w` is not the analysed matrix.
pub fn right_singular_vectors(
    w: &DMatrix<f64>,
    summary: &SvdSummary,
    k: usize,
) -> Result<Vec<Vec<f64>>, ViewError> {
    check_shape(w, summary)?;
    let mut rows = Vec::new();
    for index in 0..k {
        match right_singular_vector(w, summary, index)? {
            Some(row) => rows.push(row),
            None => break,
        }
    }
    Ok(rows)
}

/// Returns row `index` of Vᵀ, vᵢ = Wᵀ uᵢ / σᵢ, or `None` when the analysis did not keep uᵢ
/// or σᵢ is zero to rounding.
///
/// # Errors
/// [`ViewError::ShapeMismatch`] when `w` is not the analysed matrix.
pub fn right_singular_vector(
    w: &DMatrix<f64>,
    summary: &SvdSummary,
    index: usize,
) -> Result<Option<Vec<f64>>, ViewError> {
    check_shape(w, summary)?;
    let sigma_0 = summary.singular_values.first().copied().unwrap_or(0.0);
    // Below this a singular value is zero to rounding.
    let sigma_floor = sigma_0 * f64::EPSILON * (w.nrows().max(w.ncols()) as f64);
    let (Some(u), Some(&sigma)) = (
        summary.u_top_k.get(index),
        summary.singular_values.get(index),
    ) else {
        return Ok(None);
    };
    if !(sigma > sigma_floor && sigma.is_finite()) || u.len() != w.nrows() {
        return Ok(None);
    }
    let u = DVector::from_column_slice(u);
    let v = w.tr_mul(&u) / sigma;
    Ok(Some(v.iter().copied().collect()))
}

/// Returns the fewest entries of `vector` whose squares add up to at least `share` of
/// Σ vⱼ² (largest squares first). A zero vector gives 0.
pub fn dims_for_mass(vector: &[f64], share: f64) -> usize {
    let mut squares: Vec<f64> = vector.iter().map(|v| v * v).collect();
    let total: f64 = squares.iter().sum();
    if !(total > 0.0 && total.is_finite()) {
        return 0;
    }
    squares.sort_by(|a, b| b.total_cmp(a));
    let target = share * total;
    let mut running = 0.0;
    for (index, square) in squares.iter().enumerate() {
        running += square;
        if running >= target {
            return index + 1;
        }
    }
    squares.len()
}

/// Returns the first `k` rows of Vᵀ and how many model dimensions hold `mass_share` of each.
///
/// # Errors
/// As [`right_singular_vectors`].
pub fn right_vectors(
    w: &DMatrix<f64>,
    summary: &SvdSummary,
    k: usize,
    mass_share: f64,
) -> Result<RightVectors, ViewError> {
    let rows = right_singular_vectors(w, summary, k)?;
    let dims_for_share = rows.iter().map(|v| dims_for_mass(v, mass_share)).collect();
    Ok(RightVectors {
        rows,
        dims_for_share,
        mass_share,
    })
}
