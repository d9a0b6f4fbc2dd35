#![allow(clippy::restriction)]
// a test may unwrap, index and panic
// These are native tests of the pure core; the wasm32 build only lints the app.
#![cfg(not(target_arch = "wasm32"))]
//! Checks the decoder and the SVD analysis against numpy on real data: the positional
//! embedding of all-MiniLM-L6-v2 (512 × 384), in F32 and converted to F16 and BF16, and its
//! transpose (384 × 512) for the wide route.
//!
//! The fixtures and `tests/golden/minilm_golden.json` come from
//! `tests/golden/make_golden.py`, `tests/golden/minilm_wide_golden.json` from
//! `tests/golden/make_wide_golden.py`; both use `np.linalg.svd(full_matrices=False)` in
//! float64.

use std::path::PathBuf;

use nalgebra::DMatrix;
use poslens::pure::analysis::{
    analyse, analyse_part_with_gram_halves, approx_rank, center_rows, cumulative_sum, drop_leading,
    energy_shares, part_gram_half, parts_share_gram, svd_summary, thin_svd, AnalysisOptions,
    AnalysisPart, DropAxis, SvdMethod, SvdSummary,
};
use poslens::pure::linalg::svd::{svd_top_k, MatrixWindow};
use poslens::pure::source::decode::{decode_matrix, DecodeError};
use safetensors::{Dtype, SafeTensors};
use serde_json::Value;

const TENSOR_NAME: &str = "embeddings.position_embeddings.weight";
const N_POSITIONS: usize = 512;
const D_MODEL: usize = 384;
const F32_FIXTURE: &str = "minilm_position_embeddings.safetensors";
const F16_FIXTURE: &str = "minilm_position_embeddings_f16.safetensors";
const BF16_FIXTURE: &str = "minilm_position_embeddings_bf16.safetensors";

/// Singular values above this share of `σ_max` are compared relatively
/// ([`SIGMA_REL_TOL`]); smaller ones absolutely, to within this share of `σ_max`: they are
/// rounding noise in both computations (numpy's noise floor is about `ε·σ_max`, the Gram
/// route's about `√ε·σ_max` for a value near zero).
const SIGMA_FLOOR_REL: f64 = 1e-6;
/// Relative tolerance for every singular value above `SIGMA_FLOOR_REL · σ_max`.
const SIGMA_REL_TOL: f64 = 1e-6;
/// Relative tolerance for the ten largest singular values.
const TOP_SIGMA_REL_TOL: f64 = 1e-9;
/// Number of leading left singular vectors compared with numpy.
const K_VECTORS: usize = 50;
/// A singular value whose nearest neighbour is at least this share of `σ_max` away has a
/// well-determined vector: rounding moves a computed vector by about `ε·σ_max / gap` (numpy)
/// or `ε·σ_max² / (σ·gap)` (the Gram route), an angle below `1e-8` here for the first fifty
/// vectors (σ ≥ 0.03·σ_max), far inside the cosine tolerance.
const WELL_SEPARATED_GAP: f64 = 1e-6;
/// Well-separated vectors must reach `cos ≥ 1 - SEPARATED_COS_TOL` with numpy's.
const SEPARATED_COS_TOL: f64 = 1e-8;
/// At least this many of the `K_VECTORS` vectors must be compared one by one (the others lie
/// between close singular values and are compared as a span).
const MIN_SEPARATED: usize = 45;
/// Other vectors must lie in numpy's span of the vectors whose singular values are within
/// this share of `σ_max`.
const CLUSTER_SPAN: f64 = 1e-3;

fn fixture_path(file_name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(file_name)
}

