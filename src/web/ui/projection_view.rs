//! Positions in the plane of two singular directions, at (σᵢuᵢ, σⱼuⱼ), coloured by position
//! and joined in order (SVG); and the top three directions in 3-D on a canvas, rotated by
//! dragging or with the arrow keys.

use std::sync::Arc;

use leptos::html::Canvas;
use leptos::prelude::*;
use web_sys::{KeyboardEvent, MouseEvent};

use crate::pure::analysis::SvdSummary;
use crate::pure::chart::orbit::{project_cloud, Orbit, Projected};
use crate::pure::chart::scatter::{equal_aspect_scales, nearest_point};
use crate::pure::chart::sequential::{sequential_rgb, sequential_stops};
use crate::pure::chart::{format_coord, rgb_css, Axis, ChartSize};
use crate::pure::views::projection::{plane_projection, space_projection};
use crate::web::ui::chart_frame::{ChartFrame, ChartKind, SvgPlot};
use crate::web::ui::download::context_2d;
use crate::web::ui::tooltip::{pointer_position, Tooltip, TooltipContent};

/// The scatter's drawing box.
const PAIR_SIZE: ChartSize = ChartSize::STANDARD.with_height(420.0).with_left(64.0);
/// The 3-D canvas size in canvas pixels.
const ORBIT_PX: u32 = 480;
/// Radians turned per dragged pixel.
const RAD_PER_PX: f64 = 0.01;
/// Radians turned per arrow-key press.
const RAD_PER_KEY: f64 = 0.1;

/// The colour bar of position order (or of periods), as a CSS gradient from left (first) to
/// right (last).
pub fn position_gradient() -> String {
    format!(
        "background: linear-gradient(to right, {});",
        sequential_stops(9).join(", ")
    )
}

/// A selector of direction numbers 1..=k.
fn direction_select(
    testid: &'static str,
    selected: RwSignal<usize>,
    k: Signal<usize>,
) -> impl IntoView {
    view! {
        <select data-testid=testid on:change=move |e| {
            if let Ok(n) = event_target_value(&e).parse::<usize>() {
                selected.set(n);
            }
        }>
            {move || (1..=k.get()).map(|n| view! {
                <option value=n.to_string() selected=move || selected.get() == n>{n.to_string()}</option>
            }).collect_view()}
        </select>
    }
}

/// The dots of the pair scatter, one `circle` per position coloured by its index, as SVG
/// markup: a thousand dots are parsed by the browser in one go, rather than made element by
/// element from WebAssembly. Every attribute is a number or a colour the page formats.
fn dots_svg(points: &[(f64, f64)], n: f64) -> String {
    use std::fmt::Write as _;
    let mut svg = String::with_capacity(points.len() * 96);
    for (p, (x, y)) in points.iter().enumerate() {
        let fill = rgb_css(sequential_rgb(p as f64, 0.0, n - 1.0));
        let _infallible = write!(
            svg,
            r#"<circle cx="{}" cy="{}" r="2.2" fill="{fill}" data-position="{p}"></circle>"#,
            format_coord(*x),
            format_coord(*y),
        );
    }
    svg
}

