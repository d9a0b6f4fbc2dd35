//! numpy's `.npy` format: the magic string, a version, a Python-dict header
//! (`descr`, `fortran_order`, `shape`) padded to 64 bytes, then the data in C order.
//! Written by the `npyz` crate; loadable by `numpy.load` with no flags.

use npyz::WriterBuilder as _;

use super::ExportError;

/// The element type written to a `.npy` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NpyPrecision {
    /// Little-endian 64-bit floats (`<f8`): exactly the values the page computed.
    #[default]
    F64,
    /// Little-endian 32-bit floats (`<f4`): half the size, rounded to nearest.
    F32,
}

/// Writes `values_row_major` as a C-ordered `.npy` array of shape `shape`.
///
/// `name` only labels errors.
///
/// # Errors
/// [`ExportError::ShapeMismatch`] when the shape's element count differs from
/// `values_row_major.len()`, and [`ExportError::Npy`] if the writer fails.
pub fn npy_bytes(
    name: &str,
    shape: &[u64],
    values_row_major: &[f64],
    precision: NpyPrecision,
) -> Result<Vec<u8>, ExportError> {
    let n_expected = shape
        .iter()
        .try_fold(1_u64, |acc, &dim| acc.checked_mul(dim))
        .unwrap_or(u64::MAX);
    if u64::try_from(values_row_major.len()).ok() != Some(n_expected) {
        return Err(ExportError::ShapeMismatch {
            name: name.to_owned(),
            shape: shape.to_vec(),
            n_expected,
            n_values: values_row_major.len(),
        });
    }
    let npy_error = |err: std::io::Error| ExportError::Npy {
        name: name.to_owned(),
        message: err.to_string(),
    };
    let mut out = Vec::with_capacity(128 + values_row_major.len() * 8);
    match precision {
        NpyPrecision::F64 => {
            let mut writer = npyz::WriteOptions::<f64>::new()
                .default_dtype()
                .shape(shape)
                .writer(&mut out)
                .begin_nd()
                .map_err(npy_error)?;
            writer
                .extend(values_row_major.iter().copied())
                .map_err(npy_error)?;
            writer.finish().map_err(npy_error)?;
        }
        NpyPrecision::F32 => {
            let mut writer = npyz::WriteOptions::<f32>::new()
                .default_dtype()
                .shape(shape)
                .writer(&mut out)
                .begin_nd()
                .map_err(npy_error)?;
            // Rounding to the nearest f32 is the point of this precision.
            #[allow(clippy::cast_possible_truncation)]
            writer
                .extend(values_row_major.iter().map(|&v| v as f32))
                .map_err(npy_error)?;
            writer.finish().map_err(npy_error)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn header_is_numpy_version_1_with_a_64_byte_aligned_dict() {
        let bytes = npy_bytes(
            "x",
            &[2, 3],
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.5],
            NpyPrecision::F64,
        )
        .unwrap();
        assert_eq!(&bytes[..6], b"\x93NUMPY");
        assert_eq!(bytes[6], 1);
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
        assert!(header.contains("'descr': '<f8'"), "{header}");
        assert!(header.contains("'fortran_order': False"), "{header}");
        // npyz writes a trailing comma in every shape tuple, which Python reads the same.
        assert!(header.contains("'shape': (2, 3,"), "{header}");
        assert!(header.ends_with('\n'));
        let data = &bytes[10 + header_len..];
        assert_eq!(data.len(), 6 * 8);
        assert_eq!(f64::from_le_bytes(data[40..48].try_into().unwrap()), 6.5);
    }

    #[test]
    fn f32_halves_the_data_and_one_dimensional_shapes_have_a_trailing_comma() {
        let bytes = npy_bytes("s", &[3], &[0.5, 0.25, 1.0 / 3.0], NpyPrecision::F32).unwrap();
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
        assert!(header.contains("'descr': '<f4'"), "{header}");
        assert!(header.contains("'shape': (3,"), "{header}");
        let data = &bytes[10 + header_len..];
        assert_eq!(data.len(), 12);
        assert_eq!(
            f32::from_le_bytes(data[8..12].try_into().unwrap()),
            1.0_f32 / 3.0
        );
    }

    #[test]
    fn a_wrong_count_is_an_error_not_a_corrupt_file() {
        let err = npy_bytes("U", &[2, 2], &[1.0, 2.0, 3.0], NpyPrecision::F64).unwrap_err();
        assert!(err.to_string().contains("`U` has 3 values"), "{err}");
    }
}
