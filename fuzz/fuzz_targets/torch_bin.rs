//! A PyTorch `.bin` checkpoint (zip or legacy format) read by byte ranges.
//!
//! Oracle: see `checks::torch_bin`. `tests/fuzz_corpus.rs` replays inputs through the same check.
#![no_main]

use libfuzzer_sys::fuzz_target;

// The other targets' checks live in the same file.
#[allow(dead_code)]
#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::torch_bin(data));
