//! Offline use on the page: the offline badge, "a new version is available", the note when a
//! saved commit stands in for a branch, "Keep for offline" for local files, and the
//! "Saved for offline" panel with the storage it uses.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::pure::common::{format_bytes, ByteUnits};
use crate::pure::source::offline::{self, EntryOrigin, SavedEntry};
use crate::web::io::saved;
use crate::web::run as actions;
use crate::web::run::offline as shell;
use crate::web::run::state::{AppState, SourceKind, Status};

/// Shown while the browser is offline.
#[component]
pub fn OfflineBadge() -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
        <Show when=move || !state.online.get()>
            <span class="offline-badge" data-testid="offline-badge" role="status">
                "Offline: saved models only"
            </span>
        </Show>
    }
}

/// "A new version is available" with a Reload button, once a new build waits.
#[component]
pub fn UpdateBanner() -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
        <Show when=move || state.update_ready.get()>
            <section class="card update-banner" data-testid="update-banner" role="status">
                <span>"A new version is available."</span>
                <button type="button" data-testid="update-reload" on:click=move |_| shell::apply_update()>
                    "Reload"
                </button>
            </section>
        </Show>
    }
}

/// The note shown when an offline branch link is answered by a saved commit.
#[component]
pub fn OfflineNote() -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
        {move || state.offline_note.get().map(|note| view! {
            <p class="card offline-note" data-testid="offline-note" role="status">{note}</p>
        })}
    }
}

/// "Keep for offline" for a local file or the sample (Hub models are kept automatically).
#[component]
pub fn KeepOffline() -> impl IntoView {
    let state = expect_context::<AppState>();
    let applies = move || {
        matches!(state.status.get(), Status::Ready)
            && !matches!(state.last_kind.get(), SourceKind::Hub)
            && state.result.with(Option::is_some)
    };
    let is_saved = move || state.current_entry_id.with(Option::is_some);
    view! {
        <Show when=applies>
            <div class="keep-offline">
                <Show
                    when=is_saved
                    fallback=move || view! {
                        <button type="button" data-testid="keep-offline" on:click=move |_| actions::keep_for_offline(state)>
                            "Keep for offline"
                        </button>
                    }
                >
                    <span class="hint" data-testid="kept-offline">"Saved for offline use."</span>
                </Show>
            </div>
        </Show>
    }
}

/// The list of saved entries with Open and Delete, the storage used, and persistence.
#[component]
pub fn SavedPanel() -> impl IntoView {
    let state = expect_context::<AppState>();
    let entries = move || {
        let mut entries = state.saved_entries.get();
        entries.reverse();
        entries
    };
    let total_bytes = move || {
        state.saved_entries.with(|entries| {
            entries
                .iter()
                .map(SavedEntry::stored_bytes)
                .fold(0, u64::saturating_add)
        })
    };
    let estimate = move || state.storage_estimate.get();
    let persisted = move || state.storage_persisted.get();
    let delete_all = move |_| {
        spawn_local(async move {
            let _ignored = saved::delete_all().await;
            state.current_entry_id.set(None);
            shell::refresh_saved(state);
        });
    };
    let ask_persist = move |_| {
        spawn_local(async move {
            state.storage_persisted.set(saved::request_persist().await);
        });
    };
    // A failed save is said inside the panel: open it, so that the message is seen.
    let panel = NodeRef::<leptos::html::Details>::new();
    Effect::new(move |_| {
        if state.save_error.with(Option::is_some) {
            if let Some(details) = panel.get() {
                let _ignored = details.set_attribute("open", "");
            }
        }
    });
    view! {
        <details class="card saved-panel" data-testid="saved-panel" node_ref=panel>
            <summary>
                <h2>"Saved for offline"</h2>
                <span class="hint" data-testid="saved-count" data-count=move || state.saved_entries.with(Vec::len).to_string()>
                    {move || format!("{} saved, {}", state.saved_entries.with(Vec::len), format_bytes(total_bytes(), ByteUnits::Brief))}
                </span>
            </summary>
            <p class="hint">
                "Every model analysed from the Hub is kept here with its commit, so its share link works without a network. Local files are kept when you press Keep for offline."
            </p>
            <SaveErrorNote/>
            <div class="storage-line">
                <span
                    data-testid="storage-estimate"
                    data-usage=move || estimate().map(|(usage, _)| usage.to_string()).unwrap_or_default()
                    data-quota=move || estimate().map(|(_, quota)| quota.to_string()).unwrap_or_default()
                >
                    {move || match estimate() {
                        Some((usage, quota)) => format!(
                            "Storage: {} used of {} available to this site.",
                            format_bytes(usage, ByteUnits::Brief),
                            format_bytes(quota, ByteUnits::Brief)
                        ),
                        None => "Storage: this browser does not report its use.".to_owned(),
                    }}
                </span>
                <span
                    data-testid="storage-persisted"
                    data-persisted=move || persisted().map(|p| p.to_string()).unwrap_or_else(|| "unknown".to_owned())
                >
                    {move || match persisted() {
                        Some(true) => " Persistent: the browser will not clear it under storage pressure.".to_owned(),
                        Some(false) => " Not persistent: the browser may clear it when space runs low.".to_owned(),
                        None => " Persistence unknown.".to_owned(),
                    }}
                </span>
                <Show when=move || persisted() != Some(true)>
                    <button type="button" data-testid="storage-persist" on:click=ask_persist>"Ask to keep it"</button>
                </Show>
            </div>
            <Show
                when=move || state.saved_entries.with(|e| !e.is_empty())
                fallback=|| view! { <p class="hint">"Nothing is saved yet."</p> }
            >
                <table class="saved-table">
                    <thead>
                        <tr>
                            <th scope="col">"Model"</th>
                            <th scope="col">"Commit"</th>
                            <th scope="col">"Tensor"</th>
                            <th scope="col">"Shape"</th>
                            <th scope="col">"Size"</th>
                            <th scope="col">"Saved"</th>
                            <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                        </tr>
                    </thead>
                    <tbody>
                        <For each=entries key=SavedEntry::id let:entry>
                            <SavedRow entry=entry/>
                        </For>
                    </tbody>
                </table>
                <button type="button" data-testid="saved-delete-all" on:click=delete_all>"Delete all"</button>
            </Show>
        </details>
    }
}

