//! A heatmap of left singular vectors (vectors × positions) on a canvas, with a diverging
//! colour scale centred at 0, a colour bar, axis ticks and a hover read-out; and the
//! "Colour range" control that can clip all heatmaps' colours at a quantile of |value|.

use leptos::html::{Canvas, Div};
use leptos::prelude::*;
use wasm_bindgen::Clamped;
use web_sys::{ImageData, KeyboardEvent, MouseEvent};

use crate::pure::chart::{self, format_tick, nice_step, CellAxis, CellFrame, ColorBar};
use crate::pure::url_state::parse_color_clip;
use crate::web::run as actions;
use crate::web::run::state::AppState;
use crate::web::ui::chart_frame::{cell_under, CellPlot, ChartFrame, ChartKind};
use crate::web::ui::download::context_2d;
use crate::web::ui::stages::{mount_flag, staged, Gate};
use crate::web::ui::tooltip::{Tooltip, TooltipContent};

/// The colour ranges offered: the `clip` quantile (`None` is the full range) and its label.
const COLOR_CLIP_CHOICES: [(Option<f64>, &str); 4] = [
    (None, "full range (max |value|)"),
    (Some(0.999), "99.9th percentile of |value|"),
    (Some(0.99), "99th percentile of |value|"),
    (Some(0.95), "95th percentile of |value|"),
];

/// The colour limit a heatmap uses, and whether it cuts off any values.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ColorLimit {
    /// The scale runs from `-abs_max` to `+abs_max`.
    abs_max: f64,
    /// Whether some values lie beyond the limit (drawn in the end colours).
    clipped: bool,
}

/// Computes the colour limit of `rows`: ±max |value|, or the `clip` quantile of |value|.
fn color_limit(rows: &[Vec<f64>], clip: Option<f64>) -> ColorLimit {
    let all: Vec<f64> = rows.iter().flatten().copied().collect();
    let full = chart::symmetric_abs_max(&all);
    match clip {
        Some(quantile) => {
            let abs_max = chart::quantile_abs_max(&all, quantile);
            ColorLimit {
                abs_max,
                clipped: abs_max < full,
            }
        }
        None => ColorLimit {
            abs_max: full,
            clipped: false,
        },
    }
}

/// The "Colour range" control: the heatmaps' colour limit, kept in the URL's `clip`.
///
/// A change replaces the history entry (like the threshold slider) and only redraws the
/// heatmaps: nothing is fetched or analysed again.
#[component]
pub fn ColorRangeControl() -> impl IntoView {
    let state = expect_context::<AppState>();
    let current = Memo::new(move |_| state.settings.with(|s| s.color_clip));
    let on_change = move |event: web_sys::Event| {
        let text = event_target_value(&event);
        let clip = if text.is_empty() {
            None
        } else {
            match parse_color_clip(&text) {
                Ok(quantile) => Some(quantile),
                Err(_) => return,
            }
        };
        if clip == current.get_untracked() {
            return;
        }
        state.settings.update(|s| s.color_clip = clip);
        // A view change replaces the history entry rather than adding one.
        actions::write_url(&state.settings.get_untracked(), false);
    };
    let options = move || {
        let selected = current.get();
        let mut choices: Vec<(Option<f64>, String)> = COLOR_CLIP_CHOICES
            .iter()
            .map(|(quantile, label)| (*quantile, (*label).to_owned()))
            .collect();
        // A link may carry a quantile that is not offered; it is listed so the control shows it.
        if let Some(quantile) = selected {
            if !choices
                .iter()
                .any(|(offered, _)| *offered == Some(quantile))
            {
                choices.push((
                    Some(quantile),
                    format!(
                        "{} percentile of |value|",
                        chart::percentile_ordinal(quantile)
                    ),
                ));
            }
        }
        choices
            .into_iter()
            .map(|(quantile, label)| {
                let value = quantile.map(|q| format!("{q:?}")).unwrap_or_default();
                let is_selected = quantile == selected;
                view! { <option value=value selected=is_selected>{label}</option> }
            })
            .collect_view()
    };
    view! {
        <section class="card view-options">
            <label class="inline">
                "Colour range "
                <select data-testid="color-clip" on:change=on_change>
                    {options}
                </select>
            </label>
            <p class="caption">
                "Heatmap colours run from −limit to +limit around 0. A percentile limit keeps one outlier (such as a vector that is nearly a spike at position 0) from washing out the rest; values beyond it take the end colours, and the read-out still shows exact values."
            </p>
        </section>
    }
}

