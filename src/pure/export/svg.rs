//! Stand-alone SVG documents: a wrapper that turns a chart's drawn markup into a file that
//! looks the same in a browser or Inkscape (namespace, size, title, background, font), and a
//! complete heatmap figure: the cells as an embedded PNG, with vector axes, ticks and colour bar.

use std::fmt::Write as _;

pub use crate::pure::chart::xml_escape;
use crate::pure::chart::{colorbar_stops, CellFrame};

/// Colours and font of an exported figure, taken from the page's theme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SvgTheme {
    /// The figure's background (CSS colour).
    pub background: String,
    /// Text and axis colour.
    pub text: String,
    /// Secondary text (tick labels).
    pub muted: String,
    /// The font family, as CSS.
    pub font_family: String,
}

impl Default for SvgTheme {
    /// The light theme.
    fn default() -> Self {
        SvgTheme {
            background: "#ffffff".to_owned(),
            text: "#1b1f24".to_owned(),
            muted: "#57606a".to_owned(),
            font_family: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif".to_owned(),
        }
    }
}

/// Height of the title band that [`chart_svg`] adds above a chart, in SVG units.
pub const HEADING_HEIGHT: f64 = 32.0;

/// Wraps markup in a stand-alone SVG document of `width × height` units (also its size in
/// CSS pixels): an XML declaration, the SVG namespace, a `<title>`, a background rectangle and
/// the theme's font and text colour.
///
/// `body` must already be well-formed SVG markup.
pub fn svg_document(width: f64, height: f64, title: &str, theme: &SvgTheme, body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" \
         width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" \
         font-family=\"{font}\" fill=\"{text}\">\n\
         <title>{title}</title>\n\
         <rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"{background}\"/>\n\
         {body}\n</svg>\n",
        font = xml_escape(&theme.font_family),
        text = xml_escape(&theme.text),
        title = xml_escape(title),
        background = xml_escape(&theme.background),
    )
}

/// Height of the legend row that [`chart_svg`] adds under the title when there is a legend.
pub const LEGEND_HEIGHT: f64 = 20.0;

/// One legend entry: a label and its series colour (CSS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegendEntry {
    /// The series' label, e.g. `u0`.
    pub label: String,
    /// The series' colour.
    pub color: String,
}

/// Turns a chart drawn on the page (`body`, in a `width × height` coordinate system, for
/// example an `<svg>`'s children serialised with their styles inlined) into a stand-alone
/// document with the chart's title drawn above it ([`HEADING_HEIGHT`] units) and, when
/// `legend` is not empty, a row of legend entries under the title ([`LEGEND_HEIGHT`] units).
pub fn chart_svg(
    width: f64,
    height: f64,
    title: &str,
    theme: &SvgTheme,
    body: &str,
    legend: &[LegendEntry],
) -> String {
    let mut heading = format!(
        "<text x=\"12\" y=\"22\" font-size=\"15\" font-weight=\"600\">{}</text>\n",
        xml_escape(title)
    );
    let mut top = HEADING_HEIGHT;
    if !legend.is_empty() {
        let y = HEADING_HEIGHT + LEGEND_HEIGHT / 2.0;
        let mut x = 60.0;
        for entry in legend {
            let color = xml_escape(&entry.color);
            let _ = writeln!(
                heading,
                "<line x1=\"{x}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"{color}\" stroke-width=\"3\"/>\
                 <text x=\"{}\" y=\"{}\" font-size=\"12\" fill=\"{}\">{}</text>",
                x + 14.0,
                x + 18.0,
                y + 4.0,
                xml_escape(&theme.muted),
                xml_escape(&entry.label)
            );
            // Short labels (u0…u4) fit in 56 units with their swatch.
            #[allow(clippy::cast_precision_loss)]
            let label_width = entry.label.chars().count() as f64 * 7.0;
            x += 30.0 + label_width.max(26.0);
        }
        top += LEGEND_HEIGHT;
    }
    let _ = write!(
        heading,
        "<g transform=\"translate(0 {top})\">\n{body}\n</g>"
    );
    svg_document(width, height + top, title, theme, &heading)
}

/// Everything a heatmap figure needs.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatmapFigure<'a> {
    /// The figure's title (drawn at the top and used as `<title>`).
    pub title: &'a str,
    /// The cells as a PNG data URI (`data:image/png;base64,...`), one pixel per cell.
    pub png_data_uri: &'a str,
    /// Rows of cells (vectors).
    pub n_rows: usize,
    /// The axes and colour bar, as the page draws them.
    pub frame: &'a CellFrame,
    /// Colours and font.
    pub theme: &'a SvgTheme,
}

