#![cfg(not(target_arch = "wasm32"))]
//! Hostile and odd input, case by case: duplicate names, overlapping ranges, zero-sized
//! dimensions, unknown dtypes, non-UTF-8 headers, non-string metadata, shard indexes that name
//! files outside the repository, and Hub addresses that are not `http(s)`. Every share link and
//! every byte parsed comes from an untrusted server.

use poslens::pure::common::ErrorKind;
use poslens::pure::source::detect::{detect_positional_embedding, matrix_candidates, matrix_view};
use poslens::pure::source::format::{parse_whole_file, FormatError};
use poslens::pure::source::shards::{parse_shard_index, ShardError};
use poslens::pure::url_state::{decode_query, validate_hub};

/// Serialises header bytes with their length prefix, followed by `data_len_bytes` zero bytes.
fn file_from_header(header: &[u8], data_len_bytes: usize) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.resize(bytes.len() + data_len_bytes, 0);
    bytes
}

fn file(json: &str, data_len_bytes: usize) -> Vec<u8> {
    file_from_header(json.as_bytes(), data_len_bytes)
}

#[test]
fn duplicate_tensor_names_are_refused_even_far_apart() {
    let json = r#"{"wpe.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},
        "x":{"dtype":"U8","shape":[4],"data_offsets":[16,20]},
        "wpe.weight":{"dtype":"F32","shape":[1,1],"data_offsets":[20,24]}}"#;
    let error = parse_whole_file(&file(json, 24)).unwrap_err();
    assert_eq!(
        error,
        FormatError::DuplicateTensor {
            name: "wpe.weight".to_owned()
        }
    );
    assert_eq!(error.kind(), ErrorKind::NotSafetensors);
    // Two `__metadata__` keys are refused the same way.
    let json = r#"{"__metadata__":{"a":"1"},"__metadata__":{"a":"2"}}"#;
    assert!(matches!(
        parse_whole_file(&file(json, 0)),
        Err(FormatError::DuplicateTensor { .. })
    ));
}

#[test]
fn overlapping_and_aliased_data_ranges_are_refused() {
    // Partly overlapping.
    let json = r#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},
        "b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#;
    assert!(matches!(
        parse_whole_file(&file(json, 24)),
        Err(FormatError::OffsetsOutOfOrder {
            expected_begin: 16,
            actual_begin: 8,
            ..
        })
    ));
    // Two names for the very same bytes.
    let json = r#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},
        "b":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#;
    assert!(matches!(
        parse_whole_file(&file(json, 16)),
        Err(FormatError::OffsetsOutOfOrder { .. })
    ));
    // One range inside another.
    let json = r#"{"a":{"dtype":"U8","shape":[16],"data_offsets":[0,16]},
        "b":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}}"#;
    assert!(matches!(
        parse_whole_file(&file(json, 16)),
        Err(FormatError::OffsetsOutOfOrder { .. })
    ));
}

#[test]
fn zero_sized_dimensions_parse_but_are_never_analysed() {
    let json = r#"{"wpe.weight":{"dtype":"F32","shape":[0,768],"data_offsets":[0,0]},
        "empty":{"dtype":"F32","shape":[4,0],"data_offsets":[0,0]},
        "wte.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}"#;
    let header = parse_whole_file(&file(json, 24)).unwrap();
    assert_eq!(header.tensors.len(), 3);
    let wpe = header.tensor("wpe.weight").unwrap();
    assert_eq!(wpe.len_bytes(), 0);
    assert_eq!(wpe.n_elements(), 0);
    // A matrix with no rows or no columns has no SVD: it is neither offered nor detected.
    let candidates: Vec<String> = matrix_candidates(&header)
        .into_iter()
        .map(|view| view.tensor_name)
        .collect();
    assert_eq!(candidates, vec!["wte.weight".to_owned()]);
    assert!(matrix_view(&header, "wpe.weight").is_err());
    assert!(matrix_view(&header, "empty").is_err());
    assert!(detect_positional_embedding(&header).is_err());
    // A zero-sized dimension must still agree with its offsets.
    let json = r#"{"a":{"dtype":"F32","shape":[0,4],"data_offsets":[0,16]}}"#;
    assert!(matches!(
        parse_whole_file(&file(json, 16)),
        Err(FormatError::LengthMismatch {
            expected_bytes: 0,
            actual_bytes: 16,
            ..
        })
    ));
}

