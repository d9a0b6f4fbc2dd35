//! The matrix and SVD summary every view of the full analysis reads: the analysed W_pos
//! (offset rows skipped and rows centred as the analysis did), decoded once on the page
//! from the cached tensor bytes.

use std::sync::Arc;

use leptos::prelude::*;
use nalgebra::DMatrix;

use crate::pure::analysis::SvdSummary;
use crate::pure::decode::decode_matrix;
use crate::pure::views::prepared_matrix;
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

/// Builds the views' input from a finished analysis, or says why it cannot.
fn build(result: &ResultInfo) -> Result<ViewInput, String> {
    let bytes = RUNTIME
        .with(|cell| cell.borrow().tensors.get(&result.view.tensor_name).cloned())
        .ok_or_else(|| {
            "The tensor's bytes are no longer held on the page; press Analyse to draw these views."
                .to_owned()
        })?;
    let view = &result.view;
    let decoded = decode_matrix(
        &bytes.bytes,
        view.dtype,
        view.n_rows,
        view.n_cols,
        &view.tensor_name,
    )
    .map_err(|err| err.to_string())?;
    let w = prepared_matrix(&decoded, &result.analysis.options).map_err(|err| err.to_string())?;
    Ok(ViewInput {
        w: Arc::new(w),
        summary: Arc::new(result.analysis.full.clone()),
        skipped_rows: result.analysis.options.skip_offset_rows,
    })
}

/// Returns a memo of the views' input, recomputed when a new analysis arrives.
pub fn view_input(state: AppState) -> Memo<Option<Result<ViewInput, String>>> {
    Memo::new(move |_| state.result.with(|result| result.as_ref().map(build)))
}
