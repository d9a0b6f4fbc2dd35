//! The status panel: state, progress bar, Cancel, and what was analysed (commit, tensor,
//! shape, bytes fetched, timings, share link).

use leptos::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::pure::common::{format_bytes, ByteUnits};
use crate::web::run as actions;
use crate::web::run::state::{AppState, SourceKind, Status};

/// Copies text to the clipboard; returns whether the browser accepted it.
pub async fn copy_text(text: &str) -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let promise = window.navigator().clipboard().write_text(text);
    JsFuture::from(promise).await.is_ok()
}

/// The status panel.
#[component]
pub fn StatusPanel() -> impl IntoView {
    let state = expect_context::<AppState>();
    // Finished, but some results are still being drawn (a few cards per browser task): not
    // ready yet.
    let drawing = move || {
        state.drawing_steps.with(|n| *n > 0) && state.status.with(|s| matches!(s, Status::Ready))
    };
    let data_state = move || {
        if drawing() {
            "loading"
        } else {
            state.status.with(Status::as_str)
        }
    };
    let is_loading = move || state.status.with(|s| matches!(s, Status::Loading { .. }));
    let status_text = move || {
        if drawing() {
            return "Drawing the results…".to_owned();
        }
        state.status.with(|status| match status {
            Status::Idle { note } => note.clone().unwrap_or_else(|| "Idle".to_owned()),
            Status::Loading { label } => format!("{label}…"),
            Status::Ready => "Ready".to_owned(),
            Status::Error(info) => format!("Error: {}", info.title),
        })
    };
    let progress_value = move || state.progress.with(|p| p.received_bytes.to_string());
    let progress_max = move || state.progress.with(|p| p.needed_bytes.max(1).to_string());
    let progress_text = move || {
        state.progress.with(|p| {
            if p.needed_bytes == 0 {
                String::new()
            } else {
                format!(
                    "{}: {} of {}",
                    p.label,
                    format_bytes(p.received_bytes, ByteUnits::Brief),
                    format_bytes(p.needed_bytes, ByteUnits::Brief)
                )
            }
        })
    };
    let commit_sha = move || {
        state
            .file_info
            .with(|i| i.as_ref().and_then(|i| i.commit_sha.clone()))
            .unwrap_or_default()
    };
    let source_text = move || {
        state.file_info.with(|info| {
            info.as_ref().map(|i| match &i.kind {
                SourceKind::Hub => format!("{} / {}", i.repo, i.file_path),
                SourceKind::Local(name) => format!("local file {name}"),
                SourceKind::Sample => format!("built-in sample / {}", i.file_path),
            })
        })
    };
    let file_size = move || {
        state
            .file_info
            .with(|i| i.as_ref().and_then(|i| i.file_len_bytes))
    };
    let tensor_name = move || {
        state
            .result
            .with(|r| r.as_ref().map(|r| r.view.tensor_name.clone()))
            .unwrap_or_default()
    };
    let shape = move || {
        state
            .result
            .with(|r| {
                r.as_ref()
                    .map(|r| format!("{} × {}", r.analysis.full.n_rows, r.analysis.full.n_cols))
            })
            .unwrap_or_default()
    };
    let original_shape = move || {
        state
            .result
            .with(|r| {
                r.as_ref().map(|r| {
                    let stored = r
                        .view
                        .original_shape
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(" × ");
                    format!("(stored as [{stored}] {})", r.view.dtype)
                })
            })
            .unwrap_or_default()
    };
    let analysis_ms = move || {
        state
            .result
            .with(|r| r.as_ref().map(|r| r.analysis_ms))
            .unwrap_or(0.0)
    };
    let values_ms = move || {
        state
            .result
            .with(|r| r.as_ref().map(|r| r.values_ms))
            .unwrap_or(0.0)
    };
    let worker_analysis_ms = move || {
        state
            .result
            .with(|r| r.as_ref().map_or(0.0, |r| r.worker_analysis_ms))
    };
    let worker_memory_bytes = move || {
        state
            .result
            .with(|r| r.as_ref().map_or(0, |r| r.worker_memory_bytes))
    };
    let vectors_pending = move || {
        state
            .result
            .with(|r| r.as_ref().is_some_and(|r| r.vectors_pending))
    };
    let decode_ms = move || {
        state
            .result
            .with(|r| r.as_ref().map_or(0.0, |r| r.decode_ms))
    };
    let bytes_streamed = move || {
        state
            .result
            .with(|r| r.as_ref().is_some_and(|r| r.bytes_streamed))
    };
    let share_link = move || {
        let settings = state.settings.get();
        let sha = commit_sha();
        let is_hub = state
            .file_info
            .with(|i| i.as_ref().is_none_or(|i| i.kind == SourceKind::Hub));
        // Each compared model is pinned to the commit it was analysed at.
        let compare_shas: Vec<Option<String>> = state.compare_rows.with(|rows| {
            settings
                .compare
                .iter()
                .map(|entry| {
                    rows.iter()
                        .find(|row| row.entry == *entry)
                        .and_then(|row| row.commit_sha.clone())
                })
                .collect()
        });
        let settings = settings.compare_pinned_to(&compare_shas);
        if is_hub {
            actions::page_link(&settings.pinned_to(&sha))
        } else {
            actions::page_link(&settings)
        }
    };
    let copy_state = RwSignal::new(String::new());
    let on_copy = move |_| {
        let link = share_link();
        leptos::task::spawn_local(async move {
            let copied = copy_text(&link).await;
            copy_state.set(if copied {
                "Copied".to_owned()
            } else {
                "Copy failed: select the link and copy it by hand".to_owned()
            });
        });
    };

    view! {
        <section class="card status-panel">
            <div class="status-row">
                <div data-testid="status" data-state=data_state class="status" class:busy=move || is_loading() || drawing()>
                    <span class="dot"></span>
                    <span class="status-text">{status_text}</span>
                </div>
                <progress
                    data-testid="progress"
                    value=progress_value
                    max=progress_max
                    class:hidden=move || !is_loading()
                ></progress>
                <span class="progress-text">{move || if is_loading() { progress_text() } else { String::new() }}</span>
                <button data-testid="cancel" type="button" class="danger" prop:disabled=move || !is_loading() on:click=move |_| actions::cancel_run(state)>
                    "Cancel"
                </button>
            </div>
            <Show when=move || state.transfer_notes.with(|notes| !notes.is_empty())>
                <ul class="transfer-notes" data-testid="transfer-notes" aria-live="polite">
                    {move || state.transfer_notes.get().into_iter().map(|note| view! { <li>{note}</li> }).collect_view()}
                </ul>
            </Show>
            <dl class="facts">
                <div>
                    <dt>"Source"</dt>
                    <dd>{move || source_text().unwrap_or_else(|| "—".to_owned())}</dd>
                </div>
                <div>
                    <dt>"Commit"</dt>
                    <dd data-testid="commit" data-sha=commit_sha class="mono">
                        {move || {
                            let sha = commit_sha();
                            if sha.is_empty() { "—".to_owned() } else { sha.chars().take(12).collect::<String>() }
                        }}
                    </dd>
                </div>
                <div>
                    <dt>"Tensor"</dt>
                    <dd data-testid="tensor-name" class="mono">{tensor_name}</dd>
                </div>
                <div>
                    <dt>"Matrix analysed"</dt>
                    <dd><span data-testid="shape">{shape}</span>" "<small>{original_shape}</small></dd>
                </div>
                <div>
                    <dt>"Bytes fetched"</dt>
                    <dd data-testid="bytes-fetched" data-bytes=move || state.bytes_fetched.get().to_string()>
                        {move || format_bytes(state.bytes_fetched.get(), ByteUnits::Brief)}
                        {move || file_size().map(|len| format!(" of a {} file", format_bytes(len, ByteUnits::Brief)))}
                    </dd>
                </div>
                <div>
                    <dt>"Analysis time"</dt>
                    <dd
                        data-testid="timings"
                        data-analysis-ms=move || format!("{:.1}", analysis_ms())
                        data-values-ms=move || format!("{:.1}", values_ms())
                        data-worker-memory-bytes=move || worker_memory_bytes().to_string()
                        data-worker-analysis-ms=move || format!("{:.1}", worker_analysis_ms())
                        data-longest-task-ms=move || format!("{:.1}", state.longest_task_ms.get())
                        data-result-source=move || if state.result_from_store.get() { "saved" } else { "computed" }
                        data-bytes-streamed=move || bytes_streamed().to_string()
                    >
                        {move || if vectors_pending() {
                            format!("values in {:.0} ms; singular vectors still computing", values_ms())
                        } else if state.result.with(Option::is_some) {
                            format!("values in {:.0} ms, everything in {:.0} ms", values_ms(), analysis_ms())
                        } else {
                            "—".to_owned()
                        }}
                        <small>{move || if state.result.with(Option::is_some) && !vectors_pending() {
                            format!(
                                " after the bytes arrived (decoding {:.0} ms{}; worker memory {}; longest page task {:.0} ms)",
                                decode_ms(),
                                if bytes_streamed() { ", during the download" } else { "" },
                                format_bytes(worker_memory_bytes(), ByteUnits::Brief),
                                state.longest_task_ms.get(),
                            )
                        } else {
                            String::new()
                        }}</small>
                    </dd>
                </div>
            </dl>
            <div class="share">
                <span>
                    {move || {
                        let is_hub = state.file_info.with(|i| i.as_ref().is_none_or(|i| i.kind == SourceKind::Hub));
                        if is_hub {
                            "Share link (pinned to the commit analysed): "
                        } else {
                            "Share link (local files and the sample stay on this computer; the link holds the Hub settings and options): "
                        }
                    }}
                </span>
                <a data-testid="share-link" href=share_link class="mono">{share_link}</a>
                <button data-testid="copy-link" type="button" on:click=on_copy>"Copy link"</button>
                <span class="copy-state">{move || copy_state.get()}</span>
            </div>
        </section>
    }
}
