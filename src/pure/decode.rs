//! Decode the raw bytes of one tensor into an `n_rows × n_cols` matrix of `f64`.
//!
//! safetensors stores data little-endian and row-major, and a tensor's bytes need not be
//! aligned to its element size (GPT-2's data starts at byte 14,291). The decoder therefore
//! reads each element with `from_le_bytes` on a copied byte array and never reinterprets
//! pointers, so a buffer at any address works.
//!
//! Only floating-point dtypes that can hold a learned embedding are accepted: F32, F16, BF16
//! and F64. Every value must be finite; the first NaN or infinity is reported with its
//! position so the user can tell a corrupt download from a genuine model quirk.

use nalgebra::DMatrix;
use safetensors::Dtype;

/// Everything that can go wrong while decoding a tensor's bytes.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum DecodeError {
    /// The tensor's dtype is not one of F32, F16, BF16 or F64.
    #[error(
        "tensor `{tensor_name}` has dtype {dtype:?}, which poslens cannot analyse; \
         choose a floating-point tensor stored as F32, F16, BF16 or F64"
    )]
    UnsupportedDtype {
        /// Name of the tensor in the safetensors header.
        tensor_name: String,
        /// The dtype found in the header.
        dtype: Dtype,
    },
    /// The buffer does not hold exactly `n_rows × n_cols` elements of the dtype.
    #[error(
        "tensor `{tensor_name}` ({n_rows} × {n_cols}, {dtype:?}) should occupy {expected_bytes} bytes \
         but {actual_bytes} bytes were received; the download was probably cut short or the \
         byte range is wrong, so fetch the tensor again"
    )]
    WrongLength {
        /// Name of the tensor in the safetensors header.
        tensor_name: String,
        /// The dtype used to size the buffer.
        dtype: Dtype,
        /// Number of rows (positions) requested.
        n_rows: usize,
        /// Number of columns (model dimensions) requested.
        n_cols: usize,
        /// Length implied by the shape and dtype.
        expected_bytes: u64,
        /// Length of the buffer actually given.
        actual_bytes: u64,
    },
    /// A value is NaN or infinite.
    #[error(
        "tensor `{tensor_name}` contains {value_label} at row {row}, column {col} (counting from 0); \
         an SVD needs finite numbers, so check that the file is not corrupt or pick another tensor"
    )]
    NonFinite {
        /// Name of the tensor in the safetensors header.
        tensor_name: String,
        /// Row (position) of the first non-finite value, counting from 0.
        row: usize,
        /// Column (model dimension) of the first non-finite value, counting from 0.
        col: usize,
        /// `"NaN"`, `"+Inf"` or `"-Inf"`.
        value_label: String,
    },
    /// The shape is too large to address on this platform.
    #[error(
        "tensor `{tensor_name}` with shape {n_rows} × {n_cols} is too large to hold in memory here; \
         choose a smaller tensor"
    )]
    ShapeOverflow {
        /// Name of the tensor in the safetensors header.
        tensor_name: String,
        /// Number of rows requested.
        n_rows: usize,
        /// Number of columns requested.
        n_cols: usize,
    },
}

/// Returns the size of one element in bytes for the dtypes this module decodes, or `None`
/// for every other dtype (integers, booleans, FP8/FP6/FP4, complex).
pub fn element_size_bytes(dtype: Dtype) -> Option<usize> {
    match dtype {
        Dtype::F16 | Dtype::BF16 => Some(2),
        Dtype::F32 => Some(4),
        Dtype::F64 => Some(8),
        _ => None,
    }
}

/// Returns `true` when [`decode_matrix`] can decode tensors of this dtype.
pub fn is_supported_dtype(dtype: Dtype) -> bool {
    element_size_bytes(dtype).is_some()
}