/// The pair scatter.
#[component]
pub fn PairPlot(
    /// The full analysis' summary.
    summary: Signal<Option<Arc<SvdSummary>>>,
) -> impl IntoView {
    let x_dir = RwSignal::new(1_usize);
    let y_dir = RwSignal::new(2_usize);
    let hover = RwSignal::new(None::<usize>);
    let k = Signal::derive(move || summary.with(|s| s.as_ref().map_or(0, |s| s.u_top_k.len())));
    let area = PAIR_SIZE.area();
    // Directions are numbered from 1 on the page and from 0 in the core.
    let geometry = Memo::new(move |_| {
        let summary = summary.get()?;
        let (x_dir, y_dir) = (x_dir.get(), y_dir.get());
        let plane =
            plane_projection(&summary, x_dir.saturating_sub(1), y_dir.saturating_sub(1)).ok()?;
        let (x_scale, y_scale) = equal_aspect_scales(&plane.xs, &plane.ys, &area);
        let points_px: Vec<(f64, f64)> = plane
            .xs
            .iter()
            .zip(&plane.ys)
            .map(|(&x, &y)| (x_scale.map(x), y_scale.map(y)))
            .collect();
        let axes = vec![
            Axis::left(&y_scale, 6, &format!("σ{y_dir}u{y_dir}")),
            Axis::bottom(&x_scale, 8, &format!("σ{x_dir}u{x_dir}")),
        ];
        Some((plane.xs, plane.ys, axes, points_px))
    });
    let hover_at = Callback::new(move |(x, y): (f64, f64)| {
        let hit = geometry.with(|g| {
            let (xs, ys, _, points) = g.as_ref()?;
            let p = nearest_point(points, x, y, 12.0)?;
            Some((p, *xs.get(p)?, *ys.get(p)?))
        });
        hover.set(hit.map(|(p, ..)| p));
        hit.map(|(p, vx, vy)| {
            vec![
                format!("position {p}"),
                format!("σ{0}u{0} = {vx}", x_dir.get_untracked()),
                format!("σ{0}u{0} = {vy}", y_dir.get_untracked()),
            ]
        })
    });
    let title = Signal::derive(move || {
        format!(
            "Positions in the plane of directions {} and {}",
            x_dir.get(),
            y_dir.get()
        )
    });
    let what = Signal::derive(move || format!("pair_{}_{}", x_dir.get(), y_dir.get()));
    let controls = move || {
        view! {
            <div class="view-controls">
                <label class="inline">"x " {direction_select("pair-x", x_dir, k)}</label>
                <label class="inline">"y " {direction_select("pair-y", y_dir, k)}</label>
            </div>
        }
    };
    view! {
        <ChartFrame title=title what=what controls=controls>
            <SvgPlot size=PAIR_SIZE summary="Positions projected on two singular directions, coloured by position index".to_owned()
                axes=Signal::derive(move || geometry.with(|g| g.as_ref().map(|g| g.2.clone()).unwrap_or_default()))
                hover=hover_at on_leave=Callback::new(move |()| hover.set(None)) attr:data-testid="pair-plot" attr:data-x=move || x_dir.get().to_string() attr:data-y=move || y_dir.get().to_string()>
                {move || geometry.with(|g| g.as_ref().map(|(_, _, _, points)| {
                    let n = points.len().max(2) as f64;
                    let path: String = points.iter().enumerate().map(|(i, (x, y))| {
                        format!("{}{} {}", if i == 0 { "M" } else { " L" }, format_coord(*x), format_coord(*y))
                    }).collect();
                    view! {
                        <path d=path class="trajectory"></path>
                        <g inner_html=dots_svg(points, n)></g>
                    }
                }))}
                {move || hover.get().and_then(|p| geometry.with(|g| g.as_ref().and_then(|g| g.3.get(p).copied()))).map(|(x, y)| view! {
                    <circle class="hover-ring" cx=x cy=y r="6"></circle>
                })}
            </SvgPlot>
            {position_bar(summary)}
            <p class="caption">"Each dot is a position at its coordinates σᵢuᵢ along two singular directions (1 is the largest σ), joined in position order. Both axes use the same scale."</p>
        </ChartFrame>
    }
}

/// The colour bar of position order under a chart, from position 0 to the last.
fn position_bar(summary: Signal<Option<Arc<SvdSummary>>>) -> impl IntoView {
    view! {
        <div class="position-bar">
            <span>"position 0"</span>
            <div class="position-gradient" style=position_gradient()></div>
            <span>{move || format!("{}", summary.with(|s| s.as_ref().map_or(0, |s| s.n_rows.saturating_sub(1))))}</span>
        </div>
    }
}

/// Draws the projected cloud: segments between neighbouring positions and dots, far first.
fn paint_orbit(canvas: &web_sys::HtmlCanvasElement, projected: &[Projected], orbit: &Orbit) {
    let Ok(context) = context_2d(canvas) else {
        return;
    };
    let size = f64::from(ORBIT_PX);
    let half = size / 2.0;
    let radius_px = half * 0.82;
    let to_px = |p: &Projected| (half + p.x * radius_px, half - p.y * radius_px);
    context.clear_rect(0.0, 0.0, size, size);
    // Axes of the three directions.
    for (axis, label) in [
        ([1.0, 0.0, 0.0], "1"),
        ([0.0, 1.0, 0.0], "2"),
        ([0.0, 0.0, 1.0], "3"),
    ] {
        let end = orbit.project(axis);
        let start = orbit.project([-axis[0], -axis[1], -axis[2]]);
        let (x0, y0) = to_px(&start);
        let (x1, y1) = to_px(&end);
        context.set_stroke_style_str("#c3c9d4");
        context.set_line_width(1.0);
        context.begin_path();
        context.move_to(x0, y0);
        context.line_to(x1, y1);
        context.stroke();
        context.set_fill_style_str("#5b6473");
        context.set_font("12px sans-serif");
        let _ignored = context.fill_text(label, x1 + 4.0, y1 - 4.0);
    }
    let n = projected.len().max(2) as f64;
    let mut order: Vec<usize> = (0..projected.len()).collect();
    order.sort_by(|&a, &b| {
        let da = projected.get(a).map_or(0.0, |p| p.depth);
        let db = projected.get(b).map_or(0.0, |p| p.depth);
        da.total_cmp(&db)
    });
    context.set_line_width(1.0);
    for &i in &order {
        let (Some(p), next) = (projected.get(i), projected.get(i + 1)) else {
            continue;
        };
        let colour = rgb_css(sequential_rgb(i as f64, 0.0, n - 1.0));
        let (x, y) = to_px(p);
        if let Some(q) = next {
            let (qx, qy) = to_px(q);
            context.set_stroke_style_str(&colour);
            context.begin_path();
            context.move_to(x, y);
            context.line_to(qx, qy);
            context.stroke();
        }
        context.set_fill_style_str(&colour);
        context.begin_path();
        let _ignored = context.arc(x, y, 2.0, 0.0, std::f64::consts::TAU);
        context.fill();
    }
}

