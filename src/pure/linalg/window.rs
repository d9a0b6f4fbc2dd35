//! [`MatrixWindow`]: the block of a column-major matrix a decomposition reads in place (the
//! whole matrix, or the matrix without its leading rows or columns), with the input check
//! every route starts with.

use nalgebra::{DMatrix, Dyn, MatrixView};

use super::results::SvdError;

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

    /// The side of its Gram matrix: the smaller of its two sizes.
    pub fn gram_side(&self) -> usize {
        self.n_rows.min(self.n_cols)
    }

    /// The number of samples its Gram matrix sums: the larger of its two sizes (its rows when
    /// it is tall, its columns when it is wide).
    pub fn n_samples(&self) -> usize {
        self.n_rows.max(self.n_cols)
    }

    /// The block as a nalgebra view (no copy).
    pub(super) fn view(&self) -> StridedView<'a> {
        StridedView::from_slice_with_strides_generic(
            self.data,
            Dyn(self.n_rows),
            Dyn(self.n_cols),
            Dyn(1),
            Dyn(self.col_stride),
        )
    }

    /// An owned copy of the block, for the fallback methods that need one.
    pub fn to_matrix(&self) -> DMatrix<f64> {
        self.view().into_owned()
    }

    /// The block's columns, each as a slice.
    pub(super) fn columns(&self) -> impl Iterator<Item = &'a [f64]> + '_ {
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
    #[inline(never)]
    pub(super) fn norm_squared(&self) -> f64 {
        self.columns().flatten().map(|value| value * value).sum()
    }
}
