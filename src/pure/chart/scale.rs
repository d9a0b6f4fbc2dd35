//! Linear scales, "nice" tick values (steps of 1, 2 or 5 times a power of ten) and tick labels.

/// The most ticks [`nice_ticks`] ever returns, whatever it is asked for.
const MAX_TICKS: usize = 1000;

/// Maps a data interval (`domain`) linearly onto a pixel interval (`range`).
///
/// The range may run backwards (for a y axis, bottom pixel first).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LinearScale {
    /// The data interval `(start, end)`.
    pub domain: (f64, f64),
    /// The pixel interval `(start, end)` that `domain.0` and `domain.1` map to.
    pub range: (f64, f64),
}

impl LinearScale {
    /// Creates a scale from a data interval to a pixel interval.
    pub fn new(domain: (f64, f64), range: (f64, f64)) -> Self {
        LinearScale { domain, range }
    }

    /// Maps a data value to a pixel position.
    ///
    /// A zero-width (or non-finite) domain maps every value to the middle of the range.
    /// Values outside the domain extrapolate linearly.
    pub fn map(&self, value: f64) -> f64 {
        let width = self.domain.1 - self.domain.0;
        if width == 0.0 || !width.is_finite() {
            return (self.range.0 + self.range.1) / 2.0;
        }
        let t = (value - self.domain.0) / width;
        self.range.0 + t * (self.range.1 - self.range.0)
    }

    /// Maps a pixel position back to a data value (the inverse of [`LinearScale::map`]).
    ///
    /// A zero-width (or non-finite) range maps every pixel to the middle of the domain.
    pub fn invert(&self, pixel: f64) -> f64 {
        let width = self.range.1 - self.range.0;
        if width == 0.0 || !width.is_finite() {
            return (self.domain.0 + self.domain.1) / 2.0;
        }
        let t = (pixel - self.range.0) / width;
        self.domain.0 + t * (self.domain.1 - self.domain.0)
    }

    /// Returns nice tick values inside the domain, about `target_count` of them.
    pub fn ticks(&self, target_count: usize) -> Vec<f64> {
        nice_ticks(self.domain.0, self.domain.1, target_count)
    }

    /// Returns a copy whose domain is widened outwards to multiples of the nice tick step,
    /// so the axis starts and ends on a tick.
    pub fn nice(&self, target_count: usize) -> LinearScale {
        let (lo, hi) = ordered(self.domain.0, self.domain.1);
        let step = nice_step(hi - lo, target_count);
        if step <= 0.0 || !step.is_finite() || !lo.is_finite() || !hi.is_finite() {
            return *self;
        }
        let nice_lo = (lo / step).floor() * step;
        let nice_hi = (hi / step).ceil() * step;
        let domain = if self.domain.0 <= self.domain.1 {
            (nice_lo, nice_hi)
        } else {
            (nice_hi, nice_lo)
        };
        LinearScale {
            domain,
            range: self.range,
        }
    }
}

/// Returns the pair in ascending order.
fn ordered(a: f64, b: f64) -> (f64, f64) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// Returns a step of 1, 2 or 5 times a power of ten that cuts `span` into about
/// `target_count` pieces; 0 when the span is zero, negative or not finite.
pub fn nice_step(span: f64, target_count: usize) -> f64 {
    if !span.is_finite() || span <= 0.0 {
        return 0.0;
    }
    let target = target_count.max(1) as f64;
    let raw = span / target;
    let magnitude = 10f64.powf(raw.log10().floor());
    if magnitude == 0.0 || !magnitude.is_finite() {
        return 0.0;
    }
    let residual = raw / magnitude;
    // Pick the nice mantissa closest to the raw step (geometric midpoints between 1, 2, 5, 10).
    let mantissa = if residual < 2f64.sqrt() {
        1.0
    } else if residual < 10f64.sqrt() {
        2.0
    } else if residual < 50f64.sqrt() {
        5.0
    } else {
        10.0
    };
    mantissa * magnitude
}

