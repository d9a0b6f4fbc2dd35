//! The two parts of an analysis sharing one Gram matrix, formed half by each of the two
//! workers that run them: whether they can ([`parts_share_gram`]), each part's half
//! ([`part_gram_half`], or [`gram_half_ahead`] summed while the tensor downloads and
//! [`complete_gram_half`]), the halves swapped ([`PartGramHalf`]), and each part finished
//! from the whole ([`analyse_part_with_gram_halves`]).
//!
//! How the parts share is decided once ([`SharedGram`]) and kept with the half, so that every
//! step cuts the same windows; the matrix side of it lives in
//! [`crate::pure::linalg::svd::GramSharing`].

use std::ops::ControlFlow;

use nalgebra::DMatrix;

use super::options::{AnalysisError, AnalysisOptions, AnalysisPart, AnalysisStage, DropAxis};
use super::parts::{analyse_part_values_first, drop_window};
use super::summary::{summarise_values, SvdSummary};
use crate::pure::linalg::svd::{
    export_gram_half, export_gram_half_with, gram_work_share, import_gram_half,
    import_gram_half_with, singular_values_from_gram, GramHalf, GramSharing, GramSum, MatrixWindow,
    SvdError,
};

/// How the two parts of an analysis of one matrix with given options share a Gram matrix,
/// decided once ([`SharedGram::new`]) and kept with the half it serves.
#[derive(Debug, Clone, PartialEq)]
struct SharedGram {
    /// The options the decision was made for.
    options: AnalysisOptions,
    /// The shape of `W_pos`, `(n_rows, n_cols)`.
    shape: (usize, usize),
    /// How each part's Gram matrix comes from the shared one.
    sharing: GramSharing,
}

/// The windows of both parts, as [`analyse_part_values_first`] reads them, and the one whose
/// Gram matrix both parts share.
struct SharedWindows<'a> {
    /// The full part's window: `W_pos` without its offset rows.
    full: MatrixWindow<'a>,
    /// The dropped part's window: `full` without its dropped rows or columns.
    dropped: MatrixWindow<'a>,
    /// The window whose Gram matrix the two workers form, half each (`full` or `dropped`).
    shared: MatrixWindow<'a>,
    /// How each part's Gram matrix comes from the shared one.
    sharing: GramSharing,
}

impl SharedGram {
    /// How the parts of an analysis of an `n_rows × n_cols` matrix with `options` share a
    /// Gram matrix, or `None` when they cannot: nothing is dropped, the rows are centred (each
    /// part would centre its own copy), a setting is invalid, or the drop leaves nothing or
    /// turns a tall matrix wide (or a wide one tall).
    fn new(n_rows: usize, n_cols: usize, options: &AnalysisOptions) -> Option<Self> {
        if options.drop_count == 0 || options.center_rows || options.validate().is_err() {
            return None;
        }
        let rows = n_rows.checked_sub(options.skip_offset_rows)?;
        let dropped = match options.drop_axis {
            DropAxis::Cols => (rows, n_cols.checked_sub(options.drop_count)?),
            DropAxis::Rows => (rows.checked_sub(options.drop_count)?, n_cols),
        };
        let sharing = GramSharing::between((rows, n_cols), dropped)?;
        Some(Self {
            options: options.clone(),
            shape: (n_rows, n_cols),
            sharing,
        })
    }

    /// Whether this decision was made for `w_pos`'s shape and for `options`.
    fn fits(&self, w_pos: &DMatrix<f64>, options: &AnalysisOptions) -> bool {
        self.shape == w_pos.shape() && self.options == *options
    }

    /// The windows of both parts in `w_pos`, a matrix of the shape this decision was made for
    /// (`None` for another shape).
    fn windows<'a>(&self, w_pos: &'a DMatrix<f64>) -> Option<SharedWindows<'a>> {
        if w_pos.shape() != self.shape {
            return None;
        }
        let options = &self.options;
        let full = MatrixWindow::whole(w_pos).without_leading_rows(options.skip_offset_rows)?;
        let dropped = drop_window(full, options.drop_axis, options.drop_count).ok()?;
        Some(SharedWindows {
            full,
            dropped,
            shared: self.sharing.shared_window(full, dropped),
            sharing: self.sharing,
        })
    }
}

