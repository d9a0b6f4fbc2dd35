//! Every singular value with its energy share and cumulative share; copyable as TSV.

use leptos::prelude::*;

use crate::pure::analysis::SvdSummary;
use crate::pure::export::singular_values_tsv;
use crate::web::components::progress::copy_text;
use crate::web::state::AppState;

/// The results table card (full matrix, and after dropping when present).
#[component]
pub fn SvTable() -> impl IntoView {
    let state = expect_context::<AppState>();
    let show_dropped = RwSignal::new(false);
    let copy_state = RwSignal::new(String::new());
    let summary = move || {
        state.result.with(|r| {
            r.as_ref().and_then(|r| {
                if show_dropped.get() {
                    r.analysis.dropped.clone()
                } else {
                    Some(r.analysis.full.clone())
                }
            })
        })
    };
    let full = Memo::new(move |_| {
        state
            .result
            .with(|r| r.as_ref().map(|r| r.analysis.full.clone()))
    });
    let dropped = Memo::new(move |_| {
        state
            .result
            .with(|r| r.as_ref().and_then(|r| r.analysis.dropped.clone()))
    });
    let threshold = move || state.settings.with(|s| s.threshold_rel);
    let on_copy = move |_| {
        let text = summary()
            .map(|s| singular_values_tsv(&s))
            .unwrap_or_default();
        leptos::task::spawn_local(async move {
            let copied = copy_text(&text).await;
            copy_state.set(if copied {
                "Copied as TSV".to_owned()
            } else {
                "Copy failed".to_owned()
            });
        });
    };
    let rows_view = move |summary: Option<SvdSummary>, testid: &'static str| {
        let Some(summary) = summary else {
            return view! { <tbody data-testid=testid></tbody> }.into_any();
        };
        let cutoff = threshold() * summary.singular_values.first().copied().unwrap_or(0.0);
        view! {
            <tbody data-testid=testid>
                {summary.singular_values.iter().enumerate().map(|(i, &value)| {
                    let share = summary.energy_share.get(i).copied().unwrap_or(f64::NAN);
                    let cumulative = summary.cumulative_energy.get(i).copied().unwrap_or(f64::NAN);
                    view! {
                        <tr data-value=value.to_string() class:below=value <= cutoff>
                            <td>{i}</td>
                            <td class="mono">{format!("{value:.6}")}</td>
                            <td class="mono">{format!("{:.4}%", share * 100.0)}</td>
                            <td class="mono">{format!("{:.4}%", cumulative * 100.0)}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        }
        .into_any()
    };

    view! {
        <section class="card table-card">
            <header class="chart-head">
                <h3>"Singular values"</h3>
                <div class="table-actions">
                    <Show when=move || dropped.with(Option::is_some)>
                        <label class="check">
                            <input type="checkbox" prop:checked=move || show_dropped.get() on:change=move |ev| show_dropped.set(event_target_checked(&ev))/>
                            <span>"Show after dropping"</span>
                        </label>
                    </Show>
                    <button type="button" data-testid="copy-tsv" on:click=on_copy>"Copy as TSV"</button>
                    <span class="copy-state">{move || copy_state.get()}</span>
                </div>
            </header>
            <p class="caption">"Energy share is σ² / Σσ² (explained variance). Rows at or below the rank threshold are greyed."</p>
            <div class="table-scroll" tabindex="0" role="region" aria-label="Singular values table">
                <table class="sv-table">
                    <thead>
                        <tr><th>"#"</th><th>"σ"</th><th>"energy share"</th><th>"cumulative"</th></tr>
                    </thead>
                    {move || if show_dropped.get() {
                        rows_view(dropped.get(), "sv-table-dropped")
                    } else {
                        rows_view(full.get(), "sv-table")
                    }}
                </table>
            </div>
        </section>
    }
}
