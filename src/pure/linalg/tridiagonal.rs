//! The blocked reduction of a symmetric matrix to tridiagonal form by Householder reflections
//! ([`Tridiagonalisation`], as LAPACK's `dsytrd`), with its kernels: the symmetric product,
//! dot products, reflections and the rank-`2k` update through the Gram tiles.

use std::ops::ControlFlow;

use nalgebra::DMatrix;

use super::gram::{add_tile_products, pack_sample, GRAM_PANEL};
use super::ql::hypot;

/// Reflectors made per panel of the blocked reduction to tridiagonal form.
const TRIDIAGONAL_PANEL: usize = 32;
/// Independent partial sums of a dot product, so that its loop vectorises.
const DOT_LANES: usize = 4;

/// The reduction of a symmetric matrix to tridiagonal form by Householder reflections
/// `H_i = I − τ_i·v_i·v_iᵀ`, with `Q = H_0·H_1·…`.
pub(super) struct Tridiagonalisation {
    /// Column `i` holds `v_i` in rows `i + 1..` (its first entry is 1); the rest is unused.
    reflectors: DMatrix<f64>,
    /// `τ_i` of each reflector (0 where no reflection was needed).
    taus: Vec<f64>,
    /// Diagonal of `T`.
    pub(super) diagonal: Vec<f64>,
    /// Off-diagonal of `T`.
    pub(super) off_diagonal: Vec<f64>,
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
    pub(super) fn new(
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
    pub(super) fn apply_q(&self, mut z: DMatrix<f64>) -> DMatrix<f64> {
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

/// The largest row sum of absolute values of a symmetric tridiagonal matrix.
pub(super) fn tridiagonal_norm(diagonal: &[f64], off_diagonal: &[f64]) -> f64 {
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
