//! Gram matrices shared by two workers: each forms one [`GramHalf`] of the same Gram matrix
//! ([`crate::pure::linalg::svd::gram_lower_half`]), they swap halves ([`export_gram_half`],
//! [`import_gram_half`], or a column at a time with [`export_gram_half_with`] and
//! [`import_gram_half_with`]), and each part of an analysis takes its own Gram matrix from
//! the shared one ([`GramSharing`]).

use nalgebra::DMatrix;

use super::gram::{add_leading_samples, GramHalf};
use super::window::MatrixWindow;

/// `half`'s columns of the lower triangle of `gram`, each from its diagonal down, one after
/// the other: what the other worker needs ([`GramHalf::exported_len`] values).
pub fn export_gram_half(gram: &DMatrix<f64>, half: GramHalf) -> Vec<f64> {
    let mut values = Vec::with_capacity(half.exported_len(gram.nrows()));
    export_gram_half_with(gram, half, |_offset, column| {
        values.extend_from_slice(column);
    });
    values
}

/// Hands `write` the export of `half` of `gram` ([`export_gram_half`]) a column at a time, in
/// order, each with its offset in the export: the export without the copy.
pub fn export_gram_half_with(
    gram: &DMatrix<f64>,
    half: GramHalf,
    mut write: impl FnMut(usize, &[f64]),
) {
    let mut offset = 0;
    for range in half.column_ranges(gram.nrows()) {
        if let Some(column) = gram.as_slice().get(range) {
            write(offset, column);
            offset += column.len();
        }
    }
}

/// Writes `values`, exported from `half` of a Gram matrix of the same size
/// ([`export_gram_half`]), into `gram`. Returns false, writing nothing, when their number
/// does not fit that size.
pub fn import_gram_half(gram: &mut DMatrix<f64>, half: GramHalf, values: &[f64]) -> bool {
    import_gram_half_with(gram, half, values.len(), |offset, column| {
        if let Some(column_values) = values.get(offset..offset + column.len()) {
            column.copy_from_slice(column_values);
        }
    })
}

/// Writes `half` of `gram` in place from an export of `len` values: `read` fills each of the
/// half's columns in turn, given its offset in that export. Returns false, reading nothing,
/// when `len` does not fit the size of `gram` (or `gram` is not square).
pub fn import_gram_half_with(
    gram: &mut DMatrix<f64>,
    half: GramHalf,
    len: usize,
    mut read: impl FnMut(usize, &mut [f64]),
) -> bool {
    let side = gram.nrows();
    if gram.ncols() != side || len != half.exported_len(side) {
        return false;
    }
    let mut offset = 0;
    for range in half.column_ranges(side) {
        if let Some(column) = gram.as_mut_slice().get_mut(range) {
            let len = column.len();
            read(offset, column);
            offset += len;
        }
    }
    true
}

/// The lower triangle of the trailing block of `gram` without its first `count` rows and
/// columns: the Gram matrix of a window without its first `count` columns (tall) or rows
/// (wide).
pub fn trailing_gram(gram: DMatrix<f64>, count: usize) -> DMatrix<f64> {
    let count = count.min(gram.nrows()).min(gram.ncols());
    gram.remove_columns(0, count).remove_rows(0, count)
}

/// How a block (the "full" one) and the same block without its first rows or columns (the
/// "dropped" one) share one Gram matrix, formed half by each of two workers.
///
/// The Gram route works on the Gram matrix of the smaller side. Dropping leading rows or
/// columns either removes leading rows and columns of that Gram matrix (dropping columns of a
/// tall matrix, or rows of a wide one), or removes samples from its sum (dropping rows of a
/// tall matrix, or columns of a wide one). Either way one Gram matrix serves both blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GramSharing {
    /// The shared Gram matrix is the full block's; the dropped block's is its trailing block
    /// without the first `count` rows and columns.
    TrailingBlock {
        /// Rows and columns of the Gram matrix the drop removes.
        count: usize,
    },
    /// The shared Gram matrix is the dropped block's; the full block's adds the outer
    /// products of the `count` dropped samples (a sum of positive terms, so nothing cancels).
    PlusLeadingSamples {
        /// Samples the drop removes.
        count: usize,
    },
}

