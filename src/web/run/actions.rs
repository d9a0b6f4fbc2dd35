//! What the buttons do: start, re-run and cancel the fetch → parse → decode → analyse
//! pipeline, and keep the URL in step with the settings.

use std::cell::Cell;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use web_sys::{AbortController, File};

use crate::pure::analysis::{AnalysisOptions, PartMemory, SvdSummary};
use crate::pure::common::ErrorKind;
use crate::pure::source::detect::{DetectError, MatrixView};
use crate::pure::source::format::FormatError;
use crate::pure::source::hub::{HubError, DEFAULT_HUB};
use crate::pure::source::offline::OfflineError;
use crate::pure::source::transfer::TransferError;
use crate::pure::url_state::{self, CompareEntry, ViewSettings};
use crate::web::io::saved;
use crate::web::io::source::{
    self, HubRequest, NoteCallback, OpenedFile, ProgressCallback, RunContext, SourceError,
};
use crate::web::platform::fetch::FetchError;
use crate::web::platform::js::{now_ms, sleep_ms, wait_for_elements, yield_to_browser};
use crate::web::platform::offline;
use crate::web::platform::perf;
use crate::web::run::state::{
    analysis_options, AppState, CachedTensor, CompareRow, CompareState, ErrorInfo, FileInfo,
    ProgressInfo, ResultInfo, SaveProblem, SourceKind, Status, RUNTIME,
};
use crate::web::workers::bridge::{self, WorkerError};
use crate::web::workers::protocol::JobSpec;

/// What the page shows as its first chart: the singular-value histogram's bars and the
/// approximate rank (their cards stand on the page, empty, before the values arrive).
/// `data-values-ms` is measured to the moment both are in the document.
const FIRST_CHART_SELECTORS: &[&str] = &[
    "[data-testid=\"histogram-bars\"] rect",
    "[data-testid=\"rank\"]",
];

/// Longest wait for the first chart, in milliseconds (a page in a background tab may not
/// draw); the measurement then stops there.
const FIRST_CHART_WAIT_MS: i32 = 10_000;

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
    /// A local file or the sample, saved for offline use, by its entry id.
    Saved {
        /// The saved entry.
        entry_id: String,
        /// How it was first opened (its file name for a local file).
        kind: SourceKind,
    },
}

impl RunSource {
    /// The kind of source this run opens, or `None` when it reuses the open file.
    fn kind(&self) -> Option<SourceKind> {
        match self {
            RunSource::Hub => Some(SourceKind::Hub),
            RunSource::Local(file) => Some(SourceKind::Local(file.name())),
            RunSource::Sample => Some(SourceKind::Sample),
            RunSource::Reuse => None,
            RunSource::Saved { kind, .. } => Some(kind.clone()),
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
            kind: ErrorKind::Browser.as_str().to_owned(),
            title: "Browser not supported".to_owned(),
            message:
                "This browser cannot cancel downloads (no AbortController). Use a current browser."
                    .to_owned(),
            offer_sample: false,
            offer_picker: false,
        }));
        return;
    };
    perf::reset_longest_task();
    if let Some(kind) = run_source.kind() {
        state.last_kind.set(kind);
    }
    if let RunSource::Local(file) = &run_source {
        RUNTIME.with(|cell| cell.borrow_mut().last_local_file = Some(file.clone()));
    }
    state.pending_options.set(None);
    if !matches!(run_source, RunSource::Reuse) {
        // A new file: results of the old one must not linger beside its errors.
        state.result.set(None);
        state.file_info.set(None);
        state.bytes_fetched.set(0);
        state.offline_note.set(None);
        state.current_entry_id.set(None);
    }
    state.status.set(Status::Loading {
        label: "Starting".to_owned(),
    });
    state.progress.set(ProgressInfo::default());
    state.transfer_notes.set(Vec::new());
    state.hub_to_confirm.set(None);
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
    let on_note: NoteCallback = Rc::new(move |note: &str| {
        if is_current(generation) {
            state
                .transfer_notes
                .update(|notes| notes.push(note.to_owned()));
        }
    });
    let run = RunContext {
        signal,
        repo: settings.repo.clone(),
        network_bytes: Rc::new(Cell::new(0)),
        on_progress,
        on_note,
        whole_stream: Cell::new(None),
    };
    spawn_local(async move {
        let outcome = run_pipeline(state, generation, run_source, &settings, &run).await;
        if !is_current(generation) {
            return;
        }
        state.pending_options.set(None);
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
            Err(RunError::Source(err)) => state.status.set(Status::Error(name_revision(
                describe_source_error(&err),
                &err,
                &settings,
            ))),
            Err(RunError::Worker(err)) => state.status.set(Status::Error(ErrorInfo {
                kind: err.kind().as_str().to_owned(),
                title: match err.kind() {
                    ErrorKind::WorkerDied => "An analysis worker stopped",
                    _ => "The analysis failed",
                }
                .to_owned(),
                message: capitalise(&err.to_string()),
                offer_sample: false,
                offer_picker: true,
            })),
        }
    });
}

