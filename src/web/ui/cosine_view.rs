//! The position–position cosine similarity heatmap (normalised W_pos·W_posᵀ) on a canvas,
//! with zoom to a window of positions.
//!
//! Large matrices are drawn as exact means over blocks of positions (at most 512 cells per
//! side), and the grid is computed in bands with a yield to the browser between them, so
//! the page stays responsive.

use std::sync::Arc;

use leptos::html::Canvas;
use leptos::prelude::*;
use leptos::task::spawn_local;
use nalgebra::DMatrix;
use web_sys::MouseEvent;

use crate::pure::chart::{CellAxis, CellFrame, ColorBar};
use crate::pure::views::cosine::{CosineGrid, CosinePlanBuilder, DEFAULT_MAX_CELLS_PER_SIDE};
use crate::web::platform::js::{now_ms, sleep_ms, yield_to_browser};
use crate::web::ui::chart_frame::{cell_under, CellPlot, ChartFrame, ChartKind};
use crate::web::ui::heatmap::paint;
use crate::web::ui::stages::ELEMENTS_PER_STEP;
use crate::web::ui::tooltip::{Tooltip, TooltipContent};

/// Cell rows of the first band computed between two yields to the browser.
const FIRST_BAND_CELL_ROWS: usize = 8;
/// The most cell rows of one band.
const MAX_BAND_CELL_ROWS: usize = 128;
/// The time one band should take, in milliseconds.
const BAND_TARGET_MS: f64 = 12.0;

/// Formats the positions one cell covers: `12` or `12–15`.
fn span_text(range: &std::ops::Range<usize>) -> String {
    if range.end.saturating_sub(range.start) <= 1 {
        range.start.to_string()
    } else {
        format!("{}–{}", range.start, range.end - 1)
    }
}

