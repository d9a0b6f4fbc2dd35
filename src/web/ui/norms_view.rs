//! The norm of each position's embedding, ‖W_pos\[p\]‖, against p. Clicking a position drops
//! the positions up to and including it (`drop_axis=rows`) in the second analysis.

use leptos::prelude::*;
use web_sys::MouseEvent;

use crate::pure::analysis::DropAxis;
use crate::pure::chart::{nearest_index, polyline_path, Margins, PlotArea};
use crate::web::run as actions;
use crate::web::run::state::AppState;
use crate::web::ui::axes::{x_axis, y_axis};
use crate::web::ui::tooltip::{pointer_position, Tooltip, TooltipContent};

/// The drawing box, in SVG user units.
const WIDTH_PX: f64 = 560.0;
/// The drawing box height.
const HEIGHT_PX: f64 = 300.0;

/// The per-position norm chart.
#[component]
pub fn NormsView(
    /// The norm of every analysed position's row of W_pos.
    norms: Signal<Vec<f64>>,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let tooltip = RwSignal::new(None::<TooltipContent>);
    let hover = RwSignal::new(None::<usize>);
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
        norms.with(|norms| {
            let xs: Vec<f64> = (0..norms.len()).map(|p| p as f64).collect();
            let hi = norms.iter().copied().fold(0.0_f64, f64::max);
            let x_scale = area.x_scale((0.0, xs.last().copied().unwrap_or(1.0).max(1.0)));
            let y_scale = area.y_scale((0.0, hi.max(f64::MIN_POSITIVE))).nice(6);
            let path = polyline_path(&xs, norms, &x_scale, &y_scale);
            (xs, x_scale, y_scale, path)
        })
    });
    let argmax = Memo::new(move |_| {
        norms.with(|norms| {
            norms
                .iter()
                .enumerate()
                .fold(None, |best: Option<(usize, f64)>, (p, &v)| match best {
                    Some((_, b)) if b >= v => best,
                    _ => Some((p, v)),
                })
        })
    });
    let position_at = move |event: &MouseEvent| -> Option<(usize, f64, f64)> {
        let pointer = pointer_position(event)?;
        let x = pointer.x_px * WIDTH_PX / pointer.width_px.max(1.0);
        if x < area.left() || x > area.right() {
            return None;
        }
        let p = geometry.with(|(xs, x_scale, ..)| nearest_index(xs, x_scale.invert(x)))?;
        Some((p, pointer.x_px, pointer.y_px))
    };
    let on_move = move |event: MouseEvent| {
        let hit = position_at(&event);
        hover.set(hit.map(|(p, ..)| p));
        tooltip.set(hit.and_then(|(p, x_px, y_px)| {
            let norm = norms.with(|n| n.get(p).copied())?;
            Some(TooltipContent {
                x_px,
                y_px,
                lines: vec![
                    format!("position {p}"),
                    format!("‖W_pos[p]‖ = {norm}"),
                    format!("click: drop positions 0–{p} (drop={}, rows)", p + 1),
                ],
            })
        }));
    };
    let on_click = move |event: MouseEvent| {
        let Some((p, ..)) = position_at(&event) else {
            return;
        };
        let previous = state.settings.get_untracked();
        let mut next = previous.clone();
        next.drop_axis = DropAxis::Rows;
        next.drop_count = p + 1;
        if next == previous {
            return;
        }
        actions::write_url(&next, true);
        actions::apply_settings(state, next, &previous);
    };
    view! {
        <article class="card chart">
            <header class="chart-head">
                <h3>"Norm of each position's embedding"</h3>
            </header>
            <div class="chart-box clickable" data-testid="norms-chart"
                data-argmax=move || argmax.get().map(|(p, _)| p.to_string()).unwrap_or_default()
                data-max-norm=move || argmax.get().map(|(_, v)| v.to_string()).unwrap_or_default()
                on:mousemove=on_move on:click=on_click
                on:mouseleave=move |_| { tooltip.set(None); hover.set(None); }>
                <svg viewBox=format!("0 0 {WIDTH_PX} {HEIGHT_PX}") class="chart-svg" role="img" aria-label="Norm of W_pos at each position; a click drops the rows up to that position">
                    {move || geometry.with(|(_, x_scale, y_scale, path)| view! {
                        {y_axis(area, *y_scale, 6, "‖W_pos[p]‖".to_owned())}
                        {x_axis(area, *x_scale, 8, "position p".to_owned())}
                        <path d=path.clone() stroke="#3451d1" fill="none" stroke-width="1.5"></path>
                    })}
                    {move || hover.get().map(|p| {
                        let (x, y) = geometry.with(|(_, x_scale, y_scale, _)| {
                            let v = norms.with(|n| n.get(p).copied().unwrap_or(0.0));
                            (x_scale.map(p as f64), y_scale.map(v))
                        });
                        view! {
                            <line class="hover-line" x1=x x2=x y1=area.top() y2=area.bottom()></line>
                            <circle class="hover-dot" cx=x cy=y r="3.5"></circle>
                        }
                    })}
                </svg>
                <Tooltip content=tooltip/>
            </div>
            <p class="caption">
                {move || argmax.get().map(|(p, v)| format!("The largest norm is at position {p} ({v:.4}). ")).unwrap_or_default()}
                "Click a position to analyse again without the positions up to and including it (rows dropped)."
            </p>
        </article>
    }
}
