//! The checks of the fuzz targets, one function per target. The targets in `fuzz_targets/`
//! call them, and `tests/fuzz_corpus.rs` replays the committed corpus and any saved findings
//! (`fuzz/artifacts/<target>/`) through the very same functions, so the two cannot drift
//! apart. Each panics (an `assert!`) when an input breaks a check.

use poslens::pure::source::format::{
    header_byte_range, header_len_from_prefix, parse_header, parse_whole_file, plan_tensor_read,
    DEFAULT_MAX_TENSOR_BYTES,
};
use poslens::pure::source::shards::{parse_shard_index, validate_shard_name};
use poslens::pure::url_state::{decode_query, encode_query};

/// The safetensors header: the 8-byte length prefix, the JSON header, and a whole file.
///
/// Input: a file's first bytes (prefix and header, as the browser reads them by ranges).
/// Oracle: no panic; an accepted header has the length its prefix gave and describes tensors
/// that are packed in order from the data start (each ending at or after its start), each
/// small enough to read planned as exactly its byte range; the whole-file parse refuses what
/// the ranged parse refuses, and agrees with it (tensors and metadata) when both accept.
pub fn header(data: &[u8]) {
    let whole = parse_whole_file(data);
    let Ok(header_len) = header_len_from_prefix(data, None) else {
        return;
    };
    let range = header_byte_range(header_len);
    let (Ok(start), Ok(end)) = (usize::try_from(range.start), usize::try_from(range.end)) else {
        return;
    };
    let Some(header_bytes) = data.get(start..end) else {
        return;
    };
    let Ok(header) = parse_header(header_bytes, None) else {
        assert!(
            whole.is_err(),
            "the whole-file parse accepted what the ranged parse refused"
        );
        return;
    };
    assert_eq!(header.header_len_bytes, header_len, "header length");
    let mut expected_start = header.data_start_byte;
    for entry in &header.tensors {
        assert_eq!(
            entry.byte_range.start, expected_start,
            "tensors must be packed in order"
        );
        assert!(
            entry.byte_range.end >= entry.byte_range.start,
            "a tensor ends before it starts: {:?}",
            entry.byte_range
        );
        expected_start = entry.byte_range.end;
        if entry.len_bytes() <= DEFAULT_MAX_TENSOR_BYTES {
            assert_eq!(
                plan_tensor_read(entry, DEFAULT_MAX_TENSOR_BYTES),
                Ok(entry.byte_range.clone()),
                "the planned read of a tensor under the size cap"
            );
        }
    }
    if let Ok(whole) = whole {
        assert_eq!(
            whole.tensors, header.tensors,
            "whole-file and ranged tensors"
        );
        assert_eq!(
            whole.metadata, header.metadata,
            "whole-file and ranged metadata"
        );
    }
}

/// `model.safetensors.index.json`, whose shard names come from the repository.
///
/// Oracle: no panic, and an accepted index maps at least one tensor and names only plain
/// `.safetensors` files: no path separator, no `..`, no URL, no character that changes a
/// URL's meaning, no leading dot.
pub fn shard_index(data: &[u8]) {
    let Ok(index) = parse_shard_index(data) else {
        return;
    };
    assert!(
        !index.weight_map.is_empty(),
        "an accepted index maps no tensor"
    );
    for shard in index.shard_files() {
        assert_eq!(validate_shard_name(shard), Ok(()), "{shard:?}");
        assert!(shard.ends_with(".safetensors"), "{shard:?}");
        assert!(
            !shard.contains(['/', '\\', ':', '?', '#', '%']),
            "{shard:?}"
        );
        assert!(!shard.contains(".."), "{shard:?}");
        assert!(!shard.starts_with('.'), "{shard:?}");
    }
}

/// The share-link decoder: any query string a link can carry.
///
/// Oracle: no panic; the decoded settings are valid, the Hub address is `http:` or `https:`,
/// and encoding them gives a link that decodes to the same settings without notes.
pub fn url_state(data: &[u8]) {
    let query = String::from_utf8_lossy(data);
    let decoded = decode_query(&query);
    let settings = decoded.settings;
    assert!(
        settings.hub.starts_with("https://") || settings.hub.starts_with("http://"),
        "{:?}",
        settings.hub
    );
    assert_eq!(settings.validate(), Ok(()));
    let again = decode_query(&encode_query(&settings));
    assert!(again.notes.is_empty(), "{:?}", again.notes);
    assert_eq!(again.settings, settings);
}