/// The cosine similarity card.
#[component]
pub fn CosineView(
    /// The analysed matrix.
    w: Signal<Option<Arc<DMatrix<f64>>>>,
) -> impl IntoView {
    let canvas_ref = NodeRef::<Canvas>::new();
    let tooltip = RwSignal::new(None::<TooltipContent>);
    let n_positions = move || w.with(|w| w.as_ref().map_or(0, |w| w.nrows()));
    // The window of positions shown, [start, end).
    let window = RwSignal::new(None::<(usize, usize)>);
    let grid = RwSignal::new(None::<CosineGrid>);
    let computing = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let generation = StoredValue::new(0_u32);
    let drag_start = RwSignal::new(None::<usize>);
    let draft_start = RwSignal::new(String::new());
    let draft_end = RwSignal::new(String::new());

    // A new matrix resets the window to every position.
    Effect::new(move |_| {
        let n = n_positions();
        window.set((n > 0).then_some((0, n)));
    });

    // Compute the grid for the window, in bands.
    Effect::new(move |_| {
        let Some((start, end)) = window.get() else {
            return;
        };
        let Some(matrix) = w.get() else {
            return;
        };
        draft_start.set(start.to_string());
        draft_end.set(end.to_string());
        let this_generation = generation.get_value().wrapping_add(1);
        generation.set_value(this_generation);
        computing.set(true);
        error.set(None);
        spawn_local(async move {
            // Let the page settle (and finish drawing other charts) first.
            sleep_ms(0).await;
            if generation.try_get_value() != Some(this_generation) {
                return;
            }
            let mut builder = match CosinePlanBuilder::new(
                &matrix,
                start..end,
                DEFAULT_MAX_CELLS_PER_SIDE,
                ELEMENTS_PER_STEP,
            ) {
                Ok(builder) => builder,
                Err(err) => {
                    error.set(Some(err.to_string()));
                    computing.set(false);
                    return;
                }
            };
            // The cells' mean rows read the whole window once per pass: a band of model
            // dimensions per task.
            while !builder.step(&matrix) {
                yield_to_browser().await;
                if generation.try_get_value() != Some(this_generation) {
                    return;
                }
            }
            let Some(plan) = builder.into_plan() else {
                return;
            };
            let n_cells = plan.n_cells();
            let mut values = Vec::with_capacity(n_cells * n_cells);
            let mut first = 0;
            // The band height follows the time the last band took, so that each band takes
            // about BAND_TARGET_MS on this machine.
            let mut band_rows = FIRST_BAND_CELL_ROWS;
            while first < n_cells {
                sleep_ms(0).await;
                if generation.try_get_value() != Some(this_generation) {
                    return;
                }
                let started_ms = now_ms();
                values.extend(plan.cell_rows(first..first + band_rows));
                first += band_rows;
                let elapsed_ms = (now_ms() - started_ms).max(0.1);
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let next = (band_rows as f64 * BAND_TARGET_MS / elapsed_ms) as usize;
                band_rows = next.clamp(1, 4 * band_rows).min(MAX_BAND_CELL_ROWS);
            }
            grid.set(Some(plan.grid(values)));
            computing.set(false);
        });
    });

    Effect::new(move |_| {
        grid.with(|grid| {
            if let (Some(grid), Some(canvas)) = (grid.as_ref(), canvas_ref.get()) {
                // The diverging map on ±1, one pixel per cell.
                paint(&canvas, &grid.rows(), 1.0);
            }
        });
    });

    let cell_under = move |event: &MouseEvent| {
        let n_cells = grid.with(|g| g.as_ref().map_or(0, |g| g.n_cells));
        cell_under(event, n_cells, n_cells)
    };
    let on_move = move |event: MouseEvent| {
        let hit = cell_under(&event);
        tooltip.set(hit.and_then(|(row, col, x_px, y_px)| {
            grid.with(|grid| {
                let grid = grid.as_ref()?;
                let value = grid.value(row, col)?;
                let rows = grid.cell_positions(row);
                let cols = grid.cell_positions(col);
                let label = if grid.positions_per_cell == 1 {
                    "cosine"
                } else {
                    "mean cosine"
                };
                Some(TooltipContent {
                    x_px,
                    y_px,
                    lines: vec![
                        format!("positions {} × {}", span_text(&rows), span_text(&cols)),
                        format!("{label} {value}"),
                    ],
                })
            })
        }));
    };
    let on_down = move |event: MouseEvent| {
        event.prevent_default();
        drag_start.set(cell_under(&event).map(|(_, col, ..)| col));
    };
    let on_up = move |event: MouseEvent| {
        let Some(from_cell) = drag_start.get_untracked() else {
            return;
        };
        drag_start.set(None);
        let Some((_, to_cell, ..)) = cell_under(&event) else {
            return;
        };
        let (lo, hi) = (from_cell.min(to_cell), from_cell.max(to_cell));
        if hi == lo {
            return;
        }
        let zoomed = grid.with_untracked(|grid| {
            grid.as_ref()
                .map(|grid| (grid.cell_positions(lo).start, grid.cell_positions(hi).end))
        });
        if let Some((start, end)) = zoomed {
            if end > start + 1 {
                window.set(Some((start, end)));
            }
        }
    };
    let apply_draft = move |_| {
        let n = n_positions();
        let start = draft_start.get_untracked().trim().parse::<usize>().ok();
        let end = draft_end.get_untracked().trim().parse::<usize>().ok();
        match (start, end) {
            (Some(start), Some(end)) if start < end && end <= n => window.set(Some((start, end))),
            _ => error.set(Some(format!(
                "The window must be two whole numbers with 0 ≤ from < to ≤ {n}."
            ))),
        }
    };
    let reset = move |_| {
        let n = n_positions();
        window.set((n > 0).then_some((0, n)));
    };

    let frame = Memo::new(move |_| {
        let axis = grid.with(|grid| {
            grid.as_ref().map_or_else(
                || CellAxis {
                    title: "position".to_owned(),
                    ticks: Vec::new(),
                },
                |grid| CellAxis::centred("position", grid.start as f64, grid.end - grid.start, 6),
            )
        });
        CellFrame {
            x_axis: axis.clone(),
            y_axis: axis,
            colorbar: ColorBar::labelled(1.0, ["1", "0", "−1"]),
        }
    });
    let grid_attr = move |f: fn(&CosineGrid) -> usize| {
        grid.with(|g| g.as_ref().map(|g| f(g).to_string()).unwrap_or_default())
    };
    let controls = move || {
        view! {
            <div class="view-controls">
                <label class="inline">"from " <input type="number" min="0" data-testid="cosine-from"
                    prop:value=move || draft_start.get() on:input=move |e| draft_start.set(event_target_value(&e))/></label>
                <label class="inline">"to " <input type="number" min="1" data-testid="cosine-to"
                    prop:value=move || draft_end.get() on:input=move |e| draft_end.set(event_target_value(&e))/></label>
                <button data-testid="cosine-zoom" on:click=apply_draft>"Zoom"</button>
                <button data-testid="cosine-reset" on:click=reset>"All positions"</button>
            </div>
        }
    };
    view! {
        <ChartFrame title="Cosine similarity between positions".to_owned() what="cosine_heatmap".to_owned()
            kind=ChartKind::Heatmap { frame: frame.into() } wide=true controls=controls>
            <CellPlot frame=frame wrap_class="cosine-wrap">
                <div class="cosine-plot" on:mousemove=on_move on:mousedown=on_down on:mouseup=on_up
                    on:mouseleave=move |_| { tooltip.set(None); drag_start.set(None); }>
                    <canvas node_ref=canvas_ref class="heatmap-canvas" data-testid="cosine-map" role="img"
                        aria-label="Cosine similarity between positions of W_pos; drag across it to zoom into a window"
                        data-state=move || if computing.get() { "computing" } else if grid.with(Option::is_some) { "ready" } else { "idle" }
                        data-start=move || grid_attr(|g| g.start)
                        data-end=move || grid_attr(|g| g.end)
                        data-n-cells=move || grid_attr(|g| g.n_cells)
                        data-positions-per-cell=move || grid_attr(|g| g.positions_per_cell)></canvas>
                    <Tooltip content=tooltip/>
                </div>
            </CellPlot>
            <p class="caption">
                {move || grid.with(|g| g.as_ref().map(|g| if g.positions_per_cell > 1 {
                    format!("Positions {}–{}, each cell the exact mean over {} × {} positions. ", g.start, g.end - 1, g.positions_per_cell, g.positions_per_cell)
                } else {
                    format!("Positions {}–{}, one cell per pair of positions. ", g.start, g.end - 1)
                }).unwrap_or_default())}
                "Drag across the map to zoom into a window of positions (the band near the diagonal is where neighbouring positions agree); colours run from −1 (blue) to +1 (red)."
                {move || computing.get().then_some(" Computing…")}
            </p>
            {move || error.get().map(|e| view! { <p class="clip-note">{e}</p> })}
        </ChartFrame>
    }
}