/// Draws RGBA pixels, one per cell, onto the canvas (which CSS stretches to fit), with the
/// diverging colour map on `±abs_max`. Shared by every canvas heatmap on the page.
pub fn paint(canvas: &web_sys::HtmlCanvasElement, rows: &[Vec<f64>], abs_max: f64) {
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
    let Ok(context) = context_2d(canvas) else {
        return;
    };
    if let Ok(image) = ImageData::new_with_u8_clamped_array_and_sh(Clamped(&rgba), width, height) {
        let _ignored = context.put_image_data(&image, 0.0, 0.0);
    }
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
    /// The colour limit as a quantile of |value|, or `None` for ±max |value|.
    clip: Signal<Option<f64>>,
    /// Whether this is the analysis after dropping (for export file names).
    #[prop(optional)]
    dropped: bool,
) -> impl IntoView {
    // New vectors are taken in a browser task of their own (see `stages`).
    let rows = staged(Gate::Results, move || rows.get());
    let canvas_ref = NodeRef::<Canvas>::new();
    let plot_ref = NodeRef::<Div>::new();
    // The keyboard cursor: (vector, position), moved with the arrow keys.
    let cursor = RwSignal::new(None::<(usize, usize)>);
    let what = Signal::derive(move || {
        let n = rows.with(Vec::len);
        let suffix = if dropped { "_dropped" } else { "" };
        format!("U{n}{suffix}_heatmap")
    });
    let tooltip = RwSignal::new(None::<TooltipContent>);
    let limit = Memo::new(move |_| {
        let clip = clip.get();
        rows.with(|rows| color_limit(rows, clip))
    });
    let abs_max = Memo::new(move |_| limit.get().abs_max);
    let is_clipped = move || limit.get().clipped;
    let clip_note = move || {
        clip.get().filter(|_| is_clipped()).map(|quantile| {
            format!(
                "colours clipped at the {} percentile of |value|",
                chart::percentile_ordinal(quantile)
            )
        })
    };
    let n_rows = move || rows.with(Vec::len);
    let n_cols = move || rows.with(|rows| rows.iter().map(Vec::len).max().unwrap_or(0));
    let summary = move || {
        format!(
            "{}: heatmap of {} left singular vectors over {} positions, coloured from −{} (blue) through 0 (white) to +{} (red)",
            title.get(),
            n_rows(),
            n_cols(),
            format_tick(abs_max.get(), nice_step(2.0 * abs_max.get(), 4)),
            format_tick(abs_max.get(), nice_step(2.0 * abs_max.get(), 4)),
        )
    };
    // The read-out for a cell, shown next to it (pointer or keyboard).
    let read_out = move |row: usize, col: usize, x_px: f64, y_px: f64| {
        rows.with(|rows| {
            rows.get(row)
                .and_then(|r| r.get(col))
                .map(|&value| TooltipContent {
                    x_px,
                    y_px,
                    lines: vec![
                        format!("position {col}"),
                        format!("vector {row}"),
                        format!("value {value}"),
                    ],
                })
        })
    };
    let show_cursor = move |row: usize, col: usize| {
        let (n_r, n_c) = (n_rows().max(1), n_cols().max(1));
        let (width_px, height_px) = plot_ref
            .get_untracked()
            .map(|plot| {
                let rect = plot.get_bounding_client_rect();
                (rect.width(), rect.height())
            })
            .unwrap_or((0.0, 0.0));
        #[allow(clippy::cast_precision_loss)]
        let (x_px, y_px) = (
            (col as f64 + 0.5) / n_c as f64 * width_px,
            (row as f64 + 0.5) / n_r as f64 * height_px,
        );
        cursor.set(Some((row, col)));
        tooltip.set(read_out(row, col, x_px, y_px));
    };
    let on_key = move |event: KeyboardEvent| {
        let (n_r, n_c) = (n_rows(), n_cols());
        if n_r == 0 || n_c == 0 {
            return;
        }
        let (row, col) = cursor.get_untracked().unwrap_or((0, 0));
        let big_step = (n_c / 20).max(1);
        let step = if event.shift_key() { big_step } else { 1 };
        let next = match event.key().as_str() {
            "ArrowLeft" => (row, col.saturating_sub(step)),
            "ArrowRight" => (row, (col + step).min(n_c - 1)),
            "ArrowUp" => (row.saturating_sub(1), col),
            "ArrowDown" => ((row + 1).min(n_r - 1), col),
            "Home" => (row, 0),
            "End" => (row, n_c - 1),
            "Escape" => {
                cursor.set(None);
                tooltip.set(None);
                return;
            }
            _ => return,
        };
        event.prevent_default();
        show_cursor(next.0, next.1);
    };
    // Focus from the keyboard shows the cursor at once; a mouse click does not.
    let on_focus = move |_| {
        let from_keyboard = plot_ref
            .get_untracked()
            .is_some_and(|plot| plot.matches(":focus-visible").unwrap_or(false));
        if from_keyboard {
            let (row, col) = cursor.get_untracked().unwrap_or((0, 0));
            show_cursor(row, col);
        }
    };
    let cursor_style = move || {
        cursor.get().map(|(row, col)| {
            #[allow(clippy::cast_precision_loss)]
            let (n_r, n_c) = (n_rows().max(1) as f64, n_cols().max(1) as f64);
            #[allow(clippy::cast_precision_loss)]
            let (row, col) = (row as f64, col as f64);
            format!(
                "left: {:.4}%; top: {:.4}%; width: {:.4}%; height: {:.4}%;",
                col / n_c * 100.0,
                row / n_r * 100.0,
                100.0 / n_c,
                100.0 / n_r
            )
        })
    };
    let live_text = move || {
        cursor.get().and_then(|(row, col)| {
            rows.with(|rows| {
                rows.get(row)
                    .and_then(|r| r.get(col))
                    .map(|value| format!("position {col}, vector {row}, value {value}"))
            })
        })
    };

    Effect::new(move |_| {
        let scale = abs_max.get();
        rows.with(|rows| {
            if let Some(canvas) = canvas_ref.get() {
                paint(&canvas, rows, scale);
            }
        });
    });

    let on_move = move |event: MouseEvent| {
        let hit = cell_under(&event, n_rows(), n_cols());
        tooltip.set(hit.and_then(|(row, col, x_px, y_px)| read_out(row, col, x_px, y_px)));
    };
    let frame = Memo::new(move |_| {
        let (n_r, n_c) = (n_rows(), n_cols());
        let limit = limit.get();
        CellFrame {
            x_axis: CellAxis::centred("position", 0.0, n_c, 8),
            y_axis: CellAxis::centred(
                "vector index",
                0.0,
                n_r,
                if n_r <= 10 { n_r.max(1) } else { 5 },
            ),
            colorbar: ColorBar::new(limit.abs_max, limit.clipped),
        }
    });
    let shown = mount_flag(Gate::Results);
    view! {
        <Show when=move || shown.get()>
        <ChartFrame title=title what=what kind=ChartKind::Heatmap { frame: frame.into() }>
            <CellPlot frame=frame compact=compact colorbar_testid="colorbar">
                <div
                    class="heatmap-plot"
                    node_ref=plot_ref
                    tabindex="0"
                    role="application"
                    aria-roledescription="heatmap"
                    aria-label=move || format!("{}. Arrow keys move a cursor over the cells and read their values; Shift moves faster; Escape hides the read-out.", summary())
                    data-testid="heatmap-plot"
                    on:mousemove=on_move
                    on:mouseleave=move |_| { if cursor.get_untracked().is_none() { tooltip.set(None); } }
                    on:keydown=on_key
                    on:focus=on_focus
                    on:blur=move |_| { cursor.set(None); tooltip.set(None); }
                >
                    <canvas node_ref=canvas_ref class="heatmap-canvas" data-testid="heatmap" role="img" aria-label=summary></canvas>
                    {move || cursor_style().map(|style| view! { <div class="heatmap-cursor" data-testid="heatmap-cursor" style=style></div> })}
                    <Tooltip content=tooltip/>
                    <p class="visually-hidden" aria-live="polite" data-testid="heatmap-readout">{live_text}</p>
                </div>
            </CellPlot>
            {move || clip_note().map(|note| view! { <p class="clip-note" data-testid="clip-note">{note}</p> })}
        </ChartFrame>
        </Show>
    }
}
