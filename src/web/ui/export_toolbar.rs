//! The PNG and SVG download buttons on every chart.
//!
//! SVG charts are serialised with their computed styles inline; canvas heatmaps become an SVG
//! figure holding the cells as an embedded PNG, with vector axes and colour bar
//! (`pure::export::heatmap_svg`). PNGs are those SVG documents drawn at 2×.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlCanvasElement};

use crate::pure::chart::CellFrame;
use crate::pure::export::{
    chart_svg, export_file_name, heatmap_svg, raster_svg, ExportSubject, HeatmapFigure, LegendEntry,
};
use crate::web::run::state::{AppState, SourceKind};
use crate::web::ui::download::{
    current_theme, save_bytes, save_url, serialise_svg_chart, svg_to_png_data_url,
    upscaled_cells_png,
};

/// PNG exports are drawn at twice the figure's size.
pub const PNG_SCALE: f64 = 2.0;

/// What a chart is drawn with, and what its export needs.
#[derive(Debug, Clone, Copy)]
pub enum ChartKind {
    /// An `<svg class="chart-svg">` inside the chart's card.
    Svg,
    /// A `<canvas class="heatmap-canvas">` of cells inside the chart's card.
    Heatmap {
        /// The heatmap's axes and colour bar, as the page draws them.
        frame: Signal<CellFrame>,
    },
    /// Another `<canvas>` inside the chart's card (the 3-D view), exported as its raster.
    Canvas,
}

/// Names the analysed tensor for file names: the repo and commit (Hub), or the file's name.
pub fn export_subject(state: AppState) -> ExportSubject {
    let tensor = state
        .result
        .with_untracked(|r| r.as_ref().map(|r| r.view.tensor_name.clone()))
        .unwrap_or_default();
    state.file_info.with_untracked(|info| match info {
        Some(info) => ExportSubject {
            source: match &info.kind {
                SourceKind::Hub => info.repo.clone(),
                SourceKind::Local(name) => name.clone(),
                SourceKind::Sample => "sample".to_owned(),
            },
            commit: info.commit_sha.clone(),
            tensor,
        },
        None => ExportSubject {
            source: String::new(),
            commit: None,
            tensor,
        },
    })
}

/// One chart's finished SVG document, with its size.
struct Figure {
    svg: String,
    width: f64,
    height: f64,
}

impl Figure {
    /// A document the core wrote, with its size.
    fn of(svg: String) -> Self {
        let (width, height) = document_size(&svg);
        Figure { svg, width, height }
    }
}

/// Reads `width="…" height="…"` back from a document the core wrote.
fn document_size(svg: &str) -> (f64, f64) {
    let read = |name: &str| {
        let key = format!(" {name}=\"");
        svg.find(&key)
            .and_then(|start| {
                let rest = svg.get(start + key.len()..)?;
                rest.get(..rest.find('"')?)?.parse::<f64>().ok()
            })
            .unwrap_or(1.0)
    };
    (read("width"), read("height"))
}

/// Reads the chart's HTML legend (`.legend-item`: a `.swatch` and a label), if it has one.
fn legend_entries(card: &Element) -> Vec<LegendEntry> {
    let Some(window) = web_sys::window() else {
        return Vec::new();
    };
    let Ok(items) = card.query_selector_all(".legend-item") else {
        return Vec::new();
    };
    (0..items.length())
        .filter_map(|index| items.item(index)?.dyn_into::<Element>().ok())
        .filter_map(|item| {
            let swatch = item.query_selector(".swatch").ok().flatten()?;
            let style = window.get_computed_style(&swatch).ok().flatten()?;
            let color = style.get_property_value("background-color").ok()?;
            Some(LegendEntry {
                label: item.text_content().unwrap_or_default().trim().to_owned(),
                color,
            })
        })
        .collect()
}

/// The chart's canvas (`selector` inside its card), once drawn.
fn drawn_canvas(card: &Element, selector: &str) -> Result<HtmlCanvasElement, String> {
    card.query_selector(selector)
        .ok()
        .flatten()
        .and_then(|element| element.dyn_into::<HtmlCanvasElement>().ok())
        .ok_or_else(|| "the chart is not drawn yet".to_owned())
}

