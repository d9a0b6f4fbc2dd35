//! Colours: a diverging map centred at zero (blue below, white at zero, red above; ColorBrewer's
//! RdBu, whose lightness rises monotonically towards zero on both sides and which stays readable
//! with red-green colour blindness), colour-bar stops, and a categorical palette for line series
//! (Okabe and Ito's, chosen to stay distinguishable under deuteranopia and protanopia).

/// The colour drawn for values that are not numbers.
pub const NAN_RGB: [u8; 3] = [136, 136, 136];

/// Anchor colours of the diverging map, evenly spaced from −1 (deep blue) through
/// 0 (white) to +1 (deep red). The steps are close to equal in lightness on each side.
const DIVERGING_ANCHORS: [[u8; 3]; 11] = [
    [5, 48, 97],
    [33, 102, 172],
    [67, 147, 195],
    [146, 197, 222],
    [209, 229, 240],
    [255, 255, 255],
    [253, 219, 199],
    [244, 165, 130],
    [214, 96, 77],
    [178, 24, 43],
    [103, 0, 31],
];

/// A categorical palette of ten colours for line series. The first eight are Okabe and Ito's
/// colour-blind-safe palette (blue, orange, bluish green, vermillion, reddish purple, sky blue,
/// yellow, grey in place of black so it shows on dark backgrounds); the first five, drawn for
/// the five leading singular vectors, stay well apart under simulated deuteranopia.
const CATEGORICAL: [[u8; 3]; 10] = [
    [0, 114, 178],
    [230, 159, 0],
    [0, 158, 115],
    [213, 94, 0],
    [204, 121, 167],
    [86, 180, 233],
    [240, 228, 66],
    [128, 128, 128],
    [140, 86, 75],
    [23, 190, 207],
];

/// Returns the diverging colour of `value` on a scale from `-abs_max` to `+abs_max`.
///
/// Zero is white, negative values are blue and positive values red, deepening towards
/// the ends; values beyond ±`abs_max` take the end colours. A non-positive or non-finite
/// `abs_max` is treated as 1. NaN gets [`NAN_RGB`].
pub fn diverging_rgb(value: f64, abs_max: f64) -> [u8; 3] {
    if value.is_nan() {
        return NAN_RGB;
    }
    let abs_max = if abs_max.is_finite() && abs_max > 0.0 {
        abs_max
    } else {
        1.0
    };
    let t = (value / abs_max).clamp(-1.0, 1.0);
    // Position along the anchors: 0 at −1, 5 at 0, 10 at +1.
    let last_index = (DIVERGING_ANCHORS.len() - 1) as f64;
    let position = (t + 1.0) / 2.0 * last_index;
    let lower = position.floor().clamp(0.0, last_index);
    let fraction = position - lower;
    let lower_index = lower as usize;
    let first = DIVERGING_ANCHORS
        .get(lower_index)
        .copied()
        .unwrap_or([255, 255, 255]);
    let second = DIVERGING_ANCHORS
        .get(lower_index + 1)
        .copied()
        .unwrap_or(first);
    let mix = |a: u8, b: u8| -> u8 {
        let value = f64::from(a) + (f64::from(b) - f64::from(a)) * fraction;
        value.round().clamp(0.0, 255.0) as u8
    };
    [
        mix(first[0], second[0]),
        mix(first[1], second[1]),
        mix(first[2], second[2]),
    ]
}

/// Formats a colour for CSS and SVG as `#rrggbb`.
pub fn rgb_css(rgb: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2])
}

/// Returns the largest absolute finite value, for a colour scale symmetric about zero.
///
/// The result is always positive: 1.0 when every value is zero, non-finite, or there are none.
pub fn symmetric_abs_max(values: &[f64]) -> f64 {
    let abs_max = values
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0_f64, |acc, v| acc.max(v.abs()));
    if abs_max > 0.0 {
        abs_max
    } else {
        1.0
    }
}

/// Returns a robust colour limit: the `quantile` quantile of |v| over the finite values.
///
/// The quantile is taken by nearest rank: the magnitudes are sorted and the one at index
/// ⌈quantile·n⌉ − 1 is chosen, so `0.99` ignores the largest 1% of cells. This keeps a single
/// outlier (such as a singular vector that is nearly a delta at position 0) from making every
/// other cell pale; cells beyond the limit take the end colours of [`diverging_rgb`].
///
/// It falls back to [`symmetric_abs_max`] (the full range) when `quantile` is not strictly
/// between 0 and 1, when there are no finite values, or when the quantile is not positive
/// (for example when most values are zero). The result is therefore always positive.
pub fn quantile_abs_max(values: &[f64], quantile: f64) -> f64 {
    if !(quantile > 0.0 && quantile < 1.0) {
        return symmetric_abs_max(values);
    }
    let mut magnitudes: Vec<f64> = values
        .iter()
        .filter(|v| v.is_finite())
        .map(|v| v.abs())
        .collect();
    if magnitudes.is_empty() {
        return symmetric_abs_max(values);
    }
    magnitudes.sort_by(f64::total_cmp);
    let count = magnitudes.len();
    // The nearest rank is at least 1 because quantile·count is positive; the float-to-integer
    // conversion saturates, and the index is clamped to the last element as well.
    #[allow(clippy::cast_precision_loss)]
    let rank = (quantile * count as f64).ceil();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let index = (rank as usize).saturating_sub(1).min(count - 1);
    match magnitudes.get(index) {
        Some(&limit) if limit > 0.0 => limit,
        _ => symmetric_abs_max(values),
    }
}

