//! Scatter geometry: scales with one unit per pixel on both axes (so a circle stays a
//! circle), and the nearest point to the pointer.

use super::layout::PlotArea;
use super::scale::LinearScale;

/// Returns x and y scales over `area` that show every point, with the same pixels per unit
/// on both axes and the data centred. Points with a non-finite coordinate are ignored; no
/// usable points give the domain `−1..1` on both axes.
pub fn equal_aspect_scales(xs: &[f64], ys: &[f64], area: &PlotArea) -> (LinearScale, LinearScale) {
    let bounds = |values: &[f64]| {
        values
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .fold(None, |acc: Option<(f64, f64)>, v| match acc {
                Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
                None => Some((v, v)),
            })
    };
    let (x_lo, x_hi) = bounds(xs).unwrap_or((-1.0, 1.0));
    let (y_lo, y_hi) = bounds(ys).unwrap_or((-1.0, 1.0));
    let width_px = area.width_px.max(1.0);
    let height_px = area.height_px.max(1.0);
    // Units per pixel: the larger of what each axis needs, with a 5% margin.
    let x_span = (x_hi - x_lo).max(f64::MIN_POSITIVE);
    let y_span = (y_hi - y_lo).max(f64::MIN_POSITIVE);
    let mut units_per_px = (x_span / width_px).max(y_span / height_px) * 1.05;
    if !(units_per_px.is_finite() && units_per_px > 0.0) {
        units_per_px = 1.0;
    }
    let x_mid = (x_lo + x_hi) / 2.0;
    let y_mid = (y_lo + y_hi) / 2.0;
    let half_w = width_px / 2.0 * units_per_px;
    let half_h = height_px / 2.0 * units_per_px;
    (
        area.x_scale((x_mid - half_w, x_mid + half_w)),
        area.y_scale((y_mid - half_h, y_mid + half_h)),
    )
}

/// Returns the index of the point nearest to `(x_px, y_px)` within `max_distance_px`, or
/// `None`. Points are given in pixels; non-finite points are skipped; ties go to the lower
/// index.
pub fn nearest_point(
    points_px: &[(f64, f64)],
    x_px: f64,
    y_px: f64,
    max_distance_px: f64,
) -> Option<usize> {
    let limit = max_distance_px * max_distance_px;
    points_px
        .iter()
        .enumerate()
        .filter(|(_, (x, y))| x.is_finite() && y.is_finite())
        .map(|(i, (x, y))| (i, (x - x_px).powi(2) + (y - y_px).powi(2)))
        .filter(|(_, d)| *d <= limit)
        .fold(None, |best: Option<(usize, f64)>, (i, d)| match best {
            Some((_, best_d)) if best_d <= d => best,
            _ => Some((i, d)),
        })
        .map(|(i, _)| i)
}
