//! The matrix and SVD summary every view of the full analysis reads: the analysed W_pos
//! (offset rows skipped and rows centred as the analysis did), decoded once on the page
//! from the cached tensor bytes, a few rows per queued step.

use std::cell::RefCell;
use std::ops::Range;
use std::rc::Rc;
use std::sync::Arc;

use leptos::prelude::*;
use nalgebra::DMatrix;

use crate::pure::analysis::SvdSummary;
use crate::pure::decode::{decode_matrix, element_size_bytes, expected_len_bytes};
use crate::pure::views::prepared_matrix;
use crate::web::components::stages::{enqueue, Gate};
use crate::web::state::{AppState, ResultInfo, RUNTIME};

/// The analysed matrix and its summary, shared by the views.
#[derive(Debug, Clone)]
pub struct ViewInput {
    /// The matrix whose SVD the full analysis took (n_positions × d_model).
    pub w: Arc<DMatrix<f64>>,
    /// The full analysis' summary.
    pub summary: Arc<SvdSummary>,
    /// How many leading rows of the tensor were skipped (positions are counted after them).
    pub skipped_rows: usize,
}

impl PartialEq for ViewInput {
    /// Two inputs are the same when they share the decoded matrix and the summary.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.w, &other.w) && Arc::ptr_eq(&self.summary, &other.summary)
    }
}

/// Rows of the tensor decoded per queued step.
const DECODE_ROWS_PER_STEP: usize = 256;

/// The views' input being built, a few rows per queued step.
struct Build {
    /// The tensor's bytes.
    bytes: Rc<Vec<u8>>,
    /// Bytes per stored element.
    elem_bytes: usize,
    /// The decoded tensor (n_rows × n_cols), filled in row by row.
    decoded: DMatrix<f64>,
    /// The finished analysis the views draw.
    result: ResultInfo,
}

impl Build {
    /// Starts a build for a finished analysis, or says why it cannot be made.
    fn start(result: &ResultInfo) -> Result<Self, String> {
        let view = &result.view;
        let bytes = RUNTIME
            .with(|cell| cell.borrow().tensors.get(&view.tensor_name).cloned())
            .ok_or_else(|| {
                "The tensor's bytes are no longer held on the page; press Analyse to draw these views."
                    .to_owned()
            })?;
        let expected = expected_len_bytes(view.dtype, view.n_rows, view.n_cols, &view.tensor_name)
            .map_err(|err| err.to_string())?;
        let elem_bytes = element_size_bytes(view.dtype).unwrap_or(0);
        if u64::try_from(bytes.bytes.len()).ok() != Some(expected) || elem_bytes == 0 {
            // Let the decoder word the problem.
            decode_matrix(
                &bytes.bytes,
                view.dtype,
                view.n_rows,
                view.n_cols,
                &view.tensor_name,
            )
            .map_err(|err| err.to_string())?;
        }
        Ok(Build {
            bytes: bytes.bytes,
            elem_bytes,
            decoded: DMatrix::zeros(view.n_rows, view.n_cols),
            result: result.clone(),
        })
    }

    /// Decodes the tensor's rows `rows` into place.
    fn decode_rows(&mut self, rows: Range<usize>) -> Result<(), String> {
        let view = &self.result.view;
        let row_bytes = view.n_cols * self.elem_bytes;
        let chunk = self
            .bytes
            .get(rows.start * row_bytes..rows.end * row_bytes)
            .ok_or_else(|| {
                format!(
                    "The bytes of {} are shorter than its shape says.",
                    view.tensor_name
                )
            })?;
        let decoded = decode_matrix(
            chunk,
            view.dtype,
            rows.len(),
            view.n_cols,
            &view.tensor_name,
        )
        .map_err(|err| err.to_string())?;
        self.decoded
            .rows_mut(rows.start, rows.len())
            .copy_from(&decoded);
        Ok(())
    }

    /// The views' input, once every row is decoded.
    fn finish(self) -> Result<ViewInput, String> {
        let w = prepared_matrix(&self.decoded, &self.result.analysis.options)
            .map_err(|err| err.to_string())?;
        Ok(ViewInput {
            w: Arc::new(w),
            summary: Arc::new(self.result.analysis.full.clone()),
            skipped_rows: self.result.analysis.options.skip_offset_rows,
        })
    }
}

/// Returns the views' input, rebuilt when a new analysis is complete: the tensor is decoded
/// a few rows per queued step (queued after the notebook's results), so that no single
/// task decodes the whole matrix. `None` while there is no complete analysis or the build
/// is under way.
pub fn view_input(state: AppState) -> ReadSignal<Option<Result<ViewInput, String>>> {
    let input = RwSignal::new(None::<Result<ViewInput, String>>);
    let generation = StoredValue::new(0_u32);
    Effect::new(move |_| {
        let this_generation = generation.get_value().wrapping_add(1);
        generation.set_value(this_generation);
        input.set(None);
        let start = state.result.with(|result| {
            result
                .as_ref()
                .filter(|result| !result.vectors_pending)
                .map(Build::start)
        });
        let build = match start {
            None => return,
            Some(Err(problem)) => {
                input.set(Some(Err(problem)));
                return;
            }
            Some(Ok(build)) => Rc::new(RefCell::new(Some(build))),
        };
        let is_current = move || generation.try_get_value() == Some(this_generation);
        let n_rows = build
            .borrow()
            .as_ref()
            .map_or(0, |build| build.result.view.n_rows);
        for first in (0..n_rows).step_by(DECODE_ROWS_PER_STEP) {
            let build = Rc::clone(&build);
            enqueue(state, Gate::Views, move || {
                if !is_current() {
                    return;
                }
                let outcome = build.borrow_mut().as_mut().map(|build| {
                    build.decode_rows(first..(first + DECODE_ROWS_PER_STEP).min(n_rows))
                });
                if let Some(Err(problem)) = outcome {
                    build.borrow_mut().take();
                    let _ignored = input.try_set(Some(Err(problem)));
                }
            });
        }
        enqueue(state, Gate::Views, move || {
            if !is_current() {
                return;
            }
            if let Some(build) = build.borrow_mut().take() {
                let _ignored = input.try_set(Some(build.finish()));
            }
        });
    });
    input.read_only()
}
