#![allow(clippy::restriction)]
// a test may unwrap, index and panic
// These are native tests of the pure core; the wasm32 build only lints the app.
#![cfg(not(target_arch = "wasm32"))]
//! The export writers on the real all-MiniLM-L6-v2 positional embedding (512 × 384).
//!
//! Each test checks its writer here (the CSV parses back, the NPZ unzips into `.npy` entries
//! with the right headers, `Vᵀ` rebuilds the matrix) and writes its files to
//! `target/export-check/`. `tests/export_check.py`, run by `scripts/test.sh` right after
//! `cargo test`, then loads them with `numpy.load` (no flags), compares them with the values
//! written here and with numpy's own SVD, and runs the Python snippet against the real file
//! served by a local Hub stand-in.

use std::io::Read as _;
use std::path::PathBuf;
use std::sync::Arc;

use nalgebra::{DMatrix, DVector};
use poslens::pure::analysis::{analyse, Analysis, AnalysisOptions, DropAxis};
use poslens::pure::export::npz::{ExportMeta, APP_VERSION};
use poslens::pure::export::{
    export_arrays, npy_bytes, npy_entries, prepared_matrices, python_snippet, singular_values_csv,
    svd_npz, ExportArraysBuilder, ExportError, NpyPrecision, SnippetSource, SnippetSpec,
};
use poslens::pure::source::decode::decode_matrix;
use poslens::pure::views::PreparedMatrixBuilder;
use safetensors::SafeTensors;
use serde_json::json;

const TENSOR_NAME: &str = "embeddings.position_embeddings.weight";
const REPO: &str = "sentence-transformers/all-MiniLM-L6-v2";
/// A commit sha for the snippet and the metadata; the local Hub stand-in serves any sha.
const COMMIT: &str = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf";
const N_POSITIONS: usize = 512;
const D_MODEL: usize = 384;
/// How many of the largest singular values the snippet prints.
const N_TOP: usize = 10;

fn out_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("export-check");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn minilm() -> DMatrix<f64> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/minilm_position_embeddings.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let tensors = SafeTensors::deserialize(&bytes).unwrap();
    let view = tensors.tensor(TENSOR_NAME).unwrap();
    decode_matrix(view.data(), view.dtype(), N_POSITIONS, D_MODEL, TENSOR_NAME).unwrap()
}

fn default_analysis(w: &DMatrix<f64>) -> Analysis {
    analyse(w, &AnalysisOptions::default()).unwrap()
}

fn meta(analysis: &Analysis) -> ExportMeta {
    ExportMeta {
        app: "poslens".to_owned(),
        app_version: APP_VERSION.to_owned(),
        source: "hub".to_owned(),
        hub: Some("https://huggingface.co".to_owned()),
        repo: Some(REPO.to_owned()),
        commit: Some(COMMIT.to_owned()),
        file: "model.safetensors".to_owned(),
        tensor: TENSOR_NAME.to_owned(),
        shape: vec![512, 384],
        matrix_shape: [N_POSITIONS, D_MODEL],
        dtype: "F32".to_owned(),
        settings: analysis.options.clone(),
        arrays: Default::default(),
    }
}

/// The core's values, for `tests/export_check.py` to compare the files with.
fn expected_json(analysis: &Analysis) -> serde_json::Value {
    let part = |s: &poslens::pure::analysis::SvdSummary| {
        json!({
            "n_rows": s.n_rows,
            "n_cols": s.n_cols,
            "singular_values": s.singular_values,
            "energy_share": s.energy_share,
            "cumulative_energy": s.cumulative_energy,
            "rank_at_threshold": s.rank_at_threshold,
            "u_top_k": s.u_top_k,
        })
    };
    json!({
        "repo": REPO,
        "commit": COMMIT,
        "tensor": TENSOR_NAME,
        "threshold_rel": analysis.options.threshold_rel,
        "drop_count": analysis.options.drop_count,
        "n_top": N_TOP,
        "full": part(&analysis.full),
        "dropped": analysis.dropped.as_ref().map(part),
    })
}

