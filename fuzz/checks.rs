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

/// A PyTorch `.bin` checkpoint, either format, read by ranges as the browser reads it.
///
/// Input: a whole file (the plans ask for ranges of it).
/// Oracle: no panic; an accepted index's tensors each name a storage of the index; every
/// located tensor's byte range lies inside the file, holds at least its elements' bytes
/// when contiguous, and turns into exactly its row-major length; detection never panics.
pub fn torch_bin(data: &[u8]) {
    use poslens::pure::source::torch::{
        detect_positional, run_in_memory, IndexPlan, Layout, MAX_PICKLE_BYTES,
    };
    let file_len = data.len() as u64;
    let Ok((index, bytes_read)) = run_in_memory(IndexPlan::new(file_len), data) else {
        return;
    };
    assert!(
        bytes_read <= file_len + 2 * MAX_PICKLE_BYTES,
        "the index read {bytes_read} bytes of a {file_len}-byte file"
    );
    for tensor in index.tensors.iter().take(64) {
        assert!(tensor.storage < index.storages.len(), "{tensor:?}");
        let Ok(plan) = index.locate(&tensor.name) else {
            continue;
        };
        let Ok((location, _)) = run_in_memory(plan, data) else {
            continue;
        };
        let range = location.byte_range.clone();
        assert!(
            range.start <= range.end && range.end <= file_len,
            "{range:?}"
        );
        let raw = &data[range.start as usize..range.end as usize];
        if location.layout == Layout::Contiguous {
            assert_eq!(
                range.end - range.start,
                location.len_bytes(),
                "{location:?}"
            );
        }
        let bytes = location
            .row_major_bytes(raw)
            .expect("the located bytes turn into the tensor");
        assert_eq!(bytes.len() as u64, location.len_bytes(), "{location:?}");
        let _ = location.matrix_view();
    }
    let _ = detect_positional(&index);
}

/// The pickle interpreter alone: consecutive pickles from the start (as in a legacy file's
/// prefix), each collected as a state dict.
///
/// Oracle: no panic, and each pickle ends after it starts and within the input.
pub fn torch_pickle(data: &[u8]) {
    use poslens::pure::source::torch::pickle::{collect_tensors, interpret};
    let mut at = 0;
    while at < data.len() {
        let Ok((value, end)) = interpret(data, at) else {
            return;
        };
        assert!(
            end > at && end <= data.len(),
            "a pickle at {at} ends at {end}"
        );
        if let Ok(tensors) = collect_tensors(&value) {
            for (_, tensor) in tensors {
                assert_eq!(tensor.shape.len(), tensor.strides.len());
            }
        }
        at = end;
    }
}
