//! The norm of each position's embedding, ‖W_pos\[p\]‖, against p. Clicking a position drops
//! the positions up to and including it (`drop_axis=rows`) in the second analysis.

use leptos::prelude::*;
use web_sys::MouseEvent;

use crate::pure::analysis::DropAxis;
use crate::pure::chart::{hovered_index, polyline_path, Axis, ChartSize};
use crate::web::run as actions;
use crate::web::run::state::AppState;
use crate::web::ui::chart_frame::{ChartFrame, SvgPlot};
use crate::web::ui::tooltip::pointer_position;

/// The per-position norm chart.
#[component]
pub fn NormsView(
    /// The norm of every analysed position's row of W_pos.
    norms: Signal<Vec<f64>>,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let hover = RwSignal::new(None::<usize>);
    let area = ChartSize::STANDARD.area();
    let geometry = Memo::new(move |_| {
        norms.with(|norms| {
            let xs: Vec<f64> = (0..norms.len()).map(|p| p as f64).collect();
            let hi = norms.iter().copied().fold(0.0_f64, f64::max);
            let x_scale = area.x_scale((0.0, xs.last().copied().unwrap_or(1.0).max(1.0)));
            let y_scale = area.y_scale((0.0, hi.max(f64::MIN_POSITIVE))).nice(6);
            let path = polyline_path(&xs, norms, &x_scale, &y_scale);
            let axes = vec![
                Axis::left(&y_scale, 6, "‖W_pos[p]‖"),
                Axis::bottom(&x_scale, 8, "position p"),
            ];
            (xs, x_scale, y_scale, path, axes)
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
    let position_at = move |x: f64| {
        geometry.with(|(xs, x_scale, ..)| hovered_index(&area, xs, x, |x| x_scale.invert(x)))
    };
    let hover_at = Callback::new(move |(x, _): (f64, f64)| {
        let p = position_at(x);
        hover.set(p);
        let p = p?;
        let norm = norms.with(|n| n.get(p).copied())?;
        Some(vec![
            format!("position {p}"),
            format!("‖W_pos[p]‖ = {norm}"),
            format!("click: drop positions 0–{p} (drop={}, rows)", p + 1),
        ])
    });
    let on_click = move |event: MouseEvent| {
        let Some(pointer) = pointer_position(&event) else {
            return;
        };
        let (x, _) = ChartSize::STANDARD.chart_point(pointer.x_px, pointer.y_px, pointer.width_px);
        let Some(p) = position_at(x) else {
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
        <ChartFrame title="Norm of each position's embedding".to_owned() what="position_norms".to_owned()>
            <SvgPlot size=ChartSize::STANDARD summary="Norm of W_pos at each position; a click drops the rows up to that position".to_owned()
                axes=Signal::derive(move || geometry.with(|g| g.4.clone())) hover=hover_at
                on_leave=Callback::new(move |()| hover.set(None)) class="clickable" attr:data-testid="norms-chart"
                attr:data-argmax=move || argmax.get().map(|(p, _)| p.to_string()).unwrap_or_default()
                attr:data-max-norm=move || argmax.get().map(|(_, v)| v.to_string()).unwrap_or_default()
                on:click=on_click>
                {move || geometry.with(|(_, _, _, path, _)| view! {
                    <path d=path.clone() stroke="#3451d1" fill="none" stroke-width="1.5"></path>
                })}
                {move || hover.get().map(|p| {
                    let (x, y) = geometry.with(|(_, x_scale, y_scale, ..)| {
                        let v = norms.with(|n| n.get(p).copied().unwrap_or(0.0));
                        (x_scale.map(p as f64), y_scale.map(v))
                    });
                    view! {
                        <line class="hover-line" x1=x x2=x y1=area.top() y2=area.bottom()></line>
                        <circle class="hover-dot" cx=x cy=y r="3.5"></circle>
                    }
                })}
            </SvgPlot>
            <p class="caption">
                {move || argmax.get().map(|(p, v)| format!("The largest norm is at position {p} ({v:.4}). ")).unwrap_or_default()}
                "Click a position to analyse again without the positions up to and including it (rows dropped)."
            </p>
        </ChartFrame>
    }
}
