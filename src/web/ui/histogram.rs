//! The histogram of singular values (SVG), with an adjustable bin count and the rank
//! threshold marked.

use leptos::prelude::*;

use crate::pure::analysis::approx_rank;
use crate::pure::chart::{self, Axis, ChartSize};
use crate::web::run::state::AppState;
use crate::web::ui::chart_frame::{ChartFrame, SvgPlot};
use crate::web::ui::stages::{mount_flag, Gate};

/// The chart's drawing box.
const SIZE: ChartSize = ChartSize::STANDARD.with_left(56.0);

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
    let area = SIZE.area();
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
        let mut axes = vec![
            Axis::left_counts(&y_scale, 5, "count"),
            Axis::bottom(&x_scale, 6, "singular value σ"),
        ];
        if values.is_empty() {
            axes = axes.into_iter().map(Axis::without_ticks).collect();
        }
        let sigma_max = values.iter().copied().fold(0.0_f64, f64::max);
        (bars, x_scale, axes, sigma_max)
    });
    let threshold_x = move || {
        geometry.with(|(_, x_scale, _, sigma_max)| x_scale.map(threshold.get() * sigma_max))
    };
    let hover = Callback::new(move |(x, _): (f64, f64)| {
        let hit = geometry.with(|(bars, ..)| {
            bars.iter()
                .find(|bar| x >= bar.x_px && x < bar.x_px + bar.width_px.max(0.5))
                .copied()
        });
        hit.map(|bar| {
            vec![
                format!("σ from {} to {}", bar.lower, bar.upper),
                format!("count: {}", bar.count),
            ]
        })
    });
    let bins_input = move || {
        view! {
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
        }
    };

    let shown = mounted.unwrap_or_else(|| mount_flag(Gate::Results));
    view! {
        <Show when=move || shown.get()>
        <ChartFrame title=title what=what controls=bins_input>
            <SvgPlot size=SIZE summary=Signal::derive(summary) axes=Signal::derive(move || geometry.with(|g| g.2.clone())) hover=hover svg_testid="chart-svg">
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
            </SvgPlot>
            <p class="caption">"The dashed line marks the rank threshold (threshold × largest σ)."</p>
        </ChartFrame>
        </Show>
    }
}
