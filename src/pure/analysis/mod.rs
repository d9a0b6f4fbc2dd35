//! The SVD analysis of a positional embedding matrix `W_pos` (`n_positions × d_model`).
//!
//! The analysis mirrors the original notebook: compute every singular value, count the
//! singular values above 1% of the largest one (the "approximate rank"), keep the leading
//! left singular vectors (one value per position) for heatmaps, and then repeat all of it
//! after dropping the first few columns (`W_pos[:, 5:]`) or rows.
//!
//! Two optional pre-processing steps run before everything else, in this order:
//! 1. `skip_offset_rows` removes leading rows that are not positions (OPT and RoBERTa keep
//!    two padding rows before position 0; ViT keeps a CLS row);
//! 2. `center_rows` subtracts each row's mean over `d_model`, as TransformerLens does with
//!    `center_writing_weights=True`.
//!
//! Singular vectors are only defined up to sign. To make charts and tests reproducible,
//! every returned vector is flipped so that its largest-magnitude entry is positive (on a
//! tie, the first such entry decides).
//!
//! The code, one concern a file: `options` (the settings, parts, stages and errors),
//! `summary` (the summary of one matrix), `parts` (the pre-processing and each part's SVD),
//! `shared` (the two parts sharing one Gram matrix, half formed by each worker). Every item
//! is used through this module.

mod options;
mod parts;
mod shared;
mod summary;

pub use options::{
    AnalysisError, AnalysisOptions, AnalysisPart, AnalysisStage, DropAxis, DEFAULT_DROP_COUNT,
    DEFAULT_K_VECTORS, DEFAULT_THRESHOLD_REL,
};
pub use parts::{
    analyse, analyse_part, analyse_part_values_first, analyse_with_progress, assemble, center_rows,
    drop_leading, values_progress_label, Analysis, PartMemory,
};
pub use shared::{
    analyse_part_with_gram_halves, complete_gram_half, gram_half_ahead, part_gram_half,
    parts_share_gram, GramHalfAhead, PartGramHalf,
};
pub use summary::{approx_rank, cumulative_sum, energy_shares, svd_summary, SvdSummary};

