#![allow(clippy::restriction)]
// a test may unwrap, index and panic
// These are native tests of the pure core; the wasm32 build only lints the app.
#![cfg(not(target_arch = "wasm32"))]
//! Checks the views beyond the notebook against numpy on the real all-MiniLM-L6-v2
//! positional embedding (512 × 384): energy markers, the cosine similarity matrix (exact,
//! windowed and block-averaged), projections σᵢuᵢ, per-position norms, the rows of Vᵀ and
//! how many model dimensions hold 90% of each, dominant DFT periods, and principal angles.
//!
//! Golden values come from `tests/golden/make_views_golden.py`.

use std::path::PathBuf;

use nalgebra::DMatrix;
use poslens::pure::analysis::{analyse, AnalysisOptions, DropAxis, SvdSummary};
use poslens::pure::source::decode::decode_matrix;
use poslens::pure::source::format::Dtype;
use poslens::pure::views::cosine::{
    cosine_grid, cosine_matrix, positions_per_cell, unit_rows, CosinePlan, CosinePlanBuilder,
};
use poslens::pure::views::frequency::{dominant_frequency, frequency_table, power_shares};
use poslens::pure::views::projection::{
    add_row_squares, plane_projection, row_norms, space_projection,
};
use poslens::pure::views::right_vectors::{dims_for_mass, right_vectors};
use poslens::pure::views::spectrum::{
    directions_for_energy, energy_markers, level_label, normalized_spectrum, DEFAULT_ENERGY_LEVELS,
};
use poslens::pure::views::subspace::{mean_cos_squared, principal_angles};
use poslens::pure::views::{prepared_matrix, PrepareError, PreparedMatrixBuilder, ViewError};
use safetensors::SafeTensors;
use serde_json::Value;

const TENSOR_NAME: &str = "embeddings.position_embeddings.weight";

fn load_w() -> DMatrix<f64> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/minilm_position_embeddings.safetensors");
    let bytes = std::fs::read(path).unwrap();
    let tensors = SafeTensors::deserialize(&bytes).unwrap();
    let view = tensors.tensor(TENSOR_NAME).unwrap();
    let shape = view.shape().to_vec();
    decode_matrix(view.data(), view.dtype(), shape[0], shape[1], TENSOR_NAME).unwrap()
}

fn golden() -> Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/minilm_views_golden.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

fn summary_of(w: &DMatrix<f64>, k: usize) -> SvdSummary {
    let options = AnalysisOptions {
        drop_count: 0,
        k_vectors: k,
        ..AnalysisOptions::default()
    };
    analyse(w, &options).unwrap().full
}

fn assert_close(actual: f64, expected: f64, abs_tol: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= abs_tol,
        "{what}: {actual} vs numpy {expected} (tolerance {abs_tol})"
    );
}

#[test]
fn energy_markers_match_numpy() {
    let w = load_w();
    let g = golden();
    let summary = summary_of(&w, 5);
    let markers = energy_markers(&summary.cumulative_energy, &DEFAULT_ENERGY_LEVELS);
    for marker in &markers {
        let key = format!("{}", marker.level);
        let expected = g["energy_markers"][key.as_str()].as_u64().unwrap() as usize;
        assert_eq!(marker.n_directions, expected, "directions for {key}");
    }
    assert_eq!(markers.len(), 3);
    assert_eq!(level_label(0.999), "99.9%");
    let normalised = normalized_spectrum(&summary.singular_values);
    for (ours, theirs) in normalised
        .iter()
        .zip(floats(&g["normalized_spectrum_top10"]))
    {
        assert_close(*ours, theirs, 1e-12, "σ/σ₀");
    }
    assert_eq!(normalised[0], 1.0);
}

#[test]
fn directions_for_energy_edges() {
    assert_eq!(directions_for_energy(&[], 0.9), 0);
    assert_eq!(directions_for_energy(&[0.5, 0.9, 1.0], 0.9), 2);
    assert_eq!(directions_for_energy(&[0.5, 0.8, 0.999_999], 1.0), 3);
    assert_eq!(normalized_spectrum(&[0.0, 0.0]), vec![0.0, 0.0]);
}