#[test]
fn csv_of_both_analyses_parses_back_exactly() {
    let w = minilm();
    let analysis = default_analysis(&w);
    let csv = singular_values_csv(&analysis);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("analysis,index,singular_value,energy_share,cumulative_energy")
    );
    let dropped = analysis.dropped.as_ref().unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|line| line.split(',').collect()).collect();
    assert_eq!(
        rows.len(),
        analysis.full.singular_values.len() + dropped.singular_values.len()
    );
    for row in &rows {
        assert_eq!(row.len(), 5, "{row:?}");
        let summary = match row[0] {
            "full" => &analysis.full,
            "dropped" => dropped,
            other => panic!("unexpected analysis label {other}"),
        };
        let index: usize = row[1].parse().unwrap();
        assert_eq!(
            row[2].parse::<f64>().unwrap(),
            summary.singular_values[index]
        );
        assert_eq!(row[3].parse::<f64>().unwrap(), summary.energy_share[index]);
        assert_eq!(
            row[4].parse::<f64>().unwrap(),
            summary.cumulative_energy[index]
        );
    }
    std::fs::write(out_dir().join("minilm_singular_values.csv"), csv).unwrap();
}

#[test]
fn npz_holds_s_u_vt_of_both_analyses_and_meta() {
    let w = minilm();
    let analysis = default_analysis(&w);
    let arrays = export_arrays(&w, &analysis).unwrap();
    assert_eq!(arrays.len(), 2);

    // Vᵀ rebuilds the matrix's projection: U_k Σ_k Vᵀ_k equals U_k U_kᵀ W.
    let (full, dropped) = prepared_matrices(&w, &analysis.options).unwrap();
    for (a, matrix) in arrays.iter().zip([full, dropped.unwrap()]) {
        let u = DMatrix::from_row_slice(a.n_rows, a.k, &a.u_top_k_row_major);
        let vt = DMatrix::from_row_slice(a.k, a.n_cols, &a.vt_top_k_row_major);
        let sigma = DMatrix::from_diagonal(&DVector::from_column_slice(&a.singular_values[..a.k]));
        let projection = &u * u.transpose() * &matrix;
        let rebuilt = &u * sigma * &vt;
        let scale = a.singular_values[0];
        assert!((rebuilt - projection).abs().max() < 1e-10 * scale);
        let gram = &vt * vt.transpose();
        assert!((gram - DMatrix::identity(a.k, a.k)).abs().max() < 1e-9);
    }

    let npz = svd_npz(&arrays, &meta(&analysis), NpyPrecision::F64).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(npz.clone())).unwrap();
    let mut names: Vec<String> = archive
        .file_names()
        .map(|name| name.unwrap().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "S.npy",
            "S_dropped.npy",
            "U.npy",
            "U_dropped.npy",
            "Vt.npy",
            "Vt_dropped.npy",
            "meta.json"
        ]
    );
    let mut meta_text = String::new();
    archive
        .by_name("meta.json")
        .unwrap()
        .read_to_string(&mut meta_text)
        .unwrap();
    let meta: ExportMeta = serde_json::from_str(&meta_text).unwrap();
    assert_eq!(meta.arrays["U"], vec![512, 50]);
    assert_eq!(meta.arrays["Vt_dropped"], vec![50, 379]);
    assert_eq!(meta.commit.as_deref(), Some(COMMIT));

    let dir = out_dir();
    std::fs::write(dir.join("minilm_svd.npz"), &npz).unwrap();
    let full = &arrays[0];
    let files = [
        ("S.npy", vec![384], &full.singular_values, NpyPrecision::F64),
        (
            "U.npy",
            vec![512, 50],
            &full.u_top_k_row_major,
            NpyPrecision::F64,
        ),
        (
            "Vt.npy",
            vec![50, 384],
            &full.vt_top_k_row_major,
            NpyPrecision::F64,
        ),
        (
            "S_f32.npy",
            vec![384],
            &full.singular_values,
            NpyPrecision::F32,
        ),
    ];
    for (name, shape, values, precision) in files {
        let bytes = npy_bytes(name, &shape, values, precision).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    std::fs::write(
        dir.join("expected.json"),
        serde_json::to_string(&expected_json(&analysis)).unwrap(),
    )
    .unwrap();
}

#[test]
fn python_snippet_for_the_real_file() {
    let w = minilm();
    let analysis = default_analysis(&w);
    let snippet = python_snippet(&SnippetSpec {
        source: SnippetSource::Hub {
            endpoint: "https://huggingface.co",
            repo: REPO,
            revision: COMMIT,
            file: "model.safetensors",
        },
        tensor: TENSOR_NAME,
        dtype: "F32",
        n_rows: N_POSITIONS,
        n_cols: D_MODEL,
        options: &analysis.options,
        n_top: N_TOP,
    });
    assert_eq!(
        snippet
            .lines()
            .filter(|line| line.starts_with("ENDPOINT = "))
            .count(),
        1,
        "the endpoint is one setting a test can point elsewhere"
    );
    std::fs::write(out_dir().join("minilm_snippet.py"), snippet).unwrap();
}

