//! The data downloads (CSV, NPZ and NPY of `S`, `U[:, :k]`, `Vᵀ[:k]`) and "Copy as Python".
//! Everything written comes from `pure::export`; this card only gathers the inputs and saves.
//!
//! The arrays are built from the matrix the views decoded ([`view_input`]), never from the
//! tensor's bytes again: on the first NPZ or NPY click of a result, `Vᵀ` is recovered a few
//! rows per step and each `.npy` file is written in a step of its own, in browser tasks of a
//! few milliseconds each, while the card shows the progress and the data buttons wait; the
//! file is saved when they are ready, and later clicks save from the same files at once.

use std::sync::Arc;

use leptos::prelude::*;

use crate::pure::export::{
    export_file_name, npy_entry, python_snippet, singular_values_csv, svd_npz_of_entries,
    ExportArrays, ExportArraysBuilder, ExportMeta, NpyEntry, NpyPrecision, SnippetSource,
    SnippetSpec, APP_VERSION, NPY_ENTRIES_PER_ANALYSIS,
};
use crate::web::platform::js::{now_ms, yield_to_browser};
use crate::web::run::state::{AppState, SourceKind};
use crate::web::ui::download::save_bytes;
use crate::web::ui::export_toolbar::export_subject;
use crate::web::ui::progress::copy_text;
use crate::web::ui::stages::{mount_flag, Gate, ELEMENTS_PER_STEP};
use crate::web::ui::view_data::{view_input, ViewInput, ViewInputSignal};

/// How many of the largest singular values the Python snippet prints.
const SNIPPET_TOP_VALUES: usize = 10;

/// How long the steps of the arrays' build may follow one another in one browser task, in
/// milliseconds. A task runs at most this plus its last step (one row of `Vᵀ`, or one copy of
/// the matrix).
const STEP_BUDGET_MS: f64 = 8.0;

/// A file of the data export that needs the arrays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataFile {
    /// The `.npz` archive of both analyses.
    Npz,
    /// One `.npy` of the full analysis: 0 = S, 1 = U, 2 = Vt.
    Npy(usize),
}

/// The arrays built from one views' input, written as `.npy` files.
#[derive(Debug, Clone)]
struct BuiltArrays {
    /// The input they were built from.
    input: ViewInput,
    /// `S`, `U`, `Vt` of the full analysis, then those of the dropped one.
    entries: Arc<Vec<NpyEntry>>,
    /// How many singular vectors the full analysis exports.
    k: usize,
}

/// `meta.json` for the analysis shown.
fn current_meta(state: AppState) -> Option<ExportMeta> {
    let result = state.result.get_untracked()?;
    let info = state.file_info.get_untracked()?;
    let settings = state.settings.get_untracked();
    let is_hub = info.kind == SourceKind::Hub;
    let source = match info.kind {
        SourceKind::Hub => "hub",
        SourceKind::Local(_) => "local",
        SourceKind::Sample => "sample",
    };
    Some(ExportMeta {
        app: "poslens".to_owned(),
        app_version: APP_VERSION.to_owned(),
        source: source.to_owned(),
        hub: is_hub.then(|| settings.hub.clone()),
        repo: is_hub.then(|| info.repo.clone()),
        commit: info.commit_sha.clone(),
        file: info.file_path.clone(),
        tensor: result.view.tensor_name.clone(),
        shape: result.view.original_shape.clone(),
        matrix_shape: [result.view.n_rows, result.view.n_cols],
        dtype: result.view.dtype.to_string(),
        settings: result.analysis.options.clone(),
        arrays: Default::default(),
    })
}

/// The Python snippet for the analysis shown.
fn current_snippet(state: AppState) -> Option<String> {
    let result = state.result.get()?;
    let info = state.file_info.get()?;
    let hub = state.settings.with(|s| s.hub.clone());
    let revision = info
        .commit_sha
        .clone()
        .unwrap_or_else(|| state.settings.with(|s| s.rev.clone()));
    let source = match info.kind {
        SourceKind::Hub => SnippetSource::Hub {
            endpoint: &hub,
            repo: &info.repo,
            revision: &revision,
            file: &info.file_path,
        },
        SourceKind::Local(_) | SourceKind::Sample => SnippetSource::Local {
            path: &info.file_path,
        },
    };
    let dtype = result.view.dtype.to_string();
    Some(python_snippet(&SnippetSpec {
        source,
        tensor: &result.view.tensor_name,
        dtype: &dtype,
        n_rows: result.view.n_rows,
        n_cols: result.view.n_cols,
        options: &result.analysis.options,
        n_top: SNIPPET_TOP_VALUES,
    }))
}

