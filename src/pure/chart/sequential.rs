//! A perceptual sequential colour map (viridis) for magnitudes and for position order.

/// Returns the viridis colour of `value` on a scale from `lo` (dark purple) to `hi`
/// (yellow). Values outside take the end colours; NaN gets the shared NaN grey; a zero or
/// non-finite span maps everything to the middle colour.
pub fn sequential_rgb(value: f64, lo: f64, hi: f64) -> [u8; 3] {
    if value.is_nan() {
        return super::color::NAN_RGB;
    }
    let span = hi - lo;
    let t = if span.is_finite() && span != 0.0 {
        ((value - lo) / span).clamp(0.0, 1.0)
    } else {
        0.5
    };
    let colour = colorous::VIRIDIS.eval_continuous(t);
    [colour.r, colour.g, colour.b]
}

/// Returns `n` CSS colours evenly spaced along the map from `lo` to `hi`, for a colour bar
/// gradient drawn from low to high.
pub fn sequential_stops(n: usize) -> Vec<String> {
    match n {
        0 => Vec::new(),
        1 => vec![super::color::rgb_css(sequential_rgb(0.5, 0.0, 1.0))],
        _ => (0..n)
            .map(|i| {
                let t = i as f64 / (n - 1) as f64;
                super::color::rgb_css(sequential_rgb(t, 0.0, 1.0))
            })
            .collect(),
    }
}
