//! Histograms with numpy's semantics, and the bars that draw them.

use super::scale::LinearScale;

/// Bin edges and counts, as `numpy.histogram` returns them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Histogram {
    /// The `n_bins + 1` bin edges, ascending.
    pub edges: Vec<f64>,
    /// How many values fall in each bin; bin `i` is `[edges[i], edges[i+1])`, except the
    /// last bin, which also includes its right edge.
    pub counts: Vec<usize>,
}

/// One histogram bar in pixel coordinates, ready for an SVG `<rect>`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HistogramBar {
    /// The left edge.
    pub x_px: f64,
    /// The top edge.
    pub y_px: f64,
    /// The width, never negative.
    pub width_px: f64,
    /// The height, never negative.
    pub height_px: f64,
    /// The bin's lower edge, in data units.
    pub lower: f64,
    /// The bin's upper edge, in data units.
    pub upper: f64,
    /// How many values the bin holds.
    pub count: usize,
}

impl Histogram {
    /// Returns the number of bins.
    pub fn n_bins(&self) -> usize {
        self.counts.len()
    }

    /// Returns how many values were counted.
    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }

    /// Returns the largest bin count (0 when there are no bins).
    pub fn max_count(&self) -> usize {
        self.counts.iter().copied().max().unwrap_or(0)
    }

    /// Returns the bars in pixel coordinates: x from the bin edges, y from 0 to the count.
    pub fn bars(&self, x_scale: &LinearScale, y_scale: &LinearScale) -> Vec<HistogramBar> {
        let baseline_px = y_scale.map(0.0);
        self.counts
            .iter()
            .zip(self.edges.iter().zip(self.edges.iter().skip(1)))
            .map(|(&count, (&lower, &upper))| {
                let x0 = x_scale.map(lower);
                let x1 = x_scale.map(upper);
                let top_px = y_scale.map(count as f64);
                HistogramBar {
                    x_px: x0.min(x1),
                    y_px: top_px.min(baseline_px),
                    width_px: (x1 - x0).abs(),
                    height_px: (baseline_px - top_px).abs(),
                    lower,
                    upper,
                    count,
                }
            })
            .collect()
    }
}

/// Counts `values` in `n_bins` equal-width bins spanning their minimum to maximum,
/// exactly as `numpy.histogram(values, bins=n_bins)` does.
///
/// Non-finite values are left out. Like numpy, constant input uses the range
/// `value − 0.5 ..= value + 0.5` and empty input uses `0 ..= 1`. With `n_bins == 0` the
/// result has one edge and no counts. Never panics.
pub fn histogram(values: &[f64], n_bins: usize) -> Histogram {
    let mut finite = values.iter().copied().filter(|v| v.is_finite());
    let (lo, hi) = match finite.next() {
        None => (0.0, 1.0),
        Some(first) => finite.fold((first, first), |(lo, hi), v| (lo.min(v), hi.max(v))),
    };
    let (lo, hi) = if lo == hi {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    };
    histogram_in_range(values, n_bins, lo, hi)
}

/// Counts `values` in `n_bins` equal-width bins over `[lo, hi]`, like
/// `numpy.histogram(values, bins=n_bins, range=(lo, hi))`: values outside the range and
/// non-finite values are left out, and the last bin includes `hi`.
///
/// When `hi <= lo` (or either is not finite) every count is zero.
pub fn histogram_in_range(values: &[f64], n_bins: usize, lo: f64, hi: f64) -> Histogram {
    let edges = linspace(lo, hi, n_bins);
    let mut counts = vec![0_usize; n_bins];
    if n_bins == 0 || !lo.is_finite() || !hi.is_finite() || hi <= lo {
        return Histogram { edges, counts };
    }
    let n_bins_f = n_bins as f64;
    let norm = n_bins_f / (hi - lo);
    let last_bin = n_bins - 1;
    for &value in values {
        if !value.is_finite() || value < lo || value > hi {
            continue;
        }
        // First guess from the arithmetic, then nudge by at most one bin so that the
        // value really lies within the chosen bin's edges (numpy does the same).
        let guess = ((value - lo) * norm).floor();
        let mut index = if guess <= 0.0 {
            0
        } else if guess >= n_bins_f {
            last_bin
        } else {
            guess as usize
        };
        if index > 0 && edges.get(index).is_some_and(|&edge| value < edge) {
            index -= 1;
        }
        if index < last_bin && edges.get(index + 1).is_some_and(|&edge| value >= edge) {
            index += 1;
        }
        if let Some(count) = counts.get_mut(index) {
            *count += 1;
        }
    }
    Histogram { edges, counts }
}

/// Returns `n_bins + 1` evenly spaced edges from `lo` to `hi`, the last exactly `hi`
/// (as `numpy.linspace` does).
fn linspace(lo: f64, hi: f64, n_bins: usize) -> Vec<f64> {
    if n_bins == 0 {
        return vec![lo];
    }
    let step = (hi - lo) / n_bins as f64;
    let mut edges: Vec<f64> = (0..n_bins).map(|i| lo + i as f64 * step).collect();
    edges.push(hi);
    edges
}
