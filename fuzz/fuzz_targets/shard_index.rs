//! `model.safetensors.index.json`, whose shard names come from the repository.
//!
//! Oracle: see `checks::shard_index` (no panic, and an accepted index names only plain
//! `.safetensors` files: no path separator, no `..`, no URL, no character that changes a
//! URL's meaning). `tests/fuzz_corpus.rs` replays inputs through the same check.
#![no_main]

use libfuzzer_sys::fuzz_target;

// The other targets' checks live in the same file.
#[allow(dead_code)]
#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::shard_index(data));
