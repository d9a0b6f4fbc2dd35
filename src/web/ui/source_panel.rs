//! The source panel: Hub repository, revision, file and tensor; a local file or the sample;
//! and the analysis options.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DragEvent, HtmlInputElement};

use crate::pure::analysis::DropAxis;
use crate::pure::source::hub::{canonical_repo, PRESET_REPOS};
use crate::pure::url_state::ViewSettings;
use crate::web::run::state::{AppState, SourceKind};
use crate::web::run::{self as actions, RunSource};

/// The alias offered besides the Hub's own names.
const ALIAS_PRESET: &str = "gpt2-small";

/// Commits the text fields to the settings, updates the URL and starts a Hub run.
fn analyse_from_fields(state: AppState) {
    let mut settings = state.settings.get_untracked();
    let repo = state.draft_repo.get_untracked();
    let repo = canonical_repo(repo.trim()).to_owned();
    let rev = state.draft_rev.get_untracked().trim().to_owned();
    let file = state.draft_file.get_untracked().trim().to_owned();
    let source_changed = repo != settings.repo
        || rev != settings.rev
        || settings.file.as_deref().unwrap_or("") != file;
    settings.repo = if repo.is_empty() {
        ViewSettings::default().repo
    } else {
        repo
    };
    settings.rev = if rev.is_empty() {
        ViewSettings::default().rev
    } else {
        rev
    };
    settings.file = if file.is_empty() { None } else { Some(file) };
    if source_changed {
        // A new repository has other tensors: detect again.
        settings.tensor = None;
    }
    // Re-validate through the codec so the page never holds settings a link cannot carry.
    let decoded =
        crate::pure::url_state::decode_query(&crate::pure::url_state::encode_query(&settings));
    state.url_notes.set(decoded.notes);
    state.settings.set(decoded.settings.clone());
    state.reset_drafts();
    actions::write_url(&decoded.settings, true);
    actions::start_run(state, RunSource::Hub);
}

/// Changes analysis settings, records them in the URL, and re-runs the analysis on the
/// bytes already downloaded.
fn change_analysis(state: AppState, change: impl FnOnce(&mut ViewSettings)) {
    let previous = state.settings.get_untracked();
    let mut next = previous.clone();
    change(&mut next);
    if next == previous {
        return;
    }
    actions::write_url(&next, true);
    actions::apply_settings(state, next, &previous);
}

/// Parses a whole number from a field, or `None`.
fn parse_count(text: &str) -> Option<usize> {
    text.trim().parse().ok()
}

