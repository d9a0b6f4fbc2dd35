//! Where a tensor's bytes lie in the file, and how they map to a row-major matrix.

use super::{element_bytes, to_u64, StorageInfo, TensorInfo, TorchError};
use std::borrow::Cow;
use std::ops::Range;

use crate::pure::common::MAX_TENSOR_BYTES;
use crate::pure::source::detect::{self, DetectError, MatrixView};
use crate::pure::source::format::{Dtype, Header, TensorEntry};

/// How a located tensor's bytes map to a row-major array.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Layout {
    /// The bytes are the tensor, row-major.
    Contiguous,
    /// A 2-D matrix (after dropping 1-sized dimensions) with these strides in elements,
    /// relative to the start of the byte range: element (i, j) is at `i·row_stride +
    /// j·col_stride`.
    Strided {
        /// Rows.
        rows: u64,
        /// Columns.
        cols: u64,
        /// Elements between rows.
        row_stride: u64,
        /// Elements between columns.
        col_stride: u64,
    },
}

/// Where one tensor's bytes are in the file, and how to read them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TensorLocation {
    /// The tensor's name.
    pub name: String,
    /// The element type.
    pub dtype: Dtype,
    /// The shape.
    pub shape: Vec<u64>,
    /// The strides, in elements.
    pub strides: Vec<u64>,
    /// The bytes to read: from the tensor's first element to its last (exactly the tensor's
    /// bytes for a contiguous one).
    pub byte_range: Range<u64>,
    /// How those bytes map to the row-major tensor.
    pub layout: Layout,
}

impl TensorLocation {
    /// The size of the row-major tensor, in bytes.
    pub fn len_bytes(&self) -> u64 {
        self.shape
            .iter()
            .fold(element_bytes(self.dtype), |n, &d| n.saturating_mul(d))
    }

    /// Turns the bytes of [`TensorLocation::byte_range`] into the tensor's row-major
    /// little-endian bytes (borrowed as they are when the tensor is contiguous), ready for
    /// the decoder as a safetensors tensor's bytes would be.
    ///
    /// # Errors
    /// [`TorchError::BadRead`] when `bytes` is not as long as the byte range.
    pub fn row_major_bytes<'a>(&self, bytes: &'a [u8]) -> Result<Cow<'a, [u8]>, TorchError> {
        let want = self.byte_range.end.saturating_sub(self.byte_range.start);
        if to_u64(bytes.len()) != want {
            return Err(TorchError::BadRead {
                want: format!("{want} bytes of tensor `{}`", self.name),
                got: format!("{} bytes", bytes.len()),
            });
        }
        let Layout::Strided {
            rows,
            cols,
            row_stride,
            col_stride,
        } = self.layout
        else {
            return Ok(Cow::Borrowed(bytes));
        };
        let size = element_bytes(self.dtype);
        // `locate` capped rows·cols·size at MAX_TENSOR_BYTES, so this allocation is bounded.
        let mut out = Vec::with_capacity(usize::try_from(self.len_bytes()).unwrap_or(0));
        for row in 0..rows {
            for col in 0..cols {
                let at = row
                    .saturating_mul(row_stride)
                    .saturating_add(col.saturating_mul(col_stride))
                    .saturating_mul(size);
                let element = usize::try_from(at)
                    .ok()
                    .zip(usize::try_from(at.saturating_add(size)).ok())
                    .and_then(|(from, to)| bytes.get(from..to))
                    .ok_or_else(|| TorchError::BadRead {
                        want: format!("element ({row}, {col}) of tensor `{}`", self.name),
                        got: format!("{} bytes", bytes.len()),
                    })?;
                out.extend_from_slice(element);
            }
        }
        Ok(Cow::Owned(out))
    }

    /// The tensor as the [`MatrixView`] the decoder and the analysis use, with the same
    /// rules as for safetensors (float, 2-D after dropping leading 1-sized dimensions, row
    /// offsets by name). Its `byte_range` is [`TensorLocation::byte_range`]: pass the bytes
    /// read there through [`TensorLocation::row_major_bytes`] before decoding.
    ///
    /// # Errors
    /// The [`DetectError`]s of [`detect::matrix_view`].
    pub fn matrix_view(&self) -> Result<MatrixView, DetectError> {
        let header = Header {
            header_len_bytes: 0,
            data_start_byte: 0,
            tensors: vec![TensorEntry {
                name: self.name.clone(),
                dtype: self.dtype,
                shape: self.shape.clone(),
                byte_range: self.byte_range.clone(),
            }],
            metadata: std::collections::BTreeMap::new(),
            file_len_bytes: None,
        };
        detect::matrix_view(&header, &self.name)
    }
}

