//! SVG polyline paths and hover lookup along a sorted axis.

use super::scale::LinearScale;

/// Formats a pixel coordinate with two decimals, never as `-0.00`.
pub fn format_coord(value: f64) -> String {
    let text = format!("{value:.2}");
    if text == "-0.00" {
        "0.00".to_owned()
    } else {
        text
    }
}

/// Builds an SVG path `d` string through the points `(xs[i], ys[i])`, mapped by the scales:
/// `M x y L x y L x y …` with two-decimal coordinates.
///
/// Points whose coordinate (or mapped pixel) is not finite are skipped, and the next good
/// point starts a new sub-path with `M`, so gaps show as gaps. Extra entries in the longer
/// slice are ignored. No points give an empty string.
pub fn polyline_path(
    xs: &[f64],
    ys: &[f64],
    x_scale: &LinearScale,
    y_scale: &LinearScale,
) -> String {
    let mut d = String::new();
    let mut pen_down = false;
    for (&x, &y) in xs.iter().zip(ys) {
        let x_px = x_scale.map(x);
        let y_px = y_scale.map(y);
        if !(x.is_finite() && y.is_finite() && x_px.is_finite() && y_px.is_finite()) {
            pen_down = false;
            continue;
        }
        if !d.is_empty() {
            d.push(' ');
        }
        d.push_str(if pen_down { "L " } else { "M " });
        d.push_str(&format_coord(x_px));
        d.push(' ');
        d.push_str(&format_coord(y_px));
        pen_down = true;
    }
    d
}

/// Returns the index of the entry of `xs_sorted` (ascending) nearest to `x`, for hover.
///
/// Ties go to the lower index. Returns `None` for an empty slice or a NaN `x`.
pub fn nearest_index(xs_sorted: &[f64], x: f64) -> Option<usize> {
    if xs_sorted.is_empty() || x.is_nan() {
        return None;
    }
    let after = xs_sorted.partition_point(|&value| value < x);
    let candidates = [after.checked_sub(1), Some(after)];
    candidates
        .iter()
        .flatten()
        .filter_map(|&i| xs_sorted.get(i).map(|&value| (i, (value - x).abs())))
        .fold(
            None,
            |best: Option<(usize, f64)>, (i, distance)| match best {
                Some((_, best_distance)) if best_distance <= distance => best,
                _ => Some((i, distance)),
            },
        )
        .map(|(i, _)| i)
}
