//! `model.safetensors.index.json`, whose shard names come from the repository.
//!
//! Oracle: no panic, and an accepted index names only plain `.safetensors` files: no path
//! separator, no `..`, no URL, no character that changes a URL's meaning.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poslens::pure::shards::{parse_shard_index, validate_shard_name};

fuzz_target!(|data: &[u8]| {
    let Ok(index) = parse_shard_index(data) else {
        return;
    };
    assert!(!index.weight_map.is_empty());
    for shard in index.shard_files() {
        assert_eq!(validate_shard_name(shard), Ok(()));
        assert!(shard.ends_with(".safetensors"));
        assert!(
            !shard.contains(['/', '\\', ':', '?', '#', '%']),
            "{shard:?}"
        );
        assert!(!shard.contains(".."), "{shard:?}");
        assert!(!shard.starts_with('.'), "{shard:?}");
    }
});
