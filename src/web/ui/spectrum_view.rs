//! The scree plot (σᵢ against i on a log axis, with the rank threshold and the rank) and the
//! cumulative energy beside it, marking how many directions hold 90%, 99% and 99.9%.

use leptos::prelude::*;
use web_sys::MouseEvent;

use crate::pure::analysis::approx_rank;
use crate::pure::chart::log_scale::{decade_bounds, LogScale};
use crate::pure::chart::{nearest_index, polyline_path, Margins, PlotArea};
use crate::pure::views::spectrum::{energy_markers, level_label, DEFAULT_ENERGY_LEVELS};
use crate::web::ui::axes::{x_axis, x_log_axis, y_axis, y_log_axis};
use crate::web::ui::tooltip::{pointer_position, Tooltip, TooltipContent};

/// The drawing box of each chart, in SVG user units.
const WIDTH_PX: f64 = 560.0;
/// The drawing box height.
const HEIGHT_PX: f64 = 300.0;

/// The plot area inside the drawing box.
fn plot_area() -> PlotArea {
    PlotArea::new(
        WIDTH_PX,
        HEIGHT_PX,
        Margins {
            top_px: 16.0,
            right_px: 16.0,
            bottom_px: 48.0,
            left_px: 60.0,
        },
    )
}

/// Maps the pointer to the nearest index along an x scale over `0..n`.
fn hovered_index(
    event: &MouseEvent,
    xs: &[f64],
    invert: impl Fn(f64) -> f64,
) -> Option<(usize, f64, f64)> {
    let pointer = pointer_position(event)?;
    let x = pointer.x_px * WIDTH_PX / pointer.width_px.max(1.0);
    let area = plot_area();
    if x < area.left() || x > area.right() {
        return None;
    }
    nearest_index(xs, invert(x)).map(|i| (i, pointer.x_px, pointer.y_px))
}

