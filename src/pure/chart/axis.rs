//! One description of a chart's frame, shared by the page and the exports: the drawing box
//! ([`ChartSize`]: viewBox size and margins), the pointer-to-data mapping, the axes of SVG
//! charts ([`Axis`], drawn as markup by [`Axis::svg`]), the cell axes and colour bar of
//! heatmaps ([`CellAxis`], [`ColorBar`]).

use std::fmt::Write as _;

use super::color::colorbar_stops;
use super::layout::{Margins, PlotArea};
use super::log_scale::{format_log_tick, log_ticks, LogScale};
use super::path::nearest_index;
use super::scale::{format_tick, nice_step, nice_ticks, LinearScale};

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

/// A chart's drawing box in SVG user units (its `viewBox`), and the margins that leave room
/// for the axes around the plot area.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChartSize {
    /// The box's width.
    pub width_px: f64,
    /// The box's height.
    pub height_px: f64,
    /// Room for the axes.
    pub margins: Margins,
}

impl ChartSize {
    /// The size of most charts: 560 × 300, with room for tick labels left and an axis title
    /// below.
    pub const STANDARD: ChartSize = ChartSize {
        width_px: 560.0,
        height_px: 300.0,
        margins: Margins {
            top_px: 16.0,
            right_px: 16.0,
            bottom_px: 48.0,
            left_px: 60.0,
        },
    };

    /// The same box with another height.
    pub const fn with_height(self, height_px: f64) -> Self {
        ChartSize { height_px, ..self }
    }

    /// The same box with another width.
    pub const fn with_width(self, width_px: f64) -> Self {
        ChartSize { width_px, ..self }
    }

    /// The same box with another left margin (longer tick labels).
    pub const fn with_left(self, left_px: f64) -> Self {
        ChartSize {
            margins: Margins {
                left_px,
                ..self.margins
            },
            ..self
        }
    }

    /// The same box with another top margin.
    pub const fn with_top(self, top_px: f64) -> Self {
        ChartSize {
            margins: Margins {
                top_px,
                ..self.margins
            },
            ..self
        }
    }

    /// The plot area inside the margins.
    pub fn area(&self) -> PlotArea {
        PlotArea::new(self.width_px, self.height_px, self.margins)
    }

    /// The `viewBox` attribute: `0 0 width height`.
    pub fn view_box(&self) -> String {
        format!("0 0 {} {}", self.width_px, self.height_px)
    }

    /// Maps a pointer position on the drawn chart (pixels from its top-left corner, the
    /// chart drawn `drawn_width_px` wide, aspect kept) to the chart's user units.
    pub fn chart_point(&self, x_px: f64, y_px: f64, drawn_width_px: f64) -> (f64, f64) {
        let scale = self.width_px / drawn_width_px.max(1.0);
        (x_px * scale, y_px * scale)
    }
}

/// The index of the data point nearest to `x` (chart units) when `x` lies over the plot
/// area (edges included): `xs` are the points' positions in data units (sorted), `invert`
/// maps chart units back to data units.
pub fn hovered_index(
    area: &PlotArea,
    xs: &[f64],
    x: f64,
    invert: impl Fn(f64) -> f64,
) -> Option<usize> {
    if x < area.left() || x > area.right() {
        return None;
    }
    nearest_index(xs, invert(x))
}

/// Where an axis sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AxisSide {
    /// Below the plot area: a line, tick marks and labels, and a title under them.
    Bottom,
    /// Left of the plot area: a grid line across the area per tick, labels, and a rotated
    /// title.
    Left,
}

/// One tick of an [`Axis`].
#[derive(Debug, Clone, PartialEq)]
pub struct AxisTick {
    /// Its position along the axis, in chart units.
    pub at_px: f64,
    /// Its label.
    pub label: String,
    /// Whether it marks zero (its grid line is drawn darker).
    pub zero: bool,
}

/// An axis of an SVG chart: its side, ticks and title.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Where it sits.
    pub side: AxisSide,
    /// Its ticks, in order.
    pub ticks: Vec<AxisTick>,
    /// Its title.
    pub title: String,
}

/// Distance from the plot area's bottom edge to a bottom axis' tick labels' baseline.
const TICK_LABEL_GAP: f64 = 18.0;
/// Distance from the plot area's bottom edge to a bottom axis' title baseline.
const TITLE_GAP: f64 = 36.0;
/// Tick mark length.
const TICK_LENGTH: f64 = 5.0;
/// The x of a left axis' rotated title.
const LEFT_TITLE_X: f64 = 14.0;

