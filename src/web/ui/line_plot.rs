//! The first left singular vectors plotted against position (SVG), one line per vector.

use leptos::prelude::*;
use web_sys::MouseEvent;

use crate::pure::chart::{self, format_tick, nearest_index, nice_step, Margins, PlotArea};
use crate::web::ui::export_toolbar::{ChartKind, ChartToolbar};
use crate::web::ui::stages::{mount_flag, staged, Gate};
use crate::web::ui::tooltip::{pointer_position, Tooltip, TooltipContent};

/// The chart's drawing box, in SVG user units.
const WIDTH_PX: f64 = 560.0;
/// The chart's drawing box height.
const HEIGHT_PX: f64 = 300.0;

/// A line plot card.
#[component]
pub fn LinePlot(
    /// The card title.
    title: Signal<String>,
    /// The vectors, `[vector][position]`.
    rows: Signal<Vec<Vec<f64>>>,
    /// Whether this is the analysis after dropping (for export file names).
    #[prop(optional)]
    dropped: bool,
) -> impl IntoView {
    // New vectors are taken in a browser task of their own (see `stages`).
    let rows = staged(Gate::Results, move || rows.get());
    let card = NodeRef::<leptos::html::Article>::new();
    let what = Signal::derive(move || {
        let n = rows.with(Vec::len);
        let suffix = if dropped { "_dropped" } else { "" };
        format!("U{n}{suffix}_lines")
    });
    let summary = move || {
        let (n, n_positions) =
            rows.with(|rows| (rows.len(), rows.iter().map(Vec::len).max().unwrap_or(0)));
        format!(
            "{}: line plot of {n} left singular vectors over {n_positions} positions",
            title.get()
        )
    };
    let tooltip = RwSignal::new(None::<TooltipContent>);
    let hover_position = RwSignal::new(None::<usize>);
    let area = PlotArea::new(
        WIDTH_PX,
        HEIGHT_PX,
        Margins {
            top_px: 16.0,
            right_px: 16.0,
            bottom_px: 48.0,
            left_px: 60.0,
        },
    );
    let geometry = Memo::new(move |_| {
        rows.with(|rows| {
            let n_positions = rows.iter().map(Vec::len).max().unwrap_or(0);
            #[allow(clippy::cast_precision_loss)]
            let xs: Vec<f64> = (0..n_positions).map(|p| p as f64).collect();
            let last = xs.last().copied().unwrap_or(1.0).max(1.0);
            let (lo, hi) = rows
                .iter()
                .flatten()
                .fold((0.0_f64, 0.0_f64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            let x_scale = area.x_scale((0.0, last));
            let y_scale = area.y_scale((lo, hi)).nice(6);
            let colors = chart::line_series_colors(rows.len());
            let paths: Vec<(String, String)> = rows
                .iter()
                .zip(colors)
                .map(|(row, color)| (chart::polyline_path(&xs, row, &x_scale, &y_scale), color))
                .collect();
            (xs, x_scale, y_scale, paths)
        })
    });
    let on_move = move |event: MouseEvent| {
        let Some(pointer) = pointer_position(&event) else {
            return;
        };
        let x = pointer.x_px * WIDTH_PX / pointer.width_px.max(1.0);
        let hit = geometry.with(|(xs, x_scale, ..)| {
            if x < area.left() || x > area.right() {
                return None;
            }
            nearest_index(xs, x_scale.invert(x))
        });
        hover_position.set(hit);
        let colors = chart::line_series_colors(rows.with(Vec::len));
        tooltip.set(hit.map(|position| {
            TooltipContent {
                x_px: pointer.x_px,
                y_px: pointer.y_px,
                lines: std::iter::once(format!("position {position}"))
                    .chain(rows.with(|rows| {
                        rows.iter()
                            .enumerate()
                            .zip(colors)
                            .map(|((i, row), _)| {
                                let value = row.get(position).copied().unwrap_or(f64::NAN);
                                format!("vector {i}: {value}")
                            })
                            .collect::<Vec<_>>()
                    }))
                    .collect(),
            }
        }));
    };

    let shown = mount_flag(Gate::Results);
    view! {
        <Show when=move || shown.get()>
        <article class="card chart" node_ref=card>
            <header class="chart-head">
                <h3>{move || title.get()}</h3>
                <div class="legend">
                    {move || {
                        let n = rows.with(Vec::len);
                        chart::line_series_colors(n).into_iter().enumerate().map(|(i, color)| view! {
                            <span class="legend-item"><span class="swatch" style=format!("background: {color}")></span>{format!("u{i}")}</span>
                        }).collect_view()
                    }}
                </div>
            </header>
            <div class="chart-box" on:mousemove=on_move on:mouseleave=move |_| { tooltip.set(None); hover_position.set(None); }>
                <svg viewBox=format!("0 0 {WIDTH_PX} {HEIGHT_PX}") class="chart-svg" role="img" aria-label=summary data-testid="chart-svg">
                    <g class="grid">
                        {move || geometry.with(|(_, _, y_scale, _)| {
                            let ticks = y_scale.ticks(6);
                            let step = nice_step(y_scale.domain.1 - y_scale.domain.0, 6);
                            ticks.iter().map(|&t| {
                                let y = y_scale.map(t);
                                view! {
                                    <line x1=area.left() x2=area.right() y1=y y2=y class:zero=t == 0.0></line>
                                    <text x=area.left() - 8.0 y=y + 4.0 text-anchor="end" class="tick">{format_tick(t, step)}</text>
                                }
                            }).collect_view()
                        })}
                    </g>
                    <g class="lines">
                        {move || geometry.with(|(_, _, _, paths)| {
                            paths.iter().map(|(d, color)| view! {
                                <path d=d.clone() stroke=color.clone() fill="none" stroke-width="1.5"></path>
                            }).collect_view()
                        })}
                    </g>
                    {move || hover_position.get().map(|p| {
                        #[allow(clippy::cast_precision_loss)]
                        let x = geometry.with(|(_, x_scale, _, _)| x_scale.map(p as f64));
                        view! { <line class="hover-line" x1=x x2=x y1=area.top() y2=area.bottom()></line> }
                    })}
                    <g class="axis">
                        <line x1=area.left() x2=area.right() y1=area.bottom() y2=area.bottom()></line>
                        {move || geometry.with(|(_, x_scale, _, _)| {
                            let ticks = x_scale.ticks(8);
                            let step = nice_step(x_scale.domain.1 - x_scale.domain.0, 8);
                            ticks.iter().map(|&t| {
                                let x = x_scale.map(t);
                                view! {
                                    <line x1=x x2=x y1=area.bottom() y2=area.bottom() + 5.0></line>
                                    <text x=x y=area.bottom() + 18.0 text-anchor="middle" class="tick">{format_tick(t, step)}</text>
                                }
                            }).collect_view()
                        })}
                        <text x=(area.left() + area.right()) / 2.0 y=HEIGHT_PX - 8.0 text-anchor="middle" class="axis-label">"position"</text>
                        <text x=14.0 y=(area.top() + area.bottom()) / 2.0 text-anchor="middle" class="axis-label" transform=format!("rotate(-90 14 {})", (area.top() + area.bottom()) / 2.0)>"component of u"</text>
                    </g>
                </svg>
                <Tooltip content=tooltip/>
            </div>
            <ChartToolbar title=title what=what card=card kind=ChartKind::Svg/>
        </article>
        </Show>
    }
}
