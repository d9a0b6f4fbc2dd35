//! The histogram of singular values (SVG), with an adjustable bin count and the rank
//! threshold marked.

use leptos::prelude::*;
use web_sys::MouseEvent;

use crate::pure::analysis::approx_rank;
use crate::pure::chart::{self, format_tick, nice_step, Margins, PlotArea};
use crate::web::run::state::AppState;
use crate::web::ui::export_toolbar::{ChartKind, ChartToolbar};
use crate::web::ui::stages::{mount_flag, Gate};
use crate::web::ui::tooltip::{pointer_position, Tooltip, TooltipContent};

/// The chart's drawing box, in SVG user units.
const WIDTH_PX: f64 = 560.0;
/// The chart's drawing box height.
const HEIGHT_PX: f64 = 300.0;

/// A histogram card.
#[component]
pub fn Histogram(
    /// The card title.
    title: Signal<String>,
    /// The singular values.
    values: Signal<Vec<f64>>,
    /// The relative rank threshold, drawn as a line at `threshold × σ_max`.
    threshold: Signal<f64>,
    /// Whether this is the analysis after dropping (for export file names).
    #[prop(optional)]
    dropped: bool,
    /// When the card shows its content: a step shared with other cards, or (by default) a
    /// step of its own.
    #[prop(optional)]
    mounted: Option<Signal<bool>>,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let card = NodeRef::<leptos::html::Article>::new();
    let what = Signal::derive(move || {
        if dropped {
            "S_dropped_histogram".to_owned()
        } else {
            "S_histogram".to_owned()
        }
    });
    // A text summary for screen readers: "Singular values of W_pos: rank 28 of 768 at threshold 1%".
    let summary = move || {
        let t = threshold.get();
        let (rank, n) = values.with(|v| (approx_rank(v, t), v.len()));
        let percent = (t * 100.0 * 1e6).round() / 1e6;
        format!(
            "{}: rank {rank} of {n} at threshold {percent}%",
            title.get()
        )
    };
    let bins = state.histogram_bins;
    let tooltip = RwSignal::new(None::<TooltipContent>);
    let margins = Margins {
        top_px: 16.0,
        right_px: 16.0,
        bottom_px: 48.0,
        left_px: 56.0,
    };
    let area = PlotArea::new(WIDTH_PX, HEIGHT_PX, margins);
    let is_waiting = move || values.with(Vec::is_empty);
    let geometry = Memo::new(move |_| {
        let values = values.get();
        // Before the values arrive the card stands empty: no bars and no ticks.
        let n_bins = if values.is_empty() {
            0
        } else {
            bins.get().max(1)
        };
        let hist = chart::histogram(&values, n_bins);
        let lo = hist.edges.first().copied().unwrap_or(0.0);
        let hi = hist.edges.last().copied().unwrap_or(1.0);
        let x_scale = area.x_scale((lo, hi));
        #[allow(clippy::cast_precision_loss)]
        let y_scale = area.y_scale((0.0, hist.max_count().max(1) as f64)).nice(5);
        let bars = hist.bars(&x_scale, &y_scale);
        let (x_ticks, y_ticks) = if values.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            (x_scale.ticks(6), y_scale.ticks(5))
        };
        let x_step = nice_step(hi - lo, 6);
        let sigma_max = values.iter().copied().fold(0.0_f64, f64::max);
        (bars, x_scale, y_scale, x_ticks, x_step, y_ticks, sigma_max)
    });
    let threshold_x = move || {
        geometry
            .with(|(_, x_scale, _, _, _, _, sigma_max)| x_scale.map(threshold.get() * sigma_max))
    };
    let on_move = move |event: MouseEvent| {
        let Some(pointer) = pointer_position(&event) else {
            return;
        };
        let scale_x = WIDTH_PX / pointer.width_px.max(1.0);
        let x = pointer.x_px * scale_x;
        let hit = geometry.with(|(bars, ..)| {
            bars.iter()
                .find(|bar| x >= bar.x_px && x < bar.x_px + bar.width_px.max(0.5))
                .copied()
        });
        tooltip.set(hit.map(|bar| TooltipContent {
            x_px: pointer.x_px,
            y_px: pointer.y_px,
            lines: vec![
                format!("σ from {} to {}", bar.lower, bar.upper),
                format!("count: {}", bar.count),
            ],
        }));
    };

    let shown = mounted.unwrap_or_else(|| mount_flag(Gate::Results));
    view! {
        <Show when=move || shown.get()>
        <article class="card chart" node_ref=card>
            <header class="chart-head">
                <h3>{move || title.get()}</h3>
                <label class="inline">
                    "Bins "
                    <input
                        data-testid="bins"
                        type="number"
                        min="1"
                        max="500"
                        prop:value=move || bins.get().to_string()
                        on:change=move |ev| {
                            if let Ok(n) = event_target_value(&ev).trim().parse::<usize>() {
                                bins.set(n.clamp(1, 500));
                            }
                        }
                    />
                </label>
            </header>
            <div class="chart-box" on:mousemove=on_move on:mouseleave=move |_| tooltip.set(None)>
                <svg viewBox=format!("0 0 {WIDTH_PX} {HEIGHT_PX}") class="chart-svg" role="img" aria-label=summary data-testid="chart-svg">
                    <g class="grid">
                        {move || geometry.with(|(_, _, y_scale, _, _, y_ticks, _)| {
                            y_ticks.iter().map(|&t| {
                                let y = y_scale.map(t);
                                view! {
                                    <line x1=area.left() x2=area.right() y1=y y2=y></line>
                                    <text x=area.left() - 8.0 y=y + 4.0 text-anchor="end" class="tick">{format_tick(t, 1.0)}</text>
                                }
                            }).collect_view()
                        })}
                    </g>
                    <g class="bars" data-testid="histogram-bars">
                        {move || geometry.with(|(bars, ..)| {
                            bars.iter().map(|bar| view! {
                                <rect x=bar.x_px y=bar.y_px width=bar.width_px.max(0.5) height=bar.height_px></rect>
                            }).collect_view()
                        })}
                    </g>
                    <Show when=is_waiting>
                        <text x=(area.left() + area.right()) / 2.0 y=(area.top() + area.bottom()) / 2.0 text-anchor="middle" class="waiting">"Computing the singular values…"</text>
                    </Show>
                    <line class="threshold-line" class:hidden=is_waiting x1=threshold_x x2=threshold_x y1=area.top() y2=area.bottom()></line>
                    <g class="axis">
                        <line x1=area.left() x2=area.right() y1=area.bottom() y2=area.bottom()></line>
                        {move || geometry.with(|(_, x_scale, _, x_ticks, x_step, _, _)| {
                            x_ticks.iter().map(|&t| {
                                let x = x_scale.map(t);
                                view! {
                                    <line x1=x x2=x y1=area.bottom() y2=area.bottom() + 5.0></line>
                                    <text x=x y=area.bottom() + 18.0 text-anchor="middle" class="tick">{format_tick(t, *x_step)}</text>
                                }
                            }).collect_view()
                        })}
                        <text x=(area.left() + area.right()) / 2.0 y=HEIGHT_PX - 8.0 text-anchor="middle" class="axis-label">"singular value σ"</text>
                        <text x=14.0 y=(area.top() + area.bottom()) / 2.0 text-anchor="middle" class="axis-label" transform=format!("rotate(-90 14 {})", (area.top() + area.bottom()) / 2.0)>"count"</text>
                    </g>
                </svg>
                <Tooltip content=tooltip/>
            </div>
            <p class="caption">"The dashed line marks the rank threshold (threshold × largest σ)."</p>
            <ChartToolbar title=title what=what card=card kind=ChartKind::Svg/>
        </article>
        </Show>
    }
}