/// The page's path to the arrays: the views' matrix built from the tensor's bytes in bands
/// (`PreparedMatrixBuilder`), then `Vᵀ` recovered a few rows per step
/// (`ExportArraysBuilder`). Same code on the same bytes as [`export_arrays`] on the decoded
/// matrix, so the arrays and their `.npy` files are the same to the bit, whatever the step sizes.
#[test]
fn arrays_built_in_steps_from_the_views_matrix_equal_the_export_bit_for_bit() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/minilm_position_embeddings.safetensors");
    let file = std::fs::read(&path).unwrap();
    let tensors = SafeTensors::deserialize(&file).unwrap();
    let view = tensors.tensor(TENSOR_NAME).unwrap();
    let bytes = view.data();
    let w = minilm();
    let settings = [
        AnalysisOptions::default(),
        AnalysisOptions {
            center_rows: true,
            skip_offset_rows: 2,
            drop_axis: DropAxis::Rows,
            drop_count: 3,
            k_vectors: 7,
            ..AnalysisOptions::default()
        },
        AnalysisOptions {
            drop_count: 0,
            k_vectors: 4,
            ..AnalysisOptions::default()
        },
    ];
    // The first entry whose bits differ, if any, and the lengths.
    let first_difference = |a: &[f64], b: &[f64]| {
        let at = a
            .iter()
            .zip(b)
            .position(|(x, y)| x.to_bits() != y.to_bits());
        (at, a.len(), b.len())
    };
    for options in settings {
        let analysis = Arc::new(analyse(&w, &options).unwrap());
        let expected = export_arrays(&w, &analysis).unwrap();
        let mut matrix_builder = PreparedMatrixBuilder::new(
            view.dtype(),
            N_POSITIONS,
            D_MODEL,
            bytes.len(),
            &options,
            TENSOR_NAME,
            50_000,
        )
        .unwrap();
        while !matrix_builder.step(bytes).unwrap() {}
        let prepared = Arc::new(matrix_builder.into_matrix().unwrap());
        // One row of Vᵀ per step, three rows per step, and everything in one step per part.
        for elements_per_step in [1, 3 * N_POSITIONS * D_MODEL, usize::MAX] {
            let mut builder = ExportArraysBuilder::new(
                Arc::clone(&prepared),
                Arc::clone(&analysis),
                elements_per_step,
            )
            .unwrap();
            let step_count = builder.step_count();
            let mut steps = 1;
            while !builder.step().unwrap() {
                steps += 1;
                assert_eq!(builder.steps_done(), steps - 1);
            }
            assert_eq!(steps, step_count, "{options:?} {elements_per_step}");
            let built = builder.into_arrays().unwrap();
            assert_eq!(built.len(), expected.len());
            for (a, b) in built.iter().zip(&expected) {
                let label = format!("{}{options:?} {elements_per_step}", a.name_suffix);
                assert_eq!(
                    (a.name_suffix, a.n_rows, a.n_cols, a.k),
                    (b.name_suffix, b.n_rows, b.n_cols, b.k),
                    "{label}"
                );
                for (what, x, y) in [
                    ("S", &a.singular_values, &b.singular_values),
                    ("U", &a.u_top_k_row_major, &b.u_top_k_row_major),
                    ("Vt", &a.vt_top_k_row_major, &b.vt_top_k_row_major),
                ] {
                    let (at, len_x, len_y) = first_difference(x, y);
                    assert!(
                        at.is_none() && len_x == len_y,
                        "{what} ({label}): first different entry {at:?} (lengths {len_x} and {len_y})"
                    );
                }
            }
            for (a, b) in built.iter().zip(&expected) {
                assert_eq!(
                    npy_entries(a, NpyPrecision::F64).unwrap(),
                    npy_entries(b, NpyPrecision::F64).unwrap()
                );
            }
        }
    }
}

#[test]
fn arrays_of_a_matrix_the_analysis_did_not_see_are_refused() {
    let w = minilm();
    let analysis = Arc::new(default_analysis(&w));
    let other = Arc::new(w.rows(1, N_POSITIONS - 1).into_owned());
    assert!(matches!(
        ExportArraysBuilder::new(other, analysis, 1),
        Err(ExportError::MatrixMismatch { .. })
    ));
}