/// The figure's width in SVG units.
const FIGURE_WIDTH: f64 = 720.0;
/// Left margin: y tick labels and the y axis label.
const PLOT_LEFT: f64 = 64.0;
/// Top margin: the title.
const PLOT_TOP: f64 = 40.0;
/// Right of the plot: the colour bar and its labels.
const PLOT_RIGHT_GAP: f64 = 96.0;
/// Below the plot: x tick labels and the x axis label.
const PLOT_BOTTOM_GAP: f64 = 52.0;

/// Draws a heatmap as a stand-alone SVG: the cells as an embedded raster (pixelated, stretched
/// to the plot area), with vector tick marks and labels on both axes (at cell centres), axis
/// labels, and a vector colour bar (a gradient through the diverging map's stops) with its
/// end and centre labels.
pub fn heatmap_svg(figure: &HeatmapFigure<'_>) -> String {
    let n_rows = figure.n_rows.max(1);
    // A few vectors get tall cells, as on the page; many get a square-ish plot.
    let plot_height = if n_rows <= 10 { 160.0 } else { 360.0 };
    let plot_width = FIGURE_WIDTH - PLOT_LEFT - PLOT_RIGHT_GAP;
    let height = PLOT_TOP + plot_height + PLOT_BOTTOM_GAP;
    let theme = figure.theme;
    let muted = xml_escape(&theme.muted);
    let mut body = String::new();
    let _ = writeln!(
        body,
        "<text x=\"{PLOT_LEFT}\" y=\"24\" font-size=\"15\" font-weight=\"600\">{}</text>",
        xml_escape(figure.title)
    );
    let _ = writeln!(
        body,
        "<image x=\"{PLOT_LEFT}\" y=\"{PLOT_TOP}\" width=\"{plot_width}\" height=\"{plot_height}\" \
         preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" \
         href=\"{uri}\" xlink:href=\"{uri}\"/>",
        uri = xml_escape(figure.png_data_uri)
    );
    let _ = writeln!(
        body,
        "<rect x=\"{PLOT_LEFT}\" y=\"{PLOT_TOP}\" width=\"{plot_width}\" height=\"{plot_height}\" \
         fill=\"none\" stroke=\"{muted}\" stroke-width=\"0.5\"/>"
    );

    // The axes the page draws, from the same description.
    let bottom = PLOT_TOP + plot_height;
    for (axis, horizontal) in [(&figure.frame.x_axis, true), (&figure.frame.y_axis, false)] {
        let (class, anchor) = if horizontal {
            ("x-ticks", "middle")
        } else {
            ("y-ticks", "end")
        };
        let _ = writeln!(
            body,
            "<g class=\"{class}\" font-size=\"11\" fill=\"{muted}\" text-anchor=\"{anchor}\">"
        );
        for tick in &axis.ticks {
            let label = xml_escape(&tick.label);
            let _ = if horizontal {
                let x = PLOT_LEFT + tick.fraction * plot_width;
                writeln!(
                    body,
                    "<line x1=\"{x:.2}\" x2=\"{x:.2}\" y1=\"{bottom}\" y2=\"{}\" stroke=\"{muted}\"/>\
                     <text x=\"{x:.2}\" y=\"{}\">{label}</text>",
                    bottom + 5.0,
                    bottom + 18.0,
                )
            } else {
                let y = PLOT_TOP + tick.fraction * plot_height;
                writeln!(
                    body,
                    "<line x1=\"{}\" x2=\"{PLOT_LEFT}\" y1=\"{y:.2}\" y2=\"{y:.2}\" stroke=\"{muted}\"/>\
                     <text x=\"{}\" y=\"{:.2}\">{label}</text>",
                    PLOT_LEFT - 5.0,
                    PLOT_LEFT - 8.0,
                    y + 4.0,
                )
            };
        }
        let _ = writeln!(body, "</g>");
    }
    let _ = writeln!(
        body,
        "<text x=\"{:.2}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">{}</text>",
        PLOT_LEFT + plot_width / 2.0,
        height - 10.0,
        xml_escape(&figure.frame.x_axis.title)
    );
    let mid_y = PLOT_TOP + plot_height / 2.0;
    let _ = writeln!(
        body,
        "<text x=\"16\" y=\"{mid_y:.2}\" font-size=\"12\" text-anchor=\"middle\" \
         transform=\"rotate(-90 16 {mid_y:.2})\">{}</text>",
        xml_escape(&figure.frame.y_axis.title)
    );

    // The colour bar: a vertical gradient, +limit at the top.
    let bar_x = PLOT_LEFT + plot_width + 16.0;
    let bar_width = 14.0;
    let stops = colorbar_stops(figure.frame.colorbar.abs_max, 11);
    let last_stop = stops.len().saturating_sub(1).max(1);
    let _ = writeln!(
        body,
        "<defs><linearGradient id=\"colorbar\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">"
    );
    for (i, (_, css)) in stops.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let offset = i as f64 / last_stop as f64 * 100.0;
        let _ = writeln!(
            body,
            "<stop offset=\"{offset:.1}%\" stop-color=\"{}\"/>",
            xml_escape(css)
        );
    }
    let _ = writeln!(body, "</linearGradient></defs>");
    let _ = writeln!(
        body,
        "<rect x=\"{bar_x}\" y=\"{PLOT_TOP}\" width=\"{bar_width}\" height=\"{plot_height}\" \
         fill=\"url(#colorbar)\" stroke=\"{muted}\" stroke-width=\"0.5\"/>"
    );
    let [top, middle, bottom_label] = figure.frame.colorbar.labels.clone();
    let label_x = bar_x + bar_width + 4.0;
    for (y, text) in [
        (PLOT_TOP + 8.0, top),
        (mid_y + 4.0, middle),
        (bottom, bottom_label),
    ] {
        let _ = writeln!(
            body,
            "<text x=\"{label_x}\" y=\"{y:.2}\" font-size=\"11\" fill=\"{muted}\">{}</text>",
            xml_escape(&text)
        );
    }
    svg_document(FIGURE_WIDTH, height, figure.title, theme, &body)
}