#[test]
fn cosine_matrix_matches_numpy() {
    let w = load_w();
    let g = golden();
    let cos = cosine_matrix(&w);
    assert_eq!(cos.shape(), (512, 512));
    let gc = &g["cosine"];
    assert_close(
        cos.sum(),
        gc["sum"].as_f64().unwrap(),
        1e-7,
        "sum of cosines",
    );
    assert_close(
        cos.iter().map(|c| c * c).sum::<f64>(),
        gc["sum_squares"].as_f64().unwrap(),
        1e-7,
        "sum of squared cosines",
    );
    assert_close(cos.trace(), gc["trace"].as_f64().unwrap(), 1e-9, "trace");
    for sample in gc["samples"].as_array().unwrap() {
        let i = sample[0].as_u64().unwrap() as usize;
        let j = sample[1].as_u64().unwrap() as usize;
        assert_close(cos[(i, j)], sample[2].as_f64().unwrap(), 1e-12, "cos(i, j)");
    }
}

#[test]
fn cosine_window_and_block_grid_match_numpy() {
    let w = load_w();
    let g = golden();
    // A 64-position window drawn at one cell per position is exact.
    let window = cosine_grid(&w, 100..164, 512).unwrap();
    assert_eq!(
        (
            window.n_cells,
            window.positions_per_cell,
            window.start,
            window.end
        ),
        (64, 1, 100, 164)
    );
    let expected = floats(&g["cosine"]["window_100_164"]);
    assert_eq!(window.values.len(), expected.len());
    for (ours, theirs) in window.values.iter().zip(&expected) {
        assert_close(*ours, *theirs, 1e-12, "windowed cosine");
    }
    assert_eq!(window.cell_positions(3), 103..104);
    // All 512 positions in at most 64 cells: 8 × 8 positions per cell, each the exact mean.
    let grid = cosine_grid(&w, 0..512, 64).unwrap();
    assert_eq!((grid.n_cells, grid.positions_per_cell), (64, 8));
    let expected = floats(&g["cosine"]["block8_grid"]);
    for (ours, theirs) in grid.values.iter().zip(&expected) {
        assert_close(*ours, *theirs, 1e-12, "block-mean cosine");
    }
    assert_eq!(grid.value(2, 5), Some(grid.values[2 * 64 + 5]));
    assert_eq!(grid.value(64, 0), None);
    assert_eq!(grid.cell_positions(63), 504..512);
    assert_eq!(grid.rows().len(), 64);
}

#[test]
fn cosine_plan_in_bands_equals_one_pass() {
    let w = load_w();
    // 512 positions in at most 100 cells: 6 per cell, the last cell holds 2.
    let plan = CosinePlan::new(&w, 0..512, 100).unwrap();
    assert_eq!(plan.n_cells(), 86);
    assert_eq!(positions_per_cell(512, 100), 6);
    let whole = plan.compute();
    // The page picks band heights down to one row. Bands of at most five rows take another
    // matrix product in nalgebra than the whole grid (its small-matrix path), which may round
    // the last bit differently, so the values agree to rounding, not bit for bit.
    for band in [1, 4, 13] {
        let mut banded = Vec::new();
        for first in (0..plan.n_cells()).step_by(band) {
            banded.extend(plan.cell_rows(first..first + band));
        }
        assert_eq!(banded.len(), whole.values.len(), "bands of {band}");
        for (i, (a, b)) in banded.iter().zip(&whole.values).enumerate() {
            assert!(
                (a - b).abs() <= 1e-14,
                "bands of {band}, value {i}: {a} vs {b} in one pass"
            );
        }
    }
    // The last, partial cell is the mean over its two positions only.
    let cos = cosine_matrix(&w);
    let last = whole.value(85, 85).unwrap();
    let expected = (cos[(510, 510)] + cos[(510, 511)] + cos[(511, 510)] + cos[(511, 511)]) / 4.0;
    assert_close(last, expected, 1e-12, "partial cell");
    // The grid is symmetric.
    assert_close(
        whole.value(3, 40).unwrap(),
        whole.value(40, 3).unwrap(),
        1e-12,
        "symmetry",
    );
}

