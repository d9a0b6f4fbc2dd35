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
    let mut decoder = MatrixDecoder::new(dtype, n_rows, n_cols, tensor_name)?;
    decoder.push(bytes)?;
    decoder.finish()
}

/// Decodes a tensor's bytes as they arrive, in any pieces, into an `n_rows × n_cols` matrix
/// of `f64`: each whole row is decoded (and checked) as soon as its last byte is pushed, so a
/// consumer can work on the leading rows while the rest downloads. The values are those
/// [`decode_matrix`] gives, whatever the pieces.
#[derive(Debug, Clone)]
pub struct MatrixDecoder {
    /// The stored element type.
    dtype: Dtype,
    /// The tensor's name, for error messages.
    tensor_name: String,
    /// The column-major matrix; rows `rows_decoded..` are still zero.
    matrix: DMatrix<f64>,
    /// Bytes of one stored row.
    row_len_bytes: usize,
    /// The tensor's length in bytes.
    expected_bytes: u64,
    /// Bytes pushed so far.
    pushed_bytes: u64,
    /// Rows decoded so far.
    rows_decoded: usize,
    /// The bytes of a row whose end has not arrived yet.
    partial_row: Vec<u8>,
    /// Up to [`DECODE_BLOCK_ROWS`] decoded rows, row-major, before they are written into the
    /// matrix.
    block_values: Vec<f64>,
}

impl MatrixDecoder {
    /// A decoder for a tensor of `dtype` and shape `n_rows × n_cols`, with its matrix
    /// allocated (zero).
    ///
    /// # Errors
    /// [`DecodeError::UnsupportedDtype`] or [`DecodeError::ShapeOverflow`].
    pub fn new(
        dtype: Dtype,
        n_rows: usize,
        n_cols: usize,
        tensor_name: &str,
    ) -> Result<Self, DecodeError> {
        let expected_bytes = expected_len_bytes(dtype, n_rows, n_cols, tensor_name)?;
        let element_bytes = element_size_bytes(dtype).unwrap_or(1);
        Ok(Self {
            dtype,
            tensor_name: tensor_name.to_owned(),
            matrix: DMatrix::<f64>::zeros(n_rows, n_cols),
            row_len_bytes: n_cols.saturating_mul(element_bytes).max(1),
            expected_bytes,
            pushed_bytes: 0,
            rows_decoded: 0,
            partial_row: Vec::new(),
            block_values: vec![0.0_f64; n_cols.saturating_mul(DECODE_BLOCK_ROWS)],
        })
    }

    /// The matrix so far: rows `..rows_decoded()` are decoded, the others zero.
    pub fn matrix(&self) -> &DMatrix<f64> {
        &self.matrix
    }

    /// The number of leading rows decoded so far.
    pub fn rows_decoded(&self) -> usize {
        self.rows_decoded
    }

    /// The number of bytes pushed so far.
    pub fn pushed_bytes(&self) -> u64 {
        self.pushed_bytes
    }

    /// The tensor's length in bytes.
    pub fn expected_bytes(&self) -> u64 {
        self.expected_bytes
    }

    /// Decodes the rows that `bytes`, the next bytes of the tensor, complete.
    ///
    /// # Errors
    /// [`DecodeError::WrongLength`] when more bytes arrive than the tensor holds,
    /// [`DecodeError::NonFinite`] at the first NaN or infinity (in row-major order).
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), DecodeError> {
        let pushed_bytes = self.pushed_bytes.saturating_add(bytes.len() as u64);
        if pushed_bytes > self.expected_bytes() {
            return Err(self.wrong_length(pushed_bytes));
        }
        self.pushed_bytes = pushed_bytes;
        let mut rest = bytes;
        if !self.partial_row.is_empty() {
            let wanted = self.row_len_bytes - self.partial_row.len();
            let (head, tail) = rest.split_at(wanted.min(rest.len()));
            self.partial_row.extend_from_slice(head);
            rest = tail;
            if self.partial_row.len() < self.row_len_bytes {
                return Ok(());
            }
            let row = std::mem::take(&mut self.partial_row);
            let outcome = self.decode_rows(&row);
            self.partial_row = row;
            self.partial_row.clear();
            outcome?;
        }
        let whole_len = rest.len() / self.row_len_bytes * self.row_len_bytes;
        let (whole, tail) = rest.split_at(whole_len);
        self.decode_rows(whole)?;
        self.partial_row.extend_from_slice(tail);
        Ok(())
    }

    /// The decoded matrix, once every byte has been pushed.
    ///
    /// # Errors
    /// [`DecodeError::WrongLength`] when bytes are missing.
    pub fn finish(self) -> Result<DMatrix<f64>, DecodeError> {
        if self.pushed_bytes != self.expected_bytes() {
            return Err(self.wrong_length(self.pushed_bytes));
        }
        Ok(self.matrix)
    }

    /// The error for a tensor that arrived as `actual_bytes` bytes.
    fn wrong_length(&self, actual_bytes: u64) -> DecodeError {
        DecodeError::WrongLength {
            tensor_name: self.tensor_name.clone(),
            dtype: self.dtype,
            n_rows: self.matrix.nrows(),
            n_cols: self.matrix.ncols(),
            expected_bytes: self.expected_bytes(),
            actual_bytes,
        }
    }

    /// Decodes whole stored rows into the next rows of the matrix, [`DECODE_BLOCK_ROWS`] at a
    /// time, each block written one column's run at a time (contiguous writes; a row at a
    /// time, each write would land in another cache line). No second full-size copy of the
    /// matrix exists at any moment.
    fn decode_rows(&mut self, bytes: &[u8]) -> Result<(), DecodeError> {
        let (n_rows, n_cols) = self.matrix.shape();
        let block_len_bytes = self.row_len_bytes.saturating_mul(DECODE_BLOCK_ROWS);
        for block_bytes in bytes.chunks(block_len_bytes) {
            let first_row = self.rows_decoded;
            let n_block_rows = block_bytes.len() / self.row_len_bytes;
            for (offset, (row_bytes, row_values)) in block_bytes
                .chunks(self.row_len_bytes)
                .zip(self.block_values.chunks_mut(n_cols.max(1)))
                .enumerate()
            {
                // Rows are checked in order, so the first value named is the first in
                // row-major order.
                decode_finite(
                    row_bytes,
                    self.dtype,
                    row_values,
                    &self.tensor_name,
                    first_row + offset,
                    0,
                )?;
            }
            let rows = self
                .block_values
                .get(..n_block_rows * n_cols)
                .unwrap_or_default();
            write_row_block(rows, first_row, n_rows, n_cols, self.matrix.as_mut_slice());
            self.rows_decoded += n_block_rows;
        }
        Ok(())
    }
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

