//! The top-level component: header, source panel, status, and the result cards.

use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

use crate::pure::url_state;
use crate::web::run as actions;
use crate::web::run::state::{AppState, ResultInfo};
use crate::web::ui::compare_view::CompareSection;
use crate::web::ui::errors::{ErrorPanel, OffsetNote, UrlNotes};
use crate::web::ui::export_panel::DataExports;
use crate::web::ui::first_chart::{self, FirstChart};
use crate::web::ui::heatmap::{ColorRangeControl, Heatmap};
use crate::web::ui::hub_confirm::HubConfirm;
use crate::web::ui::line_plot::LinePlot;
use crate::web::ui::offline::{KeepOffline, OfflineBadge, OfflineNote, SavedPanel, UpdateBanner};
use crate::web::ui::progress::StatusPanel;
use crate::web::ui::source_panel::SourcePanel;
use crate::web::ui::stages::{mount_flag, Gate};
use crate::web::ui::sv_table::SvTable;
use crate::web::ui::views::ViewsSection;

/// Mounts the app on the page body and starts the first analysis.
pub fn start_app() {
    console_error_panic_hook::set_once();
    crate::web::platform::perf::start_longtask_observer();
    leptos::mount::mount_to_body(App);
}

/// The whole page.
#[component]
pub fn App() -> impl IntoView {
    let decoded = url_state::decode_query(&actions::current_query());
    let state = AppState::new(decoded.settings, decoded.notes);
    provide_context(state);
    crate::web::run::offline::start(state);

    // Back and forward re-read the settings from the URL.
    let on_pop = Closure::<dyn FnMut(web_sys::Event)>::new(move |_event: web_sys::Event| {
        let decoded = url_state::decode_query(&actions::current_query());
        let previous = state.settings.get_untracked();
        state.url_notes.set(decoded.notes);
        actions::apply_settings(state, decoded.settings, &previous);
    });
    if let Some(window) = web_sys::window() {
        let _ignored =
            window.add_event_listener_with_callback("popstate", on_pop.as_ref().unchecked_ref());
    }
    // The listener lives as long as the page.
    on_pop.forget();

    // The default view is exactly the notebook's analysis, started at once (after one click
    // when the link names another Hub).
    actions::start_first_run(state);

    let has_result = move || state.result.with(Option::is_some);
    let shows_first_chart = move || first_chart::is_shown(state);

    view! {
        <header class="site-header">
            <div class="brand">
                <h1>"poslens" <OfflineBadge/></h1>
                <p class="tagline">
                    "Look inside a transformer's learned positional embeddings: fetch W_pos straight from the Hugging Face Hub (only the bytes needed), take its SVD in background workers, and see its spectrum, rank and singular vectors."
                </p>
            </div>
        </header>
        <main class="layout">
            <UpdateBanner/>
            <UrlNotes/>
            <HubConfirm/>
            <SourcePanel/>
            <SavedPanel/>
            <StatusPanel/>
            <OfflineNote/>
            <ErrorPanel/>
            <KeepOffline/>
            <OffsetNote/>
            <Show when=shows_first_chart fallback=|| view! { <EmptyState/> }>
                <FirstChart/>
                <Show when=has_result>
                    <Results/>
                </Show>
            </Show>
            <CompareSection/>
        </main>
        <footer class="site-footer">
            "Singular values and vectors are computed in your browser; nothing is uploaded. Settings live in the URL, so any view can be shared."
        </footer>
    }
}

/// Shown before the first results arrive.
#[component]
fn EmptyState() -> impl IntoView {
    view! {
        <section class="card empty">
            <p>
                "Results appear here. Pick a model above and press Analyse, open a local .safetensors file, or try the built-in sample."
            </p>
        </section>
    }
}

/// Every chart and table for the current results after the first chart (which stands on the
/// page before them: see [`FirstChart`]).
#[component]
fn Results() -> impl IntoView {
    let state = expect_context::<AppState>();
    // One decoded matrix per result, for the views and the data exports.
    crate::web::ui::view_data::provide_view_input(state);
    let has_dropped = move || first_chart::has_dropped(state);
    let drop_label = move || first_chart::drop_label(state);
    let top_k = |r: &ResultInfo, dropped: bool, limit: usize| -> Vec<Vec<f64>> {
        let summary = if dropped {
            r.analysis.dropped.as_ref()
        } else {
            Some(&r.analysis.full)
        };
        summary
            .map(|s| s.u_top_k.iter().take(limit).cloned().collect())
            .unwrap_or_default()
    };
    let full_top5 = Signal::derive(move || {
        state
            .result
            .with(|r| r.as_ref().map(|r| top_k(r, false, 5)).unwrap_or_default())
    });
    let dropped_top5 = Signal::derive(move || {
        state
            .result
            .with(|r| r.as_ref().map(|r| top_k(r, true, 5)).unwrap_or_default())
    });
    let full_topk = Signal::derive(move || {
        state.result.with(|r| {
            r.as_ref()
                .map(|r| top_k(r, false, usize::MAX))
                .unwrap_or_default()
        })
    });
    let dropped_topk = Signal::derive(move || {
        state.result.with(|r| {
            r.as_ref()
                .map(|r| top_k(r, true, usize::MAX))
                .unwrap_or_default()
        })
    });
    let k_label = move || {
        state
            .result
            .with(|r| r.as_ref().map_or(0, |r| r.analysis.full.u_top_k.len()))
    };
    // A memo, so that other settings changes (such as the threshold) do not recompute limits.
    let color_clip: Signal<Option<f64>> =
        Memo::new(move |_| state.settings.with(|s| s.color_clip)).into();
    view! {
        <AfterFirstChart>
        <ColorRangeControl/>
        <section class="pair">
            <Heatmap
                title=Signal::derive(|| "First 5 left singular vectors".to_owned())
                rows=full_top5
                compact=true
                clip=color_clip
            />
            <Show when=has_dropped>
                <Heatmap
                    title=Signal::derive(move || format!("First 5 left singular vectors {}", drop_label()))
                    rows=dropped_top5
                    compact=true
                    clip=color_clip
                    dropped=true
                />
            </Show>
        </section>
        <section class="pair">
            <LinePlot
                title=Signal::derive(|| "First 5 left singular vectors vs position".to_owned())
                rows=full_top5
            />
            <Show when=has_dropped>
                <LinePlot
                    title=Signal::derive(move || format!("First 5 left singular vectors {}", drop_label()))
                    rows=dropped_top5
                    dropped=true
                />
            </Show>
        </section>
        <section class="pair">
            <Heatmap
                title=Signal::derive(move || format!("First {} left singular vectors", k_label()))
                rows=full_topk
                compact=false
                clip=color_clip
            />
            <Show when=has_dropped>
                <Heatmap
                    title=Signal::derive(move || format!("First {} left singular vectors {}", k_label(), drop_label()))
                    rows=dropped_topk
                    compact=false
                    clip=color_clip
                    dropped=true
                />
            </Show>
        </section>
        <SvTable/>
        <DataExports/>
        <ViewsSection/>
        </AfterFirstChart>
    }
}

/// Renders its children in a queued step of its own, after the steps queued before it: the
/// histograms and the rank (the first chart) mount before the other cards' code first runs,
/// which on a first visit includes the browser compiling that code.
#[component]
fn AfterFirstChart(children: ChildrenFn) -> impl IntoView {
    let shown = mount_flag(Gate::Results);
    view! { <Show when=move || shown.get()>{children()}</Show> }
}
