// These are native tests of the pure core; the wasm32 build only lints the app.
#![cfg(not(target_arch = "wasm32"))]
//! Tests for the core's shared vocabulary: the one byte formatter.

use poslens::pure::common::{format_bytes, size_label, ByteUnits};

#[test]
fn precise_sizes_keep_two_decimals_in_mb_and_gb() {
    let precise = |len| format_bytes(len, ByteUnits::Precise);
    assert_eq!(precise(0), "0 B");
    assert_eq!(precise(999), "999 B");
    assert_eq!(precise(1000), "0.00 MB");
    assert_eq!(precise(786_520), "0.79 MB");
    assert_eq!(precise(3_145_728), "3.15 MB");
    // The size cap's message, pinned by the size-cap e2e test.
    assert_eq!(precise(629_145_600), "629.15 MB");
    assert_eq!(precise(536_870_912), "536.87 MB");
    assert_eq!(precise(999_999_999), "1000.00 MB");
    assert_eq!(precise(1_000_000_000), "1.00 GB");
    assert_eq!(precise(1_073_741_824), "1.07 GB");
    assert_eq!(size_label(3_145_728), precise(3_145_728));
}

#[test]
fn brief_sizes_read_at_a_glance() {
    let brief = |len| format_bytes(len, ByteUnits::Brief);
    assert_eq!(brief(512), "512 B");
    assert_eq!(brief(1000), "1 KB");
    assert_eq!(brief(786_520), "787 KB");
    assert_eq!(brief(1_000_000), "1.0 MB");
    // The saved-entry sizes the storage-full e2e test reads: one decimal in MB.
    assert_eq!(brief(3_145_728), "3.1 MB");
    assert_eq!(brief(12_600_000), "12.6 MB");
    assert_eq!(brief(6_400_000_000), "6.40 GB");
    assert_eq!(brief(u64::MAX), "18446744073.71 GB");
}
