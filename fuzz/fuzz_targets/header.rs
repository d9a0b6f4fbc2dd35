//! The safetensors header: the 8-byte length prefix, the JSON header, and a whole file.
//!
//! Input: a file's first bytes (prefix and header, as the browser reads them by ranges).
//! Oracle: see `checks::header` (no panic; an accepted header describes tensors that are
//! packed in order from data offset 0 and inside the data buffer, and a whole-file parse
//! agrees with the ranged one). `tests/fuzz_corpus.rs` replays inputs through the same check.
#![no_main]

use libfuzzer_sys::fuzz_target;

// The other targets' checks live in the same file.
#[allow(dead_code)]
#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::header(data));