/// Names a quantile as a percentile ordinal for labels: `0.99` gives `99th`, `0.999` gives
/// `99.9th`, `0.51` gives `51st`.
///
/// The percentile is rounded to six decimals, so float noise does not show.
pub fn percentile_ordinal(quantile: f64) -> String {
    let percent = (quantile * 100.0 * 1e6).round() / 1e6;
    let is_whole = percent.fract() == 0.0 && percent.is_finite();
    let suffix = if is_whole {
        // Whole percentiles take English ordinal endings (1st, 2nd, 3rd, 11th, 21st, ...).
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let whole = percent.abs() as u64;
        match (whole % 10, whole % 100) {
            (1, hundreds) if hundreds != 11 => "st",
            (2, hundreds) if hundreds != 12 => "nd",
            (3, hundreds) if hundreds != 13 => "rd",
            _ => "th",
        }
    } else {
        "th"
    };
    format!("{percent}{suffix}")
}

/// Returns `n` evenly spaced colour-bar stops from `-abs_max` to `+abs_max`, each a value
/// and its CSS colour, for an SVG gradient and its labels.
///
/// One stop gives the centre (0, white); zero stops give an empty list.
pub fn colorbar_stops(abs_max: f64, n: usize) -> Vec<(f64, String)> {
    let abs_max = if abs_max.is_finite() && abs_max > 0.0 {
        abs_max
    } else {
        1.0
    };
    match n {
        0 => Vec::new(),
        1 => vec![(0.0, rgb_css(diverging_rgb(0.0, abs_max)))],
        _ => {
            let last = (n - 1) as f64;
            (0..n)
                .map(|i| {
                    let value = -abs_max + 2.0 * abs_max * (i as f64) / last;
                    (value, rgb_css(diverging_rgb(value, abs_max)))
                })
                .collect()
        }
    }
}

/// Returns `n` CSS colours for line series: ten distinct palette colours first, then
/// further hues spaced by the golden angle so neighbours stay distinguishable.
pub fn line_series_colors(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| match CATEGORICAL.get(i) {
            Some(rgb) => rgb_css(*rgb),
            None => {
                let hue_deg = (i as f64 * 137.507_764) % 360.0;
                rgb_css(hsl_to_rgb(hue_deg, 0.65, 0.45))
            }
        })
        .collect()
}

/// Converts a colour from HSL (hue in degrees, saturation and lightness in 0..=1) to RGB.
fn hsl_to_rgb(hue_deg: f64, saturation: f64, lightness: f64) -> [u8; 3] {
    let chroma = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
    let sector = (hue_deg.rem_euclid(360.0)) / 60.0;
    let x = chroma * (1.0 - (sector % 2.0 - 1.0).abs());
    let (r, g, b) = match sector as u32 {
        0 => (chroma, x, 0.0),
        1 => (x, chroma, 0.0),
        2 => (0.0, chroma, x),
        3 => (0.0, x, chroma),
        4 => (x, 0.0, chroma),
        _ => (chroma, 0.0, x),
    };
    let m = lightness - chroma / 2.0;
    let to_byte = |c: f64| ((c + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    [to_byte(r), to_byte(g), to_byte(b)]
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// sRGB bytes to linear light.
    fn linear(rgb: [u8; 3]) -> [f64; 3] {
        rgb.map(|c| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        })
    }

    /// Linear sRGB to CIELAB (D65).
    fn lab(l: [f64; 3]) -> [f64; 3] {
        let x = 0.4124 * l[0] + 0.3576 * l[1] + 0.1805 * l[2];
        let y = 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2];
        let z = 0.0193 * l[0] + 0.1192 * l[1] + 0.9505 * l[2];
        let f = |t: f64| {
            if t > 0.008856 {
                t.cbrt()
            } else {
                7.787 * t + 16.0 / 116.0
            }
        };
        let (fx, fy, fz) = (f(x / 0.95047), f(y), f(z / 1.08883));
        [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
    }

    /// Simulates deuteranopia (Machado, Oliveira and Fernandes 2009, severity 1).
    fn deuteranopia(l: [f64; 3]) -> [f64; 3] {
        let m = [
            [0.367322, 0.860646, -0.227968],
            [0.280085, 0.672501, 0.047413],
            [-0.011820, 0.042940, 0.968881],
        ];
        m.map(|row| (row[0] * l[0] + row[1] * l[1] + row[2] * l[2]).clamp(0.0, 1.0))
    }

    fn delta_e(a: [f64; 3], b: [f64; 3]) -> f64 {
        ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
    }

    #[test]
    fn the_five_line_colours_stay_apart_under_deuteranopia() {
        let seen: Vec<[f64; 3]> = CATEGORICAL[..5]
            .iter()
            .map(|&rgb| lab(deuteranopia(linear(rgb))))
            .collect();
        for i in 0..seen.len() {
            for j in 0..i {
                let distance = delta_e(seen[i], seen[j]);
                assert!(
                    distance > 15.0,
                    "series {i} and {j} are only ΔE {distance:.1} apart under deuteranopia"
                );
            }
        }
    }

    #[test]
    fn diverging_lightness_rises_monotonically_towards_zero() {
        let lightness = |t: f64| lab(linear(diverging_rgb(t, 1.0)))[0];
        let steps = 100;
        for i in 0..steps {
            let (a, b) = (
                f64::from(i) / f64::from(steps),
                f64::from(i + 1) / f64::from(steps),
            );
            // Towards zero from below and from above, lightness never falls.
            assert!(lightness(-1.0 + b) >= lightness(-1.0 + a) - 1e-9);
            assert!(lightness(1.0 - b) >= lightness(1.0 - a) - 1e-9);
        }
        // The two ends are about equally dark, so neither sign looks more important.
        assert!((lightness(-1.0) - lightness(1.0)).abs() < 10.0);
    }
}