/// The half of the shared Gram matrix `part` forms: the first for the full part, the second
/// for the dropped one.
fn half_of(part: AnalysisPart) -> GramHalf {
    match part {
        AnalysisPart::Full => GramHalf::First,
        AnalysisPart::Dropped => GramHalf::Second,
    }
}

/// Whether the two parts of an analysis of an `n_rows × n_cols` matrix with `options` can
/// share one Gram matrix, each worker forming half of it ([`part_gram_half`], then
/// [`analyse_part_with_gram_halves`]).
pub fn parts_share_gram(n_rows: usize, n_cols: usize, options: &AnalysisOptions) -> bool {
    SharedGram::new(n_rows, n_cols, options).is_some()
}

/// One part's half of the Gram matrix both parts share (see [`parts_share_gram`]).
pub struct PartGramHalf {
    /// The half this part formed: the first for the full part, the second for the dropped.
    half: GramHalf,
    /// The shared Gram matrix with only this half's columns formed (and the other half's
    /// once imported).
    gram: DMatrix<f64>,
    /// Whether the other half was written in ([`PartGramHalf::import`] or
    /// [`PartGramHalf::import_with`]).
    has_other_half: bool,
    /// How the parts share the Gram matrix, as decided when the half was formed.
    plan: SharedGram,
}

impl PartGramHalf {
    /// The values the other part needs from this half (see [`export_gram_half`]).
    pub fn exported(&self) -> Vec<f64> {
        export_gram_half(&self.gram, self.half)
    }

    /// The number of values in this half's export.
    pub fn exported_len(&self) -> usize {
        self.half.exported_len(self.gram.nrows())
    }

    /// Hands `write` this half's export, a column at a time, in order: each run with its
    /// offset in the export (what [`PartGramHalf::exported`] gives, without the copy).
    pub fn export_with(&self, write: impl FnMut(usize, &[f64])) {
        export_gram_half_with(&self.gram, self.half, write);
    }

    /// Writes the other half in from the other part's export (see [`import_gram_half`]).
    /// Returns false, writing nothing, when its length does not fit this Gram matrix; the part
    /// is then computed alone.
    pub fn import(&mut self, values: &[f64]) -> bool {
        let imported = import_gram_half(&mut self.gram, self.half.other(), values);
        self.has_other_half |= imported;
        imported
    }

    /// Writes the other half in place from an export of `other_len` values: `read` fills
    /// each of the other half's columns in turn, given its offset in that export. Returns
    /// false, reading nothing, when `other_len` does not fit this Gram matrix; the part is
    /// then computed alone.
    pub fn import_with(&mut self, other_len: usize, read: impl FnMut(usize, &mut [f64])) -> bool {
        let imported = import_gram_half_with(&mut self.gram, self.half.other(), other_len, read);
        self.has_other_half |= imported;
        imported
    }
}

/// The first step of one part of an analysis whose parts share a Gram matrix: the same
/// validation as [`analyse_part_values_first`], then this part's half of the shared Gram
/// matrix (the full part forms the first half, the dropped part the second, at the same
/// time). `Ok(None)` when the parts cannot share one ([`parts_share_gram`]).
///
/// `on_stage` hears [`AnalysisStage::Centering`] and this part's SVD stage; `on_progress`
/// hears the share of the part's values done, up to the Gram matrix's share of them.
///
/// # Errors
/// As [`analyse_part_values_first`].
pub fn part_gram_half(
    w_pos: &DMatrix<f64>,
    options: &AnalysisOptions,
    part: AnalysisPart,
    on_stage: &mut dyn FnMut(AnalysisStage),
    on_progress: &mut dyn FnMut(f64) -> ControlFlow<()>,
) -> Result<Option<PartGramHalf>, AnalysisError> {
    complete_gram_half(w_pos, options, part, None, on_stage, on_progress)
}

