//! How periodic each left singular vector is along the positions: the dominant period of
//! its discrete Fourier transform and the share of the vector's power at that frequency.
//! Sinusoid-like vectors in pairs are what draw GPT-2's helix.

use rustfft::num_complex::Complex;
use rustfft::FftPlanner;

/// The strongest frequency of one vector.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FrequencyPeak {
    /// The DFT bin: cycles over the whole vector (0 is the mean).
    pub bin: usize,
    /// The period in positions, `n / bin`; infinite for bin 0.
    pub period_positions: f64,
    /// The share of the vector's power (Σ xₚ²) at this frequency, counting both the
    /// positive and the negative frequency, between 0 and 1.
    pub power_share: f64,
}

/// Returns the one-sided power spectrum of `values`: for each bin `0..=n/2`, the share of
/// Σ xₚ² carried by that frequency (bins other than 0 and n/2 count twice, once for the
/// negative frequency). The shares add up to 1 for a non-zero vector. Empty or all-zero
/// input gives zeros.
pub fn power_shares(values: &[f64]) -> Vec<f64> {
    let n = values.len();
    if n == 0 {
        return Vec::new();
    }
    let mut buffer: Vec<Complex<f64>> = values.iter().map(|&v| Complex::new(v, 0.0)).collect();
    let mut planner = FftPlanner::<f64>::new();
    planner.plan_fft_forward(n).process(&mut buffer);
    // Parseval: Σ|X_k|² = n · Σ x².
    let total: f64 = buffer.iter().map(Complex::norm_sqr).sum();
    let n_bins = n / 2 + 1;
    buffer
        .iter()
        .take(n_bins)
        .enumerate()
        .map(|(bin, x)| {
            if !(total > 0.0 && total.is_finite()) {
                return 0.0;
            }
            let mirrored = bin != 0 && 2 * bin != n;
            let weight = if mirrored { 2.0 } else { 1.0 };
            weight * x.norm_sqr() / total
        })
        .collect()
}

/// Returns the strongest frequency of `values`, or `None` for an empty vector.
///
/// Ties go to the lower bin.
pub fn dominant_frequency(values: &[f64]) -> Option<FrequencyPeak> {
    let n = values.len();
    let shares = power_shares(values);
    let (bin, &power_share) = shares.iter().enumerate().fold(
        None,
        |best: Option<(usize, &f64)>, (bin, share)| match best {
            Some((_, best_share)) if *best_share >= *share => best,
            _ => Some((bin, share)),
        },
    )?;
    let period_positions = if bin == 0 {
        f64::INFINITY
    } else {
        n as f64 / bin as f64
    };
    Some(FrequencyPeak {
        bin,
        period_positions,
        power_share,
    })
}

/// Returns the dominant frequency of each of the first `k` vectors.
pub fn frequency_table(vectors: &[Vec<f64>], k: usize) -> Vec<FrequencyPeak> {
    vectors
        .iter()
        .take(k)
        .filter_map(|v| dominant_frequency(v))
        .collect()
}
