//! What the buttons do: start, re-run and cancel the fetch → parse → decode → analyse
//! pipeline, and keep the URL in step with the settings.

use std::cell::Cell;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use web_sys::{AbortController, File};

use crate::pure::detect::{DetectError, MatrixView};
use crate::pure::format::FormatError;
use crate::pure::hub::HubError;
use crate::pure::url_state::{self, ViewSettings};
use crate::web::fetch::FetchError;
use crate::web::js::{now_ms, sleep_ms};
use crate::web::perf;
use crate::web::protocol::JobSpec;
use crate::web::source::{self, HubRequest, OpenedFile, ProgressCallback, RunContext, SourceError};
use crate::web::state::{
    analysis_options, AppState, CachedTensor, ErrorInfo, FileInfo, ProgressInfo, ResultInfo,
    SourceKind, Status, RUNTIME,
};
use crate::web::worker_bridge::{self, WorkerError};

/// Which source a run opens.
pub enum RunSource {
    /// The Hub repository in the settings.
    Hub,
    /// A local file.
    Local(File),
    /// The built-in sample.
    Sample,
    /// The file already open (a new tensor or new analysis options).
    Reuse,
}

impl RunSource {
    /// The kind of source this run opens, or `None` when it reuses the open file.
    fn kind(&self) -> Option<SourceKind> {
        match self {
            RunSource::Hub => Some(SourceKind::Hub),
            RunSource::Local(file) => Some(SourceKind::Local(file.name())),
            RunSource::Sample => Some(SourceKind::Sample),
            RunSource::Reuse => None,
        }
    }
}

/// A failure anywhere in a run.
enum RunError {
    /// Opening or reading the file failed.
    Source(SourceError),
    /// The worker failed.
    Worker(WorkerError),
}

/// Returns the current URL's query string (with `?`), or an empty string.
pub fn current_query() -> String {
    web_sys::window()
        .and_then(|window| window.location().search().ok())
        .unwrap_or_default()
}

/// Builds an absolute link to this page for the given settings.
pub fn page_link(settings: &ViewSettings) -> String {
    let location = web_sys::window().map(|window| window.location());
    let origin = location
        .as_ref()
        .and_then(|location| location.origin().ok())
        .unwrap_or_default();
    let path = location
        .as_ref()
        .and_then(|location| location.pathname().ok())
        .unwrap_or_else(|| "/".to_owned());
    let query = url_state::encode_query(settings);
    if query.is_empty() {
        format!("{origin}{path}")
    } else {
        format!("{origin}{path}?{query}")
    }
}

/// Writes the settings into the address bar: a new history entry (`push`) or in place.
pub fn write_url(settings: &ViewSettings, push: bool) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let Ok(history) = window.history() else {
        return;
    };
    let link = page_link(settings);
    let current = window.location().href().unwrap_or_default();
    if current == link {
        return;
    }
    let _ignored = if push {
        history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&link))
    } else {
        history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&link))
    };
}

