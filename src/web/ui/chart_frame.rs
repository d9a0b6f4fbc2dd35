//! The frame every chart on the page is drawn in.
//!
//! [`ChartFrame`] is the card: the title, the header's controls, the plot and its captions,
//! and the PNG/SVG toolbar. Its plot is one of two layers:
//! - [`SvgPlot`]: an `<svg class="chart-svg">` of the [`ChartSize`]'s viewBox, with its aria
//!   summary, the axes from their description ([`Axis`], the same markup the SVG export holds),
//!   the pointer mapped to chart units for the hover read-out, and the tooltip;
//! - [`CellPlot`]: a canvas heatmap's axes and colour bar around the chart's plot element,
//!   from the [`CellFrame`] the heatmap export draws too; [`cell_under`] maps the pointer to a
//!   cell.

use leptos::html::Article;
use leptos::prelude::*;
use web_sys::MouseEvent;

use crate::pure::chart::{Axis, AxisSide, CellFrame, ChartSize, HeatmapLayout};
pub use crate::web::ui::export_toolbar::ChartKind;
use crate::web::ui::export_toolbar::ChartToolbar;
use crate::web::ui::tooltip::{pointer_position, Tooltip, TooltipContent};

/// The read-out for the pointer at a point of an SVG plot (chart units): the tooltip's lines,
/// or `None` where there is nothing to read.
pub type HoverReadOut = Callback<(f64, f64), Option<Vec<String>>>;

/// A chart's card: title and controls, the plot and captions (`children`), and the PNG and
/// SVG downloads of the plot.
#[component]
pub fn ChartFrame(
    /// The chart's title (its heading, the exported figure's title and the buttons' labels).
    #[prop(into)]
    title: Signal<String>,
    /// What the chart shows, for export file names (`U5_heatmap`, `scree`).
    #[prop(into)]
    what: Signal<String>,
    /// How the plot is drawn, for the exports (an SVG chart by default).
    #[prop(optional)]
    kind: Option<ChartKind>,
    /// A card as wide as the page.
    #[prop(optional)]
    wide: bool,
    /// Controls shown in the header, right of the title.
    #[prop(optional, into)]
    controls: Option<ViewFn>,
    /// The plot, then anything shown under it.
    children: Children,
) -> impl IntoView {
    let card = NodeRef::<Article>::new();
    let kind = kind.unwrap_or(ChartKind::Svg);
    view! {
        <article class="card chart" class:wide=wide node_ref=card>
            <header class="chart-head">
                <h3>{move || title.get()}</h3>
                {controls.map(|controls| controls.run())}
            </header>
            {children()}
            <ChartToolbar title=title what=what card=card kind=kind/>
        </article>
    }
}

/// An SVG plot: the chart box, the `<svg>` with its summary and axes, the hover read-out and
/// its tooltip. Attributes spread onto it (`{..} data-testid=…`) land on the chart box.
#[component]
pub fn SvgPlot(
    /// The drawing box and margins.
    size: ChartSize,
    /// The text summary screen readers get (the svg's `aria-label`).
    #[prop(into)]
    summary: Signal<String>,
    /// The axes; left axes are drawn under the data, bottom axes over it.
    #[prop(into)]
    axes: Signal<Vec<Axis>>,
    /// The read-out for the pointer at a point (chart units): the tooltip's lines, or `None`.
    #[prop(optional)]
    hover: Option<HoverReadOut>,
    /// Called when the pointer leaves the chart.
    #[prop(optional)]
    on_leave: Option<Callback<()>>,
    /// More classes on the chart box (`narrow`, `clickable`).
    #[prop(optional)]
    class: &'static str,
    /// A `data-testid` for the `<svg>` itself.
    #[prop(optional)]
    svg_testid: Option<&'static str>,
    /// The data, drawn between the axes.
    children: Children,
) -> impl IntoView {
    let area = size.area();
    let tooltip = RwSignal::new(None::<TooltipContent>);
    let on_move = move |event: MouseEvent| {
        let Some(hover) = hover else {
            return;
        };
        let Some(pointer) = pointer_position(&event) else {
            return;
        };
        let point = size.chart_point(pointer.x_px, pointer.y_px, pointer.width_px);
        tooltip.set(hover.run(point).map(|lines| TooltipContent {
            x_px: pointer.x_px,
            y_px: pointer.y_px,
            lines,
        }));
    };
    let on_mouse_leave = move |_| {
        tooltip.set(None);
        if let Some(on_leave) = on_leave {
            on_leave.run(());
        }
    };
    let markup = move |side: AxisSide| {
        axes.with(|axes| {
            axes.iter()
                .filter(|axis| axis.side == side)
                .map(|axis| axis.svg(&area))
                .collect::<String>()
        })
    };
    let box_class = if class.is_empty() {
        "chart-box".to_owned()
    } else {
        format!("chart-box {class}")
    };
    view! {
        <div class=box_class on:mousemove=on_move on:mouseleave=on_mouse_leave>
            <svg viewBox=size.view_box() class="chart-svg" role="img" aria-label=move || summary.get() data-testid=svg_testid>
                <g class="axes-left" inner_html=move || markup(AxisSide::Left)></g>
                {children()}
                <g class="axes-bottom" inner_html=move || markup(AxisSide::Bottom)></g>
            </svg>
            <Tooltip content=tooltip/>
        </div>
    }
}

