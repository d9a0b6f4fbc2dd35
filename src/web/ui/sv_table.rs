//! Every singular value with its energy share and cumulative share; copyable as TSV.

use leptos::html::Tbody;
use leptos::prelude::*;

use crate::pure::analysis::SvdSummary;
use crate::pure::export::singular_values_tsv;
use crate::web::run::state::AppState;
use crate::web::ui::progress::copy_text;
use crate::web::ui::stages::{enqueue, mount_flag, staged, Gate};

/// The results table card (full matrix, and after dropping when present).
#[component]
pub fn SvTable() -> impl IntoView {
    let state = expect_context::<AppState>();
    let show_dropped = RwSignal::new(false);
    let copy_state = RwSignal::new(String::new());
    let summary = move || {
        state.result.with(|r| {
            r.as_ref().and_then(|r| {
                if show_dropped.get_untracked() {
                    r.analysis.dropped.clone()
                } else {
                    Some(r.analysis.full.clone())
                }
            })
        })
    };
    // Only the table's columns: new singular vectors alone do not redraw it.
    let columns = staged(Gate::Results, move || {
        state.result.with(|r| {
            r.as_ref()
                .map(|r| {
                    (
                        TableColumns::of(&r.analysis.full),
                        r.analysis.dropped.as_ref().map(TableColumns::of),
                    )
                })
                .unwrap_or_default()
        })
    });
    let has_dropped = move || columns.with(|(_, dropped)| dropped.is_some());
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
    // Hundreds of rows (one per singular value): the body is written as HTML strings, which
    // the browser parses in one go, rather than element by element from WebAssembly. Every
    // piece of it is a formatted number, so nothing in it needs escaping. New values are
    // written ROWS_PER_STEP rows per queued step; a threshold change or the "after dropping"
    // switch rewrites the body at once.
    let body = NodeRef::<Tbody>::new();
    let written = StoredValue::new(None::<TableColumns>);
    let write_generation = StoredValue::new(0_u32);
    Effect::new(move |_| {
        let Some(tbody) = body.get() else {
            return;
        };
        let cutoff_rel = threshold();
        let table = columns.with(|(full, dropped)| {
            if show_dropped.get() {
                dropped.clone().unwrap_or_default()
            } else {
                full.clone()
            }
        });
        let generation = write_generation.get_value().wrapping_add(1);
        write_generation.set_value(generation);
        let new_values = written.with_value(|w| w.as_ref() != Some(&table));
        written.set_value(Some(table.clone()));
        let n_rows = table.values.len();
        if !new_values || n_rows <= ROWS_PER_STEP {
            tbody.set_inner_html(&table.rows_html(0..n_rows, cutoff_rel));
            return;
        }
        tbody.set_inner_html(&table.rows_html(0..ROWS_PER_STEP, cutoff_rel));
        let table = std::rc::Rc::new(table);
        for first in (ROWS_PER_STEP..n_rows).step_by(ROWS_PER_STEP) {
            let (table, tbody) = (std::rc::Rc::clone(&table), tbody.clone());
            enqueue(state, Gate::Results, move || {
                if write_generation.try_get_value() == Some(generation) {
                    let rows = table.rows_html(first..first + ROWS_PER_STEP, cutoff_rel);
                    let _ignored = tbody.insert_adjacent_html("beforeend", &rows);
                }
            });
        }
    });

    let shown = mount_flag(Gate::Results);
    view! {
        <Show when=move || shown.get()>
        <section class="card table-card">
            <header class="chart-head">
                <h3>"Singular values"</h3>
                <div class="table-actions">
                    <Show when=has_dropped>
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
                    <tbody node_ref=body data-testid=move || if show_dropped.get() { "sv-table-dropped" } else { "sv-table" }></tbody>
                </table>
            </div>
        </section>
        </Show>
    }
}

/// Rows written to the table body per queued step when new values arrive.
const ROWS_PER_STEP: usize = 256;

/// The columns of the table: σ, energy share and cumulative share.
#[derive(Debug, Clone, Default, PartialEq)]
struct TableColumns {
    values: Vec<f64>,
    energy_share: Vec<f64>,
    cumulative_energy: Vec<f64>,
}

impl TableColumns {
    fn of(summary: &SvdSummary) -> Self {
        TableColumns {
            values: summary.singular_values.clone(),
            energy_share: summary.energy_share.clone(),
            cumulative_energy: summary.cumulative_energy.clone(),
        }
    }

    /// The body rows `rows` (clamped to the table): index, σ, energy share and cumulative
    /// share, with the exact value in `data-value` and the rows at or below the rank
    /// threshold marked `below`.
    fn rows_html(&self, rows: std::ops::Range<usize>, threshold_rel: f64) -> String {
        use std::fmt::Write as _;
        let cutoff = threshold_rel * self.values.first().copied().unwrap_or(0.0);
        let last = rows.end.min(self.values.len());
        let first = rows.start.min(last);
        let mut html = String::with_capacity((last - first) * 160);
        for (i, &value) in self.values.iter().enumerate().take(last).skip(first) {
            let share = self.energy_share.get(i).copied().unwrap_or(f64::NAN);
            let cumulative = self.cumulative_energy.get(i).copied().unwrap_or(f64::NAN);
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
}
