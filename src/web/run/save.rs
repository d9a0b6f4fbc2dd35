//! Saving for offline use: a Hub tensor after its analysis, "Keep for offline", making room,
//! and opening a saved entry.

use super::errors::capitalise;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::pure::source::detect::MatrixView;
use crate::web::io::saved;
use crate::web::io::source::{self, OpenedFile};
use crate::web::platform::js::sleep_ms;
use crate::web::run::offline;
use crate::web::run::state::{AppState, SaveProblem, Status, RUNTIME};

/// Whose tensor a Hub save keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SaveFor {
    /// The analysis the page shows: the outcome is shown beside the results, and the result is
    /// stored with the entry.
    Shown,
    /// A compared model: a failure stays silent (the comparison still shows).
    Compared,
}

/// Where a Hub tensor was read: the Hub, the repository and the revision asked for.
pub(super) struct HubPlace<'a> {
    /// The Hub's address.
    pub hub: &'a str,
    /// The repository.
    pub repo: &'a str,
    /// The revision asked for (a branch, tag or commit).
    pub rev: &'a str,
}

/// Saves a tensor read from the Hub at a known commit for offline use, in the background;
/// a failure never fails the analysis (for the shown one, it is shown beside the results).
pub(super) fn save_hub_tensor(
    state: AppState,
    opened: &OpenedFile,
    view: &MatrixView,
    place: &HubPlace<'_>,
    bytes: &Rc<Vec<u8>>,
    save_for: SaveFor,
) {
    let Some(key) = source::entry_key_for(opened, place.hub, place.repo, &view.tensor_name) else {
        return;
    };
    let entry = source::entry_for(key, opened, view, Some(place.rev), bytes.len() as u64);
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
        if save_for == SaveFor::Compared {
            let _ignored = saved::save_entry(entry, &prefix, &bytes).await;
            offline::refresh_saved(state);
            return;
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
pub(super) const SAVE_POLL_MS: i32 = 100;
/// The longest a save waits for the analysis to finish, in milliseconds.
pub(super) const SAVE_WAIT_LIMIT_MS: i32 = 120_000;

/// Saves an entry and reports the outcome on the page.
pub(super) async fn save_entry_reporting(
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
pub(super) fn report_save(
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
    let origin = state.last_kind.get_untracked().origin();
    if origin == crate::pure::source::Origin::Hub {
        return;
    }
    spawn_local(async move {
        let file_sha256 = match source::whole_file_sha256(&opened).await {
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
        let entry = source::entry_for(key, &opened, &view, None, tensor.bytes.len() as u64);
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