/// Starts a new run, superseding any run in progress.
pub fn start_run(state: AppState, run_source: RunSource) {
    let (generation, signal) = RUNTIME.with(|cell| {
        let mut runtime = cell.borrow_mut();
        if let Some(abort) = runtime.abort.take() {
            abort.abort();
        }
        runtime.generation = runtime.generation.wrapping_add(1);
        let controller = AbortController::new().ok();
        let signal = controller.as_ref().map(AbortController::signal);
        runtime.abort = controller;
        (runtime.generation, signal)
    });
    let Some(signal) = signal else {
        state.status.set(Status::Error(ErrorInfo {
            title: "Browser not supported".to_owned(),
            message:
                "This browser cannot cancel downloads (no AbortController). Use a current browser."
                    .to_owned(),
            offer_sample: false,
            offer_picker: false,
        }));
        return;
    };
    worker_bridge::warm_up();
    perf::reset_longest_task();
    if let Some(kind) = run_source.kind() {
        state.last_kind.set(kind);
    }
    if let RunSource::Local(file) = &run_source {
        RUNTIME.with(|cell| cell.borrow_mut().last_local_file = Some(file.clone()));
    }
    if !matches!(run_source, RunSource::Reuse) {
        // A new file: results of the old one must not linger beside its errors.
        state.result.set(None);
        state.file_info.set(None);
        state.bytes_fetched.set(0);
    }
    state.status.set(Status::Loading {
        label: "Starting".to_owned(),
    });
    state.progress.set(ProgressInfo::default());
    let settings = state.settings.get_untracked();
    let on_progress: ProgressCallback = Rc::new(move |label: &str, received, needed| {
        if is_current(generation) {
            state.progress.set(ProgressInfo {
                label: label.to_owned(),
                received_bytes: received,
                needed_bytes: needed,
            });
            state.status.set(Status::Loading {
                label: label.to_owned(),
            });
        }
    });
    let run = RunContext {
        signal,
        repo: settings.repo.clone(),
        network_bytes: Rc::new(Cell::new(0)),
        on_progress,
    };
    spawn_local(async move {
        let outcome = run_pipeline(state, generation, run_source, &settings, &run).await;
        if !is_current(generation) {
            return;
        }
        match outcome {
            Ok(()) => {
                // Let the browser apply the new results to the page before saying "ready".
                sleep_ms(0).await;
                sleep_ms(0).await;
                if is_current(generation) {
                    state.longest_task_ms.set(perf::longest_task_ms());
                    state.status.set(Status::Ready);
                }
            }
            Err(RunError::Source(err)) if err.is_cancelled() => {
                state.status.set(Status::Idle {
                    note: Some("Cancelled. Press Analyse to start again.".to_owned()),
                });
            }
            Err(RunError::Worker(WorkerError::Cancelled)) => {
                state.status.set(Status::Idle {
                    note: Some("Cancelled. Press Analyse to start again.".to_owned()),
                });
            }
            Err(RunError::Source(err)) => {
                state.status.set(Status::Error(describe_source_error(&err)))
            }
            Err(RunError::Worker(err)) => state.status.set(Status::Error(ErrorInfo {
                title: "The analysis failed".to_owned(),
                message: capitalise(&err.to_string()),
                offer_sample: false,
                offer_picker: true,
            })),
        }
    });
}

/// Runs the last source again (the Retry button).
pub fn retry(state: AppState) {
    let run_source = match state.last_kind.get_untracked() {
        SourceKind::Hub => RunSource::Hub,
        SourceKind::Sample => RunSource::Sample,
        SourceKind::Local(_) => RUNTIME
            .with(|cell| cell.borrow().last_local_file.clone())
            .map_or(RunSource::Hub, RunSource::Local),
    };
    start_run(state, run_source);
}

/// Returns true while `generation` is the newest run.
fn is_current(generation: u32) -> bool {
    RUNTIME.with(|cell| cell.borrow().generation == generation)
}

/// Cancels the run in progress: aborts its requests and stops the worker.
pub fn cancel_run(state: AppState) {
    let was_running = RUNTIME.with(|cell| {
        let mut runtime = cell.borrow_mut();
        runtime.generation = runtime.generation.wrapping_add(1);
        match runtime.abort.take() {
            Some(abort) => {
                abort.abort();
                true
            }
            None => false,
        }
    });
    worker_bridge::cancel();
    if was_running || matches!(state.status.get_untracked(), Status::Loading { .. }) {
        state.status.set(Status::Idle {
            note: Some("Cancelled. Press Analyse to start again.".to_owned()),
        });
    }
}