/// Saves `file` from the arrays of the analysis shown.
fn save_file(state: AppState, file: DataFile, built: &BuiltArrays) -> Result<String, String> {
    let name =
        |what: &str, extension: &str| export_file_name(&export_subject(state), what, extension);
    match file {
        DataFile::Npz => {
            let file = name("svd", "npz");
            let meta = current_meta(state).ok_or_else(|| "Nothing is analysed yet.".to_owned())?;
            let bytes = svd_npz_of_entries(&built.entries, &meta).map_err(|err| err.to_string())?;
            save_bytes(&bytes, "application/octet-stream", &file)?;
            Ok(format!("Saved {file}"))
        }
        DataFile::Npy(index) => {
            // The full analysis' entries come first.
            let entry = built
                .entries
                .get(index)
                .filter(|_| index < NPY_ENTRIES_PER_ANALYSIS)
                .ok_or_else(|| "Unknown array.".to_owned())?;
            let what = match entry.name.as_str() {
                "U" | "Vt" => format!("{}{}", entry.name, built.k),
                other => other.to_owned(),
            };
            let file = name(&what, "npy");
            save_bytes(&entry.bytes, "application/octet-stream", &file)?;
            Ok(format!("Saved {file}"))
        }
    }
}

/// Builds the arrays of `input` in steps, a few milliseconds of work per browser task, showing
/// the progress in `message`; then keeps them in `built` and saves the file `waiting` asks
/// for. Gives up quietly when a newer result replaces `input`.
fn build_arrays(
    state: AppState,
    input: ViewInput,
    current: ViewInputSignal,
    built: RwSignal<Option<BuiltArrays>>,
    waiting: RwSignal<Option<DataFile>>,
    building: StoredValue<Option<ViewInput>>,
    message: RwSignal<String>,
) {
    let fail = move |problem: String| {
        building.set_value(None);
        let _ignored = waiting.try_set(None);
        let _ignored = message.try_set(problem);
    };
    let builder = ExportArraysBuilder::new(
        Arc::clone(&input.w),
        Arc::clone(&input.analysis),
        ELEMENTS_PER_STEP,
    );
    let builder = match builder {
        Ok(builder) => builder,
        Err(err) => return fail(err.to_string()),
    };
    // The rows of Vᵀ, then each .npy entry in a step of its own.
    let n_parts = 1 + usize::from(input.analysis.dropped.is_some());
    let total_steps = builder.step_count() + n_parts * NPY_ENTRIES_PER_ANALYSIS;
    leptos::task::spawn_local(async move {
        let mut builder = Some(builder);
        let mut arrays = Vec::<ExportArrays>::new();
        let mut entries = Vec::<NpyEntry>::new();
        let mut steps_done = 0_usize;
        loop {
            // Each step starts in a browser task of its own after the click (or the last
            // step), so that no task holds the main thread for long.
            yield_to_browser().await;
            let still_current = current
                .try_with_untracked(|c| matches!(c, Some(Ok(c)) if *c == input))
                .unwrap_or(false);
            if !still_current {
                if building.try_with_value(|b| b.as_ref() == Some(&input)) == Some(true) {
                    building.set_value(None);
                }
                return;
            }
            let started = now_ms();
            let done = loop {
                let step = if let Some(rows) = builder.as_mut() {
                    match rows.step() {
                        Ok(true) => {
                            arrays = builder
                                .take()
                                .and_then(ExportArraysBuilder::into_arrays)
                                .unwrap_or_default();
                            Ok(false)
                        }
                        Ok(false) => Ok(false),
                        Err(err) => Err(err.to_string()),
                    }
                } else {
                    let next = entries.len();
                    let entry = arrays
                        .get(next / NPY_ENTRIES_PER_ANALYSIS)
                        .and_then(|part| {
                            npy_entry(part, next % NPY_ENTRIES_PER_ANALYSIS, NpyPrecision::F64)
                        });
                    match entry {
                        None => Ok(true),
                        Some(Ok(entry)) => {
                            entries.push(entry);
                            Ok(false)
                        }
                        Some(Err(err)) => Err(err.to_string()),
                    }
                };
                steps_done += 1;
                match step {
                    Ok(true) => break true,
                    Ok(false) if now_ms() - started >= STEP_BUDGET_MS => break false,
                    Ok(false) => {}
                    Err(problem) => return fail(problem),
                }
            };
            if done {
                break;
            }
            let percent = (100 * steps_done / total_steps.max(1)).min(99);
            let _ignored = message.try_set(format!("Preparing the arrays: {percent} %"));
        }
        if entries.is_empty() {
            return fail("The arrays were not finished; press the button again.".to_owned());
        }
        let finished = BuiltArrays {
            input,
            entries: Arc::new(entries),
            k: arrays.first().map_or(0, |full| full.k),
        };
        drop(arrays);
        building.set_value(None);
        let _ignored = built.try_set(Some(finished.clone()));
        if let Some(file) = waiting.try_get_untracked().flatten() {
            waiting.set(None);
            let outcome = save_file(state, file, &finished);
            let _ignored = message.try_set(match outcome {
                Ok(text) | Err(text) => text,
            });
        }
    });
}

