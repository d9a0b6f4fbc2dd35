//! The pipeline of one run: open the source, pick the matrix, get its bytes, analyse them in
//! the workers and store the results.

use super::handle::{is_current, RunError, RunSource};
use super::save::save_hub_tensor;
use std::cell::Cell;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::pure::analysis::{AnalysisOptions, PartMemory};
use crate::pure::source::detect::MatrixView;
use crate::pure::source::format::FormatError;
use crate::pure::url_state::ViewSettings;
use crate::web::io::saved;
use crate::web::io::source::{self, HubRequest, OpenedFile, RunContext, SourceError};
use crate::web::platform::js::{now_ms, wait_for_elements, yield_to_browser};
use crate::web::run::state::{
    analysis_options, AppState, CachedTensor, FileInfo, ResultInfo, SourceKind, Status, RUNTIME,
};
use crate::web::workers::bridge::{self, WorkerError};
use crate::web::workers::protocol::{JobId, JobSpec};

/// What the page shows as its first chart: the singular-value histogram's bars and the
/// approximate rank (their cards stand on the page, empty, before the values arrive).
/// `data-values-ms` is measured to the moment both are in the document.
pub(super) const FIRST_CHART_SELECTORS: &[&str] = &[
    "[data-testid=\"histogram-bars\"] rect",
    "[data-testid=\"rank\"]",
];

/// Longest wait for the first chart, in milliseconds (a page in a background tab may not
/// draw); the measurement then stops there.
pub(super) const FIRST_CHART_WAIT_MS: i32 = 10_000;

