//! numpy's `.npz` archive: a zip of `.npy` entries (stored uncompressed, as `numpy.savez`
//! writes them), plus a `meta.json` entry that says where the numbers came from.

use std::io::{Cursor, Write as _};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::pure::analysis::AnalysisOptions;

use super::npy::{npy_bytes, NpyPrecision};
use super::vectors::ExportArrays;
use super::ExportError;

/// The app's version, written into `meta.json`.
pub const APP_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Where the exported numbers came from, written as `meta.json` in the `.npz`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExportMeta {
    /// Always `poslens`.
    pub app: String,
    /// The app's version ([`APP_VERSION`]).
    pub app_version: String,
    /// `hub`, `local` or `sample`.
    pub source: String,
    /// The Hub endpoint (Hub sources only).
    pub hub: Option<String>,
    /// The repository id (Hub sources only).
    pub repo: Option<String>,
    /// The commit analysed (Hub sources only, when known).
    pub commit: Option<String>,
    /// The weights file's path in the repository, or the local file's name.
    pub file: String,
    /// The tensor's name in the file.
    pub tensor: String,
    /// The tensor's shape as stored.
    pub shape: Vec<u64>,
    /// The matrix it was seen as, `[n_rows, n_cols]` (leading singleton dimensions squeezed).
    pub matrix_shape: [usize; 2],
    /// The stored element type (`F32`, `F16`, `BF16`, `F64`).
    pub dtype: String,
    /// The analysis settings (threshold, drop, axis, centring, k, offset rows).
    pub settings: AnalysisOptions,
    /// Each array in the archive with its shape, e.g. `"U": [512, 50]`.
    pub arrays: std::collections::BTreeMap<String, Vec<u64>>,
}

/// Zips `entries` (name, bytes) into one archive, stored uncompressed, in the given order.
///
/// # Errors
/// [`ExportError::Zip`] if the zip writer fails.
pub fn npz_bytes<B: AsRef<[u8]>>(entries: &[(String, B)]) -> Result<Vec<u8>, ExportError> {
    let zip_error = |err: &dyn std::fmt::Display| ExportError::Zip(err.to_string());
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .large_file(false);
    for (name, bytes) in entries {
        writer
            .start_file(name.as_str(), options)
            .map_err(|err| zip_error(&err))?;
        writer
            .write_all(bytes.as_ref())
            .map_err(|err| zip_error(&err))?;
    }
    let cursor = writer.finish().map_err(|err| zip_error(&err))?;
    Ok(cursor.into_inner())
}

/// One array written as `.npy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyEntry {
    /// The array's name without `.npy` (`S`, `U_dropped`…).
    pub name: String,
    /// Its shape.
    pub shape: Vec<u64>,
    /// The `.npy` file's bytes.
    pub bytes: Vec<u8>,
}

/// How many `.npy` entries one analysis has: `S`, `U` and `Vt`.
pub const NPY_ENTRIES_PER_ANALYSIS: usize = 3;

/// The `.npy` entries of one analysis: `S`, `U` (`n_rows × k`) and `Vt` (`k × n_cols`), each
/// named with the analysis' suffix (`S_dropped`…).
///
/// # Errors
/// As [`npy_bytes`].
pub fn npy_entries(
    arrays: &ExportArrays,
    precision: NpyPrecision,
) -> Result<Vec<NpyEntry>, ExportError> {
    (0..NPY_ENTRIES_PER_ANALYSIS)
        .filter_map(|index| npy_entry(arrays, index, precision))
        .collect()
}

/// One `.npy` entry of one analysis: 0 = `S`, 1 = `U`, 2 = `Vt` (as in [`npy_entries`]);
/// `None` for another index.
///
/// # Errors
/// As [`npy_bytes`].
pub fn npy_entry(
    arrays: &ExportArrays,
    index: usize,
    precision: NpyPrecision,
) -> Option<Result<NpyEntry, ExportError>> {
    let as_u64 = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    let (base, shape, values): (&str, Vec<u64>, &[f64]) = match index {
        0 => (
            "S",
            vec![as_u64(arrays.singular_values.len())],
            &arrays.singular_values,
        ),
        1 => (
            "U",
            vec![as_u64(arrays.n_rows), as_u64(arrays.k)],
            &arrays.u_top_k_row_major,
        ),
        2 => (
            "Vt",
            vec![as_u64(arrays.k), as_u64(arrays.n_cols)],
            &arrays.vt_top_k_row_major,
        ),
        _ => return None,
    };
    let name = format!("{base}{}", arrays.name_suffix);
    Some(npy_bytes(&name, &shape, values, precision).map(|bytes| NpyEntry { name, shape, bytes }))
}

/// The whole export as one `.npz`: `S`, `U`, `Vt` of each analysis in `arrays` (the full one
/// first, then `S_dropped`, `U_dropped`, `Vt_dropped`), and `meta.json` with `meta` (its
/// `arrays` field filled in here).
///
/// `numpy.load(path)` opens it; `npz["meta.json"]` gives the JSON bytes.
///
/// # Errors
/// As [`npy_bytes`] and [`npz_bytes`], or [`ExportError::Json`].
pub fn svd_npz(
    arrays: &[ExportArrays],
    meta: &ExportMeta,
    precision: NpyPrecision,
) -> Result<Vec<u8>, ExportError> {
    let mut entries = Vec::new();
    for analysis in arrays {
        entries.extend(npy_entries(analysis, precision)?);
    }
    svd_npz_of_entries(&entries, meta)
}

/// [`svd_npz`] of entries already written ([`npy_entries`] of each analysis, in order).
///
/// # Errors
/// As [`npz_bytes`], or [`ExportError::Json`].
pub fn svd_npz_of_entries(entries: &[NpyEntry], meta: &ExportMeta) -> Result<Vec<u8>, ExportError> {
    let mut meta = meta.clone();
    meta.arrays.clear();
    for entry in entries {
        meta.arrays.insert(entry.name.clone(), entry.shape.clone());
    }
    let json = serde_json::to_vec_pretty(&meta)?;
    let mut files: Vec<(String, &[u8])> = entries
        .iter()
        .map(|entry| (format!("{}.npy", entry.name), entry.bytes.as_slice()))
        .collect();
    files.push(("meta.json".to_owned(), &json));
    npz_bytes(&files)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn the_archive_is_a_zip_with_every_entry_stored() {
        let entries = vec![
            ("a.npy".to_owned(), b"\x93NUMPYfake".to_vec()),
            ("meta.json".to_owned(), b"{}".to_vec()),
        ];
        let bytes = npz_bytes(&entries).unwrap();
        assert_eq!(&bytes[..4], b"PK\x03\x04");
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        assert_eq!(archive.len(), 2);
        let mut first = archive.by_name("a.npy").unwrap();
        assert_eq!(first.compression(), CompressionMethod::Stored);
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut first, &mut content).unwrap();
        assert_eq!(content, b"\x93NUMPYfake");
    }
}