/// [`part_gram_half`], continuing the sum `ahead` made over the leading rows while the
/// tensor downloaded ([`gram_half_ahead`]): only the rows it has not summed are added. The
/// result is exactly [`part_gram_half`]'s. A sum made for other options, another shape or
/// another part is ignored.
///
/// # Errors
/// As [`part_gram_half`].
pub fn complete_gram_half(
    w_pos: &DMatrix<f64>,
    options: &AnalysisOptions,
    part: AnalysisPart,
    ahead: Option<GramHalfAhead>,
    on_stage: &mut dyn FnMut(AnalysisStage),
    on_progress: &mut dyn FnMut(f64) -> ControlFlow<()>,
) -> Result<Option<PartGramHalf>, AnalysisError> {
    options.validate()?;
    MatrixWindow::whole(w_pos).check()?;
    let half = half_of(part);
    let ahead = ahead.filter(|ahead| ahead.half == half && ahead.plan.fits(w_pos, options));
    let (plan, sum) = match ahead {
        Some(ahead) => (ahead.plan, Some(ahead.sum)),
        None => match SharedGram::new(w_pos.nrows(), w_pos.ncols(), options) {
            Some(plan) => (plan, None),
            None => return Ok(None),
        },
    };
    let Some(windows) = plan.windows(w_pos) else {
        return Ok(None);
    };
    on_stage(AnalysisStage::Centering);
    let (stage, part_window) = match part {
        AnalysisPart::Full => (AnalysisStage::SvdFull, windows.full),
        AnalysisPart::Dropped => (AnalysisStage::SvdDropped, windows.dropped),
    };
    on_stage(stage);
    // The progress of the part's own values: its Gram matrix's share of them, half done here.
    let gram_share = gram_work_share(&part_window);
    let shared = windows.shared;
    let mut sum = sum.unwrap_or_else(|| GramSum::new(&shared, Some(half)));
    let summed = sum.add_available(&shared, shared.n_samples(), &mut |done| {
        on_progress(gram_share * done)
    });
    if summed.is_break() {
        return Err(SvdError::Cancelled.into());
    }
    Ok(Some(PartGramHalf {
        half,
        gram: sum.into_gram(),
        has_other_half: false,
        plan,
    }))
}

/// One part's half of the shared Gram matrix (see [`part_gram_half`]) summed ahead, a chunk of
/// rows at a time, over the leading rows of W_pos decoded while the rest of the tensor
/// downloads ([`GramHalfAhead::add_rows`]); [`complete_gram_half`] adds the rest.
#[derive(Debug, Clone)]
pub struct GramHalfAhead {
    /// How the parts share the Gram matrix, and the options the sum was made for.
    plan: SharedGram,
    /// The half this part forms.
    half: GramHalf,
    /// The sum so far.
    sum: GramSum,
}

/// An empty ahead sum of `part`'s half of the shared Gram matrix of an analysis of `w_pos`
/// (its shape is what counts; its rows may still be zero) with `options`. `None` when the
/// parts share no Gram matrix ([`parts_share_gram`]) or the shared window is wide: its samples
/// are then columns, and none is complete before the last row.
pub fn gram_half_ahead(
    w_pos: &DMatrix<f64>,
    options: &AnalysisOptions,
    part: AnalysisPart,
) -> Option<GramHalfAhead> {
    let plan = SharedGram::new(w_pos.nrows(), w_pos.ncols(), options)?;
    let shared = plan.windows(w_pos)?.shared;
    if shared.n_rows() < shared.n_cols() {
        return None;
    }
    let half = half_of(part);
    Some(GramHalfAhead {
        sum: GramSum::new(&shared, Some(half)),
        plan,
        half,
    })
}

impl GramHalfAhead {
    /// Sums the chunks of rows that the first `rows_decoded` rows of `w_pos` (the matrix the
    /// sum was made for) complete.
    pub fn add_rows(&mut self, w_pos: &DMatrix<f64>, rows_decoded: usize) {
        let Some(windows) = self.plan.windows(w_pos) else {
            return;
        };
        let shared = windows.shared;
        // The shared window leaves out leading rows only.
        let first_row = w_pos.nrows().saturating_sub(shared.n_rows());
        let available = rows_decoded.saturating_sub(first_row);
        let _always_continues = self
            .sum
            .add_available(&shared, available, &mut |_| ControlFlow::Continue(()));
    }

    /// The number of the shared window's rows summed so far.
    pub fn rows_summed(&self) -> usize {
        self.sum.samples_done()
    }
}

