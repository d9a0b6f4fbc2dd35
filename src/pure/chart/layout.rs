//! Margins and the plot area inside a chart's box.

use super::scale::LinearScale;

/// Space around the plot area for axes and labels, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Margins {
    /// Space above the plot area.
    pub top_px: f64,
    /// Space right of the plot area.
    pub right_px: f64,
    /// Space below the plot area (x-axis labels).
    pub bottom_px: f64,
    /// Space left of the plot area (y-axis labels).
    pub left_px: f64,
}

impl Default for Margins {
    /// Room for tick labels on the left and bottom axes.
    fn default() -> Self {
        Margins {
            top_px: 12.0,
            right_px: 16.0,
            bottom_px: 36.0,
            left_px: 56.0,
        }
    }
}

/// The rectangle where data is drawn, in the chart's pixel coordinates (y grows downwards).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlotArea {
    /// The left edge.
    pub x_px: f64,
    /// The top edge.
    pub y_px: f64,
    /// The width, never negative.
    pub width_px: f64,
    /// The height, never negative.
    pub height_px: f64,
}

/// Returns the value if it is finite and positive, else 0.
fn non_negative(value: f64) -> f64 {
    if value.is_finite() && value > 0.0 {
        value
    } else {
        0.0
    }
}

impl PlotArea {
    /// Places the plot area inside a `width_px` × `height_px` box, leaving the margins.
    ///
    /// When the margins do not fit, the area shrinks to zero width or height rather than
    /// turning negative.
    pub fn new(width_px: f64, height_px: f64, margins: Margins) -> Self {
        let left = non_negative(margins.left_px);
        let top = non_negative(margins.top_px);
        let inner_width = non_negative(width_px) - left - non_negative(margins.right_px);
        let inner_height = non_negative(height_px) - top - non_negative(margins.bottom_px);
        PlotArea {
            x_px: left,
            y_px: top,
            width_px: non_negative(inner_width),
            height_px: non_negative(inner_height),
        }
    }

    /// Returns the left edge.
    pub fn left(&self) -> f64 {
        self.x_px
    }

    /// Returns the right edge.
    pub fn right(&self) -> f64 {
        self.x_px + self.width_px
    }

    /// Returns the top edge.
    pub fn top(&self) -> f64 {
        self.y_px
    }

    /// Returns the bottom edge.
    pub fn bottom(&self) -> f64 {
        self.y_px + self.height_px
    }

    /// Returns true when the point lies inside the area (edges included).
    pub fn contains(&self, x_px: f64, y_px: f64) -> bool {
        x_px >= self.left() && x_px <= self.right() && y_px >= self.top() && y_px <= self.bottom()
    }

    /// Returns a scale mapping `domain` onto the area's width, left to right.
    pub fn x_scale(&self, domain: (f64, f64)) -> LinearScale {
        LinearScale::new(domain, (self.left(), self.right()))
    }

    /// Returns a scale mapping `domain` onto the area's height, bottom to top
    /// (larger values higher up).
    pub fn y_scale(&self, domain: (f64, f64)) -> LinearScale {
        LinearScale::new(domain, (self.bottom(), self.top()))
    }
}
