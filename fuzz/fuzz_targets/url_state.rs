//! The share-link decoder: any query string a link can carry.
//!
//! Oracle: see `checks::url_state` (no panic; the decoded settings are valid, the Hub address
//! is `http:` or `https:`, and encoding them gives a link that decodes to the same settings
//! without notes). `tests/fuzz_corpus.rs` replays inputs through the same check.
#![no_main]

use libfuzzer_sys::fuzz_target;

// The other targets' checks live in the same file.
#[allow(dead_code)]
#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::url_state(data));