/// The data-export card.
#[component]
pub fn DataExports() -> impl IntoView {
    let state = expect_context::<AppState>();
    let message = RwSignal::new(String::new());
    let snippet = Memo::new(move |_| current_snippet(state).unwrap_or_default());
    let name = move |what: &str, extension: &str| {
        export_file_name(&export_subject(state), what, extension)
    };
    let report = move |result: Result<String, String>| match result {
        Ok(text) | Err(text) => message.set(text),
    };

    let on_csv = move |_| {
        let Some(result) = state.result.get_untracked() else {
            return;
        };
        let file = name("singular_values", "csv");
        let csv = singular_values_csv(&result.analysis);
        report(save_bytes(csv.as_bytes(), "text/csv", &file).map(|()| format!("Saved {file}")));
    };
    let input = view_input(state);
    let built = RwSignal::new(None::<BuiltArrays>);
    let waiting = RwSignal::new(None::<DataFile>);
    let building = StoredValue::new(None::<ViewInput>);

    // A new result drops the arrays of the last one (and the matrix they hold on to).
    Effect::new(move |_| {
        let current = input.with(|i| i.as_ref().and_then(|i| i.as_ref().ok()).cloned());
        let stale = built.with_untracked(|b| {
            b.as_ref()
                .is_some_and(|b| current.as_ref() != Some(&b.input))
        });
        if stale {
            built.set(None);
        }
    });
    // A file asked for before its arrays were ready: start their build once the matrix is.
    Effect::new(move |_| {
        if waiting.with(Option::is_none) {
            return;
        }
        match input.get() {
            None => message.set("Waiting for the matrix to be decoded…".to_owned()),
            Some(Err(problem)) => {
                waiting.set(None);
                message.set(problem);
            }
            Some(Ok(current)) => {
                if building.with_value(|b| b.as_ref() != Some(&current)) {
                    building.set_value(Some(current.clone()));
                    build_arrays(state, current, input, built, waiting, building, message);
                }
            }
        }
    });
    let on_data = move |file: DataFile| {
        let ready = input.with_untracked(|current| match current {
            Some(Ok(current)) => {
                built.with_untracked(|b| b.as_ref().filter(|b| &b.input == current).cloned())
            }
            _ => None,
        });
        match ready {
            Some(ready) => report(save_file(state, file, &ready)),
            None => {
                message.set("Preparing the arrays…".to_owned());
                waiting.set(Some(file));
            }
        }
    };
    let preparing = move || waiting.with(Option::is_some);
    let on_copy = move |_| {
        let text = snippet.get_untracked();
        leptos::task::spawn_local(async move {
            let copied = copy_text(&text).await;
            message.set(if copied {
                "Python snippet copied".to_owned()
            } else {
                "Copy failed: select the snippet below and copy it".to_owned()
            });
        });
    };

    let shown = mount_flag(Gate::Results);
    view! {
        <Show when=move || shown.get()>
        <section class="card export-card" aria-labelledby="export-heading">
            <header class="chart-head">
                <h3 id="export-heading">"Export the results"</h3>
                <span class="copy-state" role="status" data-testid="export-message">{move || message.get()}</span>
            </header>
            <div class="export-actions" aria-busy=move || preparing().to_string()>
                <button type="button" data-testid="download-csv" on:click=on_csv
                    title="Singular values with energy share and cumulative share, full and dropped">
                    "CSV"
                </button>
                <button type="button" data-testid="download-npz" on:click=move |_| on_data(DataFile::Npz)
                    disabled=preparing title="numpy archive: S, U, Vt of both analyses and meta.json">
                    "NPZ"
                </button>
                <button type="button" data-testid="download-npy-s" disabled=preparing
                    on:click=move |_| on_data(DataFile::Npy(0))>"S.npy"</button>
                <button type="button" data-testid="download-npy-u" disabled=preparing
                    on:click=move |_| on_data(DataFile::Npy(1))>"U.npy"</button>
                <button type="button" data-testid="download-npy-vt" disabled=preparing
                    on:click=move |_| on_data(DataFile::Npy(2))>"Vt.npy"</button>
                <button type="button" data-testid="copy-python" on:click=on_copy>"Copy as Python"</button>
            </div>
            <p class="caption">
                "CSV: every singular value with its energy share (σ²/Σσ²) and cumulative share, for both analyses. "
                "NPZ/NPY: S, the first k columns of U and the first k rows of Vᵀ as float64, loadable with numpy.load. "
                "Python: loads the same tensor from the same commit and prints the same ranks and singular values."
            </p>
            <details class="snippet">
                <summary>"Python snippet"</summary>
                <pre data-testid="python-snippet" tabindex="0">{move || snippet.get()}</pre>
            </details>
        </section>
        </Show>
    }
}