impl Axis {
    fn linear(side: AxisSide, scale: &LinearScale, n_ticks: usize, title: &str) -> Self {
        let step = nice_step((scale.domain.1 - scale.domain.0).abs(), n_ticks);
        Axis {
            side,
            ticks: scale
                .ticks(n_ticks)
                .into_iter()
                .map(|t| AxisTick {
                    at_px: scale.map(t),
                    label: format_tick(t, step),
                    zero: t == 0.0,
                })
                .collect(),
            title: title.to_owned(),
        }
    }

    fn log(side: AxisSide, scale: &LogScale, title: &str) -> Self {
        Axis {
            side,
            ticks: log_ticks(scale.domain.0, scale.domain.1, 8)
                .into_iter()
                .map(|t| AxisTick {
                    at_px: scale.map(t),
                    label: format_log_tick(t),
                    zero: false,
                })
                .collect(),
            title: title.to_owned(),
        }
    }

    /// A bottom axis with about `n_ticks` nice ticks over `scale`.
    pub fn bottom(scale: &LinearScale, n_ticks: usize, title: &str) -> Self {
        Self::linear(AxisSide::Bottom, scale, n_ticks, title)
    }

    /// A left axis (with grid lines) with about `n_ticks` nice ticks over `scale`.
    pub fn left(scale: &LinearScale, n_ticks: usize, title: &str) -> Self {
        Self::linear(AxisSide::Left, scale, n_ticks, title)
    }

    /// A left axis of counts: labels rounded to whole numbers, no zero line.
    pub fn left_counts(scale: &LinearScale, n_ticks: usize, title: &str) -> Self {
        let mut axis = Self::linear(AxisSide::Left, scale, n_ticks, title);
        for (tick, t) in axis.ticks.iter_mut().zip(scale.ticks(n_ticks)) {
            tick.label = format_tick(t, 1.0);
            tick.zero = false;
        }
        axis
    }

    /// A bottom logarithmic axis with decade (or 1-2-5) ticks.
    pub fn log_bottom(scale: &LogScale, title: &str) -> Self {
        Self::log(AxisSide::Bottom, scale, title)
    }

    /// A left logarithmic axis (with grid lines) with decade (or 1-2-5) ticks.
    pub fn log_left(scale: &LogScale, title: &str) -> Self {
        Self::log(AxisSide::Left, scale, title)
    }

    /// The same axis without ticks (a chart waiting for its data).
    pub fn without_ticks(self) -> Self {
        Axis {
            ticks: Vec::new(),
            ..self
        }
    }

    /// The axis as SVG markup around `area` (classes `axis`, `grid`, `tick`, `zero` and
    /// `axis-label`, styled by the page; the exports inline those styles).
    pub fn svg(&self, area: &PlotArea) -> String {
        let mut out = String::new();
        let title = xml_escape(&self.title);
        match self.side {
            AxisSide::Bottom => {
                let bottom = area.bottom();
                let _ = write!(
                    out,
                    "<g class=\"axis\"><line x1=\"{}\" x2=\"{}\" y1=\"{bottom}\" y2=\"{bottom}\"></line>",
                    area.left(),
                    area.right()
                );
                for tick in &self.ticks {
                    let x = tick.at_px;
                    let _ = write!(
                        out,
                        "<line x1=\"{x}\" x2=\"{x}\" y1=\"{bottom}\" y2=\"{}\"></line>\
                         <text x=\"{x}\" y=\"{}\" text-anchor=\"middle\" class=\"tick\">{}</text>",
                        bottom + TICK_LENGTH,
                        bottom + TICK_LABEL_GAP,
                        xml_escape(&tick.label)
                    );
                }
                let _ = write!(
                    out,
                    "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" class=\"axis-label\">{title}</text></g>",
                    (area.left() + area.right()) / 2.0,
                    bottom + TITLE_GAP
                );
            }
            AxisSide::Left => {
                out.push_str("<g class=\"grid\">");
                for tick in &self.ticks {
                    let y = tick.at_px;
                    let zero = if tick.zero { " class=\"zero\"" } else { "" };
                    let _ = write!(
                        out,
                        "<line x1=\"{}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\"{zero}></line>\
                         <text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"tick\">{}</text>",
                        area.left(),
                        area.right(),
                        area.left() - 8.0,
                        y + 4.0,
                        xml_escape(&tick.label)
                    );
                }
                let mid_y = (area.top() + area.bottom()) / 2.0;
                let _ = write!(
                    out,
                    "</g><text x=\"{LEFT_TITLE_X}\" y=\"{mid_y}\" text-anchor=\"middle\" class=\"axis-label\" \
                     transform=\"rotate(-90 {LEFT_TITLE_X} {mid_y})\">{title}</text>"
                );
            }
        }
        out
    }
}