/// Computes the exact byte length of an `n_rows × n_cols` tensor of `dtype`, with checked
/// arithmetic.
///
/// # Errors
/// [`DecodeError::UnsupportedDtype`] for a dtype that is not F32, F16, BF16 or F64, and
/// [`DecodeError::ShapeOverflow`] when the length does not fit in `u64` or `usize`.
pub fn expected_len_bytes(
    dtype: Dtype,
    n_rows: usize,
    n_cols: usize,
    tensor_name: &str,
) -> Result<u64, DecodeError> {
    let elem_bytes = element_size_bytes(dtype).ok_or_else(|| DecodeError::UnsupportedDtype {
        tensor_name: tensor_name.to_owned(),
        dtype,
    })?;
    let overflow = || DecodeError::ShapeOverflow {
        tensor_name: tensor_name.to_owned(),
        n_rows,
        n_cols,
    };
    let len_bytes = n_rows
        .checked_mul(n_cols)
        .and_then(|n_elements| n_elements.checked_mul(elem_bytes))
        .ok_or_else(overflow)?;
    u64::try_from(len_bytes).map_err(|_| overflow())
}

/// Decodes little-endian F32, F16, BF16 or F64 bytes (at any alignment) into an
/// `n_rows × n_cols` matrix of `f64`, reading the source in row-major order.
///
/// # Errors
/// - [`DecodeError::UnsupportedDtype`] for any other dtype;
/// - [`DecodeError::ShapeOverflow`] when `n_rows × n_cols × element size` overflows;
/// - [`DecodeError::WrongLength`] when `bytes` is not exactly that long;
/// - [`DecodeError::NonFinite`] naming the first NaN or infinity in row-major order.
pub fn decode_matrix(
    bytes: &[u8],
    dtype: Dtype,
    n_rows: usize,
    n_cols: usize,
    tensor_name: &str,
) -> Result<DMatrix<f64>, DecodeError> {
    check_len_bytes(bytes.len(), dtype, n_rows, n_cols, tensor_name)?;

    // The stored rows are decoded a block of DECODE_BLOCK_ROWS at a time, then written into
    // the column-major matrix one column's run of the block at a time (contiguous writes; a
    // row at a time, each write would land in another cache line). No second full-size copy
    // of the matrix exists at any moment.
    let row_len_bytes = n_cols
        .saturating_mul(element_size_bytes(dtype).unwrap_or(1))
        .max(1);
    let mut matrix = DMatrix::<f64>::zeros(n_rows, n_cols);
    let mut block_values = vec![0.0_f64; n_cols.saturating_mul(DECODE_BLOCK_ROWS)];
    let block_len_bytes = row_len_bytes.saturating_mul(DECODE_BLOCK_ROWS);
    for (block, block_bytes) in bytes.chunks(block_len_bytes).enumerate() {
        let first_row = block * DECODE_BLOCK_ROWS;
        let n_block_rows = block_bytes.len() / row_len_bytes;
        for (offset, (row_bytes, row_values)) in block_bytes
            .chunks(row_len_bytes)
            .zip(block_values.chunks_mut(n_cols.max(1)))
            .enumerate()
        {
            if !decode_elements(row_bytes, dtype, row_values) {
                return Err(DecodeError::UnsupportedDtype {
                    tensor_name: tensor_name.to_owned(),
                    dtype,
                });
            }
            // Rows are checked in order, so the first value named is the first in row-major
            // order.
            if let Some((col, value)) = row_values
                .iter()
                .enumerate()
                .find(|(_, value)| !value.is_finite())
            {
                return Err(DecodeError::NonFinite {
                    tensor_name: tensor_name.to_owned(),
                    row: first_row + offset,
                    col,
                    value_label: non_finite_label(*value).to_owned(),
                });
            }
        }
        let rows = block_values
            .get(..n_block_rows * n_cols)
            .unwrap_or_default();
        write_row_block(rows, first_row, n_rows, n_cols, matrix.as_mut_slice());
    }
    Ok(matrix)
}

