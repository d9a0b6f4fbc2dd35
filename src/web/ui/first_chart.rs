//! The first chart: the singular-value histograms of the full and the dropped analysis, with
//! the rank card. The cards stand on the page, empty, from the moment the run's tensor is
//! chosen (`AppState::pending_options`), so that only their bars and numbers are left to draw
//! when the workers send the singular values, before the vectors (`data-values-ms` is measured
//! to the moment those are in the document).

use leptos::prelude::*;

use crate::pure::analysis::{approx_rank, AnalysisOptions, DropAxis};
use crate::web::run::state::AppState;
use crate::web::ui::histogram::Histogram;
use crate::web::ui::rank::RankCard;

/// The options of the analysis on the page: the result's, or while there is none, the options
/// of the analysis being computed (tracked).
fn shown_options(state: AppState) -> Option<AnalysisOptions> {
    state
        .result
        .with(|r| r.as_ref().map(|r| r.analysis.options.clone()))
        .or_else(|| state.pending_options.get())
}

/// Whether the analysis on the page includes the part after dropping (tracked).
pub fn has_dropped(state: AppState) -> bool {
    shown_options(state).is_some_and(|options| options.drop_count > 0)
}

/// "after dropping the first 5 columns", for the titles of the dropped part's cards (tracked;
/// empty without an analysis).
pub fn drop_label(state: AppState) -> String {
    shown_options(state)
        .map(|options| {
            let axis = match options.drop_axis {
                DropAxis::Cols => "columns",
                DropAxis::Rows => "rows",
            };
            format!("after dropping the first {} {axis}", options.drop_count)
        })
        .unwrap_or_default()
}

/// Whether the first chart stands on the page: with a result, or while one is computed
/// (tracked).
pub fn is_shown(state: AppState) -> bool {
    state.result.with(Option::is_some) || state.pending_options.with(Option::is_some)
}

/// The singular-value histograms of the full and the dropped analysis, and the rank card,
/// drawn from the state's result (empty until it has values). Each card mounts in a queued
/// step of its own: they mount before the values arrive, while the workers start, so no
/// single long task is needed to show them at once.
#[component]
pub fn FirstChart() -> impl IntoView {
    let state = expect_context::<AppState>();
    let full_values = Signal::derive(move || {
        state.result.with(|r| {
            r.as_ref()
                .map(|r| r.analysis.full.singular_values.clone())
                .unwrap_or_default()
        })
    });
    let dropped_values = Signal::derive(move || {
        state.result.with(|r| {
            r.as_ref()
                .and_then(|r| r.analysis.dropped.as_ref())
                .map(|d| d.singular_values.clone())
                .unwrap_or_default()
        })
    });
    let threshold = Signal::derive(move || state.settings.with(|s| s.threshold_rel));
    let rank_full = Signal::derive(move || approx_rank(&full_values.get(), threshold.get()));
    let rank_dropped = Signal::derive(move || approx_rank(&dropped_values.get(), threshold.get()));
    let with_dropped = move || has_dropped(state);
    view! {
        <section class="pair">
            <Histogram
                title=Signal::derive(|| "Singular values of W_pos".to_owned())
                values=full_values
                threshold=threshold
            />
            <Show when=with_dropped>
                <Histogram
                    title=Signal::derive(move || format!("Singular values {}", drop_label(state)))
                    values=dropped_values
                    threshold=threshold
                    dropped=true
                    />
            </Show>
        </section>
        <RankCard
            rank_full=rank_full
            rank_dropped=rank_dropped
            has_dropped=Signal::derive(with_dropped)
        />
    }
}
