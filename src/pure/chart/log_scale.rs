//! Logarithmic scales and their ticks, for spectra that span several decades.

/// Maps a positive data interval onto a pixel interval so that equal ratios take equal
/// distances.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LogScale {
    /// The data interval `(start, end)`, both positive.
    pub domain: (f64, f64),
    /// The pixel interval `domain` maps to (may run backwards, as for a y axis).
    pub range: (f64, f64),
}

impl LogScale {
    /// Creates a scale; a domain end that is not positive and finite is replaced by 1, so
    /// the scale always maps.
    pub fn new(domain: (f64, f64), range: (f64, f64)) -> Self {
        let fix = |value: f64| {
            if value.is_finite() && value > 0.0 {
                value
            } else {
                1.0
            }
        };
        LogScale {
            domain: (fix(domain.0), fix(domain.1)),
            range,
        }
    }

    /// Maps a positive value to a pixel position; values that are not positive map to the
    /// pixel of the domain's lower end (they cannot sit on a log axis).
    pub fn map(&self, value: f64) -> f64 {
        let lo = self.domain.0.log10();
        let hi = self.domain.1.log10();
        let width = hi - lo;
        if width == 0.0 || !width.is_finite() {
            return (self.range.0 + self.range.1) / 2.0;
        }
        let value_log = if value > 0.0 && value.is_finite() {
            value.log10()
        } else {
            lo.min(hi)
        };
        let t = (value_log - lo) / width;
        self.range.0 + t * (self.range.1 - self.range.0)
    }

    /// Maps a pixel position back to a value (the inverse of [`LogScale::map`]).
    pub fn invert(&self, pixel: f64) -> f64 {
        let width = self.range.1 - self.range.0;
        let lo = self.domain.0.log10();
        let hi = self.domain.1.log10();
        if width == 0.0 || !width.is_finite() {
            return 10f64.powf((lo + hi) / 2.0);
        }
        let t = (pixel - self.range.0) / width;
        10f64.powf(lo + t * (hi - lo))
    }
}

/// Returns the smallest power of ten at or below `value` and the largest at or above, for a
/// log axis that starts and ends on a decade. Non-positive input gives `(1, 1)`.
pub fn decade_bounds(min: f64, max: f64) -> (f64, f64) {
    let valid = |v: f64| v.is_finite() && v > 0.0;
    if !valid(min) || !valid(max) {
        return (1.0, 1.0);
    }
    let (lo, hi) = if min <= max { (min, max) } else { (max, min) };
    let lo_decade = 10f64.powf(lo.log10().floor());
    let hi_decade = 10f64.powf(hi.log10().ceil());
    (lo_decade, hi_decade)
}

/// Returns tick values for a log axis over `[min, max]` (both positive), ascending: every
/// power of ten inside, thinned to at most `max_ticks`; with fewer than three decades,
/// 2× and 5× ticks are added between them.
pub fn log_ticks(min: f64, max: f64, max_ticks: usize) -> Vec<f64> {
    let valid = |v: f64| v.is_finite() && v > 0.0;
    if !valid(min) || !valid(max) || max_ticks == 0 {
        return Vec::new();
    }
    let (lo, hi) = if min <= max { (min, max) } else { (max, min) };
    let tolerance = 1e-9;
    let first = (lo.log10() - tolerance).ceil() as i32;
    let last = (hi.log10() + tolerance).floor() as i32;
    let n_decades = (last - first + 1).max(0) as usize;
    if n_decades < 3 {
        let mut ticks = Vec::new();
        for exponent in (first - 1)..=last {
            for mantissa in [1.0, 2.0, 5.0] {
                let value = mantissa * 10f64.powi(exponent);
                if value >= lo * (1.0 - tolerance) && value <= hi * (1.0 + tolerance) {
                    ticks.push(value);
                }
            }
        }
        if ticks.len() <= max_ticks {
            return ticks;
        }
    }
    let stride = n_decades.div_ceil(max_ticks).max(1);
    (first..=last)
        .filter(|exponent| ((exponent - first) as usize).is_multiple_of(stride))
        .map(|exponent| 10f64.powi(exponent))
        .collect()
}

/// Formats a log-axis tick: plain for 0.001 to 9999 (`0.01`, `5`, `200`), else as a power
/// of ten (`1e-5`, `2e6`).
pub fn format_log_tick(value: f64) -> String {
    if !(value.is_finite() && value > 0.0) {
        return format!("{value}");
    }
    let exponent = value.log10().floor();
    if (-3.0..4.0).contains(&exponent) {
        // Shortest text that reads back as the tick (0.001, 0.02, 500).
        let decimals = if exponent < 0.0 {
            (-exponent) as usize
        } else {
            0
        };
        let text = format!("{value:.decimals$}");
        if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            text
        }
    } else {
        let mantissa = value / 10f64.powf(exponent);
        let mantissa = (mantissa * 1e6).round() / 1e6;
        format!("{mantissa}e{exponent}")
    }
}