/// A chart drawn on a canvas that is not a heatmap (the 3-D view) as a stand-alone SVG: the
/// title above the drawing, embedded as a PNG (`png_data_uri`) at `width × height` units.
pub fn raster_svg(
    title: &str,
    png_data_uri: &str,
    width: f64,
    height: f64,
    theme: &SvgTheme,
) -> String {
    let uri = xml_escape(png_data_uri);
    let body = format!(
        "<text x=\"12\" y=\"22\" font-size=\"15\" font-weight=\"600\">{}</text>\n\
         <image x=\"0\" y=\"{HEADING_HEIGHT}\" width=\"{width}\" height=\"{height}\" \
         href=\"{uri}\" xlink:href=\"{uri}\"/>",
        xml_escape(title)
    );
    svg_document(width, height + HEADING_HEIGHT, title, theme, &body)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::pure::chart::{CellAxis, ColorBar};

    #[test]
    fn escaping_covers_markup_and_drops_control_characters() {
        assert_eq!(
            xml_escape("a<b & \"c\" 'd'>\u{1}"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;"
        );
    }

    #[test]
    fn a_document_has_namespace_title_and_background() {
        let doc = chart_svg(
            560.0,
            300.0,
            "Singular values of W_pos",
            &SvgTheme::default(),
            "<g/>",
            &[],
        );
        assert!(doc.contains("width=\"560\" height=\"332\""));
        assert!(doc.contains(">Singular values of W_pos</text>"));
        assert!(doc.starts_with("<?xml version=\"1.0\""));
        assert!(doc.contains("xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(doc.contains("<title>Singular values of W_pos</title>"));
        assert!(doc.contains("fill=\"#ffffff\""));
        assert!(doc.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn a_legend_adds_a_row_of_coloured_entries() {
        let legend: Vec<LegendEntry> = (0..5)
            .map(|i| LegendEntry {
                label: format!("u{i}"),
                color: "#0072b2".to_owned(),
            })
            .collect();
        let doc = chart_svg(560.0, 300.0, "Lines", &SvgTheme::default(), "<g/>", &legend);
        assert!(doc.contains("height=\"352\""));
        assert_eq!(doc.matches("stroke=\"#0072b2\"").count(), 5);
        assert!(doc.contains(">u4</text>"));
        assert!(doc.contains("translate(0 52)"));
    }

    #[test]
    fn heatmap_figure_embeds_the_raster_and_draws_vector_axes() {
        let theme = SvgTheme::default();
        let doc = heatmap_svg(&HeatmapFigure {
            title: "First 5 left singular vectors",
            png_data_uri: "data:image/png;base64,AAAA",
            n_rows: 5,
            frame: &CellFrame {
                x_axis: CellAxis::centred("position", 0.0, 512, 8),
                y_axis: CellAxis::centred("vector index", 0.0, 5, 5),
                colorbar: ColorBar::new(0.5, true),
            },
            theme: &theme,
        });
        assert!(doc.contains("href=\"data:image/png;base64,AAAA\""));
        assert!(doc.contains("<linearGradient id=\"colorbar\""));
        assert!(doc.contains(">position</text>"));
        assert!(doc.contains(">vector index</text>"));
        assert!(doc.contains("≥ +0.5"));
        assert!(doc.contains(">500</text>"));
    }
}