/// The rest of one part of an analysis whose parts share a Gram matrix: this part's half
/// ([`part_gram_half`]), with the other part's half written in ([`PartGramHalf::import`] or
/// [`PartGramHalf::import_with`]), makes the shared Gram matrix, from which this part's own
/// is taken; then its values and vectors as [`analyse_part_values_first`] gives them.
///
/// Without the other half (its export did not fit), or with a half formed for another matrix
/// shape or other options, the part computes its analysis alone
/// ([`analyse_part_values_first`]); a Gram matrix whose eigenvalues do not match the part's
/// matrix falls back to nalgebra's SVD (see [`singular_values_from_gram`]).
///
/// # Errors
/// As [`analyse_part_values_first`].
pub fn analyse_part_with_gram_halves(
    w_pos: &DMatrix<f64>,
    options: &AnalysisOptions,
    part: AnalysisPart,
    own_half: PartGramHalf,
    on_values: &mut dyn FnMut(&SvdSummary),
    on_progress: &mut dyn FnMut(f64) -> ControlFlow<()>,
) -> Result<Option<SvdSummary>, AnalysisError> {
    options.validate()?;
    let PartGramHalf {
        gram,
        has_other_half,
        plan,
        ..
    } = own_half;
    let windows = if has_other_half && plan.fits(w_pos, options) {
        plan.windows(w_pos)
    } else {
        None
    };
    let Some(windows) = windows else {
        // No usable other half: the part is computed alone.
        return analyse_part_values_first(
            w_pos,
            options,
            part,
            &mut |_| {},
            on_values,
            on_progress,
        );
    };
    let (window, gram) = match part {
        AnalysisPart::Full => (windows.full, windows.sharing.full_gram(gram, &windows.full)),
        AnalysisPart::Dropped => (windows.dropped, windows.sharing.dropped_gram(gram)),
    };
    let values = singular_values_from_gram(window, gram, on_progress)?;
    summarise_values(
        window,
        values,
        options.k_vectors,
        options.threshold_rel,
        on_values,
        on_progress,
    )
    .map(Some)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

    /// Drop axes and offset rows under which both parts share one Gram matrix.
    const SHARING_CASES: [(DropAxis, usize); 4] = [
        (DropAxis::Cols, 0),
        (DropAxis::Rows, 0),
        (DropAxis::Cols, 2),
        (DropAxis::Rows, 2),
    ];

    /// A full-rank test matrix with distinct singular values.
    fn test_matrix(n_rows: usize, n_cols: usize) -> DMatrix<f64> {
        DMatrix::from_fn(n_rows, n_cols, |r, c| {
            let (r, c) = (r as f64 + 1.0, c as f64 + 1.0);
            (r * c * 0.37).sin() + 0.02 * r - 0.01 * c * c.sqrt()
        })
    }

    /// Runs one part through the shared Gram matrix, with the other part's export as given.
    fn shared_part(
        w_pos: &DMatrix<f64>,
        options: &AnalysisOptions,
        part: AnalysisPart,
        other_export: Option<Vec<f64>>,
    ) -> SvdSummary {
        let go = &mut |_share: f64| ControlFlow::Continue(());
        let other_part = match part {
            AnalysisPart::Full => AnalysisPart::Dropped,
            AnalysisPart::Dropped => AnalysisPart::Full,
        };
        let mut own = part_gram_half(w_pos, options, part, &mut |_| {}, go)
            .unwrap()
            .unwrap();
        let other = other_export.unwrap_or_else(|| {
            part_gram_half(w_pos, options, other_part, &mut |_| {}, go)
                .unwrap()
                .unwrap()
                .exported()
        });
        own.import(&other);
        analyse_part_with_gram_halves(w_pos, options, part, own, &mut |_| {}, go)
            .unwrap()
            .unwrap()
    }

    fn assert_same_summary(shared: &SvdSummary, alone: &SvdSummary, label: &str) {
        assert_eq!(
            (shared.n_rows, shared.n_cols),
            (alone.n_rows, alone.n_cols),
            "{label}"
        );
        let sigma_max = alone.singular_values[0];
        for (a, b) in shared.singular_values.iter().zip(&alone.singular_values) {
            assert!((a - b).abs() <= 1e-11 * sigma_max, "{label}: {a} vs {b}");
        }
        assert_eq!(shared.u_top_k.len(), alone.u_top_k.len(), "{label}");
        for (a, b) in shared.u_top_k.iter().zip(&alone.u_top_k).take(4) {
            let cos: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            assert!(cos.abs() >= 1.0 - 1e-9, "{label}: cos {cos}");
        }
    }

    #[test]
    fn both_parts_share_one_gram_matrix_in_every_direction() {
        let go = &mut |_share: f64| ControlFlow::Continue(());
        for (n_rows, n_cols) in [(60, 24), (24, 60)] {
            let w_pos = test_matrix(n_rows, n_cols);
            for (axis, skip) in SHARING_CASES {
                let options = AnalysisOptions {
                    drop_axis: axis,
                    drop_count: 3,
                    skip_offset_rows: skip,
                    k_vectors: 6,
                    ..AnalysisOptions::default()
                };
                assert!(parts_share_gram(n_rows, n_cols, &options));
                for part in [AnalysisPart::Full, AnalysisPart::Dropped] {
                    let label = format!("{n_rows}×{n_cols} {axis:?} skip {skip} {part:?}");
                    let alone = analyse_part_values_first(
                        &w_pos,
                        &options,
                        part,
                        &mut |_| {},
                        &mut |_| {},
                        go,
                    )
                    .unwrap()
                    .unwrap();
                    let shared = shared_part(&w_pos, &options, part, None);
                    assert_same_summary(&shared, &alone, &label);
                    // An export of the wrong length: the part is computed alone.
                    let repaired = shared_part(&w_pos, &options, part, Some(vec![0.5; 7]));
                    assert_same_summary(&repaired, &alone, &format!("{label}, bad export"));
                }
            }
        }
    }

    #[test]
    fn gram_halves_summed_while_rows_arrive_are_exactly_the_halves() {
        let go = &mut |_share: f64| ControlFlow::Continue(());
        // Tall enough for several chunks of rows, with a short last chunk.
        let w_pos = test_matrix(700, 20);
        for (axis, skip) in SHARING_CASES {
            let options = AnalysisOptions {
                drop_axis: axis,
                k_vectors: 4,
                skip_offset_rows: skip,
                ..AnalysisOptions::default()
            };
            for part in [AnalysisPart::Full, AnalysisPart::Dropped] {
                let label = format!("{axis:?} skip {skip} {part:?}");
                let expected = part_gram_half(&w_pos, &options, part, &mut |_| {}, go)
                    .unwrap()
                    .unwrap();
                // The rows arrive in uneven steps into a matrix that starts at zero.
                let mut arriving = DMatrix::<f64>::zeros(700, 20);
                let mut ahead = gram_half_ahead(&arriving, &options, part).unwrap();
                let mut rows_decoded = 0;
                let mut summed_before_the_end = 0;
                while rows_decoded < 700 {
                    let next = (rows_decoded + 97).min(700);
                    for row in rows_decoded..next {
                        arriving.set_row(row, &w_pos.row(row));
                    }
                    rows_decoded = next;
                    if rows_decoded < 700 {
                        ahead.add_rows(&arriving, rows_decoded);
                        summed_before_the_end = ahead.rows_summed();
                        assert!(summed_before_the_end <= rows_decoded, "{label}");
                    }
                }
                assert!(
                    summed_before_the_end >= 256,
                    "{label}: {summed_before_the_end}"
                );
                let completed =
                    complete_gram_half(&arriving, &options, part, Some(ahead), &mut |_| {}, go)
                        .unwrap()
                        .unwrap();
                assert_eq!(completed.exported(), expected.exported(), "{label}");
            }
        }
        // An ahead sum for other options is set aside.
        let options = AnalysisOptions::default();
        let other = AnalysisOptions {
            drop_count: 7,
            ..AnalysisOptions::default()
        };
        let mut stale = gram_half_ahead(&w_pos, &other, AnalysisPart::Full).unwrap();
        stale.add_rows(&w_pos, 700);
        let completed = complete_gram_half(
            &w_pos,
            &options,
            AnalysisPart::Full,
            Some(stale),
            &mut |_| {},
            go,
        )
        .unwrap()
        .unwrap();
        let expected = part_gram_half(&w_pos, &options, AnalysisPart::Full, &mut |_| {}, go)
            .unwrap()
            .unwrap();
        assert_eq!(completed.exported(), expected.exported());
        // A wide shared window sums columns: nothing can be summed before the last row.
        assert!(gram_half_ahead(&test_matrix(20, 700), &options, AnalysisPart::Full).is_none());
        // Parts that share no Gram matrix have no ahead sum.
        let alone = AnalysisOptions {
            drop_count: 0,
            ..AnalysisOptions::default()
        };
        assert!(gram_half_ahead(&w_pos, &alone, AnalysisPart::Full).is_none());
    }

    #[test]
    fn halves_move_in_place_as_the_workers_move_them() {
        let go = &mut |_share: f64| ControlFlow::Continue(());
        let w_pos = test_matrix(50, 21);
        let options = AnalysisOptions {
            k_vectors: 5,
            ..AnalysisOptions::default()
        };
        let mut half = |part| {
            part_gram_half(&w_pos, &options, part, &mut |_| {}, go)
                .unwrap()
                .unwrap()
        };
        let mut full = half(AnalysisPart::Full);
        let dropped = half(AnalysisPart::Dropped);
        // The export a run at a time into a buffer, then the import a column at a time.
        let mut message = vec![f64::NAN; dropped.exported_len()];
        dropped.export_with(|offset, column| {
            message[offset..offset + column.len()].copy_from_slice(column);
        });
        assert_eq!(message, dropped.exported());
        let mut reads = 0;
        assert!(!full.import_with(message.len() + 1, |_, _| reads += 1));
        assert_eq!(reads, 0, "nothing is read");
        assert!(full.import_with(message.len(), |offset, column| {
            let len = column.len();
            column.copy_from_slice(&message[offset..offset + len]);
        }));
        let shared = analyse_part_with_gram_halves(
            &w_pos,
            &options,
            AnalysisPart::Full,
            full,
            &mut |_| {},
            go,
        )
        .unwrap()
        .unwrap();
        let alone = analyse_part_values_first(
            &w_pos,
            &options,
            AnalysisPart::Full,
            &mut |_| {},
            &mut |_| {},
            go,
        )
        .unwrap()
        .unwrap();
        assert_same_summary(&shared, &alone, "in place");
    }

    #[test]
    fn the_sharing_follows_the_drop_and_the_shape() {
        let sharing = |n_rows, n_cols, drop_axis| {
            let options = AnalysisOptions {
                drop_axis,
                drop_count: 3,
                skip_offset_rows: 2,
                ..AnalysisOptions::default()
            };
            SharedGram::new(n_rows, n_cols, &options).unwrap().sharing
        };
        // Columns of a tall matrix and rows of a wide one are its Gram matrix's side.
        let block = GramSharing::TrailingBlock { count: 3 };
        let samples = GramSharing::PlusLeadingSamples { count: 3 };
        assert_eq!(sharing(60, 24, DropAxis::Cols), block);
        assert_eq!(sharing(24, 60, DropAxis::Rows), block);
        assert_eq!(sharing(60, 24, DropAxis::Rows), samples);
        assert_eq!(sharing(24, 60, DropAxis::Cols), samples);
    }

    #[test]
    fn parts_share_a_gram_matrix_only_when_one_serves_both() {
        let tall = test_matrix(40, 30);
        let share = |w: &DMatrix<f64>, options: AnalysisOptions| {
            parts_share_gram(w.nrows(), w.ncols(), &options)
        };
        let base = AnalysisOptions::default();
        assert!(share(&tall, base.clone()));
        // Nothing dropped, rows centred, a bad setting, or nothing left after the drop.
        let cannot = [
            AnalysisOptions {
                drop_count: 0,
                ..base.clone()
            },
            AnalysisOptions {
                center_rows: true,
                ..base.clone()
            },
            AnalysisOptions {
                k_vectors: 0,
                ..base.clone()
            },
            AnalysisOptions {
                drop_count: 30,
                ..base.clone()
            },
        ];
        for options in cannot {
            assert!(!share(&tall, options.clone()), "{options:?}");
        }
        let rows = |count| AnalysisOptions {
            drop_axis: DropAxis::Rows,
            drop_count: count,
            ..base.clone()
        };
        assert!(share(&tall, rows(10)));
        assert!(!share(&tall, rows(11)), "29 × 30 is wide");
        // A part that cannot share answers `None` and is computed alone.
        let go = &mut |_share: f64| ControlFlow::Continue(());
        let half = part_gram_half(&tall, &rows(11), AnalysisPart::Full, &mut |_| {}, go).unwrap();
        assert!(half.is_none());
    }
}