/// The source panel.
#[component]
pub fn SourcePanel() -> impl IntoView {
    let state = expect_context::<AppState>();
    let is_dragging = RwSignal::new(false);

    let on_submit = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        analyse_from_fields(state);
    };
    let on_preset = move |event: web_sys::Event| {
        let value = event_target_value(&event);
        if value.is_empty() {
            return;
        }
        state.draft_repo.set(canonical_repo(&value).to_owned());
        state.draft_rev.set("main".to_owned());
        state.draft_file.set(String::new());
        analyse_from_fields(state);
    };
    let on_file = move |event: web_sys::Event| {
        let input = event
            .target()
            .and_then(|target| target.dyn_into::<HtmlInputElement>().ok());
        if let Some(file) = input
            .as_ref()
            .and_then(|i| i.files())
            .and_then(|files| files.get(0))
        {
            state.settings.update(|s| s.tensor = None);
            actions::start_run(state, RunSource::Local(file));
        }
        // Allow picking the same file again.
        if let Some(input) = input {
            input.set_value("");
        }
    };
    let on_drop = move |event: DragEvent| {
        event.prevent_default();
        is_dragging.set(false);
        let file = event
            .data_transfer()
            .and_then(|transfer| transfer.files())
            .and_then(|files| files.get(0));
        if let Some(file) = file {
            state.settings.update(|s| s.tensor = None);
            actions::start_run(state, RunSource::Local(file));
        }
    };
    let on_sample = move |_| {
        state.settings.update(|s| s.tensor = None);
        actions::start_run(state, RunSource::Sample);
    };
    let on_pick_tensor = move |event: web_sys::Event| {
        let name = event_target_value(&event);
        if name.is_empty() {
            return;
        }
        change_analysis(state, |s| s.tensor = Some(name));
    };

    let candidates = move || {
        state.file_info.with(|info| {
            info.as_ref()
                .map(|i| i.candidates.clone())
                .unwrap_or_default()
        })
    };
    let selected_tensor = move || {
        state
            .result
            .with(|r| r.as_ref().map(|r| r.view.tensor_name.clone()))
            .or_else(|| state.settings.with(|s| s.tensor.clone()))
            .unwrap_or_default()
    };
    let source_label = move || {
        state
            .file_info
            .with(|info| match info.as_ref().map(|i| &i.kind) {
                Some(SourceKind::Local(name)) => format!("Local file: {name}"),
                Some(SourceKind::Sample) => crate::web::io::source::SAMPLE_LABEL.to_owned(),
                Some(SourceKind::Hub) => String::new(),
                None => String::new(),
            })
    };

    view! {
        <section class="card source-panel">
            <h2>"Source"</h2>
            <form class="source-form" on:submit=on_submit>
                <label class="field grow">
                    <span>"Hub repository"</span>
                    <input
                        data-testid="repo-input"
                        type="text"
                        list="repo-presets"
                        spellcheck="false"
                        placeholder="owner/name, e.g. gpt2"
                        prop:value=move || state.draft_repo.get()
                        on:input=move |ev| state.draft_repo.set(event_target_value(&ev))
                    />
                    <datalist id="repo-presets">
                        {PRESET_REPOS.iter().chain(std::iter::once(&ALIAS_PRESET)).map(|repo| view! { <option value=*repo></option> }).collect_view()}
                    </datalist>
                </label>
                <label class="field">
                    <span>"Preset"</span>
                    <select data-testid="preset" on:change=on_preset>
                        <option value="">"Choose…"</option>
                        {PRESET_REPOS.iter().map(|repo| view! { <option value=*repo>{*repo}</option> }).collect_view()}
                        <option value=ALIAS_PRESET>"gpt2-small (TransformerLens name for gpt2)"</option>
                    </select>
                </label>
                <label class="field">
                    <span>"Revision"</span>
                    <input
                        data-testid="rev-input"
                        type="text"
                        spellcheck="false"
                        placeholder="main"
                        prop:value=move || state.draft_rev.get()
                        on:input=move |ev| state.draft_rev.set(event_target_value(&ev))
                    />
                </label>
                <label class="field">
                    <span>"File (optional)"</span>
                    <input
                        data-testid="file-input"
                        type="text"
                        spellcheck="false"
                        placeholder="model.safetensors"
                        prop:value=move || state.draft_file.get()
                        on:input=move |ev| state.draft_file.set(event_target_value(&ev))
                    />
                </label>
                <div class="field actions">
                    <button data-testid="analyse" type="submit" class="primary">"Analyse"</button>
                </div>
            </form>

            <div
                class="dropzone"
                class:dragging=move || is_dragging.get()
                on:dragover=move |ev: DragEvent| {
                    ev.prevent_default();
                    is_dragging.set(true);
                }
                on:dragleave=move |_| is_dragging.set(false)
                on:drop=on_drop
            >
                <span>"Or analyse a local "<code>".safetensors"</code>" file (drop it here; nothing is uploaded):"</span>
                <input data-testid="local-file" type="file" accept=".safetensors" aria-label="Local .safetensors file" on:change=on_file/>
                <span class="or">"or"</span>
                <button data-testid="use-sample" type="button" on:click=on_sample>
                    "Use the built-in sample (all-MiniLM-L6-v2)"
                </button>
            </div>
            <p class="source-label">{source_label}</p>

            <div class="options">
                <label class="field grow">
                    <span>"Tensor"</span>
                    <select
                        data-testid="tensor-picker"
                        on:change=on_pick_tensor
                        prop:disabled=move || candidates().is_empty()
                    >
                        {move || {
                            let selected = selected_tensor();
                            let list = candidates();
                            if list.is_empty() {
                                view! { <option value="">"(open a file to list its matrices)"</option> }.into_any()
                            } else {
                                list.into_iter()
                                    .map(|view| {
                                        let is_selected = view.tensor_name == selected;
                                        let label = format!("{}  [{} × {}]  {}", view.tensor_name, view.n_rows, view.n_cols, view.dtype);
                                        view! { <option value=view.tensor_name.clone() selected=is_selected>{label}</option> }
                                    })
                                    .collect_view()
                                    .into_any()
                            }
                        }}
                    </select>
                </label>
                <label class="field small">
                    <span>"Drop first"</span>
                    <input
                        data-testid="drop"
                        type="number"
                        min="0"
                        max="4096"
                        prop:value=move || state.settings.with(|s| s.drop_count.to_string())
                        on:change=move |ev| {
                            if let Some(count) = parse_count(&event_target_value(&ev)) {
                                change_analysis(state, |s| s.drop_count = count.min(crate::pure::url_state::MAX_DROP_COUNT));
                            }
                        }
                    />
                </label>
                <label class="field small">
                    <span>"Drop axis"</span>
                    <select
                        data-testid="drop-axis"
                        on:change=move |ev| {
                            let axis = if event_target_value(&ev) == "rows" { DropAxis::Rows } else { DropAxis::Cols };
                            change_analysis(state, |s| s.drop_axis = axis);
                        }
                    >
                        <option value="cols" selected=move || state.settings.with(|s| s.drop_axis == DropAxis::Cols)>"columns"</option>
                        <option value="rows" selected=move || state.settings.with(|s| s.drop_axis == DropAxis::Rows)>"rows (positions)"</option>
                    </select>
                </label>
                <label class="field small">
                    <span>"Vectors k"</span>
                    <input
                        data-testid="k"
                        type="number"
                        min="1"
                        max="1024"
                        prop:value=move || state.settings.with(|s| s.k_vectors.to_string())
                        on:change=move |ev| {
                            if let Some(k) = parse_count(&event_target_value(&ev)) {
                                change_analysis(state, |s| s.k_vectors = k.clamp(1, crate::pure::url_state::MAX_K_VECTORS));
                            }
                        }
                    />
                </label>
                <label class="check">
                    <input
                        data-testid="center"
                        type="checkbox"
                        prop:checked=move || state.settings.with(|s| s.center_rows)
                        on:change=move |ev| {
                            let checked = event_target_checked(&ev);
                            change_analysis(state, |s| s.center_rows = checked);
                        }
                    />
                    <span>"Centre rows (TransformerLens default)"</span>
                </label>
            </div>
        </section>
    }
}