/// Checks that a tensor of `dtype` and shape `n_rows × n_cols` is exactly `len_bytes` long.
///
/// # Errors
/// [`DecodeError::UnsupportedDtype`] or [`DecodeError::ShapeOverflow`] as
/// [`expected_len_bytes`]; [`DecodeError::WrongLength`] when the length differs.
pub fn check_len_bytes(
    len_bytes: usize,
    dtype: Dtype,
    n_rows: usize,
    n_cols: usize,
    tensor_name: &str,
) -> Result<(), DecodeError> {
    let expected_bytes = expected_len_bytes(dtype, n_rows, n_cols, tensor_name)?;
    let actual_bytes = u64::try_from(len_bytes).unwrap_or(u64::MAX);
    if actual_bytes == expected_bytes {
        return Ok(());
    }
    Err(DecodeError::WrongLength {
        tensor_name: tensor_name.to_owned(),
        dtype,
        n_rows,
        n_cols,
        expected_bytes,
        actual_bytes,
    })
}

/// Decodes consecutive stored elements of `dtype` from `bytes` into `values` (as many as
/// both hold); returns `false`, leaving `values` alone, for a dtype the decoder does not
/// read. The length and finiteness checks of [`decode_matrix`] are the caller's.
pub fn decode_elements(bytes: &[u8], dtype: Dtype, values: &mut [f64]) -> bool {
    match dtype {
        Dtype::F32 => read_row::<4>(bytes, values, |b| f64::from(f32::from_le_bytes(b))),
        Dtype::F16 => read_row::<2>(bytes, values, |b| half::f16::from_le_bytes(b).to_f64()),
        Dtype::BF16 => read_row::<2>(bytes, values, |b| half::bf16::from_le_bytes(b).to_f64()),
        Dtype::F64 => read_row::<8>(bytes, values, f64::from_le_bytes),
        _ => return false,
    }
    true
}

/// Reads one row of consecutive `N`-byte little-endian elements with `convert`, copying each
/// element into an array first so that the buffer's alignment never matters.
///
/// One call per row, not inlined: the browser optimises a WebAssembly function only after
/// it has run hot, and a call already running stays on the baseline code, so a decoder made
/// of many short calls switches to optimised code early.
#[inline(never)]
fn read_row<const N: usize>(bytes: &[u8], row: &mut [f64], convert: impl Fn([u8; N]) -> f64) {
    for (value, chunk) in row.iter_mut().zip(bytes.chunks_exact(N)) {
        let mut element = [0u8; N];
        element.copy_from_slice(chunk);
        *value = convert(element);
    }
}

/// Rows decoded per block by [`decode_matrix`]: eight `f64` make one 64-byte cache line of a
/// column.
const DECODE_BLOCK_ROWS: usize = 8;

/// Writes the row-major block `rows` (whole rows of `n_cols` values) into rows
/// `first_row..` of the column-major `elements` with `n_rows` rows: for each column, one
/// contiguous run.
#[inline(never)]
fn write_row_block(
    rows: &[f64],
    first_row: usize,
    n_rows: usize,
    n_cols: usize,
    elements: &mut [f64],
) {
    let n_block_rows = rows.len() / n_cols.max(1);
    for (col, column) in elements.chunks_mut(n_rows.max(1)).take(n_cols).enumerate() {
        let Some(run) = column.get_mut(first_row..first_row + n_block_rows) else {
            continue;
        };
        for (target, &value) in run
            .iter_mut()
            .zip(rows.iter().skip(col).step_by(n_cols.max(1)))
        {
            *target = value;
        }
    }
}

