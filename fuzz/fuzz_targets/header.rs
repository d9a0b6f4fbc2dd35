//! The safetensors header: the 8-byte length prefix, the JSON header, and a whole file.
//!
//! Input: a file's first bytes (prefix and header, as the browser reads them by ranges).
//! Oracle: no panic; an accepted header describes tensors that are sorted, packed from data
//! offset 0 and inside the data buffer, and a whole-file parse agrees with the ranged one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poslens::pure::format::{
    header_byte_range, header_len_from_prefix, parse_header, parse_whole_file, plan_tensor_read,
    DEFAULT_MAX_TENSOR_BYTES,
};

fuzz_target!(|data: &[u8]| {
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
    assert_eq!(header.header_len_bytes, header_len);
    let mut expected_start = header.data_start_byte;
    for entry in &header.tensors {
        assert_eq!(
            entry.byte_range.start, expected_start,
            "tensors must be packed in order"
        );
        assert!(entry.byte_range.end >= entry.byte_range.start);
        expected_start = entry.byte_range.end;
        if entry.len_bytes() <= DEFAULT_MAX_TENSOR_BYTES {
            assert_eq!(
                plan_tensor_read(entry, DEFAULT_MAX_TENSOR_BYTES),
                Ok(entry.byte_range.clone())
            );
        }
    }
    if let Ok(whole) = whole {
        assert_eq!(whole.tensors, header.tensors);
        assert_eq!(whole.metadata, header.metadata);
    }
});
