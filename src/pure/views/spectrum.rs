//! How the energy (Σσ²) spreads over the singular directions: the scree plot's normalised
//! spectrum and the number of directions that hold a given share of the energy.

/// The energy shares marked on the cumulative-energy chart: 90%, 99% and 99.9%.
pub const DEFAULT_ENERGY_LEVELS: [f64; 3] = [0.9, 0.99, 0.999];

/// How many leading directions hold a share of the energy.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EnergyMarker {
    /// The share of Σσ², for example `0.99`.
    pub level: f64,
    /// The fewest leading directions whose cumulative energy reaches `level`.
    pub n_directions: usize,
}

/// Returns the fewest leading directions whose cumulative energy share reaches `level`:
/// the first `i` (counting from 1) with `cumulative_energy[i − 1] ≥ level`.
///
/// Rounding can leave the last cumulative share a hair below 1, so a level that no entry
/// reaches gives every direction. An empty slice gives 0.
pub fn directions_for_energy(cumulative_energy: &[f64], level: f64) -> usize {
    cumulative_energy
        .iter()
        .position(|&share| share >= level)
        .map_or(cumulative_energy.len(), |index| index + 1)
}

/// Returns one [`EnergyMarker`] per level, in the order given.
pub fn energy_markers(cumulative_energy: &[f64], levels: &[f64]) -> Vec<EnergyMarker> {
    levels
        .iter()
        .map(|&level| EnergyMarker {
            level,
            n_directions: directions_for_energy(cumulative_energy, level),
        })
        .collect()
}

/// Returns σᵢ/σ₀, the spectrum scaled so that its largest value is 1, for comparing models
/// of different scales on one chart. An all-zero or empty spectrum gives zeros.
pub fn normalized_spectrum(singular_values: &[f64]) -> Vec<f64> {
    let sigma_0 = singular_values.first().copied().unwrap_or(0.0);
    if !(sigma_0.is_finite() && sigma_0 > 0.0) {
        return vec![0.0; singular_values.len()];
    }
    singular_values.iter().map(|&s| s / sigma_0).collect()
}

/// Formats an energy level as a percentage label: `0.9` → `90%`, `0.999` → `99.9%`.
pub fn level_label(level: f64) -> String {
    let percent = (level * 100.0 * 1e6).round() / 1e6;
    format!("{percent}%")
}