/// Starts the page's first analysis. A link that names a Hub other than the default waits
/// for one click (the [`crate::web::ui::hub_confirm::HubConfirm`] card) before the
/// first request goes to that address.
pub fn start_first_run(state: AppState) {
    let hub = state
        .settings
        .with_untracked(|settings| settings.hub.clone());
    if hub == DEFAULT_HUB {
        start_run(state, RunSource::Hub);
        return;
    }
    // A Hub that models were saved from was confirmed before: no need to ask again (and a
    // pinned link to a saved commit makes no request at all).
    spawn_local(async move {
        if saved::load_index().await.knows_hub(&hub) {
            start_run(state, RunSource::Hub);
        } else {
            state.hub_to_confirm.set(Some(hub));
            state.status.set(Status::Idle {
                note: Some(
                    "Waiting for you to confirm the Hub address named by the link.".to_owned(),
                ),
            });
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
    bridge::cancel();
    state.pending_options.set(None);
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

/// Saves a tensor read from the Hub at a known commit for offline use, in the background;
/// a failure is shown beside the results and never fails the analysis.
fn save_hub_tensor(
    state: AppState,
    opened: &OpenedFile,
    view: &MatrixView,
    settings: &ViewSettings,
    bytes: &Rc<Vec<u8>>,
) {
    let Some(key) = saved::entry_key_for(opened, &settings.hub, &settings.repo, &view.tensor_name)
    else {
        return;
    };
    let entry = saved::entry_for(key, opened, view, Some(&settings.rev), bytes.len() as u64);
    let already_saved = state.saved_entries.with_untracked(|entries| {
        entries.iter().any(|saved| {
            saved.id() == entry.id() && entry.revs.iter().all(|rev| saved.revs.contains(rev))
        })
    });
    if already_saved {
        return;
    }
    let prefix = Rc::clone(&opened.header_prefix);
    let bytes = Rc::clone(bytes);
    spawn_local(async move {
        // Copying the tensor into storage takes the main thread for a while: it waits until
        // the analysis has drawn its results (or SAVE_WAIT_LIMIT_MS at most).
        let mut waited_ms = 0;
        while matches!(state.status.get_untracked(), Status::Loading { .. })
            && waited_ms < SAVE_WAIT_LIMIT_MS
        {
            sleep_ms(SAVE_POLL_MS).await;
            waited_ms += SAVE_POLL_MS;
        }
        let entry_id = entry.id();
        let tensor_name = entry.key.tensor_name.clone();
        save_entry_reporting(state, entry, prefix, bytes).await;
        // The result finished before its entry existed, so it could not be stored with it
        // then: store it now, so that the next visit draws at once.
        let saved_now = state
            .current_entry_id
            .with_untracked(|id| id.as_deref() == Some(entry_id.as_str()));
        let finished = state.result.with_untracked(|result| {
            result
                .as_ref()
                .filter(|result| !result.vectors_pending && result.view.tensor_name == tensor_name)
                .map(|result| result.analysis.clone())
        });
        if let (true, Some(analysis)) = (saved_now, finished) {
            saved::save_result(&entry_id, &analysis.options, &analysis).await;
        }
    });
}

/// How often a pending save checks whether the analysis is over, in milliseconds.
const SAVE_POLL_MS: i32 = 100;
/// The longest a save waits for the analysis to finish, in milliseconds.
const SAVE_WAIT_LIMIT_MS: i32 = 120_000;

/// Saves an entry and reports the outcome on the page.
async fn save_entry_reporting(
    state: AppState,
    entry: crate::pure::source::offline::SavedEntry,
    prefix: Rc<Vec<u8>>,
    tensor: Rc<Vec<u8>>,
) {
    let outcome = saved::save_entry(entry.clone(), &prefix, &tensor).await;
    let unsaved = saved::UnsavedEntry {
        entry,
        prefix,
        tensor,
    };
    report_save(state, unsaved, outcome);
}

/// Shows how a save went. An entry that did not fit is kept in memory while the page offers to
/// make room for it ([`make_room_and_save`]).
fn report_save(
    state: AppState,
    unsaved: saved::UnsavedEntry,
    outcome: Result<(), saved::StoreError>,
) {
    match outcome {
        Ok(()) => {
            saved::keep_unsaved(None);
            state.save_error.set(None);
            state.current_entry_id.set(Some(unsaved.entry.id()));
        }
        Err(err) => {
            let room_can_be_made = err.room_can_be_made();
            let needed_bytes = unsaved.entry.stored_bytes();
            saved::keep_unsaved(room_can_be_made.then_some(unsaved));
            state.save_error.set(Some(SaveProblem {
                message: capitalise(&err.to_string()),
                needed_bytes: room_can_be_made.then_some(needed_bytes),
            }));
        }
    }
    offline::refresh_saved(state);
}

/// "Delete the oldest entries" after a save did not fit: deletes the oldest saved entries until
/// it fits, then saves it (and the result shown for it).
pub fn make_room_and_save(state: AppState) {
    spawn_local(async move {
        let Some(unsaved) = saved::take_unsaved() else {
            state.save_error.set(None);
            offline::refresh_saved(state);
            return;
        };
        let entry_id = unsaved.entry.id();
        let tensor_name = unsaved.entry.key.tensor_name.clone();
        let outcome = saved::save_making_room(&unsaved).await;
        let saved_now = outcome.is_ok();
        report_save(state, unsaved, outcome);
        let shown = state.result.with_untracked(|result| {
            result
                .as_ref()
                .filter(|result| !result.vectors_pending && result.view.tensor_name == tensor_name)
                .map(|result| result.analysis.clone())
        });
        if let (true, Some(analysis)) = (saved_now, shown) {
            saved::save_result(&entry_id, &analysis.options, &analysis).await;
        }
    });
}

/// "Keep for offline" for a local file or the sample: keys it by the sha256 of the whole file
/// and saves its header and the analysed tensor.
pub fn keep_for_offline(state: AppState) {
    let Some(view) = state
        .result
        .with_untracked(|r| r.as_ref().map(|r| r.view.clone()))
    else {
        return;
    };
    let (opened, tensor) = RUNTIME.with(|cell| {
        let runtime = cell.borrow();
        (
            runtime.opened.clone(),
            runtime.tensors.get(&view.tensor_name).cloned(),
        )
    });
    let (Some(opened), Some(tensor)) = (opened, tensor) else {
        return;
    };
    let origin = match state.last_kind.get_untracked() {
        SourceKind::Sample => crate::pure::source::offline::EntryOrigin::Sample,
        SourceKind::Local(_) => crate::pure::source::offline::EntryOrigin::Local,
        SourceKind::Hub => return,
    };
    spawn_local(async move {
        let file_sha256 = match saved::whole_file_sha256(&opened).await {
            Ok(sha) => sha,
            Err(err) => {
                state.save_error.set(Some(SaveProblem {
                    message: capitalise(&err.to_string()),
                    needed_bytes: None,
                }));
                return;
            }
        };
        let key = crate::pure::source::offline::EntryKey {
            origin,
            hub: String::new(),
            repo: opened.file_path.clone(),
            commit_sha: file_sha256,
            file_path: opened.file_path.clone(),
            tensor_name: view.tensor_name.clone(),
        };
        let entry = saved::entry_for(key, &opened, &view, None, tensor.bytes.len() as u64);
        save_entry_reporting(
            state,
            entry,
            Rc::clone(&opened.header_prefix),
            Rc::clone(&tensor.bytes),
        )
        .await;
        // Keep the result too, so that opening the entry draws at once.
        let result = state
            .result
            .with_untracked(|r| r.as_ref().map(|r| r.analysis.clone()));
        if let (Some(entry_id), Some(analysis)) = (state.current_entry_id.get_untracked(), result) {
            saved::save_result(&entry_id, &analysis.options, &analysis).await;
        }
    });
}

/// Opens a saved entry: a Hub entry through its pinned link, a local file or the sample from
/// storage.
pub fn open_saved_entry(state: AppState, entry: &crate::pure::source::offline::SavedEntry) {
    use crate::pure::source::offline::EntryOrigin;
    match entry.key.origin {
        EntryOrigin::Hub => {
            let previous = state.settings.get_untracked();
            let mut settings = previous.clone();
            settings.hub = entry.key.hub.clone();
            settings.repo = entry.key.repo.clone();
            settings.rev = entry.key.commit_sha.clone();
            settings.file = Some(entry.key.file_path.clone());
            settings.tensor = Some(entry.key.tensor_name.clone());
            write_url(&settings, true);
            state.settings.set(settings);
            state.reset_drafts();
            start_run(state, RunSource::Hub);
        }
        EntryOrigin::Local | EntryOrigin::Sample => {
            let kind = if entry.key.origin == EntryOrigin::Sample {
                SourceKind::Sample
            } else {
                SourceKind::Local(entry.key.file_path.clone())
            };
            start_run(
                state,
                RunSource::Saved {
                    entry_id: entry.id(),
                    kind,
                },
            );
        }
    }
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

/// The workers' job for run `generation`: analyse `view`'s tensor with `options`.
fn job_spec(generation: u32, view: &MatrixView, options: AnalysisOptions) -> JobSpec {
    JobSpec {
        job_id: generation,
        tensor_name: view.tensor_name.clone(),
        dtype: view.dtype,
        n_rows: view.n_rows,
        n_cols: view.n_cols,
        options,
    }
}

/// Sends the tensor bytes to the workers and stores the results: the singular values as soon
/// as they are known (drawn while the vectors are computed), then everything.
async fn analyse_bytes(
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
        (_, Some(HubError::RepoNotFound { .. })) => ("No such repository", false, false),
        (_, Some(HubError::RequestedFileMissing { .. })) => {
            ("No such file in this revision", false, false)
        }
        (_, Some(HubError::Gated { .. })) => ("Gated or private repository", true, false),
        (_, Some(HubError::Network { .. })) => (
            "The Hub cannot be reached (offline, or no server at this address)",
            true,
            false,
        ),
        (_, Some(HubError::CorsRefused { .. })) => (
            "The server does not let web pages read its files (CORS)",
            true,
            false,
        ),
        (_, Some(HubError::RateLimited { .. })) => ("Rate limited", true, false),
        (_, Some(HubError::ServerError { .. })) => ("The server failed", true, false),
        (SourceError::Fetch(FetchError::Transfer(TransferError::Changed { .. })), _) => {
            ("The file changed while reading", false, false)
        }
        (SourceError::Fetch(FetchError::Transfer(TransferError::KeptDropping { .. })), _) => {
            ("The connection kept dropping", true, false)
        }
        (SourceError::Fetch(FetchError::Transfer(TransferError::GaveUp { cause, .. })), _) => {
            match cause {
                HubError::RateLimited { .. } => ("Rate limited", true, false),
                _ => ("The server failed", true, false),
            }
        }
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
        (SourceError::Offline(OfflineError::Unreachable { .. }), _) => (
            "The Hub cannot be reached (offline, or no server at this address)",
            true,
            false,
        ),
        (SourceError::Offline(_), _) => ("Not available offline", true, false),
        (SourceError::Fetch(FetchError::Cancelled), _) => ("Cancelled", false, false),
        (SourceError::Fetch(_), _) => ("The download failed", true, false),
    };
    ErrorInfo {
        kind: err.kind().as_str().to_owned(),
        title: title.to_owned(),
        message,
        offer_sample,
        offer_picker,
    }
}

/// Names the repository and revision asked for in a Hub 404's message, which otherwise
/// names them only inside the URL that failed.
fn name_revision(mut info: ErrorInfo, err: &SourceError, settings: &ViewSettings) -> ErrorInfo {
    if let SourceError::Fetch(FetchError::Hub(HubError::NotFound { .. }))
    | SourceError::Hub(HubError::NotFound { .. }) = err
    {
        let stop = if info.message.ends_with('.') { "" } else { "." };
        info.message = format!(
            "{}{stop} Asked for: revision `{}` of `{}`.",
            info.message, settings.rev, settings.repo
        );
    }
    info
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

// Compared models: each entry of the `compare` setting is opened on the Hub, its positional
// embedding read by ranges and analysed in the same workers, one model at a time and only
// while the main analysis is not using them. A failure stays in that model's row.

thread_local! {
    /// Whether the compare queue is running.
    static COMPARE_BUSY: Cell<bool> = const { Cell::new(false) };
    /// Increases with each compare job, so that job ids never repeat.
    static COMPARE_JOBS: Cell<u32> = const { Cell::new(0) };
}

/// Compare jobs take ids from here on, far from the main runs' ids.
const COMPARE_JOB_BASE: u32 = 0x4000_0000;

/// Why one compared model has no result (yet).
enum CompareFailure {
    /// The main analysis needs the workers; the model is analysed after it.
    Deferred,
    /// The model cannot be analysed; the message says why and what to do.
    Failed(String),
}

/// The settings that shape a compared model's analysis, as one comparable text.
pub fn compare_analysis_key(settings: &ViewSettings) -> String {
    format!(
        "{}|{}|{}|{}",
        settings.hub, settings.k_vectors, settings.center_rows, settings.skip_offset
    )
}

/// Brings the compare rows in line with the settings (keeping finished rows that still
/// apply) and analyses the rows still loading, unless the main analysis is running.
pub fn sync_compare(state: AppState) {
    let settings = state.settings.get_untracked();
    let key = compare_analysis_key(&settings);
    let current = state.compare_rows.get_untracked();
    let next: Vec<CompareRow> = settings
        .compare
        .iter()
        .map(|entry| {
            current
                .iter()
                .find(|row| row.entry == *entry && row.analysis_key == key)
                .cloned()
                .unwrap_or_else(|| CompareRow {
                    entry: entry.clone(),
                    analysis_key: key.clone(),
                    state: CompareState::Loading,
                    commit_sha: None,
                    tensor_name: None,
                    summary: None,
                })
        })
        .collect();
    if next != current {
        state.compare_rows.set(next);
    }
    if matches!(state.status.get_untracked(), Status::Loading { .. })
        || COMPARE_BUSY.with(Cell::get)
    {
        return;
    }
    COMPARE_BUSY.with(|busy| busy.set(true));
    spawn_local(async move {
        run_compare_queue(state).await;
        COMPARE_BUSY.with(|busy| busy.set(false));
    });
}

/// Analyses the loading rows one after another until none is left or the main analysis
/// needs the workers.
async fn run_compare_queue(state: AppState) {
    loop {
        let settings = state.settings.get_untracked();
        let key = compare_analysis_key(&settings);
        let next = state.compare_rows.with_untracked(|rows| {
            rows.iter()
                .find(|row| row.state == CompareState::Loading && row.analysis_key == key)
                .map(|row| row.entry.clone())
        });
        let Some(entry) = next else {
            return;
        };
        let outcome = analyse_compared(state, &settings, &entry).await;
        let update = |row: &CompareRow| row.entry == entry && row.analysis_key == key;
        match outcome {
            Err(CompareFailure::Deferred) => return,
            Err(CompareFailure::Failed(message)) => state.compare_rows.update(|rows| {
                for row in rows.iter_mut().filter(|row| update(row)) {
                    row.state = CompareState::Error(message.clone());
                }
            }),
            Ok((commit_sha, tensor_name, summary)) => state.compare_rows.update(|rows| {
                for row in rows.iter_mut().filter(|row| update(row)) {
                    row.state = CompareState::Ready;
                    row.commit_sha = commit_sha.clone();
                    row.tensor_name = Some(tensor_name.clone());
                    row.summary = Some(std::sync::Arc::new(summary.clone()));
                }
            }),
        }
    }
}

/// Opens one compared model on the Hub, reads its positional embedding by ranges and
/// analyses it (whole matrix, nothing dropped) with the main settings.
async fn analyse_compared(
    state: AppState,
    settings: &ViewSettings,
    entry: &CompareEntry,
) -> Result<(Option<String>, String, SvdSummary), CompareFailure> {
    let failed = |err: SourceError| {
        let info = describe_source_error(&err);
        CompareFailure::Failed(format!("{}: {}", info.title, info.message))
    };
    let controller = AbortController::new().map_err(|_| {
        CompareFailure::Failed(
            "This browser cannot cancel downloads. Use a current browser.".to_owned(),
        )
    })?;
    let run = RunContext {
        signal: controller.signal(),
        repo: entry.repo.clone(),
        network_bytes: Rc::new(Cell::new(0)),
        on_progress: Rc::new(|_: &str, _, _| {}),
        on_note: Rc::new(|_: &str| {}),
        whole_stream: Cell::new(None),
    };
    let request = HubRequest {
        hub: &settings.hub,
        repo: &entry.repo,
        rev: entry.rev_or_default(),
        file: None,
        tensor: None,
    };
    // Compared models are kept for offline use like the main one.
    let opened = saved::open_hub_with_store(&request, &run)
        .await
        .map_err(failed)?
        .opened;
    let view = source::choose_matrix(&opened, None).map_err(failed)?;
    let bytes = source::read_tensor(&opened, &view, &run, &|_| {})
        .await
        .map_err(failed)?;
    if matches!(opened.source, source::ByteSource::Hub { .. }) {
        if let Some(key) =
            saved::entry_key_for(&opened, &settings.hub, &entry.repo, &view.tensor_name)
        {
            let saved_entry = saved::entry_for(
                key,
                &opened,
                &view,
                Some(entry.rev_or_default()),
                bytes.len() as u64,
            );
            let prefix = Rc::clone(&opened.header_prefix);
            let tensor = bytes.clone();
            spawn_local(async move {
                let _ignored = saved::save_entry(saved_entry, &prefix, &tensor).await;
                offline::refresh_saved(state);
            });
        }
    }
    // The workers belong to the main analysis while it runs.
    if matches!(state.status.get_untracked(), Status::Loading { .. }) {
        return Err(CompareFailure::Deferred);
    }
    let mut options = analysis_options(settings, &view);
    options.drop_count = 0;
    let job_id = COMPARE_JOBS.with(|jobs| {
        let next = jobs.get().wrapping_add(1);
        jobs.set(next);
        COMPARE_JOB_BASE.wrapping_add(next)
    });
    let spec = JobSpec {
        job_id,
        tensor_name: view.tensor_name.clone(),
        dtype: view.dtype,
        n_rows: view.n_rows,
        n_cols: view.n_cols,
        options,
    };
    match bridge::run_job(&spec, &bytes, Rc::new(|_: String| {}), Rc::new(|_| {})).await {
        Ok(output) => Ok((opened.commit_sha, view.tensor_name, output.analysis.full)),
        Err(WorkerError::Cancelled) => Err(CompareFailure::Deferred),
        Err(err) => Err(CompareFailure::Failed(capitalise(&err.to_string()))),
    }
}