/// Opens the source (unless reused), picks the matrix, gets its bytes and analyses them.
pub(super) async fn run_pipeline(
    state: AppState,
    generation: u32,
    run_source: RunSource,
    settings: &ViewSettings,
    run: &RunContext,
) -> Result<(), RunError> {
    // Re-using needs an open file; without one, open the Hub repository instead.
    let has_open_file = RUNTIME.with(|cell| cell.borrow().opened.is_some());
    let run_source = match run_source {
        RunSource::Reuse if !has_open_file => RunSource::Hub,
        other => other,
    };
    let kind = run_source.kind();
    let opened = match run_source {
        RunSource::Reuse => RUNTIME.with(|cell| cell.borrow().opened.clone()),
        RunSource::Hub => {
            let request = HubRequest {
                hub: &settings.hub,
                repo: &settings.repo,
                rev: &settings.rev,
                file: settings.file.as_deref(),
                tensor: settings.tensor.as_deref(),
            };
            let open = saved::open_hub_with_store(&request, run)
                .await
                .map_err(RunError::Source)?;
            if is_current(generation) {
                state.offline_note.set(open.offline_note);
            }
            Some(open.opened)
        }
        RunSource::Saved { entry_id, .. } => {
            let (prefix, entries) = saved::open_entry(&entry_id)
                .await
                .map_err(RunError::Source)?;
            Some(
                source::open_saved(prefix, entries, run)
                    .await
                    .map_err(RunError::Source)?,
            )
        }
        RunSource::Local(file) => Some(
            source::open_local(file, run)
                .await
                .map_err(RunError::Source)?,
        ),
        RunSource::Sample => Some(source::open_sample(run).await.map_err(RunError::Source)?),
    };
    let Some(opened) = opened else {
        return Err(RunError::Source(SourceError::Format(FormatError::Empty)));
    };
    if !is_current(generation) {
        return Ok(());
    }
    if let Some(kind) = kind {
        remember_opened(state, &opened, kind, settings, run.network_bytes.get());
        // The file's panel redraws, then the first chart's cards mount, each in a browser task
        // of its own: on a first visit each runs code for the first time, and together they
        // made one task of up to 55 ms.
        yield_to_browser().await;
        if !is_current(generation) {
            return Ok(());
        }
    }

    let view =
        source::choose_matrix(&opened, settings.tensor.as_deref()).map_err(RunError::Source)?;
    if is_current(generation) {
        // The first chart's cards stand on the page while the tensor arrives and the workers
        // compute.
        state
            .pending_options
            .set(Some(analysis_options(settings, &view)));
        yield_to_browser().await;
        if !is_current(generation) {
            return Ok(());
        }
    }
    let cached = RUNTIME.with(|cell| cell.borrow().tensors.get(&view.tensor_name).cloned());
    let tensor = match cached {
        Some(cached) => cached,
        None => {
            // The workers load their WebAssembly, and make the job's memory ready, while the
            // tensor arrives over the network. Not for saved bytes: they arrive at once, and a
            // stored result may need no worker at all (`analyse_bytes` warms them up when it
            // does).
            // Its bytes go to the workers as they arrive, to be decoded (and the Gram
            // matrix's leading rows summed) before the last one is in.
            let from_hub = matches!(opened.source, source::ByteSource::Hub { .. });
            if from_hub {
                let tensor_bytes = view.byte_range.end.saturating_sub(view.byte_range.start);
                let options = analysis_options(settings, &view);
                bridge::prepare(PartMemory::of_part(
                    view.n_rows,
                    view.n_cols,
                    tensor_bytes,
                    options.center_rows,
                ));
                bridge::start_stream(&job_spec(generation, &view, options), tensor_bytes);
            }
            let before_bytes = run.network_bytes.get();
            let on_bytes: &dyn Fn(&[u8]) = if from_hub {
                &bridge::stream_bytes
            } else {
                &|_| {}
            };
            let bytes = source::read_tensor(&opened, &view, run, on_bytes)
                .await
                .map_err(RunError::Source)?;
            let cached = CachedTensor {
                bytes: Rc::new(bytes),
                network_bytes: run.network_bytes.get().saturating_sub(before_bytes),
            };
            if saved::hub_origin(&opened) {
                save_hub_tensor(state, &opened, &view, settings, &cached.bytes);
            }
            RUNTIME.with(|cell| {
                cell.borrow_mut()
                    .tensors
                    .insert(view.tensor_name.clone(), cached.clone());
            });
            cached
        }
    };
    if !is_current(generation) {
        return Ok(());
    }
    let open_bytes = RUNTIME.with(|cell| cell.borrow().open_network_bytes);
    state
        .bytes_fetched
        .set(open_bytes.saturating_add(tensor.network_bytes));

    let entry_key = saved::entry_key_for(&opened, &settings.hub, &settings.repo, &view.tensor_name);
    let entry_id = entry_key.map(|key| key.id());
    if matches!(opened.source, source::ByteSource::Saved { .. }) {
        state.current_entry_id.set(entry_id.clone());
    }
    analyse_bytes(state, generation, settings, &view, &tensor.bytes, entry_id)
        .await
        .map_err(RunError::Worker)
}

/// Stores the open file in the runtime and its summary in the page state.
pub(super) fn remember_opened(
    state: AppState,
    opened: &OpenedFile,
    kind: SourceKind,
    settings: &ViewSettings,
    network_bytes: u64,
) {
    RUNTIME.with(|cell| {
        let mut runtime = cell.borrow_mut();
        runtime.opened = Some(opened.clone());
        runtime.open_network_bytes = network_bytes;
        runtime.tensors.clear();
    });
    state.file_info.set(Some(FileInfo {
        repo: match kind {
            SourceKind::Hub => settings.repo.clone(),
            _ => String::new(),
        },
        kind,
        file_path: opened.file_path.clone(),
        file_len_bytes: opened.file_len_bytes,
        commit_sha: opened.commit_sha.clone(),
        candidates: opened.candidates.clone(),
    }));
}

/// The workers' job for run `generation`: analyse `view`'s tensor with `options`.
pub(super) fn job_spec(generation: u32, view: &MatrixView, options: AnalysisOptions) -> JobSpec {
    JobSpec {
        job_id: JobId(generation),
        tensor_name: view.tensor_name.clone(),
        dtype: view.dtype,
        n_rows: view.n_rows,
        n_cols: view.n_cols,
        options,
    }
}

