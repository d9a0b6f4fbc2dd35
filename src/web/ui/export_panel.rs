//! The data downloads (CSV, NPZ and NPY of `S`, `U[:, :k]`, `Vᵀ[:k]`) and "Copy as Python".
//! Everything written comes from `pure::export`; this card only gathers the inputs and saves.

use leptos::prelude::*;

use crate::pure::export::{
    export_arrays, export_file_name, npy_entries, python_snippet, singular_values_csv, svd_npz,
    ExportArrays, ExportMeta, NpyPrecision, SnippetSource, SnippetSpec, APP_VERSION,
};
use crate::pure::source::decode::decode_matrix;
use crate::web::run::state::{AppState, SourceKind, RUNTIME};
use crate::web::ui::download::save_bytes;
use crate::web::ui::export_toolbar::export_subject;
use crate::web::ui::progress::copy_text;
use crate::web::ui::stages::{mount_flag, Gate};

/// How many of the largest singular values the Python snippet prints.
const SNIPPET_TOP_VALUES: usize = 10;

/// The arrays of the analysis shown, from the tensor bytes kept since it was fetched.
fn current_arrays(state: AppState) -> Result<Vec<ExportArrays>, String> {
    let Some(result) = state.result.get_untracked() else {
        return Err("Nothing is analysed yet.".to_owned());
    };
    let view = &result.view;
    let bytes = RUNTIME
        .with(|cell| {
            cell.borrow()
                .tensors
                .get(&view.tensor_name)
                .map(|t| t.bytes.clone())
        })
        .ok_or_else(|| {
            "The tensor's bytes are no longer in memory; press Analyse again, then export."
                .to_owned()
        })?;
    let matrix = decode_matrix(
        &bytes,
        view.dtype,
        view.n_rows,
        view.n_cols,
        &view.tensor_name,
    )
    .map_err(|err| err.to_string())?;
    export_arrays(&matrix, &result.analysis).map_err(|err| err.to_string())
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
    let on_npz = move |_| {
        let file = name("svd", "npz");
        let outcome = current_arrays(state).and_then(|arrays| {
            let meta = current_meta(state).ok_or_else(|| "Nothing is analysed yet.".to_owned())?;
            let bytes =
                svd_npz(&arrays, &meta, NpyPrecision::F64).map_err(|err| err.to_string())?;
            save_bytes(&bytes, "application/octet-stream", &file)?;
            Ok(format!("Saved {file}"))
        });
        report(outcome);
    };
    // One button per array of the full analysis: 0 = S, 1 = U, 2 = Vt.
    let on_npy = move |index: usize| {
        let outcome = current_arrays(state).and_then(|arrays| {
            let full = arrays
                .first()
                .ok_or_else(|| "Nothing is analysed yet.".to_owned())?;
            let entries = npy_entries(full, NpyPrecision::F64).map_err(|err| err.to_string())?;
            let entry = entries
                .get(index)
                .ok_or_else(|| "Unknown array.".to_owned())?;
            let what = match entry.name.as_str() {
                "U" | "Vt" => format!("{}{}", entry.name, full.k),
                other => other.to_owned(),
            };
            let file = name(&what, "npy");
            save_bytes(&entry.bytes, "application/octet-stream", &file)?;
            Ok(format!("Saved {file}"))
        });
        report(outcome);
    };
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
            <div class="export-actions">
                <button type="button" data-testid="download-csv" on:click=on_csv
                    title="Singular values with energy share and cumulative share, full and dropped">
                    "CSV"
                </button>
                <button type="button" data-testid="download-npz" on:click=on_npz
                    title="numpy archive: S, U, Vt of both analyses and meta.json">
                    "NPZ"
                </button>
                <button type="button" data-testid="download-npy-s" on:click=move |_| on_npy(0)>"S.npy"</button>
                <button type="button" data-testid="download-npy-u" on:click=move |_| on_npy(1)>"U.npy"</button>
                <button type="button" data-testid="download-npy-vt" on:click=move |_| on_npy(2)>"Vt.npy"</button>
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