#[test]
fn cosine_rejects_bad_windows() {
    let w = load_w();
    assert!(matches!(
        cosine_grid(&w, 10..10, 64),
        Err(ViewError::BadWindow { .. })
    ));
    assert!(matches!(
        cosine_grid(&w, 500..513, 64),
        Err(ViewError::BadWindow {
            n_positions: 512,
            ..
        })
    ));
    // A zero row has cosine 0 with everything rather than NaN.
    let m = DMatrix::from_row_slice(2, 2, &[0.0, 0.0, 1.0, 0.0]);
    let cos = cosine_matrix(&m);
    assert_eq!(cos[(0, 1)], 0.0);
    assert_eq!(cos[(1, 1)], 1.0);
}

#[test]
fn projections_and_norms_match_numpy() {
    let w = load_w();
    let g = golden();
    let summary = summary_of(&w, 5);
    let expected: Vec<Vec<f64>> = g["projections_top5"]
        .as_array()
        .unwrap()
        .iter()
        .map(floats)
        .collect();
    let plane = plane_projection(&summary, 0, 1).unwrap();
    for (ours, theirs) in plane.xs.iter().zip(&expected[0]) {
        assert_close(*ours, *theirs, 1e-8, "σ₀u₀");
    }
    for (ours, theirs) in plane.ys.iter().zip(&expected[1]) {
        assert_close(*ours, *theirs, 1e-8, "σ₁u₁");
    }
    let space = space_projection(&summary, [2, 3, 4]).unwrap();
    assert_eq!(space.len(), 512);
    for (p, point) in space.iter().enumerate() {
        assert_close(point[0], expected[2][p], 1e-7, "σ₂u₂");
        assert_close(point[1], expected[3][p], 1e-7, "σ₃u₃");
        assert_close(point[2], expected[4][p], 1e-7, "σ₄u₄");
    }
    assert_eq!(
        plane_projection(&summary, 0, 5),
        Err(ViewError::DirectionOutOfRange {
            index: 5,
            available: 5
        })
    );
    let norms = row_norms(&w);
    for (ours, theirs) in norms.iter().zip(floats(&g["row_norms"])) {
        assert_close(*ours, theirs, 1e-12, "row norm");
    }
}

#[test]
fn right_vectors_and_their_sparsity_match_numpy() {
    let w = load_w();
    let g = golden();
    let summary = summary_of(&w, 20);
    let right = right_vectors(&w, &summary, 20, 0.9).unwrap();
    assert_eq!(right.rows.len(), 20);
    for (i, expected) in g["vt_top10"].as_array().unwrap().iter().enumerate() {
        let expected = floats(expected);
        for (ours, theirs) in right.rows[i].iter().zip(&expected) {
            assert_close(*ours, *theirs, 1e-6, &format!("Vᵀ row {i}"));
        }
    }
    let expected_dims = g["dims_for_90"].as_array().unwrap();
    let margins = g["dims_for_90_mass_below_at"].as_array().unwrap();
    for (i, (&ours, theirs)) in right.dims_for_share.iter().zip(expected_dims).enumerate() {
        let below = margins[i][0].as_f64().unwrap();
        let at = margins[i][1].as_f64().unwrap();
        // The count is exact whenever the boundary is not within rounding of 90%.
        if (below - 0.9).abs() > 1e-9 && (at - 0.9).abs() > 1e-9 {
            assert_eq!(
                ours,
                theirs.as_u64().unwrap() as usize,
                "dims for 90% of v{i}"
            );
        }
    }
    assert_eq!(dims_for_mass(&[0.0, 3.0, 4.0], 0.6), 1);
    assert_eq!(dims_for_mass(&[0.0, 3.0, 4.0], 0.7), 2);
    assert_eq!(dims_for_mass(&[0.0, 0.0], 0.9), 0);
}