/// Sends the tensor bytes to the workers and stores the results: the singular values as soon
/// as they are known (drawn while the vectors are computed), then everything.
pub(super) async fn analyse_bytes(
    state: AppState,
    generation: u32,
    settings: &ViewSettings,
    view: &MatrixView,
    bytes: &[u8],
    entry_id: Option<String>,
) -> Result<(), WorkerError> {
    let options = analysis_options(settings, view);
    if let Some(entry_id) = &entry_id {
        if let Some(analysis) = saved::load_result(entry_id, &options).await {
            if is_current(generation) {
                state.result_from_store.set(true);
                state.result.set(Some(ResultInfo {
                    view: view.clone(),
                    analysis,
                    analysis_ms: 0.0,
                    values_ms: 0.0,
                    worker_analysis_ms: 0.0,
                    vectors_pending: false,
                    worker_memory_bytes: 0,
                    decode_ms: 0.0,
                    bytes_streamed: false,
                }));
            }
            return Ok(());
        }
    }
    let bytes_arrived_ms = now_ms();
    bridge::warm_up();
    state.status.set(Status::Loading {
        label: "Starting the analysis".to_owned(),
    });
    let spec = job_spec(generation, view, options);
    let on_stage: Rc<dyn Fn(String)> = Rc::new(move |label: String| {
        if is_current(generation) {
            state.status.set(Status::Loading { label });
        }
    });
    let values_view = view.clone();
    let values_ms = Rc::new(Cell::new(None::<f64>));
    let values_ms_in = Rc::clone(&values_ms);
    let on_values: bridge::OnValues = Rc::new(move |analysis| {
        // Until the chart is on the page, the moment the values arrived stands in.
        let arrived_ms = now_ms() - bytes_arrived_ms;
        values_ms_in.set(Some(arrived_ms));
        if !is_current(generation) {
            return;
        }
        state.result.set(Some(ResultInfo {
            view: values_view.clone(),
            analysis,
            analysis_ms: 0.0,
            values_ms: arrived_ms,
            worker_analysis_ms: 0.0,
            vectors_pending: true,
            worker_memory_bytes: 0,
            decode_ms: 0.0,
            bytes_streamed: false,
        }));
        // The first chart counts once the histogram and the rank are in the document: the
        // cards mount in queued steps after the values arrive.
        let values_ms_drawn = Rc::clone(&values_ms_in);
        spawn_local(async move {
            wait_for_elements(FIRST_CHART_SELECTORS, FIRST_CHART_WAIT_MS).await;
            let drawn_ms = now_ms() - bytes_arrived_ms;
            values_ms_drawn.set(Some(drawn_ms));
            if is_current(generation) {
                state.result.update(|result| {
                    if let Some(result) = result.as_mut() {
                        result.values_ms = drawn_ms;
                        // Every result is on the page no earlier than the first chart.
                        if !result.vectors_pending {
                            result.analysis_ms = result.analysis_ms.max(drawn_ms);
                        }
                    }
                });
            }
        });
    });
    let output = match bridge::run_job(&spec, bytes, on_stage, on_values).await {
        Ok(output) => output,
        Err(err) => {
            // A cancelled or failed job must not leave its values on the page as if the
            // vectors were still coming; a newer run has not drawn anything yet.
            if values_ms.get().is_some()
                && state
                    .result
                    .with_untracked(|r| r.as_ref().is_some_and(|r| r.vectors_pending))
            {
                state.result.set(None);
            }
            return Err(err);
        }
    };
    if let Some(entry_id) = entry_id {
        let analysis = output.analysis.clone();
        spawn_local(async move {
            saved::save_result(&entry_id, &analysis.options, &analysis).await;
        });
    }
    if is_current(generation) {
        state.result_from_store.set(false);
        let analysis_ms = now_ms() - bytes_arrived_ms;
        let values_ms = values_ms.get().unwrap_or(analysis_ms);
        state.result.set(Some(ResultInfo {
            view: view.clone(),
            analysis: output.analysis,
            analysis_ms,
            values_ms,
            worker_analysis_ms: output.analysis_ms,
            vectors_pending: false,
            worker_memory_bytes: output.worker_memory_bytes,
            decode_ms: output.decode_ms,
            bytes_streamed: output.bytes_streamed,
        }));
    }
    Ok(())
}
