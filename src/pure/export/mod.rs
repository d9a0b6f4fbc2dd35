//! Results that leave the page, as files or text:
//!
//! - [`table`]: the singular values with their energy shares, as TSV (clipboard) and CSV;
//! - [`vectors`]: the arrays a notebook expects (`S`, `U[:, :k]`, `Vᵀ[:k]`), recovering the
//!   right singular vectors from the matrix and the left ones;
//! - [`npy`]: numpy's `.npy` format (through `npyz`);
//! - [`npz`]: numpy's `.npz` archive of `.npy` entries plus `meta.json` (through `zip`);
//! - [`svg`]: stand-alone SVG documents, including a heatmap as an embedded raster with
//!   vector axes and colour bar;
//! - [`naming`]: file names that say what they hold (`gpt2@abc1234_wpe_U5_heatmap.png`);
//! - [`python`]: a Python snippet that reproduces the analysis with `huggingface_hub` and
//!   `safetensors`.
//!
//! Everything here returns bytes or text; the browser shell only hands them to a download.

pub mod naming;
pub mod npy;
pub mod npz;
pub mod python;
pub mod svg;
pub mod table;
pub mod vectors;

pub use naming::{export_file_name, ExportSubject};
pub use npy::{npy_bytes, NpyPrecision};
pub use npz::{
    npy_entries, npy_entry, npz_bytes, svd_npz, svd_npz_of_entries, ExportMeta, NpyEntry,
    APP_VERSION, NPY_ENTRIES_PER_ANALYSIS,
};
pub use python::{python_snippet, SnippetSource, SnippetSpec};
pub use svg::{
    chart_svg, heatmap_svg, raster_svg, svg_document, HeatmapFigure, LegendEntry, SvgTheme,
};
pub use table::{singular_values_csv, singular_values_tsv};
pub use vectors::{
    export_arrays, prepared_matrices, right_vectors_top_k, ExportArrays, ExportArraysBuilder,
};

/// Why an export could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// An array's element count does not match its shape.
    #[error(
        "array `{name}` has {n_values} values but its shape {shape:?} needs {n_expected}; \
         this is a bug in the export, please report it"
    )]
    ShapeMismatch {
        /// The array's name.
        name: String,
        /// The shape asked for.
        shape: Vec<u64>,
        /// How many values the shape needs.
        n_expected: u64,
        /// How many values were given.
        n_values: usize,
    },
    /// The matrix given does not match the analysis it should belong to.
    #[error(
        "the matrix is {n_rows} × {n_cols} but the analysis was of a {want_rows} × {want_cols} \
         matrix; run the analysis again before exporting"
    )]
    MatrixMismatch {
        /// Rows of the matrix given.
        n_rows: usize,
        /// Columns of the matrix given.
        n_cols: usize,
        /// Rows the analysis saw.
        want_rows: usize,
        /// Columns the analysis saw.
        want_cols: usize,
    },
    /// Re-applying the analysis settings to the matrix failed.
    #[error("could not prepare the matrix for export: {0}")]
    Prepare(#[from] crate::pure::analysis::AnalysisError),
    /// Writing the `.npy` bytes failed.
    #[error("could not write `{name}` as .npy: {message}")]
    Npy {
        /// The array's name.
        name: String,
        /// What the writer reported.
        message: String,
    },
    /// Writing the `.npz` archive failed.
    #[error("could not write the .npz archive: {0}")]
    Zip(String),
    /// The metadata could not be written as JSON.
    #[error("could not write meta.json: {0}")]
    Json(#[from] serde_json::Error),
}
