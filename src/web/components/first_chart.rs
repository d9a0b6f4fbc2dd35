//! The first chart: the singular-value histograms of the full and the dropped analysis, with
//! the rank card. They appear as soon as the workers have sent the singular values, before the
//! vectors (`data-values-ms` is measured to the moment they are in the document).

use leptos::prelude::*;

use crate::pure::analysis::{approx_rank, DropAxis};
use crate::web::components::histogram::Histogram;
use crate::web::components::rank::RankCard;
use crate::web::state::AppState;

/// Whether the state's result includes the analysis after dropping (tracked).
pub fn has_dropped(state: AppState) -> bool {
    state
        .result
        .with(|r| r.as_ref().is_some_and(|r| r.analysis.dropped.is_some()))
}

/// "after dropping the first 5 columns", for the titles of the dropped part's cards (tracked;
/// empty without a result).
pub fn drop_label(state: AppState) -> String {
    state.result.with(|r| {
        r.as_ref()
            .map(|r| {
                let axis = match r.analysis.options.drop_axis {
                    DropAxis::Cols => "columns",
                    DropAxis::Rows => "rows",
                };
                format!(
                    "after dropping the first {} {axis}",
                    r.analysis.options.drop_count
                )
            })
            .unwrap_or_default()
    })
}

/// The singular-value histograms of the full and the dropped analysis, and the rank card,
/// drawn from the state's result once `mounted` is true.
#[component]
pub fn FirstChart(
    /// When the cards show their content (one step for all three).
    mounted: Signal<bool>,
) -> impl IntoView {
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
                mounted=mounted
            />
            <Show when=with_dropped>
                <Histogram
                    title=Signal::derive(move || format!("Singular values {}", drop_label(state)))
                    values=dropped_values
                    threshold=threshold
                    dropped=true
                    mounted=mounted
                />
            </Show>
        </section>
        <RankCard
            rank_full=rank_full
            rank_dropped=rank_dropped
            has_dropped=Signal::derive(with_dropped)
            mounted=mounted
        />
    }
}
