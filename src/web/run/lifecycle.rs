//! A run's life cycle: start, first run, retry, cancel, and which settings change re-runs what.

use super::errors::{capitalise, describe_source_error, name_revision};
use super::handle::{Lane, RunError, RunHandle, RunSource};
use super::pipeline::run_pipeline;
use super::url::write_url;
use std::cell::Cell;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::pure::common::ErrorKind;
use crate::pure::source::hub::DEFAULT_HUB;
use crate::pure::url_state::{SettingsChange, ViewSettings};
use crate::web::io::saved;
use crate::web::io::source::{NoteCallback, ProgressCallback, RunContext};
use crate::web::platform::js::sleep_ms;
use crate::web::platform::perf;
use crate::web::run::state::{AppState, ErrorInfo, ProgressInfo, SourceKind, Status, RUNTIME};
use crate::web::workers::bridge::{self, WorkerError};

/// Starts a new run, superseding any run in progress.
pub fn start_run(state: AppState, run_source: RunSource) {
    let Some(handle) = RunHandle::start(Lane::Main) else {
        state.status.set(Status::Error(ErrorInfo {
            kind: ErrorKind::Browser,
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
    let progress_handle = handle.clone();
    let on_progress: ProgressCallback = Rc::new(move |label: &str, received, needed| {
        progress_handle.set(
            state.progress,
            ProgressInfo {
                label: label.to_owned(),
                received_bytes: received,
                needed_bytes: needed,
            },
        );
        progress_handle.set(
            state.status,
            Status::Loading {
                label: label.to_owned(),
            },
        );
    });
    let note_handle = handle.clone();
    let on_note: NoteCallback = Rc::new(move |note: &str| {
        note_handle.update(state.transfer_notes, |notes| notes.push(note.to_owned()));
    });
    let run = RunContext {
        signal: handle.signal(),
        repo: settings.repo.clone(),
        network_bytes: Rc::new(Cell::new(0)),
        on_progress,
        on_note,
        whole_stream: Cell::new(None),
    };
    spawn_local(async move {
        let outcome = run_pipeline(state, &handle, run_source, &settings, &run).await;
        // A run that a newer one (or Cancel) replaced ends here, whatever its outcome.
        if handle.check().is_err() {
            return;
        }
        state.pending_options.set(None);
        match outcome {
            Ok(()) => {
                // Let the browser apply the new results to the page before saying "ready".
                sleep_ms(0).await;
                sleep_ms(0).await;
                handle.set(state.longest_task_ms, perf::longest_task_ms());
                handle.set(state.status, Status::Ready);
            }
            Err(RunError::Superseded) => {}
            Err(RunError::Worker(WorkerError::Cancelled(_))) => {
                state.status.set(Status::Idle {
                    note: Some("Cancelled. Press Analyse to start again.".to_owned()),
                });
            }
            Err(RunError::Source(err)) => match describe_source_error(&err) {
                Some(info) => {
                    state
                        .status
                        .set(Status::Error(name_revision(info, &err, &settings)));
                }
                None => state.status.set(Status::Idle {
                    note: Some("Cancelled. Press Analyse to start again.".to_owned()),
                }),
            },
            Err(RunError::Worker(err)) => state.status.set(Status::Error(ErrorInfo {
                kind: err.kind().unwrap_or(ErrorKind::Analysis),
                title: match err.kind() {
                    Some(ErrorKind::WorkerDied) => "An analysis worker stopped",
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

/// Cancels the run in progress: aborts its requests and stops the worker.
pub fn cancel_run(state: AppState) {
    let was_running = RunHandle::cancel(Lane::Main);
    bridge::cancel();
    state.pending_options.set(None);
    if was_running || matches!(state.status.get_untracked(), Status::Loading { .. }) {
        state.status.set(Status::Idle {
            note: Some("Cancelled. Press Analyse to start again.".to_owned()),
        });
    }
}

/// Re-runs only what a settings change needs: a new source, or the open file again for a new
/// tensor or new options ([`SettingsChange::between`] decides, field by field).
pub fn apply_settings(state: AppState, new_settings: ViewSettings, previous: &ViewSettings) {
    let change = SettingsChange::between(previous, &new_settings);
    state.settings.set(new_settings);
    state.reset_drafts();
    match change {
        SettingsChange::NewSource => start_run(state, RunSource::Hub),
        SettingsChange::NewTensor | SettingsChange::NewOptions => {
            start_run(state, RunSource::Reuse);
        }
        SettingsChange::ViewOnly => {}
    }
}

/// Opens a saved entry: a Hub entry through its pinned link, a local file or the sample from
/// storage.
pub fn open_saved_entry(state: AppState, entry: &crate::pure::source::offline::SavedEntry) {
    use crate::pure::source::Origin as EntryOrigin;
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
