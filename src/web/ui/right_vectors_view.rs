//! The first k right singular vectors (rows of Vᵀ, directions in d_model) as a heatmap, and
//! beside it how many model dimensions hold 90% of each vector's mass.

use leptos::html::Canvas;
use leptos::prelude::*;
use web_sys::MouseEvent;

use crate::pure::chart::{self, format_tick, nice_step, HeatmapLayout};
use crate::pure::views::right_vectors::RightVectors;
use crate::web::ui::heatmap::paint;
use crate::web::ui::tooltip::{pointer_position, Tooltip, TooltipContent};

/// The Vᵀ heatmap and the 90%-mass table.
#[component]
pub fn RightVectorsView(
    /// The rows of Vᵀ and their sparsity; `None` while computing.
    right: Signal<Option<RightVectors>>,
) -> impl IntoView {
    let canvas_ref = NodeRef::<Canvas>::new();
    let tooltip = RwSignal::new(None::<TooltipContent>);
    let abs_max = Memo::new(move |_| {
        right.with(|r| {
            r.as_ref().map_or(1.0, |r| {
                let all: Vec<f64> = r.rows.iter().flatten().copied().collect();
                chart::symmetric_abs_max(&all)
            })
        })
    });
    Effect::new(move |_| {
        let scale = abs_max.get();
        right.with(|r| {
            if let (Some(r), Some(canvas)) = (r.as_ref(), canvas_ref.get()) {
                paint(&canvas, &r.rows, scale);
            }
        });
    });
    let shape = move || {
        right.with(|r| {
            r.as_ref().map_or((0, 0), |r| {
                (r.rows.len(), r.rows.iter().map(Vec::len).max().unwrap_or(0))
            })
        })
    };
    let on_move = move |event: MouseEvent| {
        let Some(pointer) = pointer_position(&event) else {
            return;
        };
        let (n_rows, n_cols) = shape();
        let layout = HeatmapLayout {
            n_rows,
            n_cols,
            width_px: pointer.width_px,
            height_px: pointer.height_px,
        };
        let hit = layout
            .cell_at(pointer.x_px, pointer.y_px)
            .and_then(|(row, col)| {
                right.with(|r| {
                    r.as_ref()
                        .and_then(|r| r.rows.get(row).and_then(|v| v.get(col)).copied())
                        .map(|value| (row, col, value))
                })
            });
        tooltip.set(hit.map(|(row, col, value)| TooltipContent {
            x_px: pointer.x_px,
            y_px: pointer.y_px,
            lines: vec![
                format!("v{row}"),
                format!("model dimension {col}"),
                format!("value {value}"),
            ],
        }));
    };
    let bar_label = move || format_tick(abs_max.get(), nice_step(2.0 * abs_max.get(), 4));
    let gradient = move || {
        let stops = chart::colorbar_stops(abs_max.get(), 11);
        let parts: Vec<String> = stops
            .iter()
            .rev()
            .enumerate()
            .map(|(i, (_, css))| format!("{css} {}%", i * 10))
            .collect();
        format!(
            "background: linear-gradient(to bottom, {});",
            parts.join(", ")
        )
    };
    let d_model = move || shape().1;
    view! {
        <section class="pair">
            <article class="card chart">
                <header class="chart-head">
                    <h3>{move || format!("First {} right singular vectors (rows of Vᵀ)", shape().0)}</h3>
                </header>
                <div class="heatmap-wrap">
                    <div class="y-label">"vector index"</div>
                    <div class="y-ticks">
                        <span style="top: 0%">"0"</span>
                        <span style="top: 100%">{move || shape().0.saturating_sub(1).to_string()}</span>
                    </div>
                    <div class="heatmap-plot" on:mousemove=on_move on:mouseleave=move |_| tooltip.set(None)>
                        <canvas node_ref=canvas_ref class="heatmap-canvas" data-testid="vt-heatmap" role="img"
                            aria-label="Right singular vectors: the first rows of Vᵀ over the model dimensions"
                            data-abs-max=move || abs_max.get().to_string()
                            data-rows=move || shape().0.to_string() data-cols=move || shape().1.to_string()></canvas>
                        <Tooltip content=tooltip/>
                    </div>
                    <div class="colorbar">
                        <div class="colorbar-gradient" style=gradient></div>
                        <div class="colorbar-labels">
                            <span>{bar_label}</span>
                            <span>"0"</span>
                            <span>{move || format!("−{}", bar_label())}</span>
                        </div>
                    </div>
                    <div class="x-ticks">
                        <span style="left: 0%">"0"</span>
                        <span style="left: 100%">{move || d_model().saturating_sub(1).to_string()}</span>
                    </div>
                    <div class="x-label">"model dimension"</div>
                </div>
                <p class="caption">"vᵢ = W_posᵀ uᵢ / σᵢ: the direction in d_model that singular direction i reads from. Colours run from −max to +max |value| around 0."</p>
            </article>
            <article class="card">
                <h3>{move || format!("Model dimensions holding 90% of each vᵢ (of {})", d_model())}</h3>
                <div class="table-scroll" tabindex="0" role="region" aria-label="Model dimensions holding 90% of each right singular vector">
                    <table class="sv-table" data-testid="vt-dims">
                        <thead><tr><th>"vector"</th><th>"dimensions for 90%"</th><th>"share of d_model"</th></tr></thead>
                        <tbody>
                            {move || right.with(|r| r.as_ref().map(|r| {
                                let d = r.rows.first().map_or(1, Vec::len).max(1);
                                r.dims_for_share.iter().enumerate().map(|(i, &dims)| view! {
                                    <tr data-testid="vt-dims-row" data-vector=i.to_string() data-dims=dims.to_string()>
                                        <td>{format!("v{i}")}</td>
                                        <td>{dims}</td>
                                        <td>
                                            <span class="share-bar" style=format!("width: {:.1}%", dims as f64 / d as f64 * 100.0)></span>
                                            {format!("{:.1}%", dims as f64 / d as f64 * 100.0)}
                                        </td>
                                    </tr>
                                }).collect_view()
                            }))}
                        </tbody>
                    </table>
                </div>
                <p class="caption">"Few dimensions: the direction lives in a handful of model dimensions. Many: it is spread across the model."</p>
            </article>
        </section>
    }
}