fn read_fixture(file_name: &str) -> Vec<u8> {
    let path = fixture_path(file_name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Parses a fixture with the safetensors crate (which also proves it is a valid file) and
/// returns the tensor's dtype, shape and data bytes.
fn tensor_bytes(file_bytes: &[u8]) -> (Dtype, Vec<usize>, Vec<u8>) {
    let tensors =
        SafeTensors::deserialize(file_bytes).expect("fixture is a valid safetensors file");
    assert_eq!(
        tensors.names(),
        vec![TENSOR_NAME],
        "fixture holds exactly one tensor"
    );
    let view = tensors.tensor(TENSOR_NAME).unwrap();
    (view.dtype(), view.shape().to_vec(), view.data().to_vec())
}

fn load_matrix(file_name: &str) -> DMatrix<f64> {
    let file_bytes = read_fixture(file_name);
    let (dtype, shape, data) = tensor_bytes(&file_bytes);
    assert_eq!(shape, vec![N_POSITIONS, D_MODEL]);
    decode_matrix(&data, dtype, N_POSITIONS, D_MODEL, TENSOR_NAME).unwrap()
}

fn golden_file(file_name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("golden")
        .join(file_name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn golden() -> Value {
    golden_file("minilm_golden.json")
}

/// The wide variants: `W_pos` transposed (`tests/golden/make_wide_golden.py`).
fn golden_wide() -> Value {
    golden_file("minilm_wide_golden.json")
}

fn f64_vec(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm_a = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let norm_b = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (norm_a * norm_b)
}

/// Compares one summary with one golden variant.
fn check_against_golden(label: &str, summary: &SvdSummary, expected: &Value) {
    assert_eq!(
        (summary.n_rows, summary.n_cols),
        (
            expected["n_rows"].as_u64().unwrap() as usize,
            expected["n_cols"].as_u64().unwrap() as usize
        ),
        "{label}: shape"
    );

    let sigma_numpy = f64_vec(&expected["singular_values"]);
    assert_eq!(
        summary.singular_values.len(),
        sigma_numpy.len(),
        "{label}: count"
    );
    let sigma_max = sigma_numpy[0];
    let mut n_relative = 0;
    for (i, (ours, theirs)) in summary.singular_values.iter().zip(&sigma_numpy).enumerate() {
        if *theirs <= SIGMA_FLOOR_REL * sigma_max {
            let abs = (ours - theirs).abs();
            assert!(
                abs <= SIGMA_FLOOR_REL * sigma_max,
                "{label}: σ_{i} = {ours} vs numpy {theirs} (absolute error {abs:e} > {:e})",
                SIGMA_FLOOR_REL * sigma_max
            );
            continue;
        }
        let rel = (ours - theirs).abs() / theirs;
        let tol = if i < 10 {
            TOP_SIGMA_REL_TOL
        } else {
            SIGMA_REL_TOL
        };
        assert!(
            rel <= tol,
            "{label}: σ_{i} = {ours} vs numpy {theirs} (relative error {rel:e} > {tol:e})"
        );
        n_relative += 1;
    }
    assert!(
        n_relative >= 10,
        "{label}: only {n_relative} values compared relatively"
    );

    for (threshold_text, rank) in expected["rank_at_threshold"].as_object().unwrap() {
        let threshold_rel: f64 = threshold_text.parse().unwrap();
        let rank_numpy = rank.as_u64().unwrap() as usize;
        assert_eq!(
            approx_rank(&summary.singular_values, threshold_rel),
            rank_numpy,
            "{label}: rank at {threshold_rel}"
        );
        if (threshold_rel - summary.threshold_rel).abs() < 1e-15 {
            assert_eq!(
                summary.rank_at_threshold, rank_numpy,
                "{label}: summary rank"
            );
        }
    }

    let cumulative_numpy = f64_vec(&expected["cumulative_energy_top_10"]);
    for (i, (ours, theirs)) in summary
        .cumulative_energy
        .iter()
        .zip(&cumulative_numpy)
        .enumerate()
    {
        assert!(
            (ours - theirs).abs() < 1e-9,
            "{label}: cumulative energy {i}: {ours} vs {theirs}"
        );
    }

    let u_numpy: Vec<Vec<f64>> = expected["u_top_k"]
        .as_array()
        .unwrap()
        .iter()
        .map(f64_vec)
        .collect();
    let gaps = f64_vec(&expected["relative_gap_top_k"]);
    assert_eq!(u_numpy.len(), K_VECTORS, "{label}: golden vectors");
    assert_eq!(summary.u_top_k.len(), K_VECTORS, "{label}: vectors");
    let mut n_separated = 0;
    for (j, ((ours, theirs), gap)) in summary.u_top_k.iter().zip(&u_numpy).zip(&gaps).enumerate() {
        let cos = cosine(ours, theirs);
        if *gap >= WELL_SEPARATED_GAP {
            n_separated += 1;
            // Both sides use the same sign convention, so the signs agree too.
            assert!(
                cos >= 1.0 - SEPARATED_COS_TOL,
                "{label}: u_{j} cos = {cos} with numpy (1 - cos = {:e}, gap {gap:e})",
                1.0 - cos
            );
        } else {
            // Between close singular values a vector is only determined within the span
            // of its neighbours; it must lie in numpy's span of those.
            let neighbours: Vec<&Vec<f64>> = u_numpy
                .iter()
                .zip(&sigma_numpy)
                .filter(|(_, sigma)| (*sigma - sigma_numpy[j]).abs() <= CLUSTER_SPAN * sigma_max)
                .map(|(u, _)| u)
                .collect();
            let in_span: f64 = neighbours.iter().map(|u| cosine(ours, u).powi(2)).sum();
            assert!(
                in_span >= 1.0 - SEPARATED_COS_TOL,
                "{label}: u_{j} lies only {in_span} in numpy's span of its close neighbours"
            );
        }
    }
    assert!(
        n_separated >= MIN_SEPARATED,
        "{label}: only {n_separated} of {K_VECTORS} vectors compared one by one (want {MIN_SEPARATED})"
    );
}

fn variant<'a>(golden: &'a Value, key: &str) -> &'a Value {
    let v = &golden["variants"][key];
    assert!(v.is_object(), "golden variant {key} missing");
    v
}

fn options_k50() -> AnalysisOptions {
    AnalysisOptions {
        k_vectors: K_VECTORS,
        ..AnalysisOptions::default()
    }
}

#[test]
fn f32_full_and_dropped_columns_match_numpy() {
    let golden = golden();
    let w_pos = load_matrix(F32_FIXTURE);
    let analysis = analyse(&w_pos, &options_k50()).unwrap();
    assert_eq!(analysis.full.u_top_k.len(), K_VECTORS);
    check_against_golden("f32 full", &analysis.full, variant(&golden, "f32_full"));
    let dropped = analysis.dropped.expect("default options drop 5 columns");
    assert_eq!((dropped.n_rows, dropped.n_cols), (512, 379));
    check_against_golden("f32 drop cols", &dropped, variant(&golden, "f32_drop_cols"));
}

#[test]
fn f32_dropped_rows_match_numpy() {
    let golden = golden();
    let w_pos = load_matrix(F32_FIXTURE);
    let options = AnalysisOptions {
        drop_axis: DropAxis::Rows,
        ..options_k50()
    };
    let analysis = analyse(&w_pos, &options).unwrap();
    let dropped = analysis.dropped.unwrap();
    assert_eq!((dropped.n_rows, dropped.n_cols), (507, 384));
    check_against_golden("f32 drop rows", &dropped, variant(&golden, "f32_drop_rows"));

    // The same through the building blocks.
    let by_hand = svd_summary(
        &drop_leading(&w_pos, DropAxis::Rows, 5).unwrap(),
        K_VECTORS,
        0.01,
    )
    .unwrap();
    assert_eq!(by_hand, dropped);
}

#[test]
fn f32_centred_matches_numpy() {
    let golden = golden();
    let w_pos = load_matrix(F32_FIXTURE);
    let options = AnalysisOptions {
        center_rows: true,
        drop_count: 0,
        ..options_k50()
    };
    let analysis = analyse(&w_pos, &options).unwrap();
    assert!(analysis.dropped.is_none());
    check_against_golden(
        "f32 centred",
        &analysis.full,
        variant(&golden, "f32_centred"),
    );
    let by_hand = svd_summary(&center_rows(&w_pos), K_VECTORS, 0.01).unwrap();
    assert_eq!(by_hand, analysis.full);
}

#[test]
fn f16_matches_numpy() {
    let golden = golden();
    let w_pos = load_matrix(F16_FIXTURE);
    let analysis = analyse(&w_pos, &options_k50()).unwrap();
    check_against_golden("f16 full", &analysis.full, variant(&golden, "f16_full"));
    check_against_golden(
        "f16 drop cols",
        analysis.dropped.as_ref().unwrap(),
        variant(&golden, "f16_drop_cols"),
    );
}

#[test]
fn bf16_matches_numpy() {
    let golden = golden();
    let w_pos = load_matrix(BF16_FIXTURE);
    let analysis = analyse(&w_pos, &options_k50()).unwrap();
    check_against_golden("bf16 full", &analysis.full, variant(&golden, "bf16_full"));
    check_against_golden(
        "bf16 drop cols",
        analysis.dropped.as_ref().unwrap(),
        variant(&golden, "bf16_drop_cols"),
    );
}

/// The real-data variants run through the fast route: it must be the method that answers,
/// not a fallback.
#[test]
fn gram_route_answers_every_real_variant() {
    let w_f32 = load_matrix(F32_FIXTURE);
    let variants = [
        ("f32 full", w_f32.clone()),
        (
            "f32 drop cols",
            drop_leading(&w_f32, DropAxis::Cols, 5).unwrap(),
        ),
        (
            "f32 drop rows",
            drop_leading(&w_f32, DropAxis::Rows, 5).unwrap(),
        ),
        ("f32 centred", center_rows(&w_f32)),
        ("f16 full", load_matrix(F16_FIXTURE)),
        ("bf16 full", load_matrix(BF16_FIXTURE)),
        ("wide", w_f32.transpose()),
        (
            "wide drop cols",
            drop_leading(&w_f32.transpose(), DropAxis::Cols, 5).unwrap(),
        ),
        (
            "wide drop rows",
            drop_leading(&w_f32.transpose(), DropAxis::Rows, 5).unwrap(),
        ),
    ];
    for (label, matrix) in variants {
        let svd = svd_top_k(MatrixWindow::whole(&matrix), K_VECTORS).unwrap();
        assert_eq!(svd.method, SvdMethod::Gram, "{label}");
        assert_eq!(svd.u_top_k.ncols(), K_VECTORS, "{label}");
    }
    // A wide matrix (more columns than rows) takes the Gram matrix of its rows.
    let wide = w_f32.transpose();
    let svd = svd_top_k(MatrixWindow::whole(&wide), K_VECTORS).unwrap();
    assert_eq!(svd.method, SvdMethod::Gram);
    let tall = svd_top_k(MatrixWindow::whole(&w_f32), K_VECTORS).unwrap();
    for (a, b) in svd.singular_values.iter().zip(&tall.singular_values) {
        assert!(
            (a - b).abs() <= 1e-12 * tall.singular_values[0],
            "{a} vs {b}"
        );
    }
}

/// Both parts through the shared Gram matrix, as the two workers run them: each forms its
/// half, then finishes with the other's exported half.
fn analyse_sharing_gram(
    w_pos: &DMatrix<f64>,
    options: &AnalysisOptions,
) -> (SvdSummary, SvdSummary) {
    assert!(parts_share_gram(w_pos.nrows(), w_pos.ncols(), options));
    let go = &mut |_share: f64| std::ops::ControlFlow::Continue(());
    let halves: Vec<_> = [AnalysisPart::Full, AnalysisPart::Dropped]
        .into_iter()
        .map(|part| {
            part_gram_half(w_pos, options, part, &mut |_| {}, go)
                .unwrap()
                .expect("the parts share a Gram matrix")
        })
        .collect();
    let exported: Vec<Vec<f64>> = halves.iter().map(|half| half.exported()).collect();
    let mut summaries = halves
        .into_iter()
        .zip([1, 0])
        .zip([AnalysisPart::Full, AnalysisPart::Dropped])
        .map(|((mut own, other), part)| {
            assert!(own.import(&exported[other]), "the other half fits");
            let mut early = None;
            let summary = analyse_part_with_gram_halves(
                w_pos,
                options,
                part,
                own,
                &mut |values| early = Some(values.singular_values.clone()),
                go,
            )
            .unwrap()
            .unwrap();
            assert_eq!(
                early.as_ref(),
                Some(&summary.singular_values),
                "values first, the same"
            );
            summary
        });
    let full = summaries.next().unwrap();
    let dropped = summaries.next().unwrap();
    (full, dropped)
}

/// The route the two workers take when their parts share one Gram matrix (each forms half
/// of it) matches numpy on the real data, for both kinds of sharing: dropping columns of a
/// tall matrix (the dropped part's Gram matrix is a block of the full part's) and dropping
/// its rows (the full part's adds the dropped rows' outer products).
#[test]
fn shared_gram_route_matches_numpy() {
    let golden = golden();
    let w_pos = load_matrix(F32_FIXTURE);
    let (full, dropped) = analyse_sharing_gram(&w_pos, &options_k50());
    check_against_golden("shared f32 full", &full, variant(&golden, "f32_full"));
    check_against_golden(
        "shared f32 drop cols",
        &dropped,
        variant(&golden, "f32_drop_cols"),
    );

    let rows = AnalysisOptions {
        drop_axis: DropAxis::Rows,
        ..options_k50()
    };
    let (full, dropped) = analyse_sharing_gram(&w_pos, &rows);
    check_against_golden(
        "shared f32 full (rows)",
        &full,
        variant(&golden, "f32_full"),
    );
    check_against_golden(
        "shared f32 drop rows",
        &dropped,
        variant(&golden, "f32_drop_rows"),
    );
}

/// The wide route (more columns than rows: the Gram matrix of the rows, whose eigenvectors
/// are the left singular vectors themselves) on a wide real matrix, MiniLM's W_pos transposed
/// (384 × 512): every singular value and the first fifty left singular vectors against numpy,
/// with columns or rows dropped, each part alone and both through the shared Gram matrix
/// (dropping columns of a wide matrix removes samples from the sum; dropping rows removes a
/// block of the Gram matrix).
#[test]
fn wide_route_matches_numpy() {
    let golden = golden_wide();
    let wide = load_matrix(F32_FIXTURE).transpose();
    assert_eq!(wide.shape(), (D_MODEL, N_POSITIONS));
    for (axis, dropped_key) in [
        (DropAxis::Cols, "f32_wide_drop_cols"),
        (DropAxis::Rows, "f32_wide_drop_rows"),
    ] {
        let options = AnalysisOptions {
            drop_axis: axis,
            ..options_k50()
        };
        let analysis = analyse(&wide, &options).unwrap();
        let dropped = analysis.dropped.unwrap();
        check_against_golden(
            &format!("wide {axis:?}: full"),
            &analysis.full,
            variant(&golden, "f32_wide"),
        );
        check_against_golden(
            &format!("wide {axis:?}: dropped"),
            &dropped,
            variant(&golden, dropped_key),
        );

        let (full, dropped) = analyse_sharing_gram(&wide, &options);
        check_against_golden(
            &format!("wide {axis:?}, shared Gram matrix: full"),
            &full,
            variant(&golden, "f32_wide"),
        );
        check_against_golden(
            &format!("wide {axis:?}, shared Gram matrix: dropped"),
            &dropped,
            variant(&golden, dropped_key),
        );
    }
}

/// The fallback with every left singular vector (nalgebra's SVD, verified) matches numpy
/// on the real data too.
#[test]
fn full_svd_fallback_matches_numpy() {
    let golden = golden();
    let w_pos = load_matrix(F32_FIXTURE);
    let svd = thin_svd(&w_pos).unwrap();
    let energy_share = energy_shares(&svd.singular_values);
    let summary = SvdSummary {
        n_rows: N_POSITIONS,
        n_cols: D_MODEL,
        rank_at_threshold: approx_rank(&svd.singular_values, 0.01),
        cumulative_energy: cumulative_sum(&energy_share),
        energy_share,
        threshold_rel: 0.01,
        u_top_k: svd
            .u
            .column_iter()
            .take(K_VECTORS)
            .map(|column| column.iter().copied().collect())
            .collect(),
        singular_values: svd.singular_values,
    };
    check_against_golden("f32 full, full SVD", &summary, variant(&golden, "f32_full"));
}

#[test]
fn half_precision_values_are_close_to_f32() {
    let w_f32 = load_matrix(F32_FIXTURE);
    let w_f16 = load_matrix(F16_FIXTURE);
    let w_bf16 = load_matrix(BF16_FIXTURE);
    for ((a, b), c) in w_f32.iter().zip(w_f16.iter()).zip(w_bf16.iter()) {
        // F16 keeps 11 significant bits (absolute 2^-24 below its normal range); BF16 keeps 8.
        assert!(
            (a - b).abs() <= a.abs() * 2f64.powi(-11) + 2f64.powi(-24),
            "{a} vs {b}"
        );
        assert!((a - c).abs() <= a.abs() * 2f64.powi(-8), "{a} vs {c}");
    }
}

#[test]
fn sample_fixture_is_a_clean_documented_file() {
    let file_bytes = read_fixture(F32_FIXTURE);
    let (header_len_bytes, metadata) = SafeTensors::read_metadata(&file_bytes).unwrap();
    assert_eq!(header_len_bytes % 8, 0, "header is padded to 8 bytes");
    let notes = metadata.metadata().as_ref().expect("__metadata__ present");
    assert!(notes["source"].contains("all-MiniLM-L6-v2"));
    assert_eq!(notes["license"], "Apache-2.0");
    let (dtype, shape, data) = tensor_bytes(&file_bytes);
    assert_eq!(dtype, Dtype::F32);
    assert_eq!(shape, vec![N_POSITIONS, D_MODEL]);
    assert_eq!(data.len(), N_POSITIONS * D_MODEL * 4);
    assert_eq!(file_bytes.len(), 8 + header_len_bytes + data.len());
}

#[test]
fn decoding_is_independent_of_buffer_alignment() {
    for file_name in [F32_FIXTURE, F16_FIXTURE, BF16_FIXTURE] {
        let (dtype, _, data) = tensor_bytes(&read_fixture(file_name));
        let aligned = decode_matrix(&data, dtype, N_POSITIONS, D_MODEL, TENSOR_NAME).unwrap();
        for offset in [1usize, 3, 7] {
            let mut shifted = vec![0xAAu8; offset];
            shifted.extend_from_slice(&data);
            let misaligned =
                decode_matrix(&shifted[offset..], dtype, N_POSITIONS, D_MODEL, TENSOR_NAME)
                    .unwrap();
            assert_eq!(misaligned, aligned, "{file_name} at offset {offset}");
        }
    }
}

/// Writes `element` over the element at (`row`, `col`) of a row-major buffer.
fn patch(data: &mut [u8], row: usize, col: usize, element: &[u8]) {
    let start = (row * D_MODEL + col) * element.len();
    data[start..start + element.len()].copy_from_slice(element);
}

fn expect_non_finite(err: DecodeError, row: usize, col: usize, label: &str) {
    let message = err.to_string();
    match err {
        DecodeError::NonFinite {
            tensor_name,
            row: r,
            col: c,
            value_label,
        } => {
            assert_eq!(tensor_name, TENSOR_NAME);
            assert_eq!((r, c), (row, col));
            assert_eq!(value_label, label);
            assert!(message.contains(TENSOR_NAME), "{message}");
            assert!(message.contains(&format!("row {row}")), "{message}");
            assert!(message.contains(&format!("column {col}")), "{message}");
        }
        other => panic!("expected NonFinite, got {other:?}"),
    }
}

#[test]
fn non_finite_values_are_reported_with_their_position() {
    let (_, _, data_f32) = tensor_bytes(&read_fixture(F32_FIXTURE));
    let cases: [(&[u8], &str); 3] = [
        (&f32::NAN.to_le_bytes(), "NaN"),
        (&f32::INFINITY.to_le_bytes(), "+Inf"),
        (&f32::NEG_INFINITY.to_le_bytes(), "-Inf"),
    ];
    for (element, label) in cases {
        let mut data = data_f32.clone();
        patch(&mut data, 7, 11, element);
        // A later bad value must not hide the first one.
        patch(&mut data, 300, 2, &f32::NAN.to_le_bytes());
        let err = decode_matrix(&data, Dtype::F32, N_POSITIONS, D_MODEL, TENSOR_NAME).unwrap_err();
        expect_non_finite(err, 7, 11, label);
    }

    let (_, _, data_f16) = tensor_bytes(&read_fixture(F16_FIXTURE));
    let mut data = data_f16.clone();
    patch(&mut data, 511, 383, &half::f16::NAN.to_le_bytes());
    let err = decode_matrix(&data, Dtype::F16, N_POSITIONS, D_MODEL, TENSOR_NAME).unwrap_err();
    expect_non_finite(err, 511, 383, "NaN");

    let (_, _, data_bf16) = tensor_bytes(&read_fixture(BF16_FIXTURE));
    let mut data = data_bf16.clone();
    patch(&mut data, 0, 0, &half::bf16::NEG_INFINITY.to_le_bytes());
    let err = decode_matrix(&data, Dtype::BF16, N_POSITIONS, D_MODEL, TENSOR_NAME).unwrap_err();
    expect_non_finite(err, 0, 0, "-Inf");
}

#[test]
fn wrong_length_is_reported() {
    let (_, _, data) = tensor_bytes(&read_fixture(F32_FIXTURE));
    let truncated = &data[..data.len() - 1];
    let err = decode_matrix(truncated, Dtype::F32, N_POSITIONS, D_MODEL, TENSOR_NAME).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::WrongLength {
                expected_bytes: 786_432,
                actual_bytes: 786_431,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(TENSOR_NAME));

    // Reading F32 bytes as F16 doubles the expected element count's worth of bytes mismatch.
    let err = decode_matrix(&data, Dtype::F16, N_POSITIONS, D_MODEL, TENSOR_NAME).unwrap_err();
    assert!(matches!(err, DecodeError::WrongLength { .. }), "{err:?}");
}

#[test]
fn unsupported_dtypes_are_rejected_with_the_tensor_name() {
    for dtype in [
        Dtype::I64,
        Dtype::I32,
        Dtype::U8,
        Dtype::BOOL,
        Dtype::F8_E5M2,
    ] {
        let err = decode_matrix(&[0u8; 16], dtype, 2, 2, "position_ids").unwrap_err();
        assert!(
            matches!(err, DecodeError::UnsupportedDtype { .. }),
            "{dtype:?}: {err:?}"
        );
        assert!(err.to_string().contains("position_ids"));
    }
}
