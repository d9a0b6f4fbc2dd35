//! The dominant period of each left singular vector along the positions, from its DFT, with
//! the share of the vector's power at that frequency: a table and a small bar chart.

use leptos::prelude::*;

use crate::pure::chart::sequential::sequential_rgb;
use crate::pure::chart::{rgb_css, Axis, ChartSize};
use crate::pure::views::frequency::FrequencyPeak;
use crate::web::ui::chart_frame::{ChartFrame, SvgPlot};
use crate::web::ui::projection_view::position_gradient;

/// The drawing box.
const SIZE: ChartSize = ChartSize::STANDARD.with_height(220.0).with_top(12.0);

/// Formats a period in positions ("∞" for a constant vector).
fn period_text(peak: &FrequencyPeak) -> String {
    if peak.period_positions.is_finite() {
        format!("{:.2}", peak.period_positions)
    } else {
        "∞ (mean)".to_owned()
    }
}

/// The frequency table and chart.
#[component]
pub fn FrequencyView(
    /// The dominant frequency of each of the first k left singular vectors.
    peaks: Signal<Vec<FrequencyPeak>>,
    /// How many positions the vectors have.
    n_positions: Signal<usize>,
) -> impl IntoView {
    let area = SIZE.area();
    let scales = move || {
        let n = peaks.with(Vec::len).max(1);
        (area.x_scale((0.0, n as f64)), area.y_scale((0.0, 1.0)))
    };
    let axes = Signal::derive(move || {
        let (x_scale, y_scale) = scales();
        vec![
            Axis::left(&y_scale, 5, "power share"),
            Axis::bottom(&x_scale, 8, "left singular vector index"),
        ]
    });
    let hover = Callback::new(move |(x, _): (f64, f64)| {
        let (x_scale, _) = scales();
        let index = x_scale.invert(x).floor();
        if index < 0.0 {
            return None;
        }
        let peak = peaks.with(|p| p.get(index as usize).copied())?;
        Some(vec![
            format!("u{}", index as usize),
            format!("period {} positions (bin {})", period_text(&peak), peak.bin),
            format!("power share {:.4}", peak.power_share),
        ])
    });
    view! {
        <ChartFrame title="Dominant period of each left singular vector".to_owned() what="dominant_periods".to_owned()>
            <SvgPlot size=SIZE summary="Dominant period in positions of each left singular vector, from its DFT".to_owned()
                axes=axes hover=hover attr:data-testid="frequency-chart">
                {move || {
                    let (x_scale, y_scale) = scales();
                    let n = n_positions.get().max(1) as f64;
                    peaks.get().into_iter().enumerate().map(|(i, peak)| {
                        let x0 = x_scale.map(i as f64) + 0.5;
                        let x1 = x_scale.map(i as f64 + 1.0) - 0.5;
                        let y = y_scale.map(peak.power_share);
                        // Colour: the period relative to the number of positions (log), dark for short periods.
                        let t = if peak.period_positions.is_finite() { peak.period_positions.log2() / n.log2() } else { 1.0 };
                        let fill = rgb_css(sequential_rgb(t, 0.0, 1.0));
                        view! { <rect x=x0 y=y width=(x1 - x0).max(0.5) height=(area.bottom() - y).max(0.0) fill=fill></rect> }
                    }).collect_view()
                }}
            </SvgPlot>
            <div class="position-bar">
                <span>"short period"</span>
                <div class="position-gradient" style=position_gradient()></div>
                <span>{move || format!("{} positions", n_positions.get())}</span>
            </div>
            <div class="table-scroll short" tabindex="0" role="region" aria-label="Dominant periods of the left singular vectors">
                <table class="sv-table" data-testid="frequency-table">
                    <thead><tr><th>"vector"</th><th>"period (positions)"</th><th>"DFT bin"</th><th>"power share"</th></tr></thead>
                    <tbody>
                        {move || peaks.get().into_iter().enumerate().map(|(i, peak)| view! {
                            <tr data-testid="frequency-row" data-vector=i.to_string() data-bin=peak.bin.to_string()
                                data-period=peak.period_positions.to_string() data-share=peak.power_share.to_string()>
                                <td>{format!("u{i}")}</td>
                                <td>{period_text(&peak)}</td>
                                <td>{peak.bin}</td>
                                <td>{format!("{:.4}", peak.power_share)}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <p class="caption">"Bar height: the share of the vector's power at its strongest DFT frequency; colour: its period (log scale). Pairs of vectors with the same period and a high share are sinusoids in quadrature: together they trace a circle, and with a slower one, a helix."</p>
        </ChartFrame>
    }
}
