//! The first left singular vectors plotted against position (SVG), one line per vector.

use leptos::prelude::*;

use crate::pure::chart::{self, hovered_index, Axis, ChartSize};
use crate::web::ui::chart_frame::{ChartFrame, SvgPlot};
use crate::web::ui::stages::{mount_flag, staged, Gate};

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
    let hover_position = RwSignal::new(None::<usize>);
    let area = ChartSize::STANDARD.area();
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
            let axes = vec![
                Axis::left(&y_scale, 6, "component of u"),
                Axis::bottom(&x_scale, 8, "position"),
            ];
            (xs, x_scale, axes, paths)
        })
    });
    let hover = Callback::new(move |(x, _): (f64, f64)| {
        let hit =
            geometry.with(|(xs, x_scale, ..)| hovered_index(&area, xs, x, |x| x_scale.invert(x)));
        hover_position.set(hit);
        let position = hit?;
        let values = rows.with(|rows| {
            rows.iter()
                .enumerate()
                .map(|(i, row)| {
                    let value = row.get(position).copied().unwrap_or(f64::NAN);
                    format!("vector {i}: {value}")
                })
                .collect::<Vec<_>>()
        });
        Some(
            std::iter::once(format!("position {position}"))
                .chain(values)
                .collect(),
        )
    });
    let legend = move || {
        view! {
            <div class="legend">
                {move || {
                    let n = rows.with(Vec::len);
                    chart::line_series_colors(n).into_iter().enumerate().map(|(i, color)| view! {
                        <span class="legend-item"><span class="swatch" style=format!("background: {color}")></span>{format!("u{i}")}</span>
                    }).collect_view()
                }}
            </div>
        }
    };

    let shown = mount_flag(Gate::Results);
    view! {
        <Show when=move || shown.get()>
        <ChartFrame title=title what=what controls=legend>
            <SvgPlot size=ChartSize::STANDARD summary=Signal::derive(summary) axes=Signal::derive(move || geometry.with(|g| g.2.clone()))
                hover=hover on_leave=Callback::new(move |()| hover_position.set(None)) svg_testid="chart-svg">
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
            </SvgPlot>
        </ChartFrame>
        </Show>
    }
}
