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
    // Hundreds of rows (one per singular value): the body is written as one HTML string, which
    // the browser parses in one go, rather than element by element from WebAssembly. Every
    // piece of it is a formatted number, so nothing in it needs escaping.
    let rows_view = move |summary: Option<SvdSummary>, testid: &'static str| {
        let html = summary
            .map(|summary| rows_html(&summary, threshold()))
            .unwrap_or_default();
        view! { <tbody data-testid=testid inner_html=html></tbody> }
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

/// The table body's rows: index, σ, energy share and cumulative share, with the exact value
/// in `data-value` and the rows at or below the rank threshold marked `below`.
fn rows_html(summary: &SvdSummary, threshold_rel: f64) -> String {
    use std::fmt::Write as _;
    let cutoff = threshold_rel * summary.singular_values.first().copied().unwrap_or(0.0);
    let mut html = String::with_capacity(summary.singular_values.len() * 160);
    for (i, &value) in summary.singular_values.iter().enumerate() {
        let share = summary.energy_share.get(i).copied().unwrap_or(f64::NAN);
        let cumulative = summary
            .cumulative_energy
            .get(i)
            .copied()
            .unwrap_or(f64::NAN);
        let class = if value <= cutoff {
            r#" class="below""#
        } else {
            ""
        };
        let _infallible = write!(
            html,
            r#"<tr data-value="{value}"{class}><td>{i}</td><td class="mono">{value:.6}</td><td class="mono">{:.4}%</td><td class="mono">{:.4}%</td></tr>"#,
            share * 100.0,
            cumulative * 100.0,
        );
    }
    html
}
