//! The matrix and SVD summary every view of the full analysis and the data exports read: the
//! analysed W_pos (offset rows skipped and rows centred as the analysis did), decoded once per
//! result on the page from the cached tensor bytes, a band of columns per queued step.
//!
//! [`provide_view_input`] makes the one build shared by every reader below it (the views and
//! the export card); [`view_input`] reads it.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use leptos::prelude::*;
use nalgebra::DMatrix;

use crate::pure::analysis::{Analysis, SvdSummary};
use crate::pure::views::PreparedMatrixBuilder;
use crate::web::run::state::{AppState, ResultInfo, RUNTIME};
use crate::web::ui::stages::{enqueue, Gate, ELEMENTS_PER_STEP};

/// The analysed matrix and its summary, shared by the views and the exports.
#[derive(Debug, Clone)]
pub struct ViewInput {
    /// The matrix whose SVD the full analysis took (n_positions × d_model).
    pub w: Arc<DMatrix<f64>>,
    /// The full analysis' summary.
    pub summary: Arc<SvdSummary>,
    /// The whole analysis the matrix belongs to (both parts and the settings).
    pub analysis: Arc<Analysis>,
    /// How many leading rows of the tensor were skipped (positions are counted after them).
    pub skipped_rows: usize,
}

impl PartialEq for ViewInput {
    /// Two inputs are the same when they share the decoded matrix and the summary.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.w, &other.w) && Arc::ptr_eq(&self.summary, &other.summary)
    }
}

/// The views' input being built, a band of columns per queued step.
struct Build {
    /// The tensor's bytes.
    bytes: Rc<Vec<u8>>,
    /// The matrix under construction.
    builder: PreparedMatrixBuilder,
    /// The finished analysis the views draw.
    result: ResultInfo,
}

impl Build {
    /// Starts a build for a finished analysis, or says why it cannot be made. Cheap: the
    /// matrix grows a band per step.
    fn start(result: &ResultInfo) -> Result<Self, String> {
        let view = &result.view;
        let bytes = RUNTIME
            .with(|cell| cell.borrow().tensors.get(&view.tensor_name).cloned())
            .ok_or_else(|| {
                "The tensor's bytes are no longer held on the page; press Analyse to draw these views and export the arrays."
                    .to_owned()
            })?;
        let builder = PreparedMatrixBuilder::new(
            view.dtype,
            view.n_rows,
            view.n_cols,
            bytes.bytes.len(),
            &result.analysis.options,
            &view.tensor_name,
            ELEMENTS_PER_STEP,
        )
        .map_err(|err| err.to_string())?;
        Ok(Build {
            bytes: bytes.bytes,
            builder,
            result: result.clone(),
        })
    }

    /// Runs the next band of the build.
    fn step(&mut self) -> Result<(), String> {
        self.builder
            .step(&self.bytes)
            .map(|_done| ())
            .map_err(|err| err.to_string())
    }

    /// The views' input, once every step has run.
    fn finish(self) -> Result<ViewInput, String> {
        let w = self.builder.into_matrix().ok_or_else(|| {
            "The matrix for the views and the exports was not finished; press Analyse again."
                .to_owned()
        })?;
        Ok(ViewInput {
            w: Arc::new(w),
            summary: Arc::new(self.result.analysis.full.clone()),
            skipped_rows: self.result.analysis.options.skip_offset_rows,
            analysis: Arc::new(self.result.analysis),
        })
    }
}

/// The views' input as it stands: `None` while there is no complete analysis or the build is
/// under way, the reason when it cannot be built.
pub type ViewInputSignal = ReadSignal<Option<Result<ViewInput, String>>>;

/// The one build of the views' input, shared through the context.
#[derive(Clone, Copy)]
struct SharedViewInput(ViewInputSignal);

/// Starts the one build of the views' input for the components below the caller (the views
/// and the data exports), which [`view_input`] then returns.
pub fn provide_view_input(state: AppState) {
    provide_context(SharedViewInput(build_view_input(state)));
}

/// Returns the views' input that [`provide_view_input`] shares, or, with no provider above
/// the caller, a build of the caller's own.
pub fn view_input(state: AppState) -> ViewInputSignal {
    use_context::<SharedViewInput>().map_or_else(|| build_view_input(state), |shared| shared.0)
}

/// Returns the views' input, rebuilt when a new analysis is complete: the tensor is decoded
/// a few rows per queued step (queued after the notebook's results), so that no single
/// task decodes the whole matrix. `None` while there is no complete analysis or the build
/// is under way.
fn build_view_input(state: AppState) -> ViewInputSignal {
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
        let n_steps = build
            .borrow()
            .as_ref()
            .map_or(0, |build| build.builder.step_count());
        for _ in 0..n_steps {
            let build = Rc::clone(&build);
            enqueue(state, Gate::Views, move || {
                if !is_current() {
                    return;
                }
                let outcome = build.borrow_mut().as_mut().map(Build::step);
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
