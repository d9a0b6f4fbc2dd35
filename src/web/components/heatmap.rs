//! A heatmap of left singular vectors (vectors × positions) on a canvas, with a diverging
//! colour scale centred at 0, a colour bar, axis ticks and a hover read-out.

use leptos::html::Canvas;
use leptos::prelude::*;
use wasm_bindgen::{Clamped, JsCast};
use web_sys::{CanvasRenderingContext2d, ImageData, MouseEvent};

use crate::pure::chart::{self, format_tick, nice_step, nice_ticks, HeatmapLayout};
use crate::web::components::tooltip::{pointer_position, Tooltip, TooltipContent};

/// Draws RGBA pixels, one per cell, onto the canvas (which CSS stretches to fit).
fn paint(canvas: &web_sys::HtmlCanvasElement, rows: &[Vec<f64>], abs_max: f64) {
    let n_rows = rows.len();
    let n_cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let (Ok(width), Ok(height)) = (u32::try_from(n_cols), u32::try_from(n_rows)) else {
        return;
    };
    if width == 0 || height == 0 {
        return;
    }
    canvas.set_width(width);
    canvas.set_height(height);
    let rgba = chart::heatmap_rgba(rows, abs_max);
    let Some(context) = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|context| context.dyn_into::<CanvasRenderingContext2d>().ok())
    else {
        return;
    };
    if let Ok(image) = ImageData::new_with_u8_clamped_array_and_sh(Clamped(&rgba), width, height) {
        let _ignored = context.put_image_data(&image, 0.0, 0.0);
    }
}

/// Positions a tick at the centre of cell `index` of `n_cells`, as a CSS percentage.
fn cell_centre_percent(index: f64, n_cells: usize) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let n = n_cells.max(1) as f64;
    (index + 0.5) / n * 100.0
}

/// A heatmap card.
#[component]
pub fn Heatmap(
    /// The card title.
    title: Signal<String>,
    /// The vectors, `[vector][position]`.
    rows: Signal<Vec<Vec<f64>>>,
    /// A short heatmap (few vectors) gets taller cells.
    compact: bool,
) -> impl IntoView {
    let canvas_ref = NodeRef::<Canvas>::new();
    let tooltip = RwSignal::new(None::<TooltipContent>);
    let abs_max = Memo::new(move |_| {
        rows.with(|rows| {
            let all: Vec<f64> = rows.iter().flatten().copied().collect();
            chart::symmetric_abs_max(&all)
        })
    });
    let n_rows = move || rows.with(Vec::len);
    let n_cols = move || rows.with(|rows| rows.iter().map(Vec::len).max().unwrap_or(0));

    Effect::new(move |_| {
        let scale = abs_max.get();
        rows.with(|rows| {
            if let Some(canvas) = canvas_ref.get() {
                paint(&canvas, rows, scale);
            }
        });
    });

    let on_move = move |event: MouseEvent| {
        let Some(pointer) = pointer_position(&event) else {
            return;
        };
        let layout = HeatmapLayout {
            n_rows: n_rows(),
            n_cols: n_cols(),
            width_px: pointer.width_px,
            height_px: pointer.height_px,
        };
        let hit = layout
            .cell_at(pointer.x_px, pointer.y_px)
            .and_then(|(row, col)| {
                rows.with(|rows| {
                    rows.get(row)
                        .and_then(|r| r.get(col))
                        .map(|&v| (row, col, v))
                })
            });
        tooltip.set(hit.map(|(row, col, value)| TooltipContent {
            x_px: pointer.x_px,
            y_px: pointer.y_px,
            lines: vec![
                format!("position {col}"),
                format!("vector {row}"),
                format!("value {value}"),
            ],
        }));
    };

    let x_ticks = move || {
        let n = n_cols();
        #[allow(clippy::cast_precision_loss)]
        let last = n.saturating_sub(1) as f64;
        let step = nice_step(last, 8);
        nice_ticks(0.0, last, 8)
            .into_iter()
            .map(|t| (cell_centre_percent(t, n), format_tick(t, step)))
            .collect::<Vec<_>>()
    };
    let y_ticks = move || {
        let n = n_rows();
        #[allow(clippy::cast_precision_loss)]
        let last = n.saturating_sub(1) as f64;
        let target = if n <= 10 { n.max(1) } else { 5 };
        let step = nice_step(last, target);
        nice_ticks(0.0, last, target)
            .into_iter()
            .map(|t| (cell_centre_percent(t, n), format_tick(t, step)))
            .collect::<Vec<_>>()
    };
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
    let bar_step = move || nice_step(2.0 * abs_max.get(), 4);

    view! {
        <article class="card chart">
            <header class="chart-head">
                <h3>{move || title.get()}</h3>
            </header>
            <div class="heatmap-wrap" class:compact=compact>
                <div class="y-label">"vector index"</div>
                <div class="y-ticks">
                    {move || y_ticks().into_iter().map(|(pct, label)| view! {
                        <span style=format!("top: {pct:.3}%")>{label}</span>
                    }).collect_view()}
                </div>
                <div class="heatmap-plot" on:mousemove=on_move on:mouseleave=move |_| tooltip.set(None)>
                    <canvas node_ref=canvas_ref class="heatmap-canvas" data-testid="heatmap"></canvas>
                    <Tooltip content=tooltip/>
                </div>
                <div class="colorbar">
                    <div class="colorbar-gradient" style=gradient></div>
                    <div class="colorbar-labels">
                        <span>{move || format_tick(abs_max.get(), bar_step())}</span>
                        <span>"0"</span>
                        <span>{move || format_tick(-abs_max.get(), bar_step())}</span>
                    </div>
                </div>
                <div class="x-ticks">
                    {move || x_ticks().into_iter().map(|(pct, label)| view! {
                        <span style=format!("left: {pct:.3}%")>{label}</span>
                    }).collect_view()}
                </div>
                <div class="x-label">"position"</div>
            </div>
        </article>
    }
}