/// Labels a non-finite value for error messages.
pub(crate) fn non_finite_label(value: f64) -> &'static str {
    if value.is_nan() {
        "NaN"
    } else if value.is_sign_positive() {
        "+Inf"
    } else {
        "-Inf"
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn decodes_each_float_dtype_row_major() {
        let values = [1.0_f64, -2.5, 0.125, 3.0, 0.0, -0.5];
        let f32_bytes: Vec<u8> = values
            .iter()
            .flat_map(|v| (*v as f32).to_le_bytes())
            .collect();
        let f16_bytes: Vec<u8> = values
            .iter()
            .flat_map(|v| half::f16::from_f64(*v).to_le_bytes())
            .collect();
        let bf16_bytes: Vec<u8> = values
            .iter()
            .flat_map(|v| half::bf16::from_f64(*v).to_le_bytes())
            .collect();
        let f64_bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        for (dtype, bytes) in [
            (Dtype::F32, f32_bytes),
            (Dtype::F16, f16_bytes),
            (Dtype::BF16, bf16_bytes),
            (Dtype::F64, f64_bytes),
        ] {
            let m = decode_matrix(&bytes, dtype, 2, 3, "t").unwrap();
            assert_eq!(m.shape(), (2, 3));
            assert_eq!(m[(0, 0)], 1.0);
            assert_eq!(m[(0, 1)], -2.5);
            assert_eq!(m[(0, 2)], 0.125);
            assert_eq!(m[(1, 0)], 3.0);
            assert_eq!(m[(1, 2)], -0.5);
        }
    }

    #[test]
    fn blocks_of_rows_land_in_place_for_any_row_count() {
        // Row counts below, at and past whole blocks of rows, and a single column.
        for (n_rows, n_cols) in [(1, 4), (7, 3), (8, 5), (13, 5), (17, 1), (24, 9)] {
            let expected =
                DMatrix::from_fn(n_rows, n_cols, |r, c| (r * 31 + c * 7) as f64 * 0.25 - 3.0);
            let row_major: Vec<f64> = expected.transpose().iter().copied().collect();
            let f32_bytes: Vec<u8> = row_major
                .iter()
                .flat_map(|v| (*v as f32).to_le_bytes())
                .collect();
            let f64_bytes: Vec<u8> = row_major.iter().flat_map(|v| v.to_le_bytes()).collect();
            for (dtype, bytes) in [(Dtype::F32, f32_bytes), (Dtype::F64, f64_bytes)] {
                let m = decode_matrix(&bytes, dtype, n_rows, n_cols, "t").unwrap();
                assert_eq!(m, expected, "{n_rows}x{n_cols} {dtype:?}");
            }
        }
    }

    #[test]
    fn the_first_non_finite_value_in_row_major_order_is_named() {
        let (n_rows, n_cols) = (13, 4);
        let mut values = vec![1.0_f32; n_rows * n_cols];
        // Row 11 (in the second block of rows), then a later row and an earlier column.
        values[11 * n_cols + 2] = f32::NAN;
        values[12 * n_cols] = f32::INFINITY;
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let err = decode_matrix(&bytes, Dtype::F32, n_rows, n_cols, "t").unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::NonFinite {
                    row: 11,
                    col: 2,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn rejects_integer_and_fp8_dtypes() {
        for dtype in [
            Dtype::I64,
            Dtype::I32,
            Dtype::U8,
            Dtype::BOOL,
            Dtype::F8_E4M3,
        ] {
            let err = decode_matrix(&[0u8; 8], dtype, 1, 1, "ids").unwrap_err();
            assert!(matches!(err, DecodeError::UnsupportedDtype { .. }), "{err}");
        }
    }

    #[test]
    fn reports_shape_overflow() {
        let err = decode_matrix(&[], Dtype::F64, usize::MAX, 2, "huge").unwrap_err();
        assert!(matches!(err, DecodeError::ShapeOverflow { .. }), "{err}");
    }

    #[test]
    fn empty_shape_decodes_to_empty_matrix() {
        let m = decode_matrix(&[], Dtype::F32, 0, 7, "empty").unwrap();
        assert_eq!(m.shape(), (0, 7));
    }
}
