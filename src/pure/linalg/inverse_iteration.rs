//! Eigenvectors of a symmetric tridiagonal matrix for known eigenvalues, by inverse iteration
//! with the LU factors of `T − shift·I` ([`tridiagonal_eigenvectors`], as LAPACK's `dstein`).

use nalgebra::DMatrix;

/// Inverse-iteration solves per eigenvector; an accurate shift converges in one or two.
const INVERSE_ITERATION_STEPS: usize = 3;
/// Eigenvalues closer than this share of `‖T‖` form a cluster whose eigenvectors are
/// orthogonalised against each other, as LAPACK's `dstein` does.
const CLUSTER_TOLERANCE: f64 = 1e-3;

/// Eigenvectors (as columns) of the symmetric tridiagonal matrix for the given eigenvalues,
/// in descending order, by inverse iteration. Vectors whose eigenvalues lie within
/// `CLUSTER_TOLERANCE · ‖T‖` of each other are orthogonalised against each other, and equal
/// eigenvalues are separated by a few rounding units first, as LAPACK's `dstein` does.
#[inline(never)]
pub(super) fn tridiagonal_eigenvectors(
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
/// A separate function, called once per vector, so that the browser switches it to optimised
/// code part of the way through the first vectors it computes (see the module documentation of
/// [`crate::pure::linalg::svd`]).
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