/// One tick of a [`CellAxis`].
#[derive(Debug, Clone, PartialEq)]
pub struct CellTick {
    /// Its position as a fraction of the plot's side (0 = left or top, 1 = right or bottom).
    pub fraction: f64,
    /// Its label.
    pub label: String,
}

/// An axis along the cells of a heatmap, drawn on the page in CSS percentages and in the
/// exported SVG in the figure's units.
#[derive(Debug, Clone, PartialEq)]
pub struct CellAxis {
    /// Its title.
    pub title: String,
    /// Its ticks.
    pub ticks: Vec<CellTick>,
}

impl CellAxis {
    /// Nice ticks at the centres of `n` unit-wide cells numbered from `first`, about
    /// `target` of them.
    pub fn centred(title: &str, first: f64, n: usize, target: usize) -> Self {
        #[allow(clippy::cast_precision_loss)]
        let (n_f, span) = (n.max(1) as f64, n.saturating_sub(1) as f64);
        let step = nice_step(span, target);
        CellAxis {
            title: title.to_owned(),
            ticks: nice_ticks(first, first + span, target)
                .into_iter()
                .map(|t| CellTick {
                    fraction: (t - first + 0.5) / n_f,
                    label: format_tick(t, step),
                })
                .collect(),
        }
    }

    /// Two ticks, `0` at the start and `n − 1` at the end.
    pub fn ends(title: &str, n: usize) -> Self {
        CellAxis {
            title: title.to_owned(),
            ticks: vec![
                CellTick {
                    fraction: 0.0,
                    label: "0".to_owned(),
                },
                CellTick {
                    fraction: 1.0,
                    label: n.saturating_sub(1).to_string(),
                },
            ],
        }
    }
}

/// The colour bar of a diverging heatmap: its limit and its three labels, top to bottom.
#[derive(Debug, Clone, PartialEq)]
pub struct ColorBar {
    /// The colours run from `−abs_max` to `+abs_max`.
    pub abs_max: f64,
    /// The labels at the top (+limit), middle (0) and bottom (−limit).
    pub labels: [String; 3],
}

impl ColorBar {
    /// The bar for `±abs_max`; `clipped` (values beyond the limit exist) marks the ends
    /// `≥ +limit` and `≤ −limit`.
    pub fn new(abs_max: f64, clipped: bool) -> Self {
        let step = nice_step(2.0 * abs_max, 4);
        let limit = format_tick(abs_max, step);
        let (top, bottom) = if clipped {
            (format!("≥ +{limit}"), format!("≤ −{limit}"))
        } else {
            (limit, format_tick(-abs_max, step))
        };
        ColorBar {
            abs_max,
            labels: [top, "0".to_owned(), bottom],
        }
    }

    /// The bar with labels of its own.
    pub fn labelled(abs_max: f64, labels: [&str; 3]) -> Self {
        ColorBar {
            abs_max,
            labels: labels.map(str::to_owned),
        }
    }

    /// The bar's gradient as a CSS `background`, +limit at the top.
    pub fn css_gradient(&self) -> String {
        let parts: Vec<String> = colorbar_stops(self.abs_max, 11)
            .iter()
            .rev()
            .enumerate()
            .map(|(i, (_, css))| format!("{css} {}%", i * 10))
            .collect();
        format!(
            "background: linear-gradient(to bottom, {});",
            parts.join(", ")
        )
    }
}

/// A canvas heatmap's frame: its two cell axes and its colour bar, drawn by the page and by
/// the heatmap export alike.
#[derive(Debug, Clone, PartialEq)]
pub struct CellFrame {
    /// Along the columns (below the plot).
    pub x_axis: CellAxis,
    /// Along the rows (left of the plot).
    pub y_axis: CellAxis,
    /// The colour bar (right of the plot).
    pub colorbar: ColorBar,
}