/// The cell under the pointer on a heatmap of `n_rows × n_cols` cells drawn over the event's
/// target, with the pointer's position in it: `(row, col, x_px, y_px)`.
pub fn cell_under(
    event: &MouseEvent,
    n_rows: usize,
    n_cols: usize,
) -> Option<(usize, usize, f64, f64)> {
    let pointer = pointer_position(event)?;
    let layout = HeatmapLayout {
        n_rows,
        n_cols,
        width_px: pointer.width_px,
        height_px: pointer.height_px,
    };
    let (row, col) = layout.cell_at(pointer.x_px, pointer.y_px)?;
    Some((row, col, pointer.x_px, pointer.y_px))
}

/// A canvas heatmap's frame: the y title and ticks, the plot element (`children`, holding the
/// canvas), the colour bar, the x ticks and title, all from one [`CellFrame`].
#[component]
pub fn CellPlot(
    /// The axes and colour bar.
    #[prop(into)]
    frame: Signal<CellFrame>,
    /// The grid's class: `heatmap-wrap` (default) or `cosine-wrap`.
    #[prop(optional)]
    wrap_class: Option<&'static str>,
    /// A short heatmap (few vectors) gets taller cells.
    #[prop(optional)]
    compact: bool,
    /// A `data-testid` for the colour bar.
    #[prop(optional)]
    colorbar_testid: Option<&'static str>,
    /// The plot element.
    children: Children,
) -> impl IntoView {
    let ticks = move |vertical: bool| {
        frame.with(|frame| {
            let axis = if vertical {
                &frame.y_axis
            } else {
                &frame.x_axis
            };
            axis.ticks
                .iter()
                .map(|tick| {
                    let side = if vertical { "top" } else { "left" };
                    let style = format!("{side}: {:.3}%", tick.fraction * 100.0);
                    view! { <span style=style>{tick.label.clone()}</span> }
                })
                .collect_view()
        })
    };
    let label = move |index: usize| frame.with(|f| f.colorbar.labels.get(index).cloned());
    view! {
        <div class=wrap_class.unwrap_or("heatmap-wrap") class:compact=compact>
            <div class="y-label">{move || frame.with(|f| f.y_axis.title.clone())}</div>
            <div class="y-ticks">{move || ticks(true)}</div>
            {children()}
            <div class="colorbar" data-testid=colorbar_testid data-abs-max=move || frame.with(|f| f.colorbar.abs_max.to_string())>
                <div class="colorbar-gradient" style=move || frame.with(|f| f.colorbar.css_gradient())></div>
                <div class="colorbar-labels">
                    <span>{move || label(0)}</span>
                    <span>{move || label(1)}</span>
                    <span>{move || label(2)}</span>
                </div>
            </div>
            <div class="x-ticks">{move || ticks(false)}</div>
            <div class="x-label">{move || frame.with(|f| f.x_axis.title.clone())}</div>
        </div>
    }
}
