//! The approximate rank at a relative threshold, with a live threshold slider that
//! recomputes the rank from the singular values (no re-run).

use leptos::prelude::*;

use crate::web::run as actions;
use crate::web::run::state::AppState;
use crate::web::ui::stages::{mount_flag, Gate};

/// The rank card.
#[component]
pub fn RankCard(
    /// The rank of the full matrix at the current threshold.
    rank_full: Signal<usize>,
    /// The rank after dropping, at the current threshold.
    rank_dropped: Signal<usize>,
    /// Whether a dropped analysis exists.
    has_dropped: Signal<bool>,
    /// When the card shows its content: a step shared with other cards, or (by default) a
    /// step of its own.
    #[prop(optional)]
    mounted: Option<Signal<bool>>,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let threshold = move || state.settings.with(|s| s.threshold_rel);
    let n_values = move || {
        state.result.with(|r| {
            r.as_ref()
                .map_or(0, |r| r.analysis.full.singular_values.len())
        })
    };
    let n_values_dropped = move || {
        state.result.with(|r| {
            r.as_ref()
                .and_then(|r| r.analysis.dropped.as_ref())
                .map_or(0, |d| d.singular_values.len())
        })
    };
    // Until the values arrive the card stands without numbers.
    let has_values = move || n_values() > 0;
    let shows_dropped = move || has_dropped.get() && n_values_dropped() > 0;
    let on_input = move |ev: web_sys::Event| {
        if let Ok(value) = event_target_value(&ev).trim().parse::<f64>() {
            if value.is_finite() && value > 0.0 && value < 1.0 {
                state.settings.update(|s| s.threshold_rel = value);
                // Sliders replace the history entry rather than adding one per step.
                actions::write_url(&state.settings.get_untracked(), false);
            }
        }
    };

    let shown = mounted.unwrap_or_else(|| mount_flag(Gate::Results));
    view! {
        <Show when=move || shown.get()>
        <section class="card rank-card">
            <div class="rank-head">
                <h3>"Approximate rank"</h3>
                <p class="caption">
                    "Number of singular values above threshold × the largest one. The notebook used 1%."
                </p>
            </div>
            <div class="rank-body">
                <label class="slider">
                    <span>"Threshold "<strong class="mono">{move || format!("{:.2}%", threshold() * 100.0)}</strong></span>
                    <input
                        data-testid="threshold"
                        type="range"
                        min="0.0001"
                        max="0.5"
                        step="0.0001"
                        prop:value=move || threshold().to_string()
                        aria-valuetext=move || format!("{:.2}%", threshold() * 100.0)
                        on:input=on_input
                    />
                </label>
                <div class="rank-values">
                    <Show
                        when=has_values
                        fallback=|| view! { <p class="caption waiting">"Computing the singular values…"</p> }
                    >
                    <div class="rank-value">
                        <span class="big" data-testid="rank">{move || rank_full.get().to_string()}</span>
                        <span class="sub">{move || format!("of {} (full W_pos)", n_values())}</span>
                    </div>
                    <Show when=shows_dropped>
                        <div class="rank-value">
                            <span class="big" data-testid="rank-dropped">{move || rank_dropped.get().to_string()}</span>
                            <span class="sub">{move || format!("of {} (after dropping)", n_values_dropped())}</span>
                        </div>
                    </Show>
                    </Show>
                </div>
            </div>
        </section>
        </Show>
    }
}
