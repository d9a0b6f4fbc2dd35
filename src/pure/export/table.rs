//! The singular-value table as text: TSV for the clipboard and CSV for a download.

use std::fmt::Write as _;

use crate::pure::analysis::{Analysis, SvdSummary};

/// Formats every singular value of `summary` as tab-separated values with a header line:
/// `index`, `singular_value`, `energy_share` (σ²/Σσ²) and `cumulative_energy`, one row per
/// singular value in descending order. Numbers are written with Rust's shortest round-trip
/// formatting, so pasting them elsewhere loses no precision.
pub fn singular_values_tsv(summary: &SvdSummary) -> String {
    let mut out = String::from("index\tsingular_value\tenergy_share\tcumulative_energy\n");
    for (index, value) in summary.singular_values.iter().enumerate() {
        let (share, cumulative) = shares_at(summary, index);
        // Writing to a String cannot fail.
        let _ = writeln!(out, "{index}\t{value}\t{share}\t{cumulative}");
    }
    out
}

/// Formats the singular values of the full analysis and, when present, of the dropped one as
/// CSV (RFC 4180, `\n` line ends) with the header
/// `analysis,index,singular_value,energy_share,cumulative_energy`.
///
/// `analysis` is `full` or `dropped`; indices restart at 0 for each. Numbers use Rust's
/// shortest round-trip formatting, so `float()` in Python or `pandas.read_csv` gets back
/// exactly the values the page shows.
pub fn singular_values_csv(analysis: &Analysis) -> String {
    let mut out = String::from("analysis,index,singular_value,energy_share,cumulative_energy\n");
    let parts = std::iter::once(("full", &analysis.full)).chain(
        analysis
            .dropped
            .as_ref()
            .map(|dropped| ("dropped", dropped)),
    );
    for (label, summary) in parts {
        for (index, value) in summary.singular_values.iter().enumerate() {
            let (share, cumulative) = shares_at(summary, index);
            // Writing to a String cannot fail.
            let _ = writeln!(out, "{label},{index},{value},{share},{cumulative}");
        }
    }
    out
}

/// The energy share and cumulative share of singular value `index` (NaN when missing).
fn shares_at(summary: &SvdSummary, index: usize) -> (f64, f64) {
    let share = summary.energy_share.get(index).copied().unwrap_or(f64::NAN);
    let cumulative = summary
        .cumulative_energy
        .get(index)
        .copied()
        .unwrap_or(f64::NAN);
    (share, cumulative)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::pure::analysis::svd_summary;
    use nalgebra::DMatrix;

    #[test]
    fn one_row_per_singular_value_that_reads_back_exactly() {
        let m = DMatrix::from_row_slice(3, 2, &[3.0, 0.0, 0.0, 0.1, 0.0, 0.0]);
        let summary = svd_summary(&m, 2, 0.01).unwrap();
        let tsv = singular_values_tsv(&summary);
        let lines: Vec<&str> = tsv.lines().collect();
        assert_eq!(
            lines[0],
            "index\tsingular_value\tenergy_share\tcumulative_energy"
        );
        assert_eq!(lines.len(), 1 + summary.singular_values.len());
        for (i, line) in lines[1..].iter().enumerate() {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields[0], i.to_string());
            let value: f64 = fields[1].parse().unwrap();
            assert_eq!(value, summary.singular_values[i]);
            let cumulative: f64 = fields[3].parse().unwrap();
            assert_eq!(cumulative, summary.cumulative_energy[i]);
        }
    }
}