impl GramSharing {
    /// How a `full` block (`(n_rows, n_cols)`) and the `dropped` block, the same without
    /// some of its leading rows or some of its leading columns, share a Gram matrix; `None`
    /// when either is empty, nothing or both sides were dropped, or the drop turns a tall
    /// block wide (or a wide one tall).
    pub fn between(full: (usize, usize), dropped: (usize, usize)) -> Option<Self> {
        let ((n_rows, n_cols), (dropped_rows, dropped_cols)) = (full, dropped);
        if n_rows == 0 || n_cols == 0 || dropped_rows == 0 || dropped_cols == 0 {
            return None;
        }
        let is_tall = n_rows >= n_cols;
        if is_tall != (dropped_rows >= dropped_cols) {
            return None;
        }
        let (drops_cols, count) = match (
            n_rows.checked_sub(dropped_rows)?,
            n_cols.checked_sub(dropped_cols)?,
        ) {
            (0, count) if count > 0 => (true, count),
            (count, 0) if count > 0 => (false, count),
            _ => return None,
        };
        // Columns of a tall block and rows of a wide one are the Gram matrix's rows and columns.
        let drops_gram_side = drops_cols == is_tall;
        Some(if drops_gram_side {
            GramSharing::TrailingBlock { count }
        } else {
            GramSharing::PlusLeadingSamples { count }
        })
    }

    /// The block whose Gram matrix the two workers form, half each: `full` or `dropped`.
    pub fn shared_window<'a>(
        self,
        full: MatrixWindow<'a>,
        dropped: MatrixWindow<'a>,
    ) -> MatrixWindow<'a> {
        match self {
            GramSharing::TrailingBlock { .. } => full,
            GramSharing::PlusLeadingSamples { .. } => dropped,
        }
    }

    /// The full block's Gram matrix from the shared one, `gram` (lower triangle).
    pub fn full_gram(self, mut gram: DMatrix<f64>, full: &MatrixWindow<'_>) -> DMatrix<f64> {
        if let GramSharing::PlusLeadingSamples { count } = self {
            add_leading_samples(&mut gram, full, count);
        }
        gram
    }

    /// The dropped block's Gram matrix from the shared one, `gram` (lower triangle).
    pub fn dropped_gram(self, gram: DMatrix<f64>) -> DMatrix<f64> {
        match self {
            GramSharing::TrailingBlock { count } => trailing_gram(gram, count),
            GramSharing::PlusLeadingSamples { .. } => gram,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use std::ops::ControlFlow;

    use super::super::gram::gram_lower;
    use super::*;

    #[test]
    fn each_block_takes_its_gram_matrix_from_the_shared_one() {
        let go = &mut |_share: f64| ControlFlow::Continue(());
        for (n_rows, n_cols) in [(40, 13), (13, 40)] {
            let m = DMatrix::from_fn(n_rows, n_cols, |r, c| {
                ((r * 31 + c * 17) % 23) as f64 - 11.0 + 0.25 * (r as f64 + 1.0).ln()
            });
            let full = MatrixWindow::whole(&m);
            let is_tall = n_rows >= n_cols;
            for drops_cols in [true, false] {
                let label = format!("{n_rows} × {n_cols}, drop columns: {drops_cols}");
                let dropped = if drops_cols {
                    full.without_leading_cols(3).unwrap()
                } else {
                    full.without_leading_rows(3).unwrap()
                };
                let sharing =
                    GramSharing::between((n_rows, n_cols), (dropped.n_rows(), dropped.n_cols()))
                        .unwrap();
                // Columns of a tall block and rows of a wide one are its Gram matrix's side.
                let expected = if drops_cols == is_tall {
                    GramSharing::TrailingBlock { count: 3 }
                } else {
                    GramSharing::PlusLeadingSamples { count: 3 }
                };
                assert_eq!(sharing, expected, "{label}");
                let shared = gram_lower(&sharing.shared_window(full, dropped), None, go).unwrap();
                let want_full = gram_lower(&full, None, go).unwrap();
                let want_dropped = gram_lower(&dropped, None, go).unwrap();
                let got_full = sharing.full_gram(shared.clone(), &full);
                let got_dropped = sharing.dropped_gram(shared);
                assert_eq!(got_full.shape(), want_full.shape(), "{label}");
                assert_eq!(got_dropped.shape(), want_dropped.shape(), "{label}");
                let scale = want_full.amax();
                assert!((got_full - want_full).amax() <= 1e-13 * scale, "{label}");
                assert!(
                    (got_dropped - want_dropped).amax() <= 1e-13 * scale,
                    "{label}"
                );
            }
        }
        // A drop that turns a tall block wide, one of both sides, none, or one leaving nothing.
        assert_eq!(GramSharing::between((30, 29), (28, 29)), None);
        assert_eq!(GramSharing::between((30, 20), (28, 18)), None);
        assert_eq!(GramSharing::between((30, 20), (30, 20)), None);
        assert_eq!(GramSharing::between((30, 20), (0, 20)), None);
    }
}