/// Returns tick values at multiples of a nice step (1, 2 or 5 times a power of ten)
/// covering `[min, max]`, about `target_count` of them, in ascending order.
///
/// The ends are included when they are multiples of the step. The arguments may come
/// in either order. A zero-width interval gives the single value; non-finite input
/// gives no ticks. At most 1000 ticks are returned.
pub fn nice_ticks(min: f64, max: f64, target_count: usize) -> Vec<f64> {
    if !min.is_finite() || !max.is_finite() {
        return Vec::new();
    }
    let (lo, hi) = ordered(min, max);
    if lo == hi {
        return vec![lo];
    }
    let step = nice_step(hi - lo, target_count);
    if step <= 0.0 || !step.is_finite() {
        return vec![lo, hi];
    }
    // A small tolerance keeps ends that are ticks but miss by rounding error.
    let tolerance = step * 1e-9;
    let first = ((lo - tolerance) / step).ceil();
    let last = ((hi + tolerance) / step).floor();
    if !first.is_finite() || !last.is_finite() || last < first {
        return vec![lo, hi];
    }
    let count = last - first + 1.0;
    if count > MAX_TICKS as f64 {
        return vec![lo, hi];
    }
    let decimals = step_decimals(step);
    let mut ticks = Vec::new();
    let mut index = first;
    while index <= last {
        let value = round_to(index * step, decimals);
        // Normalise -0.0 so labels never read "-0".
        ticks.push(if value == 0.0 { 0.0 } else { value });
        index += 1.0;
    }
    ticks
}

/// Returns how many decimals show a multiple of `step` exactly (at most 15).
fn step_decimals(step: f64) -> usize {
    let step = step.abs();
    if step == 0.0 || !step.is_finite() {
        return 0;
    }
    for decimals in 0..15_usize {
        let scaled = step * 10f64.powi(decimals as i32);
        if (scaled - scaled.round()).abs() <= scaled.abs() * 1e-9 {
            return decimals;
        }
    }
    15
}

/// Rounds to a number of decimals, leaving very large or very small values alone.
fn round_to(value: f64, decimals: usize) -> f64 {
    if decimals == 0 || decimals > 15 {
        return value;
    }
    let factor = 10f64.powi(decimals as i32);
    let rounded = (value * factor).round() / factor;
    if rounded.is_finite() {
        rounded
    } else {
        value
    }
}

/// Formats a tick label for `value` on an axis whose ticks are `step` apart.
///
/// Uses just enough decimals to tell neighbouring ticks apart (`0.25`, `1.5`, `200`);
/// switches to scientific notation (`2.5e-6`, `1e7`) when the step is below 0.0001 or the
/// value reaches a million. Zero is always `0`; non-finite values are spelt out.
pub fn format_tick(value: f64, step: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "∞" } else { "−∞" }.to_owned();
    }
    if value == 0.0 {
        return "0".to_owned();
    }
    let step = if step.is_finite() && step != 0.0 {
        step.abs()
    } else {
        value.abs()
    };
    if step < 1e-4 || value.abs() >= 1e6 {
        let value_exponent = value.abs().log10().floor();
        let step_exponent = step.log10().floor();
        let mantissa_decimals = (value_exponent - step_exponent).clamp(0.0, 6.0) as usize;
        let text = format!("{value:.mantissa_decimals$e}");
        return trim_mantissa(&text);
    }
    let decimals = step_decimals(step).min(10);
    let text = format!("{value:.decimals$}");
    if text
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        return "0".to_owned();
    }
    text
}

/// Removes trailing zeros (and a bare point) from the mantissa of `1.50e-6`-style text.
fn trim_mantissa(text: &str) -> String {
    match text.split_once('e') {
        Some((mantissa, exponent)) if mantissa.contains('.') => {
            let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
            format!("{mantissa}e{exponent}")
        }
        _ => text.to_owned(),
    }
}
