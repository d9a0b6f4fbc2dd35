//! Stand-alone SVG documents: a wrapper that turns a chart's drawn markup into a file that
//! looks the same in a browser or Inkscape (namespace, size, title, background, font), and a
//! complete heatmap figure: the cells as an embedded PNG, with vector axes, ticks and colour bar.

use std::fmt::Write as _;

use crate::pure::chart::{colorbar_stops, format_tick, nice_step, nice_ticks};

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

/// Escapes text for XML content and attribute values.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters other than tab and newlines are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
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
    /// Columns of cells (positions).
    pub n_cols: usize,
    /// The colour scale runs from `-abs_max` to `+abs_max`.
    pub abs_max: f64,
    /// Whether values beyond the limit exist (the bar's end labels then read `≥` / `≤`).
    pub clipped: bool,
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
    let n_cols = figure.n_cols.max(1);
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

    // Ticks at cell centres, as on the page.
    #[allow(clippy::cast_precision_loss)]
    let (cols_f, rows_f) = (n_cols as f64, n_rows as f64);
    let x_last = cols_f - 1.0;
    let x_step = nice_step(x_last, 8);
    let bottom = PLOT_TOP + plot_height;
    let _ = writeln!(
        body,
        "<g class=\"x-ticks\" font-size=\"11\" fill=\"{muted}\" text-anchor=\"middle\">"
    );
    for tick in nice_ticks(0.0, x_last, 8) {
        let x = PLOT_LEFT + (tick + 0.5) / cols_f * plot_width;
        let _ = writeln!(
            body,
            "<line x1=\"{x:.2}\" x2=\"{x:.2}\" y1=\"{bottom}\" y2=\"{}\" stroke=\"{muted}\"/>\
             <text x=\"{x:.2}\" y=\"{}\">{}</text>",
            bottom + 5.0,
            bottom + 18.0,
            xml_escape(&format_tick(tick, x_step))
        );
    }
    let _ = writeln!(body, "</g>");
    let y_last = rows_f - 1.0;
    let y_target = if n_rows <= 10 { n_rows } else { 5 };
    let y_step = nice_step(y_last, y_target);
    let _ = writeln!(
        body,
        "<g class=\"y-ticks\" font-size=\"11\" fill=\"{muted}\" text-anchor=\"end\">"
    );
    for tick in nice_ticks(0.0, y_last, y_target) {
        let y = PLOT_TOP + (tick + 0.5) / rows_f * plot_height;
        let _ = writeln!(
            body,
            "<line x1=\"{}\" x2=\"{PLOT_LEFT}\" y1=\"{y:.2}\" y2=\"{y:.2}\" stroke=\"{muted}\"/>\
             <text x=\"{}\" y=\"{:.2}\">{}</text>",
            PLOT_LEFT - 5.0,
            PLOT_LEFT - 8.0,
            y + 4.0,
            xml_escape(&format_tick(tick, y_step))
        );
    }
    let _ = writeln!(body, "</g>");
    let _ = writeln!(
        body,
        "<text x=\"{:.2}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">position</text>",
        PLOT_LEFT + plot_width / 2.0,
        height - 10.0
    );
    let mid_y = PLOT_TOP + plot_height / 2.0;
    let _ = writeln!(
        body,
        "<text x=\"16\" y=\"{mid_y:.2}\" font-size=\"12\" text-anchor=\"middle\" \
         transform=\"rotate(-90 16 {mid_y:.2})\">vector index</text>"
    );

    // The colour bar: a vertical gradient, +limit at the top.
    let bar_x = PLOT_LEFT + plot_width + 16.0;
    let bar_width = 14.0;
    let stops = colorbar_stops(figure.abs_max, 11);
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
    let step = nice_step(2.0 * figure.abs_max, 4);
    let limit = format_tick(figure.abs_max, step);
    let (top, bottom_label) = if figure.clipped {
        (format!("≥ +{limit}"), format!("≤ −{limit}"))
    } else {
        (limit, format_tick(-figure.abs_max, step))
    };
    let label_x = bar_x + bar_width + 4.0;
    for (y, text) in [
        (PLOT_TOP + 8.0, top),
        (mid_y + 4.0, "0".to_owned()),
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
            n_cols: 512,
            abs_max: 0.5,
            clipped: true,
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