/// The 3-D view of the top three directions.
#[component]
pub fn OrbitPlot(
    /// The full analysis' summary.
    summary: Signal<Option<Arc<SvdSummary>>>,
) -> impl IntoView {
    let canvas_ref = NodeRef::<Canvas>::new();
    let orbit = RwSignal::new(Orbit::default());
    let dragging = RwSignal::new(None::<(i32, i32)>);
    let tooltip = RwSignal::new(None::<TooltipContent>);
    let cloud = Memo::new(move |_| {
        summary.with(|s| s.as_ref().and_then(|s| space_projection(s, [0, 1, 2]).ok()))
    });
    let projected = Memo::new(move |_| {
        let orbit = orbit.get();
        cloud.with(|cloud| cloud.as_ref().map(|points| project_cloud(points, &orbit)))
    });
    Effect::new(move |_| {
        let current = orbit.get();
        projected.with(|projected| {
            if let (Some(projected), Some(canvas)) = (projected.as_ref(), canvas_ref.get()) {
                paint_orbit(&canvas, projected, &current);
            }
        });
    });
    let on_down = move |event: MouseEvent| {
        dragging.set(Some((event.client_x(), event.client_y())));
    };
    let on_move = move |event: MouseEvent| {
        if let Some((x0, y0)) = dragging.get_untracked() {
            let dx = f64::from(event.client_x() - x0);
            let dy = f64::from(event.client_y() - y0);
            orbit.update(|o| *o = o.rotated(dx * RAD_PER_PX, dy * RAD_PER_PX));
            dragging.set(Some((event.client_x(), event.client_y())));
            tooltip.set(None);
            return;
        }
        let Some(pointer) = pointer_position(&event) else {
            return;
        };
        let scale = f64::from(ORBIT_PX) / pointer.width_px.max(1.0);
        let half = f64::from(ORBIT_PX) / 2.0;
        let radius_px = half * 0.82;
        let hit = projected.with(|projected| {
            let projected = projected.as_ref()?;
            let points: Vec<(f64, f64)> = projected
                .iter()
                .map(|p| (half + p.x * radius_px, half - p.y * radius_px))
                .collect();
            nearest_point(&points, pointer.x_px * scale, pointer.y_px * scale, 10.0)
        });
        tooltip.set(hit.and_then(|p| {
            let point = cloud.with(|c| c.as_ref().and_then(|c| c.get(p).copied()))?;
            Some(TooltipContent {
                x_px: pointer.x_px,
                y_px: pointer.y_px,
                lines: vec![
                    format!("position {p}"),
                    format!("σ1u1 = {}", point[0]),
                    format!("σ2u2 = {}", point[1]),
                    format!("σ3u3 = {}", point[2]),
                ],
            })
        }));
    };
    let on_key = move |event: KeyboardEvent| {
        let (d_yaw, d_pitch) = match event.key().as_str() {
            "ArrowLeft" => (-RAD_PER_KEY, 0.0),
            "ArrowRight" => (RAD_PER_KEY, 0.0),
            "ArrowUp" => (0.0, -RAD_PER_KEY),
            "ArrowDown" => (0.0, RAD_PER_KEY),
            _ => return,
        };
        event.prevent_default();
        orbit.update(|o| *o = o.rotated(d_yaw, d_pitch));
    };
    let controls = move || {
        view! { <button data-testid="orbit-reset" on:click=move |_| orbit.set(Orbit::default())>"Reset view"</button> }
    };
    view! {
        <ChartFrame title="The top three directions in 3-D".to_owned() what="orbit_3d".to_owned() kind=ChartKind::Canvas controls=controls>
            <div class="chart-box orbit-box" on:mousemove=on_move on:mousedown=on_down
                on:mouseup=move |_| dragging.set(None) on:mouseleave=move |_| { dragging.set(None); tooltip.set(None); }>
                <canvas node_ref=canvas_ref class="orbit-canvas" data-testid="orbit-3d" tabindex="0"
                    aria-label="3-D view of the positions along the top three singular directions; arrow keys rotate"
                    width=ORBIT_PX.to_string() height=ORBIT_PX.to_string()
                    data-yaw=move || orbit.get().yaw_rad.to_string() data-pitch=move || orbit.get().pitch_rad.to_string()
                    on:keydown=on_key></canvas>
                <Tooltip content=tooltip/>
            </div>
            {position_bar(summary)}
            <p class="caption">"Positions at (σ1u1, σ2u2, σ3u3), joined in order. Drag to rotate, or focus the view and use the arrow keys."</p>
        </ChartFrame>
    }
}