#[test]
fn right_vectors_reject_a_different_matrix() {
    let w = load_w();
    let summary = summary_of(&w, 3);
    let other = w.columns(0, 10).into_owned();
    assert!(matches!(
        right_vectors(&other, &summary, 3, 0.9),
        Err(ViewError::ShapeMismatch { .. })
    ));
}

#[test]
fn prepared_matrix_follows_the_options() {
    let w = load_w();
    let options = AnalysisOptions {
        skip_offset_rows: 2,
        center_rows: true,
        drop_count: 0,
        drop_axis: DropAxis::Cols,
        ..AnalysisOptions::default()
    };
    let prepared = prepared_matrix(&w, &options).unwrap();
    assert_eq!(prepared.shape(), (510, 384));
    assert!(prepared.row(0).sum().abs() < 1e-9);
    let too_many = AnalysisOptions {
        skip_offset_rows: 512,
        ..options
    };
    assert!(matches!(
        prepared_matrix(&w, &too_many),
        Err(ViewError::SkipTooLarge { .. })
    ));
}

/// The real MiniLM values stored as `dtype`, row-major, with the matrix they decode to.
fn stored_as(dtype: Dtype) -> (Vec<u8>, DMatrix<f64>) {
    let w = load_w();
    let mut bytes = Vec::new();
    for row in 0..w.nrows() {
        for &value in w.row(row).iter() {
            match dtype {
                Dtype::F64 => bytes.extend_from_slice(&value.to_le_bytes()),
                Dtype::F16 => bytes.extend_from_slice(&half::f16::from_f64(value).to_le_bytes()),
                Dtype::BF16 => bytes.extend_from_slice(&half::bf16::from_f64(value).to_le_bytes()),
                _ => bytes.extend_from_slice(&(value as f32).to_le_bytes()),
            }
        }
    }
    let decoded = decode_matrix(&bytes, dtype, w.nrows(), w.ncols(), TENSOR_NAME).unwrap();
    (bytes, decoded)
}

/// Runs a builder to the end, counting its steps.
fn build_all(mut builder: PreparedMatrixBuilder, bytes: &[u8]) -> (DMatrix<f64>, usize) {
    let expected_steps = builder.step_count();
    let mut steps = 0;
    while !builder.step(bytes).unwrap() {
        steps += 1;
        assert!(steps <= expected_steps, "more steps than step_count");
    }
    steps += 1;
    assert_eq!(steps, expected_steps);
    (builder.into_matrix().unwrap(), steps)
}

#[test]
fn stepwise_build_equals_decode_then_prepare_bit_for_bit() {
    for dtype in [Dtype::F32, Dtype::F16, Dtype::BF16, Dtype::F64] {
        let (bytes, decoded) = stored_as(dtype);
        for (skip_offset_rows, center_rows) in [(0, false), (2, true), (0, true), (5, false)] {
            let options = AnalysisOptions {
                skip_offset_rows,
                center_rows,
                ..AnalysisOptions::default()
            };
            let expected = prepared_matrix(&decoded, &options).unwrap();
            // One band of 1 column, a band that does not divide 384, and everything at once.
            for elements_per_step in [1, 37 * 512, usize::MAX / 2] {
                let builder = PreparedMatrixBuilder::new(
                    dtype,
                    512,
                    384,
                    bytes.len(),
                    &options,
                    TENSOR_NAME,
                    elements_per_step,
                )
                .unwrap();
                let (built, steps) = build_all(builder, &bytes);
                assert_eq!(built.shape(), expected.shape());
                let same_bits = built
                    .iter()
                    .zip(expected.iter())
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same_bits, "{dtype:?} skip {skip_offset_rows} centre {center_rows} step {elements_per_step}");
                let bands = if elements_per_step == 1 {
                    384
                } else if elements_per_step == 37 * 512 {
                    11
                } else {
                    1
                };
                assert_eq!(steps, if center_rows { 2 * bands } else { bands });
            }
        }
    }
}

