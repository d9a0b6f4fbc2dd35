//! The first k right singular vectors (rows of Vᵀ, directions in d_model) as a heatmap, and
//! beside it how many model dimensions hold 90% of each vector's mass.

use leptos::html::Canvas;
use leptos::prelude::*;
use web_sys::MouseEvent;

use crate::pure::chart::{self, CellAxis, CellFrame, ColorBar};
use crate::pure::views::right_vectors::RightVectors;
use crate::web::ui::chart_frame::{cell_under, CellPlot, ChartFrame, ChartKind};
use crate::web::ui::heatmap::paint;
use crate::web::ui::tooltip::{Tooltip, TooltipContent};

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
        let (n_rows, n_cols) = shape();
        let hit = cell_under(&event, n_rows, n_cols).and_then(|(row, col, x_px, y_px)| {
            right.with(|r| {
                r.as_ref()
                    .and_then(|r| r.rows.get(row).and_then(|v| v.get(col)).copied())
                    .map(|value| (row, col, value, x_px, y_px))
            })
        });
        tooltip.set(hit.map(|(row, col, value, x_px, y_px)| TooltipContent {
            x_px,
            y_px,
            lines: vec![
                format!("v{row}"),
                format!("model dimension {col}"),
                format!("value {value}"),
            ],
        }));
    };
    let frame = Memo::new(move |_| {
        let (n_rows, n_cols) = shape();
        let bar = ColorBar::new(abs_max.get(), false);
        let limit = bar.labels.first().cloned().unwrap_or_default();
        CellFrame {
            x_axis: CellAxis::ends("model dimension", n_cols),
            y_axis: CellAxis::ends("vector index", n_rows),
            colorbar: ColorBar::labelled(bar.abs_max, [&limit, "0", &format!("−{limit}")]),
        }
    });
    let d_model = move || shape().1;
    let title =
        Signal::derive(move || format!("First {} right singular vectors (rows of Vᵀ)", shape().0));
    view! {
        <section class="pair">
            <ChartFrame title=title what=Signal::derive(move || format!("Vt{}_heatmap", shape().0)) kind=ChartKind::Heatmap { frame: frame.into() }>
                <CellPlot frame=frame>
                    <div class="heatmap-plot" on:mousemove=on_move on:mouseleave=move |_| tooltip.set(None)>
                        <canvas node_ref=canvas_ref class="heatmap-canvas" data-testid="vt-heatmap" role="img"
                            aria-label="Right singular vectors: the first rows of Vᵀ over the model dimensions"
                            data-abs-max=move || abs_max.get().to_string()
                            data-rows=move || shape().0.to_string() data-cols=move || shape().1.to_string()></canvas>
                        <Tooltip content=tooltip/>
                    </div>
                </CellPlot>
                <p class="caption">"vᵢ = W_posᵀ uᵢ / σᵢ: the direction in d_model that singular direction i reads from. Colours run from −max to +max |value| around 0."</p>
            </ChartFrame>
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