pub use crate::pure::linalg::svd::{fix_sign, thin_svd, thin_svd_jacobi, SvdMethod, ThinSvd};

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use std::ops::ControlFlow;

    use nalgebra::DMatrix;

    use super::*;
    use crate::pure::linalg::svd::SvdError;

    #[test]
    fn a_part_stops_between_its_values_and_its_vectors() {
        let w = DMatrix::from_fn(120, 80, |r, c| {
            ((r * 7 + c * 13) % 17) as f64 - 8.0 + r as f64 * 0.01
        });
        let options = AnalysisOptions::default();
        let values_seen = std::cell::Cell::new(false);
        let outcome = analyse_part_values_first(
            &w,
            &options,
            AnalysisPart::Full,
            &mut |_stage| {},
            &mut |_summary| values_seen.set(true),
            &mut |share| {
                if share >= 1.0 && values_seen.get() {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        );
        assert!(values_seen.get());
        assert_eq!(outcome, Err(AnalysisError::Svd(SvdError::Cancelled)));
        assert!(AnalysisError::Svd(SvdError::Cancelled)
            .to_string()
            .contains("cancelled"));
    }

    #[test]
    fn values_progress_lines_estimate_only_long_runs() {
        assert_eq!(
            values_progress_label(AnalysisPart::Full, 0.25, 400.0),
            "Full matrix: singular values 25%"
        );
        assert_eq!(
            values_progress_label(AnalysisPart::Dropped, 0.4, 2000.0),
            "After dropping: singular values 40%, about 3 s left"
        );
        assert_eq!(
            values_progress_label(AnalysisPart::Full, 0.0, 5000.0),
            "Full matrix: singular values 0%"
        );
    }

    #[test]
    fn diagonal_matrix_has_sorted_values_and_rank() {
        let m = DMatrix::from_row_slice(3, 3, &[1.0, 0.0, 0.0, 0.0, -5.0, 0.0, 0.0, 0.0, 0.001]);
        let summary = svd_summary(&m, 10, 0.01).unwrap();
        assert!((summary.singular_values[0] - 5.0).abs() < 1e-12);
        assert!((summary.singular_values[1] - 1.0).abs() < 1e-12);
        assert!((summary.singular_values[2] - 0.001).abs() < 1e-12);
        assert_eq!(summary.rank_at_threshold, 2);
        assert_eq!(summary.u_top_k.len(), 3);
        // The vector for σ = 5 is e_2 with a positive sign after the convention.
        assert!((summary.u_top_k[0][1] - 1.0).abs() < 1e-12);
        assert!((summary.cumulative_energy[2] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn options_are_validated() {
        let m = DMatrix::from_element(4, 3, 1.0);
        let error = |change: &dyn Fn(&mut AnalysisOptions)| {
            let mut options = AnalysisOptions::default();
            change(&mut options);
            analyse(&m, &options).unwrap_err()
        };
        for threshold_rel in [0.0, 1.0, -0.5, f64::NAN] {
            let err = error(&|options| options.threshold_rel = threshold_rel);
            assert!(matches!(err, AnalysisError::InvalidThreshold { .. }));
        }
        let err = error(&|options| options.k_vectors = 0);
        assert!(matches!(err, AnalysisError::InvalidK { .. }));
        let err = error(&|options| options.drop_count = 3);
        assert!(matches!(err, AnalysisError::DropTooLarge { dim: 3, .. }));
        let err = error(&|options| {
            options.skip_offset_rows = 4;
            options.drop_count = 0;
        });
        assert!(matches!(err, AnalysisError::SkipTooLarge { .. }));
        let empty = DMatrix::<f64>::zeros(0, 3);
        assert!(matches!(
            analyse(&empty, &AnalysisOptions::default()),
            Err(AnalysisError::Svd(SvdError::EmptyMatrix { .. }))
        ));
    }

    #[test]
    fn progress_stages_are_reported_in_order() {
        let m = DMatrix::from_fn(12, 8, |r, c| ((r * 7 + c * 3) % 5) as f64 - 2.0);
        let mut stages = Vec::new();
        let options = AnalysisOptions {
            center_rows: true,
            skip_offset_rows: 2,
            ..AnalysisOptions::default()
        };
        let analysis = analyse_with_progress(&m, &options, &mut |s| stages.push(s)).unwrap();
        assert_eq!(
            stages,
            vec![
                AnalysisStage::Centering,
                AnalysisStage::SvdFull,
                AnalysisStage::SvdDropped,
                AnalysisStage::Done
            ]
        );
        assert_eq!((analysis.full.n_rows, analysis.full.n_cols), (10, 8));
        let dropped = analysis.dropped.unwrap();
        assert_eq!((dropped.n_rows, dropped.n_cols), (10, 3));
    }

    #[test]
    fn parts_assembled_equal_the_whole_analysis() {
        let m = DMatrix::from_fn(14, 9, |r, c| {
            ((r * 5 + c * 11) % 7) as f64 - 3.0 + 0.1 * c as f64
        });
        let variants = [
            AnalysisOptions::default(),
            AnalysisOptions {
                drop_count: 0,
                ..AnalysisOptions::default()
            },
            AnalysisOptions {
                drop_axis: DropAxis::Rows,
                center_rows: true,
                skip_offset_rows: 2,
                k_vectors: 3,
                ..AnalysisOptions::default()
            },
        ];
        for options in variants {
            let whole = analyse(&m, &options).unwrap();
            let full = analyse_part(&m, &options, AnalysisPart::Full, &mut |_| {})
                .unwrap()
                .unwrap();
            let dropped = analyse_part(&m, &options, AnalysisPart::Dropped, &mut |_| {}).unwrap();
            assert_eq!(dropped.is_none(), options.drop_count == 0);
            assert_eq!(assemble(&options, full, dropped), whole);
        }
        let too_many = AnalysisOptions {
            drop_count: 9,
            ..AnalysisOptions::default()
        };
        for part in [AnalysisPart::Full, AnalysisPart::Dropped] {
            assert!(matches!(
                analyse_part(&m, &too_many, part, &mut |_| {}),
                Err(AnalysisError::DropTooLarge { .. })
            ));
        }
    }

    #[test]
    fn centring_makes_row_sums_zero() {
        let m = DMatrix::from_fn(5, 4, |r, c| (r * r + 3 * c) as f64);
        let centred = center_rows(&m);
        for row in centred.row_iter() {
            assert!(row.sum().abs() < 1e-12);
        }
    }

    #[test]
    fn drop_axis_round_trips_through_text() {
        for axis in [DropAxis::Cols, DropAxis::Rows] {
            assert_eq!(axis.as_str().parse::<DropAxis>().unwrap(), axis);
        }
        assert!("diagonal".parse::<DropAxis>().is_err());
    }

    #[test]
    fn part_memory_names_the_bytes_the_matrix_and_the_gram_matrix() {
        // GPT-2's W_pos in F32: 3 MiB of bytes, 6 MiB as f64, the 768² Gram matrix.
        let bytes = 1024 * 768 * 4;
        let memory = PartMemory::of_part(1024, 768, bytes, false);
        assert_eq!(memory.tensor_bytes, bytes);
        assert_eq!(memory.matrix_bytes, 8 * 1024 * 768);
        assert_eq!(memory.gram_bytes, 8 * 768 * 768);
        assert_eq!(memory.panel_bytes, 8 * 256 * 768);
        assert_eq!(
            memory.total_bytes(),
            bytes + 8 * 1024 * 768 + 8 * 768 * 768 + 8 * 256 * 768
        );
        // A wide matrix's Gram matrix is on its rows.
        assert_eq!(PartMemory::of_part(768, 1024, bytes, false), memory);
        // Centring copies the matrix before the Gram matrix: only the first two are known.
        let centred = PartMemory::of_part(1024, 768, bytes, true);
        assert_eq!((centred.gram_bytes, centred.panel_bytes), (0, 0));
        // Absurd shapes saturate instead of overflowing.
        let absurd = PartMemory::of_part(usize::MAX, usize::MAX, u64::MAX, false);
        assert_eq!(absurd.total_bytes(), u64::MAX);
    }
}
