//! The scree plot (σᵢ against i on a log axis, with the rank threshold and the rank) and the
//! cumulative energy beside it, marking how many directions hold 90%, 99% and 99.9%.

use leptos::prelude::*;

use crate::pure::analysis::approx_rank;
use crate::pure::chart::log_scale::{decade_bounds, LogScale};
use crate::pure::chart::{hovered_index, polyline_path, Axis, ChartSize, LinearScale};
use crate::pure::views::spectrum::{energy_markers, level_label, DEFAULT_ENERGY_LEVELS};
use crate::web::ui::chart_frame::{ChartFrame, SvgPlot};

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
    let area = ChartSize::STANDARD.area();
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
            let y_linear = LinearScale::new((lo.log10(), hi.log10()), (area.bottom(), area.top()));
            let path = polyline_path(&xs, &ys, &x_scale, &y_linear);
            let axes = vec![
                Axis::log_left(&y_scale, "σ (log scale)"),
                Axis::bottom(&x_scale, 8, "direction (1 = largest σ)"),
            ];
            (xs, x_scale, y_scale, path, axes)
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
            let x_linear = LinearScale::new((0.0, hi.log10()), (area.left(), area.right()));
            let y_scale = area.y_scale((0.0, 1.0));
            let path = polyline_path(&log_xs, cumulative, &x_linear, &y_scale);
            let axes = vec![
                Axis::left(&y_scale, 5, "share of energy"),
                Axis::log_bottom(&x_scale, "number of leading directions (log scale)"),
            ];
            (log_xs, x_scale, y_scale, path, axes)
        })
    });

    let scree_hover = Callback::new(move |(x, _): (f64, f64)| {
        let i =
            scree.with(|(xs, x_scale, ..)| hovered_index(&area, xs, x, |x| x_scale.invert(x)))?;
        let sigma = singular_values.with(|v| v.get(i).copied())?;
        let sigma_0 = singular_values.with(|v| v.first().copied()).unwrap_or(1.0);
        Some(vec![
            format!("direction {}", i + 1),
            format!("σ = {sigma}"),
            format!("σ/σ₀ = {:.6}", sigma / sigma_0),
        ])
    });
    let energy_hover = Callback::new(move |(x, _): (f64, f64)| {
        let i = energy_geometry.with(|(log_xs, x_scale, ..)| {
            hovered_index(&area, log_xs, x, |x| x_scale.invert(x).log10())
        })?;
        let share = cumulative_energy.with(|c| c.get(i).copied())?;
        Some(vec![
            format!("first {} directions", i + 1),
            format!("energy {share}"),
        ])
    });

    view! {
        <section class="pair">
            <ChartFrame title="Scree plot: singular values on a log scale".to_owned() what="scree".to_owned()>
                <SvgPlot size=ChartSize::STANDARD summary="Scree plot: singular values on a log scale, with the rank threshold and the rank marked".to_owned()
                    axes=Signal::derive(move || scree.with(|g| g.4.clone())) hover=scree_hover attr:data-testid="scree" attr:data-rank=move || rank.get().to_string() attr:data-threshold-sigma=move || threshold_sigma().to_string()>
                    {move || scree.with(|(_, x_scale, y_scale, path, _)| {
                        let t_y = y_scale.map(threshold_sigma());
                        let rank_x = x_scale.map(rank.get() as f64 + 0.5);
                        view! {
                            <path d=path.clone() class="series" stroke="#3451d1" fill="none" stroke-width="1.5"></path>
                            <line class="threshold-line" x1=area.left() x2=area.right() y1=t_y y2=t_y></line>
                            <line class="rank-line" x1=rank_x x2=rank_x y1=area.top() y2=area.bottom()></line>
                            <text class="marker-label" x=rank_x + 4.0 y=area.top() + 12.0>{format!("rank {}", rank.get())}</text>
                            <text class="marker-label threshold" x=area.right() - 4.0 y=t_y - 4.0 text-anchor="end">{format!("{} · σ₀", threshold.get())}</text>
                        }
                    })}
                </SvgPlot>
            </ChartFrame>
            <ChartFrame title="Cumulative energy Σσ² of the first directions".to_owned() what="cumulative_energy".to_owned()>
                <SvgPlot size=ChartSize::STANDARD summary="Cumulative energy of the singular values, with 90%, 99% and 99.9% marked".to_owned()
                    axes=Signal::derive(move || energy_geometry.with(|g| g.4.clone())) hover=energy_hover attr:data-testid="cumulative-energy"
                    attr:data-dirs-90=move || marker_count(0).to_string()
                    attr:data-dirs-99=move || marker_count(1).to_string()
                    attr:data-dirs-99-9=move || marker_count(2).to_string()>
                    {move || energy_geometry.with(|(_, x_scale, y_scale, path, _)| view! {
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
                </SvgPlot>
                <p class="caption">
                    {move || format!(
                        "{} directions hold 90% of the energy, {} hold 99%, {} hold 99.9%.",
                        marker_count(0), marker_count(1), marker_count(2)
                    )}
                </p>
            </ChartFrame>
        </section>
    }
}
