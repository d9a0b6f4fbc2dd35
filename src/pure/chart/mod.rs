//! Chart geometry: numbers and strings only, drawn by the web shell on SVG or canvas.
//!
//! - [`axis`]: the frame every chart shares: drawing box, hover mapping, axes, cell axes and
//!   colour bar, one description for the page and the exports.
//! - [`scale`]: linear scales, nice tick values and tick labels.
//! - [`layout`]: margins and the plot area inside them.
//! - [`color`]: the diverging colour map centred at zero, and a categorical palette.
//! - [`histogram`](mod@histogram): numpy-compatible histograms and their bars.
//! - [`path`]: SVG polyline paths.
//! - [`heatmap`]: RGBA pixels for canvas `ImageData`, and hover hit tests.
//! - [`log_scale`]: logarithmic scales and decade ticks.
//! - [`sequential`]: the perceptual sequential colour map (viridis).
//! - [`scatter`]: equal-aspect scales and nearest-point hover.
//! - [`orbit`]: a rotatable 3-D view projected onto the plane.

pub mod axis;
pub mod color;
pub mod heatmap;
pub mod histogram;
pub mod layout;
pub mod log_scale;
pub mod orbit;
pub mod path;
pub mod scale;
pub mod scatter;
pub mod sequential;

pub use axis::{
    hovered_index, xml_escape, Axis, AxisSide, AxisTick, CellAxis, CellFrame, CellTick, ChartSize,
    ColorBar,
};
pub use color::{
    colorbar_stops, diverging_rgb, line_series_colors, percentile_ordinal, quantile_abs_max,
    rgb_css, symmetric_abs_max, NAN_RGB,
};
pub use heatmap::{heatmap_rgba, HeatmapLayout};
pub use histogram::{histogram, Histogram, HistogramBar};
pub use layout::{Margins, PlotArea};
pub use path::{format_coord, nearest_index, polyline_path};
pub use scale::{format_tick, nice_step, nice_ticks, LinearScale};