/// Decodes `bytes` into `values` as [`decode_elements`] does, for the run of stored row `row`
/// that starts at column `first_col`, and names the first value that is not finite.
///
/// # Errors
/// [`DecodeError::UnsupportedDtype`] or [`DecodeError::NonFinite`].
pub(crate) fn decode_finite(
    bytes: &[u8],
    dtype: Dtype,
    values: &mut [f64],
    tensor_name: &str,
    row: usize,
    first_col: usize,
) -> Result<(), DecodeError> {
    if !decode_elements(bytes, dtype, values) {
        return Err(DecodeError::UnsupportedDtype {
            tensor_name: tensor_name.to_owned(),
            dtype,
        });
    }
    match values.iter().position(|value| !value.is_finite()) {
        Some(offset) => Err(DecodeError::NonFinite {
            tensor_name: tensor_name.to_owned(),
            row,
            col: first_col + offset,
            value_label: non_finite_label(values.get(offset).copied().unwrap_or(f64::NAN))
                .to_owned(),
        }),
        None => Ok(()),
    }
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

    /// Bytes of a `n_rows × n_cols` F16 tensor with varied, exactly representable values.
    fn f16_tensor(n_rows: usize, n_cols: usize) -> Vec<u8> {
        (0..n_rows * n_cols)
            .flat_map(|i| half::f16::from_f64(((i * 37) % 101) as f64 / 16.0 - 3.0).to_le_bytes())
            .collect()
    }

    #[test]
    fn streamed_pieces_decode_to_the_same_matrix() {
        let (n_rows, n_cols) = (21, 5);
        let bytes = f16_tensor(n_rows, n_cols);
        let whole = decode_matrix(&bytes, Dtype::F16, n_rows, n_cols, "t").unwrap();
        // Pieces that split elements, rows and blocks anywhere, including empty ones.
        for piece_len in [1, 3, 7, 10, 33, 80, 81, bytes.len()] {
            let mut decoder = MatrixDecoder::new(Dtype::F16, n_rows, n_cols, "t").unwrap();
            let mut last_rows = 0;
            for piece in bytes.chunks(piece_len) {
                decoder.push(&[]).unwrap();
                decoder.push(piece).unwrap();
                let rows = decoder.rows_decoded();
                assert_eq!(rows, decoder.pushed_bytes() as usize / (n_cols * 2));
                assert!(rows >= last_rows);
                // The decoded rows are final as soon as they are reported.
                assert_eq!(
                    decoder.matrix().rows(0, rows),
                    whole.rows(0, rows),
                    "piece length {piece_len}"
                );
                last_rows = rows;
            }
            assert_eq!(decoder.finish().unwrap(), whole, "piece length {piece_len}");
        }
    }

    #[test]
    fn streamed_decoder_rejects_missing_and_extra_bytes() {
        let bytes = f16_tensor(4, 3);
        let mut short = MatrixDecoder::new(Dtype::F16, 4, 3, "t").unwrap();
        short.push(&bytes[..bytes.len() - 1]).unwrap();
        assert!(matches!(
            short.finish().unwrap_err(),
            DecodeError::WrongLength {
                actual_bytes: 23,
                expected_bytes: 24,
                ..
            }
        ));
        let mut long = MatrixDecoder::new(Dtype::F16, 4, 3, "t").unwrap();
        long.push(&bytes).unwrap();
        assert!(matches!(
            long.push(&[0]).unwrap_err(),
            DecodeError::WrongLength {
                actual_bytes: 25,
                ..
            }
        ));
    }

    #[test]
    fn streamed_decoder_names_the_first_non_finite_value() {
        let mut bytes = f16_tensor(9, 4);
        let at = (6 * 4 + 1) * 2;
        bytes[at..at + 2].copy_from_slice(&half::f16::NEG_INFINITY.to_le_bytes());
        let mut decoder = MatrixDecoder::new(Dtype::F16, 9, 4, "t").unwrap();
        let err = bytes
            .chunks(5)
            .find_map(|piece| decoder.push(piece).err())
            .unwrap();
        assert!(
            matches!(err, DecodeError::NonFinite { row: 6, col: 1, ref value_label, .. } if value_label == "-Inf"),
            "{err}"
        );
    }
}
