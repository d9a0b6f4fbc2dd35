//! SVG axes shared by the views' charts: ticks, tick labels and axis titles.

use leptos::prelude::*;

use crate::pure::chart::log_scale::{format_log_tick, log_ticks, LogScale};
use crate::pure::chart::{format_tick, nice_step, LinearScale, PlotArea};

/// A bottom axis with nice ticks over `scale` and a title below it.
pub fn x_axis(area: PlotArea, scale: LinearScale, n_ticks: usize, title: String) -> impl IntoView {
    let ticks = scale.ticks(n_ticks);
    let step = nice_step((scale.domain.1 - scale.domain.0).abs(), n_ticks);
    let mid_x = (area.left() + area.right()) / 2.0;
    view! {
        <g class="axis">
            <line x1=area.left() x2=area.right() y1=area.bottom() y2=area.bottom()></line>
            {ticks.into_iter().map(|t| {
                let x = scale.map(t);
                view! {
                    <line x1=x x2=x y1=area.bottom() y2=area.bottom() + 5.0></line>
                    <text x=x y=area.bottom() + 18.0 text-anchor="middle" class="tick">{format_tick(t, step)}</text>
                }
            }).collect_view()}
            <text x=mid_x y=area.bottom() + 36.0 text-anchor="middle" class="axis-label">{title}</text>
        </g>
    }
}

/// A left axis with nice ticks and grid lines over `scale`, and a rotated title.
pub fn y_axis(area: PlotArea, scale: LinearScale, n_ticks: usize, title: String) -> impl IntoView {
    let ticks = scale.ticks(n_ticks);
    let step = nice_step((scale.domain.1 - scale.domain.0).abs(), n_ticks);
    let mid_y = (area.top() + area.bottom()) / 2.0;
    view! {
        <g class="grid">
            {ticks.into_iter().map(|t| {
                let y = scale.map(t);
                view! {
                    <line x1=area.left() x2=area.right() y1=y y2=y class:zero=t == 0.0></line>
                    <text x=area.left() - 8.0 y=y + 4.0 text-anchor="end" class="tick">{format_tick(t, step)}</text>
                }
            }).collect_view()}
        </g>
        <text x=14.0 y=mid_y text-anchor="middle" class="axis-label" transform=format!("rotate(-90 14 {mid_y})")>{title}</text>
    }
}

/// A left logarithmic axis with decade (or 1-2-5) ticks and grid lines, and a rotated title.
pub fn y_log_axis(area: PlotArea, scale: LogScale, title: String) -> impl IntoView {
    let ticks = log_ticks(scale.domain.0, scale.domain.1, 8);
    let mid_y = (area.top() + area.bottom()) / 2.0;
    view! {
        <g class="grid">
            {ticks.into_iter().map(|t| {
                let y = scale.map(t);
                view! {
                    <line x1=area.left() x2=area.right() y1=y y2=y></line>
                    <text x=area.left() - 8.0 y=y + 4.0 text-anchor="end" class="tick">{format_log_tick(t)}</text>
                }
            }).collect_view()}
        </g>
        <text x=14.0 y=mid_y text-anchor="middle" class="axis-label" transform=format!("rotate(-90 14 {mid_y})")>{title}</text>
    }
}

/// A bottom logarithmic axis with decade (or 1-2-5) ticks and a title below it.
pub fn x_log_axis(area: PlotArea, scale: LogScale, title: String) -> impl IntoView {
    let ticks = log_ticks(scale.domain.0, scale.domain.1, 8);
    let mid_x = (area.left() + area.right()) / 2.0;
    view! {
        <g class="axis">
            <line x1=area.left() x2=area.right() y1=area.bottom() y2=area.bottom()></line>
            {ticks.into_iter().map(|t| {
                let x = scale.map(t);
                view! {
                    <line x1=x x2=x y1=area.bottom() y2=area.bottom() + 5.0></line>
                    <text x=x y=area.bottom() + 18.0 text-anchor="middle" class="tick">{format_log_tick(t)}</text>
                }
            }).collect_view()}
            <text x=mid_x y=area.bottom() + 36.0 text-anchor="middle" class="axis-label">{title}</text>
        </g>
    }
}