#[test]
fn unknown_dtypes_name_the_tensor() {
    for dtype in ["F128", "f32", "", "FLOAT", "Q4_K"] {
        let json = format!(r#"{{"w":{{"dtype":"{dtype}","shape":[2],"data_offsets":[0,8]}}}}"#);
        match parse_whole_file(&file(&json, 8)) {
            Err(FormatError::InvalidEntry { name, detail }) => {
                assert_eq!(name, "w");
                assert!(detail.contains("unknown variant"), "{dtype}: {detail}");
            }
            other => panic!("{dtype}: expected InvalidEntry, got {other:?}"),
        }
    }
    let json = r#"{"w":{"dtype":7,"shape":[2],"data_offsets":[0,8]}}"#;
    assert!(matches!(
        parse_whole_file(&file(json, 8)),
        Err(FormatError::InvalidEntry { .. })
    ));
}

#[test]
fn non_utf8_header_bytes_are_refused_with_their_position() {
    let mut header = br#"{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"na"#.to_vec();
    let bad_at = header.len() as u64;
    header.extend_from_slice(&[0xFF, 0xFE]);
    header.extend_from_slice(br#"me":{"dtype":"U8","shape":[0],"data_offsets":[1,1]}}"#);
    assert_eq!(
        parse_whole_file(&file_from_header(&header, 1)),
        Err(FormatError::HeaderNotUtf8 {
            valid_up_to: bad_at
        })
    );
    // An overlong encoding of `"` and a lone surrogate are invalid UTF-8 too.
    for bad in [&[0xC0_u8, 0xA2][..], &[0xED, 0xA0, 0x80][..]] {
        let mut header = b"{".to_vec();
        header.extend_from_slice(bad);
        header.push(b'}');
        assert!(matches!(
            parse_whole_file(&file_from_header(&header, 0)),
            Err(FormatError::HeaderNotUtf8 { valid_up_to: 1 })
        ));
    }
}

#[test]
fn metadata_must_map_strings_to_strings() {
    let ok = r#"{"__metadata__":{"format":"pt","note":"<script>alert(1)</script>"}}"#;
    let header = parse_whole_file(&file(ok, 0)).unwrap();
    assert_eq!(
        header.metadata.get("note").map(String::as_str),
        Some("<script>alert(1)</script>")
    );
    for (value, kind) in [
        ("1", "a number"),
        ("true", "a boolean"),
        ("null", "null"),
        (r#"["pt"]"#, "an array"),
        (r#"{"nested":"x"}"#, "an object"),
    ] {
        let json = format!(r#"{{"__metadata__":{{"format":"pt","bad":{value}}}}}"#);
        match parse_whole_file(&file(&json, 0)) {
            Err(FormatError::InvalidMetadata { detail }) => {
                assert!(detail.contains("`bad`"), "{value}: {detail}");
                assert!(detail.contains(kind), "{value}: {detail}");
            }
            other => panic!("{value}: expected InvalidMetadata, got {other:?}"),
        }
    }
    for not_a_map in ["\"pt\"", "[]", "3", "null"] {
        let json = format!(r#"{{"__metadata__":{not_a_map}}}"#);
        assert!(
            matches!(
                parse_whole_file(&file(&json, 0)),
                Err(FormatError::InvalidMetadata { .. })
            ),
            "{not_a_map}"
        );
    }
}

#[test]
fn a_shard_index_cannot_point_outside_the_repository() {
    let hostile = [
        "../x.safetensors",
        "../../model.safetensors",
        "..",
        "https://evil.example/model.safetensors",
        "http://127.0.0.1:8766/model.safetensors",
        "//evil.example/model.safetensors",
        "/etc/model.safetensors",
        "file:///etc/passwd.safetensors",
        "javascript:alert(1).safetensors",
        "..\\model.safetensors",
        "%2e%2e%2fmodel.safetensors",
        "sub/../../model.safetensors",
        "other-repo/model.safetensors",
        "model.safetensors?download=1",
        "model.safetensors#frag",
    ];
    for name in hostile {
        let index = serde_json::json!({"weight_map": {"wpe.weight": name}}).to_string();
        match parse_shard_index(index.as_bytes()) {
            Err(error @ ShardError::UnsafeShardName { .. }) => {
                assert_eq!(error.kind(), ErrorKind::BadIndex);
                let message = error.to_string();
                assert!(message.contains("wpe.weight"), "{name}: {message}");
            }
            other => panic!("{name:?}: expected UnsafeShardName, got {other:?}"),
        }
    }
}

#[test]
fn only_http_and_https_hub_addresses_are_accepted() {
    for bad in [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
        "ftp://example.com",
        "blob:https://example.com/x",
        "//example.com",
        "example.com",
        " https://example.com",
        "https://user:pass@example.com",
        "https://",
        "https://example.com/?q=1",
    ] {
        assert!(validate_hub(bad).is_err(), "{bad:?} should be refused");
        let query = format!(
            "hub={}",
            poslens::pure::source::hub::percent_encode_component(bad)
        );
        let decoded = decode_query(&query);
        assert_eq!(
            decoded.settings.hub, "https://huggingface.co",
            "{bad:?} must fall back to the default Hub"
        );
        assert_eq!(decoded.notes.len(), 1, "{bad:?}: {:?}", decoded.notes);
    }
    assert_eq!(
        validate_hub("HTTPS://mirror.example/hf/").unwrap(),
        "https://mirror.example/hf"
    );
    assert_eq!(
        validate_hub("http://127.0.0.1:8765").unwrap(),
        "http://127.0.0.1:8765"
    );
}