/// One saved entry.
#[component]
fn SavedRow(entry: SavedEntry) -> impl IntoView {
    let state = expect_context::<AppState>();
    let id = entry.id();
    let origin = match entry.key.origin {
        EntryOrigin::Hub => "hub",
        EntryOrigin::Local => "local",
        EntryOrigin::Sample => "sample",
    };
    let model = match entry.key.origin {
        EntryOrigin::Hub => entry.key.repo.clone(),
        EntryOrigin::Local => format!("{} (local file)", entry.key.repo),
        EntryOrigin::Sample => "Built-in sample".to_owned(),
    };
    let open_entry = entry.clone();
    let delete_id = id.clone();
    let on_delete = move |_| {
        let entry_id = delete_id.clone();
        spawn_local(async move {
            let _ignored = saved::delete_entry(&entry_id).await;
            if state.current_entry_id.get_untracked().as_deref() == Some(entry_id.as_str()) {
                state.current_entry_id.set(None);
            }
            shell::refresh_saved(state);
        });
    };
    view! {
        <tr
            data-testid="saved-entry"
            data-id=id
            data-origin=origin
            data-repo=entry.key.repo.clone()
            data-sha=entry.key.commit_sha.clone()
            data-tensor=entry.key.tensor_name.clone()
            data-bytes=entry.stored_bytes().to_string()
        >
            <td>{model}</td>
            <td><code>{entry.short_sha().to_owned()}</code></td>
            <td><code>{entry.key.tensor_name.clone()}</code></td>
            <td>{format!("{} × {}", entry.matrix_shape[0], entry.matrix_shape[1])}</td>
            <td>{format_bytes(entry.stored_bytes(), ByteUnits::Brief)}</td>
            <td>{offline::format_utc_ms(entry.saved_at_ms)}</td>
            <td class="saved-actions">
                <button type="button" data-testid="saved-open" on:click=move |_| actions::open_saved_entry(state, &open_entry)>"Open"</button>
                <button type="button" data-testid="saved-delete" on:click=on_delete>"Delete"</button>
            </td>
        </tr>
    }
}

/// A failed save: what happened, and when the storage is full, a way to make room (the oldest
/// entries are deleted until the entry fits, then it is saved).
#[component]
fn SaveErrorNote() -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
        {move || state.save_error.get().map(|problem| view! {
            <div class="save-error" data-testid="save-error" role="alert">
                <p>{problem.message.clone()}</p>
                {problem.needed_bytes.map(|needed| view! {
                    <button
                        type="button"
                        data-testid="saved-free-space"
                        on:click=move |_| actions::make_room_and_save(state)
                    >
                        {format!("Delete the oldest entries to make room for {}", format_bytes(needed, ByteUnits::Brief))}
                    </button>
                })}
            </div>
        })}
    }
}