#[test]
fn stepwise_build_reports_bad_input() {
    let (mut bytes, _) = stored_as(Dtype::F32);
    let options = AnalysisOptions::default();
    let new = |len: usize, options: &AnalysisOptions| {
        PreparedMatrixBuilder::new(Dtype::F32, 512, 384, len, options, TENSOR_NAME, 4096)
    };
    assert!(matches!(
        new(bytes.len() - 4, &options),
        Err(PrepareError::Decode(_))
    ));
    let skip_all = AnalysisOptions {
        skip_offset_rows: 512,
        ..AnalysisOptions::default()
    };
    assert!(matches!(
        new(bytes.len(), &skip_all),
        Err(PrepareError::View(ViewError::SkipTooLarge { .. }))
    ));
    assert!(matches!(
        PreparedMatrixBuilder::new(
            Dtype::I32,
            512,
            384,
            bytes.len(),
            &options,
            TENSOR_NAME,
            4096
        ),
        Err(PrepareError::Decode(_))
    ));
    // A NaN at row 300, column 200 is named, and an unfinished build has no matrix.
    let at = (300 * 384 + 200) * 4;
    bytes[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    let mut builder = new(bytes.len(), &options).unwrap();
    let error = loop {
        match builder.step(&bytes) {
            Ok(true) => panic!("the NaN went unnoticed"),
            Ok(false) => {}
            Err(error) => break error,
        }
    };
    let text = error.to_string();
    assert!(text.contains("row 300") || text.contains("300"), "{text}");
    assert!(text.contains("200"), "{text}");
    assert!(builder.into_matrix().is_none());
}

#[test]
fn stepwise_cosine_plan_equals_the_unit_row_means_bit_for_bit() {
    let w = load_w();
    for (window, max_cells) in [(0..512, 512), (0..512, 100), (37..300, 64), (500..512, 512)] {
        // The reference: mean unit rows of each cell, from a copy of the window's unit rows.
        let unit = unit_rows(&w.rows(window.start, window.len()).into_owned());
        let per_cell = positions_per_cell(window.len(), max_cells);
        let one_call = CosinePlan::new(&w, window.clone(), max_cells).unwrap();
        for elements_per_step in [1, 4096, usize::MAX] {
            let mut builder =
                CosinePlanBuilder::new(&w, window.clone(), max_cells, elements_per_step).unwrap();
            let mut steps = 1;
            while !builder.step(&w) {
                steps += 1;
            }
            assert_eq!(steps, builder.step_count());
            let plan = builder.into_plan().unwrap();
            assert_eq!(plan, one_call);
            let grid = plan.compute();
            let n_cells = grid.n_cells;
            let means: Vec<Vec<f64>> = (0..n_cells)
                .map(|cell| {
                    (0..384)
                        .map(|dim| {
                            let column = unit.column(dim);
                            let block = &column.as_slice()
                                [cell * per_cell..((cell + 1) * per_cell).min(window.len())];
                            block.iter().sum::<f64>() / block.len() as f64
                        })
                        .collect()
                })
                .collect();
            for row in 0..n_cells {
                for col in [0, n_cells / 2, n_cells - 1] {
                    let expected: f64 =
                        means[row].iter().zip(&means[col]).map(|(a, b)| a * b).sum();
                    let value = grid.value(row, col).unwrap();
                    assert!(
                        (value - expected).abs() <= 1e-12,
                        "{window:?} {row},{col}: {value} vs {expected}"
                    );
                }
            }
        }
    }
    let unfinished = CosinePlanBuilder::new(&w, 0..512, 512, 4096).unwrap();
    assert!(unfinished.into_plan().is_none());
}

#[test]
fn row_norms_summed_in_bands_equal_the_whole_bit_for_bit() {
    let w = load_w();
    let whole = row_norms(&w);
    for band in [1, 37, 384, 1000] {
        let mut squares = vec![0.0; w.nrows()];
        for first in (0..w.ncols()).step_by(band) {
            add_row_squares(&w, first..first + band, &mut squares);
        }
        let banded: Vec<f64> = squares.iter().map(|s| s.sqrt()).collect();
        assert!(
            banded
                .iter()
                .zip(&whole)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "band {band}"
        );
    }
    // A band past the last column adds nothing.
    let mut squares = vec![0.0; w.nrows()];
    add_row_squares(&w, 384..400, &mut squares);
    assert!(squares.iter().all(|&s| s == 0.0));
}

#[test]
fn dominant_periods_match_numpy() {
    let w = load_w();
    let g = golden();
    let summary = summary_of(&w, 10);
    let table = frequency_table(&summary.u_top_k, 10);
    assert_eq!(table.len(), 10);
    for (i, (peak, expected)) in table
        .iter()
        .zip(g["frequency_top10"].as_array().unwrap())
        .enumerate()
    {
        let share = expected["share"].as_f64().unwrap();
        let runner_up = expected["runner_up_share"].as_f64().unwrap();
        assert_close(
            peak.power_share,
            share,
            1e-6,
            &format!("power share of u{i}"),
        );
        if share - runner_up > 1e-6 {
            assert_eq!(
                peak.bin,
                expected["bin"].as_u64().unwrap() as usize,
                "bin of u{i}"
            );
            match expected["period"].as_f64() {
                Some(period) => assert_close(peak.period_positions, period, 1e-9, "period"),
                None => assert!(peak.period_positions.is_infinite()),
            }
        }
    }
}

#[test]
fn a_pure_sinusoid_has_its_period_and_all_the_power() {
    let n = 1024;
    let xs: Vec<f64> = (0..n)
        .map(|p| (2.0 * std::f64::consts::PI * 16.0 * p as f64 / n as f64).cos())
        .collect();
    let peak = dominant_frequency(&xs).unwrap();
    assert_eq!(peak.bin, 16);
    assert_close(peak.period_positions, 64.0, 1e-12, "period");
    assert_close(peak.power_share, 1.0, 1e-12, "share");
    let shares = power_shares(&[1.0, -1.0, 1.0, -1.0, 0.5]);
    assert_close(shares.iter().sum::<f64>(), 1.0, 1e-12, "shares add to 1");
    assert!(dominant_frequency(&[]).is_none());
}

#[test]
fn principal_angles_match_numpy() {
    let w = load_w();
    let g = golden();
    let full = summary_of(&w, 10);
    let dropped = summary_of(&w.columns(5, 384 - 5).into_owned(), 10);
    let options = AnalysisOptions {
        center_rows: true,
        drop_count: 0,
        k_vectors: 10,
        ..AnalysisOptions::default()
    };
    let centred = analyse(&w, &options).unwrap().full;
    let cases = [
        ("full_vs_drop_cols_k5", &dropped, 5),
        ("full_vs_drop_cols_k10", &dropped, 10),
        ("full_vs_centred_k10", &centred, 10),
    ];
    for (key, other, k) in cases {
        let ours = principal_angles(&full.u_top_k, &other.u_top_k, k).unwrap();
        let theirs = floats(&g["principal_angles"][key]);
        assert_eq!(ours.len(), theirs.len());
        for (a, b) in ours.iter().zip(&theirs) {
            assert_close(*a, *b, 1e-6 + 1e-4 * b, key);
        }
    }
    let same = principal_angles(&full.u_top_k, &full.u_top_k, 10).unwrap();
    assert!(same.iter().all(|a| *a < 1e-6));
    assert!((mean_cos_squared(&same) - 1.0).abs() < 1e-12);
    let short = vec![vec![1.0; 100]];
    assert!(matches!(
        principal_angles(&full.u_top_k, &short, 1),
        Err(ViewError::PositionsDiffer { .. })
    ));
}
