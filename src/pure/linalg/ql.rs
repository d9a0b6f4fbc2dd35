//! Every eigenvalue of a symmetric tridiagonal matrix by implicit-shift QL iterations
//! ([`tridiagonal_eigenvalues`]).

/// Iteration budget per eigenvalue of the tridiagonal QL iteration (two or three suffice).
const QL_ITERATIONS_PER_VALUE: usize = 60;

/// Every eigenvalue of the symmetric tridiagonal matrix with the given diagonal and
/// off-diagonal, by implicit-shift QL iterations (unsorted); `None` when they do not converge.
#[inline(never)]
pub(super) fn tridiagonal_eigenvalues(diagonal: &[f64], off_diagonal: &[f64]) -> Option<Vec<f64>> {
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
pub(super) fn hypot(a: f64, b: f64) -> f64 {
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