/// Opens the source (unless reused), picks the matrix, gets its bytes and analyses them.
async fn run_pipeline(
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
            Some(
                source::open_hub(&request, run)
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
    }

    let view =
        source::choose_matrix(&opened, settings.tensor.as_deref()).map_err(RunError::Source)?;
    let cached = RUNTIME.with(|cell| cell.borrow().tensors.get(&view.tensor_name).cloned());
    let tensor = match cached {
        Some(cached) => cached,
        None => {
            let before_bytes = run.network_bytes.get();
            let bytes = source::read_tensor(&opened, &view, run)
                .await
                .map_err(RunError::Source)?;
            let cached = CachedTensor {
                bytes: Rc::new(bytes),
                network_bytes: run.network_bytes.get().saturating_sub(before_bytes),
            };
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

    analyse_bytes(state, generation, settings, &view, &tensor.bytes)
        .await
        .map_err(RunError::Worker)
}

/// Stores the open file in the runtime and its summary in the page state.
fn remember_opened(
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

/// Sends the tensor bytes to the workers and stores the results: the singular values as soon
/// as they are known (drawn while the vectors are computed), then everything.
async fn analyse_bytes(
    state: AppState,
    generation: u32,
    settings: &ViewSettings,
    view: &MatrixView,
    bytes: &[u8],
) -> Result<(), WorkerError> {
    let bytes_arrived_ms = now_ms();
    state.status.set(Status::Loading {
        label: "Starting the analysis".to_owned(),
    });
    let spec = JobSpec {
        job_id: generation,
        tensor_name: view.tensor_name.clone(),
        dtype: view.dtype,
        n_rows: view.n_rows,
        n_cols: view.n_cols,
        options: analysis_options(settings, view),
    };
    let on_stage: Rc<dyn Fn(String)> = Rc::new(move |label: String| {
        if is_current(generation) {
            state.status.set(Status::Loading { label });
        }
    });
    let values_view = view.clone();
    let values_ms = Rc::new(Cell::new(None::<f64>));
    let values_ms_in = Rc::clone(&values_ms);
    let on_values: worker_bridge::OnValues = Rc::new(move |analysis| {
        let elapsed_ms = now_ms() - bytes_arrived_ms;
        values_ms_in.set(Some(elapsed_ms));
        if is_current(generation) {
            state.result.set(Some(ResultInfo {
                view: values_view.clone(),
                analysis,
                analysis_ms: 0.0,
                values_ms: elapsed_ms,
                worker_analysis_ms: 0.0,
                vectors_pending: true,
                worker_memory_bytes: 0,
                decode_ms: 0.0,
            }));
        }
    });
    let output = match worker_bridge::run_job(&spec, bytes, on_stage, on_values).await {
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
    if is_current(generation) {
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
        }));
    }
    Ok(())
}

/// Upper-cases the first letter of a message, so that it reads as a sentence.
fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Turns a source failure into a headline, a message and the ways out.
fn describe_source_error(err: &SourceError) -> ErrorInfo {
    let message = capitalise(&err.to_string());
    let hub_error = match err {
        SourceError::Fetch(FetchError::Hub(hub)) | SourceError::Hub(hub) => Some(hub),
        _ => None,
    };
    let (title, offer_sample, offer_picker) = match (err, hub_error) {
        (_, Some(HubError::NotFound { .. })) => ("Not found (404)", false, false),
        (_, Some(HubError::Gated { .. })) => ("Gated or private repository", true, false),
        (_, Some(HubError::Network { .. })) => (
            "The Hub cannot be reached (network down or CORS refused)",
            true,
            false,
        ),
        (_, Some(HubError::RateLimited { .. })) => ("Rate limited", true, false),
        (SourceError::Hub(_), _) | (_, Some(_)) => {
            ("The Hub's answer could not be used", true, false)
        }
        (SourceError::Detect(DetectError::NoPositionalEmbedding { .. }), _) => {
            ("No positional embedding found", false, true)
        }
        (SourceError::Detect(_), _) => ("This tensor cannot be analysed", false, true),
        (SourceError::Format(FormatError::TensorTooLarge { .. }), _) => {
            ("Tensor too large", false, true)
        }
        (SourceError::Format(FormatError::MissingTensor { .. }), _) => {
            ("No such tensor", false, true)
        }
        (SourceError::Format(_), _) => ("Not a safetensors file", false, false),
        (SourceError::Shards(_), _) => ("Unusable shard index", false, false),
        (SourceError::LocalRead { .. }, _) => ("The local file could not be read", false, false),
        (SourceError::Fetch(FetchError::Cancelled), _) => ("Cancelled", false, false),
        (SourceError::Fetch(_), _) => ("The download failed", true, false),
    };
    ErrorInfo {
        title: title.to_owned(),
        message,
        offer_sample,
        offer_picker,
    }
}

/// Re-runs only what a settings change needs: a new source, a new tensor, or new options.
pub fn apply_settings(state: AppState, new_settings: ViewSettings, previous: &ViewSettings) {
    let source_changed = new_settings.hub != previous.hub
        || new_settings.repo != previous.repo
        || new_settings.rev != previous.rev
        || new_settings.file != previous.file;
    let analysis_changed = new_settings.tensor != previous.tensor
        || new_settings.drop_count != previous.drop_count
        || new_settings.drop_axis != previous.drop_axis
        || new_settings.center_rows != previous.center_rows
        || new_settings.k_vectors != previous.k_vectors
        || new_settings.skip_offset != previous.skip_offset;
    state.settings.set(new_settings);
    state.reset_drafts();
    if source_changed {
        start_run(state, RunSource::Hub);
    } else if analysis_changed {
        start_run(state, RunSource::Reuse);
    }
}