/// The scree plot and the cumulative energy, side by side.
#[component]
pub fn SpectrumViews(
    /// Singular values, descending.
    singular_values: Signal<Vec<f64>>,
    /// Cumulative energy shares, one per singular value.
    cumulative_energy: Signal<Vec<f64>>,
    /// The live rank threshold (relative to σ₀).
    threshold: Signal<f64>,
) -> impl IntoView {
    let area = plot_area();
    let scree_tooltip = RwSignal::new(None::<TooltipContent>);
    let energy_tooltip = RwSignal::new(None::<TooltipContent>);
    let scree = Memo::new(move |_| {
        singular_values.with(|values| {
            // Directions are numbered from 1 (the largest σ).
            let xs: Vec<f64> = (1..=values.len()).map(|i| i as f64).collect();
            let positive_min = values
                .iter()
                .copied()
                .filter(|v| *v > 0.0 && v.is_finite())
                .fold(f64::INFINITY, f64::min);
            let sigma_0 = values.first().copied().unwrap_or(1.0);
            let (lo, hi) = decade_bounds(
                positive_min.min(sigma_0 * threshold.get_untracked()),
                sigma_0,
            );
            let x_scale = area.x_scale((1.0, xs.last().copied().unwrap_or(2.0).max(2.0)));
            let y_scale = LogScale::new((lo, hi), (area.bottom(), area.top()));
            // Zeros cannot sit on a log axis: they are left out of the line.
            let ys: Vec<f64> = values
                .iter()
                .map(|&v| if v > 0.0 { v.log10() } else { f64::NAN })
                .collect();
            let y_linear = crate::pure::chart::LinearScale::new(
                (lo.log10(), hi.log10()),
                (area.bottom(), area.top()),
            );
            let path = polyline_path(&xs, &ys, &x_scale, &y_linear);
            (xs, x_scale, y_scale, path)
        })
    });
    let rank =
        Memo::new(move |_| singular_values.with(|values| approx_rank(values, threshold.get())));
    let threshold_sigma = move || {
        threshold.get() * singular_values.with(|values| values.first().copied().unwrap_or(0.0))
    };
    let markers = Memo::new(move |_| {
        cumulative_energy.with(|cumulative| energy_markers(cumulative, &DEFAULT_ENERGY_LEVELS))
    });
    let marker_count =
        move |index: usize| markers.with(|m| m.get(index).map_or(0, |m| m.n_directions));
    let energy_geometry = Memo::new(move |_| {
        cumulative_energy.with(|cumulative| {
            // The number of directions runs on a log axis, so 5, 50 and 500 are equally far apart.
            let xs: Vec<f64> = (1..=cumulative.len()).map(|i| i as f64).collect();
            let log_xs: Vec<f64> = xs.iter().map(|x| x.log10()).collect();
            let (_, hi) = decade_bounds(1.0, cumulative.len().max(2) as f64);
            let x_scale = LogScale::new((1.0, hi), (area.left(), area.right()));
            let x_linear = crate::pure::chart::LinearScale::new(
                (0.0, hi.log10()),
                (area.left(), area.right()),
            );
            let y_scale = area.y_scale((0.0, 1.0));
            let path = polyline_path(&log_xs, cumulative, &x_linear, &y_scale);
            (log_xs, x_scale, y_scale, path)
        })
    });

    let on_scree_move = move |event: MouseEvent| {
        let hit = scree.with(|(xs, x_scale, ..)| hovered_index(&event, xs, |x| x_scale.invert(x)));
        scree_tooltip.set(hit.and_then(|(i, x_px, y_px)| {
            let sigma = singular_values.with(|v| v.get(i).copied())?;
            let sigma_0 = singular_values.with(|v| v.first().copied()).unwrap_or(1.0);
            Some(TooltipContent {
                x_px,
                y_px,
                lines: vec![
                    format!("direction {}", i + 1),
                    format!("σ = {sigma}"),
                    format!("σ/σ₀ = {:.6}", sigma / sigma_0),
                ],
            })
        }));
    };
    let on_energy_move = move |event: MouseEvent| {
        let hit = energy_geometry.with(|(log_xs, x_scale, ..)| {
            hovered_index(&event, log_xs, |x| x_scale.invert(x).log10())
        });
        energy_tooltip.set(hit.and_then(|(i, x_px, y_px)| {
            let share = cumulative_energy.with(|c| c.get(i).copied())?;
            Some(TooltipContent {
                x_px,
                y_px,
                lines: vec![
                    format!("first {} directions", i + 1),
                    format!("energy {share}"),
                ],
            })
        }));
    };

    view! {
        <section class="pair">
            <article class="card chart">
                <header class="chart-head">
                    <h3>"Scree plot: singular values on a log scale"</h3>
                </header>
                <div class="chart-box" data-testid="scree" data-rank=move || rank.get().to_string() data-threshold-sigma=move || threshold_sigma().to_string()
                    on:mousemove=on_scree_move on:mouseleave=move |_| scree_tooltip.set(None)>
                    <svg viewBox=format!("0 0 {WIDTH_PX} {HEIGHT_PX}") class="chart-svg" role="img" aria-label="Scree plot: singular values on a log scale, with the rank threshold and the rank marked">
                        {move || scree.with(|(_, x_scale, y_scale, path)| {
                            let t_y = y_scale.map(threshold_sigma());
                            let rank_x = x_scale.map(rank.get() as f64 + 0.5);
                            view! {
                                {y_log_axis(area, *y_scale, "σ (log scale)".to_owned())}
                                {x_axis(area, *x_scale, 8, "direction (1 = largest σ)".to_owned())}
                                <path d=path.clone() class="series" stroke="#3451d1" fill="none" stroke-width="1.5"></path>
                                <line class="threshold-line" x1=area.left() x2=area.right() y1=t_y y2=t_y></line>
                                <line class="rank-line" x1=rank_x x2=rank_x y1=area.top() y2=area.bottom()></line>
                                <text class="marker-label" x=rank_x + 4.0 y=area.top() + 12.0>{format!("rank {}", rank.get())}</text>
                                <text class="marker-label threshold" x=area.right() - 4.0 y=t_y - 4.0 text-anchor="end">{format!("{} · σ₀", threshold.get())}</text>
                            }
                        })}
                    </svg>
                    <Tooltip content=scree_tooltip/>
                </div>
            </article>
            <article class="card chart">
                <header class="chart-head">
                    <h3>"Cumulative energy Σσ² of the first directions"</h3>
                </header>
                <div class="chart-box" data-testid="cumulative-energy"
                    data-dirs-90=move || marker_count(0).to_string()
                    data-dirs-99=move || marker_count(1).to_string()
                    data-dirs-99-9=move || marker_count(2).to_string()
                    on:mousemove=on_energy_move on:mouseleave=move |_| energy_tooltip.set(None)>
                    <svg viewBox=format!("0 0 {WIDTH_PX} {HEIGHT_PX}") class="chart-svg" role="img" aria-label="Cumulative energy of the singular values, with 90%, 99% and 99.9% marked">
                        {move || energy_geometry.with(|(_, x_scale, y_scale, path)| view! {
                            {y_axis(area, *y_scale, 5, "share of energy".to_owned())}
                            {x_log_axis(area, *x_scale, "number of leading directions (log scale)".to_owned())}
                            <path d=path.clone() stroke="#3451d1" fill="none" stroke-width="1.5"></path>
                            {markers.get().into_iter().enumerate().map(|(i, marker)| {
                                let x = x_scale.map(marker.n_directions as f64);
                                // The dot sits on the curve: the energy those directions actually hold.
                                let held = cumulative_energy.with(|c| c.get(marker.n_directions.saturating_sub(1)).copied().unwrap_or(marker.level));
                                let y = y_scale.map(held);
                                let label_y = y + 14.0 + 14.0 * i as f64;
                                view! {
                                    <line class="energy-marker" x1=x x2=x y1=y y2=area.bottom()></line>
                                    <circle class="energy-dot" cx=x cy=y r="3"></circle>
                                    <text class="marker-label" x=x + 4.0 y=label_y>{format!("{}: {}", level_label(marker.level), marker.n_directions)}</text>
                                }
                            }).collect_view()}
                        })}
                    </svg>
                    <Tooltip content=energy_tooltip/>
                </div>
                <p class="caption">
                    {move || format!(
                        "{} directions hold 90% of the energy, {} hold 99%, {} hold 99.9%.",
                        marker_count(0), marker_count(1), marker_count(2)
                    )}
                </p>
            </article>
        </section>
    }
}