/// Builds the chart's SVG document. For a heatmap, `cells_png` is the cells' raster as a data
/// URL (one pixel per cell for the SVG file, upscaled for the PNG).
fn build_figure(
    card: &Element,
    kind: ChartKind,
    title: &str,
    for_png: bool,
) -> Result<Figure, String> {
    let theme = current_theme();
    match kind {
        ChartKind::Svg => {
            let svg = card
                .query_selector("svg.chart-svg")
                .ok()
                .flatten()
                .ok_or_else(|| "the chart is not drawn yet".to_owned())?;
            let chart = serialise_svg_chart(&svg)?;
            let legend = legend_entries(card);
            let text = chart_svg(
                chart.width,
                chart.height,
                title,
                &theme,
                &chart.body,
                &legend,
            );
            Ok(Figure::of(text))
        }
        ChartKind::Heatmap { frame } => {
            let canvas = drawn_canvas(card, "canvas.heatmap-canvas")?;
            let (n_cols, n_rows) = (canvas.width(), canvas.height());
            // For the PNG, each cell gets whole pixels at 2× so that nothing is blurred.
            let (scale_x, scale_y) = if for_png {
                (
                    1440_u32.div_ceil(n_cols.max(1)),
                    720_u32.div_ceil(n_rows.max(1)),
                )
            } else {
                (1, 1)
            };
            let cells = upscaled_cells_png(&canvas, scale_x, scale_y)?;
            let text = heatmap_svg(&HeatmapFigure {
                title,
                png_data_uri: &cells,
                n_rows: usize::try_from(n_rows).unwrap_or(0),
                frame: &frame.get_untracked(),
                theme: &theme,
            });
            Ok(Figure::of(text))
        }
        ChartKind::Canvas => {
            let canvas = drawn_canvas(card, "canvas")?;
            let pixels = upscaled_cells_png(&canvas, 1, 1)?;
            let text = raster_svg(
                title,
                &pixels,
                f64::from(canvas.width()),
                f64::from(canvas.height()),
                &theme,
            );
            Ok(Figure::of(text))
        }
    }
}

/// The PNG and SVG buttons of one chart.
#[component]
pub fn ChartToolbar(
    /// The chart's title (the figure's heading and the buttons' labels).
    title: Signal<String>,
    /// What the chart shows, for the file name (`U5_heatmap`, `S_dropped_histogram`).
    what: Signal<String>,
    /// The chart's card, where its `<svg>` or `<canvas>` is found.
    card: NodeRef<leptos::html::Article>,
    /// How the chart is drawn.
    kind: ChartKind,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let message = RwSignal::new(String::new());
    let file_name = move |extension: &str| {
        export_file_name(&export_subject(state), &what.get_untracked(), extension)
    };
    let on_svg = move |_| {
        let Some(card) = card.get_untracked() else {
            return;
        };
        let result = build_figure(&card, kind, &title.get_untracked(), false).and_then(|figure| {
            save_bytes(figure.svg.as_bytes(), "image/svg+xml", &file_name("svg"))
        });
        message.set(result.err().unwrap_or_default());
    };
    let on_png = move |_| {
        let Some(card) = card.get_untracked() else {
            return;
        };
        let name = file_name("png");
        let figure = build_figure(&card, kind, &title.get_untracked(), true);
        leptos::task::spawn_local(async move {
            let result = match figure {
                Ok(figure) => {
                    svg_to_png_data_url(&figure.svg, figure.width, figure.height, PNG_SCALE).await
                }
                Err(err) => Err(err),
            }
            .and_then(|url| save_url(&url, &name));
            message.set(result.err().unwrap_or_default());
        });
    };
    view! {
        <div class="chart-toolbar" role="group" aria-label=move || format!("Download {}", title.get())>
            {export_button(title, "PNG", "export-png", on_png)}
            {export_button(title, "SVG", "export-svg", on_svg)}
            <span class="export-message" role="status">{move || message.get()}</span>
        </div>
    }
}

/// One download button of the toolbar: `format` is `PNG` or `SVG`.
fn export_button(
    title: Signal<String>,
    format: &'static str,
    testid: &'static str,
    on_click: impl FnMut(web_sys::MouseEvent) + 'static,
) -> impl IntoView {
    view! {
        <button
            type="button"
            class="small"
            data-testid=testid
            aria-label=move || format!("Download {} as {format}", title.get())
            on:click=on_click
        >
            {format}
        </button>
    }
}