/// Works out a tensor's location from where its storage's data starts.
pub(super) fn tensor_location(
    tensor: &TensorInfo,
    storage: &StorageInfo,
    data_start: u64,
    data_limit: u64,
) -> Result<TensorLocation, TorchError> {
    let size = element_bytes(tensor.dtype);
    let overflow = || TorchError::TooLarge {
        what: format!("tensor `{}`", tensor.name),
        len: u64::MAX,
        max: MAX_TENSOR_BYTES,
    };
    let n_elements = tensor
        .shape
        .iter()
        .try_fold(1_u64, |n, &d| n.checked_mul(d))
        .ok_or_else(overflow)?;
    let len_bytes = n_elements.checked_mul(size).ok_or_else(overflow)?;
    // The elements from the first to the last one the tensor uses.
    let span_elements = if n_elements == 0 {
        0
    } else {
        tensor
            .shape
            .iter()
            .zip(&tensor.strides)
            .try_fold(1_u64, |span, (&d, &s)| {
                span.checked_add((d - 1).checked_mul(s)?)
            })
            .ok_or_else(overflow)?
    };
    let span_bytes = span_elements.checked_mul(size).ok_or_else(overflow)?;
    for (what, len) in [("tensor", len_bytes), ("byte span of tensor", span_bytes)] {
        if len > MAX_TENSOR_BYTES {
            return Err(TorchError::TooLarge {
                what: format!("{what} `{}`", tensor.name),
                len,
                max: MAX_TENSOR_BYTES,
            });
        }
    }
    let end_element = tensor
        .storage_offset
        .checked_add(span_elements)
        .ok_or_else(overflow)?;
    if end_element > storage.numel {
        return Err(TorchError::OutsideFile {
            what: format!(
                "Tensor `{}` (elements {}..{end_element} of storage `{}`)",
                tensor.name, tensor.storage_offset, storage.key
            ),
            end: end_element,
            limit: storage.numel,
        });
    }
    let start = tensor
        .storage_offset
        .checked_mul(size)
        .and_then(|offset| data_start.checked_add(offset))
        .ok_or_else(overflow)?;
    let end = start.checked_add(span_bytes).ok_or_else(overflow)?;
    if end > data_limit {
        return Err(TorchError::OutsideFile {
            what: format!("Tensor `{}`", tensor.name),
            end,
            limit: data_limit,
        });
    }
    Ok(TensorLocation {
        name: tensor.name.clone(),
        dtype: tensor.dtype,
        shape: tensor.shape.clone(),
        strides: tensor.strides.clone(),
        byte_range: start..end,
        layout: layout_of(tensor)?,
    })
}

/// Contiguous row-major, a 2-D strided matrix, or refused.
pub(super) fn layout_of(tensor: &TensorInfo) -> Result<Layout, TorchError> {
    let mut expected = 1_u64;
    let mut contiguous = true;
    for (&d, &s) in tensor.shape.iter().zip(&tensor.strides).rev() {
        if d != 1 && s != expected {
            contiguous = false;
            break;
        }
        expected = expected.saturating_mul(d);
    }
    if contiguous || tensor.n_elements() == 0 {
        return Ok(Layout::Contiguous);
    }
    let kept: Vec<(u64, u64)> = tensor
        .shape
        .iter()
        .zip(&tensor.strides)
        .filter(|(&d, _)| d != 1)
        .map(|(&d, &s)| (d, s))
        .collect();
    match kept.as_slice() {
        [(rows, row_stride), (cols, col_stride)] => Ok(Layout::Strided {
            rows: *rows,
            cols: *cols,
            row_stride: *row_stride,
            col_stride: *col_stride,
        }),
        [(n, stride)] => Ok(Layout::Strided {
            rows: *n,
            cols: 1,
            row_stride: *stride,
            col_stride: 0,
        }),
        _ => Err(TorchError::UnsupportedStrides {
            name: tensor.name.clone(),
            shape: tensor.shape.clone(),
            strides: tensor.strides.clone(),
        }),
    }
}
