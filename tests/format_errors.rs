#![allow(clippy::restriction)]
// a test may unwrap, index and panic
// These are native tests of the pure core; the wasm32 build only lints the app.
#![cfg(not(target_arch = "wasm32"))]
//! Every way a file can fail to be a usable safetensors file gets its own error variant.
//! The files are built by hand, byte by byte.

use poslens::pure::source::detect::{detect_positional_embedding, matrix_view, DetectError};
use poslens::pure::source::format::{
    header_byte_range, header_len_from_prefix, parse_header, parse_whole_file, plan_tensor_read,
    Dtype, FormatError, DEFAULT_MAX_TENSOR_BYTES, MAX_HEADER_BYTES,
};
use poslens::pure::source::shards::{parse_shard_index, validate_shard_name, ShardError};
use proptest::prelude::*;

/// Serialises header JSON text with its length prefix, followed by `data_len_bytes` zero bytes.
fn raw_file(header_json: &str, data_len_bytes: usize) -> Vec<u8> {
    let mut bytes = (header_json.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header_json.as_bytes());
    bytes.resize(bytes.len() + data_len_bytes, 0);
    bytes
}

/// The error `parse_whole_file` gives for this header JSON and `data_len_bytes` bytes of data.
fn whole_file_error(header_json: &str, data_len_bytes: usize) -> FormatError {
    parse_whole_file(&raw_file(header_json, data_len_bytes))
        .expect_err("the file should be refused")
}

/// Asserts that `parse_whole_file` refuses this header JSON (with this many bytes of data) with an
/// error matching the pattern.
macro_rules! assert_refused {
    ($header_json:expr, $data_len_bytes:expr, $pattern:pat) => {{
        let error = whole_file_error($header_json, $data_len_bytes);
        assert!(matches!(error, $pattern), "{error:?}");
    }};
}

/// Returns the size in bytes of one element of a dtype name, as the safetensors crate gives it.
fn dtype_size_bytes(dtype: &str) -> u64 {
    let dtype: Dtype =
        serde_json::from_value(serde_json::json!(dtype)).expect("a safetensors dtype name");
    (dtype.bitsize() / 8) as u64
}

/// Builds a valid file from `(name, dtype, shape)` triples packed in order, with zero data.
fn valid_file(entries: &[(&str, &str, &[u64])]) -> Vec<u8> {
    let mut object = serde_json::Map::new();
    object.insert(
        "__metadata__".to_owned(),
        serde_json::json!({"format": "pt"}),
    );
    let mut offset = 0_u64;
    for (name, dtype, shape) in entries {
        let len = shape.iter().product::<u64>() * dtype_size_bytes(dtype);
        object.insert(
            (*name).to_owned(),
            serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len]}),
        );
        offset += len;
    }
    let json = serde_json::Value::Object(object).to_string();
    raw_file(&json, usize::try_from(offset).unwrap())
}

#[test]
fn a_valid_file_parses_and_agrees_with_the_safetensors_crate() {
    let bytes = valid_file(&[
        ("a", "F32", &[3, 2]),
        ("b", "I64", &[1, 4]),
        ("c", "BF16", &[5]),
    ]);
    let header = parse_whole_file(&bytes).unwrap();
    let reference = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(header.tensors.len(), reference.len());
    for entry in &header.tensors {
        let view = reference.tensor(&entry.name).unwrap();
        let data = view.data();
        let start = data.as_ptr() as usize - bytes.as_ptr() as usize;
        assert_eq!(entry.byte_range.start, start as u64, "{}", entry.name);
        assert_eq!(entry.len_bytes(), data.len() as u64, "{}", entry.name);
        assert_eq!(entry.dtype, view.dtype());
    }
    assert_eq!(
        header.metadata.get("format").map(String::as_str),
        Some("pt")
    );
    assert_eq!(header.file_len_bytes, Some(bytes.len() as u64));
}

#[test]
fn a_file_written_by_the_safetensors_crate_parses() {
    let data = vec![0_u8; 4 * 6];
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2, 3], &data).unwrap();
    let bytes = safetensors::serialize([("wpe.weight", view)], None).unwrap();
    let header = parse_whole_file(&bytes).unwrap();
    let entry = header.tensor("wpe.weight").unwrap();
    assert_eq!(entry.shape_label(), "2 × 3");
    assert_eq!(entry.byte_range.end, bytes.len() as u64);
}

#[test]
fn empty_file_is_empty() {
    assert_eq!(parse_whole_file(&[]), Err(FormatError::Empty));
    assert_eq!(
        header_len_from_prefix(&[], Some(0)),
        Err(FormatError::Empty)
    );
}

#[test]
fn a_file_shorter_than_the_prefix_is_too_short() {
    assert_eq!(
        parse_whole_file(&[1, 0, 0]),
        Err(FormatError::TooShort { len_bytes: 3 })
    );
}

#[test]
fn a_length_larger_than_the_file_is_header_beyond_file() {
    let mut bytes = 500_u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}");
    assert_eq!(
        parse_whole_file(&bytes),
        Err(FormatError::HeaderBeyondFile {
            header_len_bytes: 500,
            file_len_bytes: 10
        })
    );
}

#[test]
fn an_html_page_is_recognised() {
    let page = b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head></html>";
    assert_eq!(parse_whole_file(page), Err(FormatError::LooksLikeHtml));
    let page_with_bom = b"\xEF\xBB\xBF \n\t<HTML lang=\"en\"><body>Login</body></HTML>";
    assert_eq!(
        parse_whole_file(page_with_bom),
        Err(FormatError::LooksLikeHtml)
    );
    // A first read of only eight bytes is enough to recognise the page.
    assert_eq!(
        header_len_from_prefix(b"<!DOCTYP", None),
        Err(FormatError::LooksLikeHtml)
    );
    assert_eq!(
        header_len_from_prefix(b"version ", None),
        Err(FormatError::LooksLikeLfsPointer {
            pointed_len_bytes: None
        })
    );
    let message = FormatError::LooksLikeHtml.to_string();
    assert!(message.contains("HTML page"), "{message}");
    assert!(message.contains("gated"), "{message}");
}

#[test]
fn a_git_lfs_pointer_is_recognised() {
    let pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:7c5d3f4b8b76583b422fcb9189ad6c89d5d97a094541ce8932dce3ecabde1421\nsize 548105171\n";
    assert_eq!(
        parse_whole_file(pointer),
        Err(FormatError::LooksLikeLfsPointer {
            pointed_len_bytes: Some(548_105_171)
        })
    );
}

#[test]
fn a_json_document_is_recognised() {
    let config = br#"{"architectures": ["GPT2LMHeadModel"], "n_positions": 1024}"#;
    assert_eq!(parse_whole_file(config), Err(FormatError::LooksLikeJson));
    assert_eq!(
        parse_whole_file(b"[1, 2, 3, 4, 5]"),
        Err(FormatError::LooksLikeJson)
    );
    assert_eq!(parse_whole_file(b"{}"), Err(FormatError::LooksLikeJson));
}

#[test]
fn a_zip_archive_is_recognised() {
    let zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00archive/data.pkl";
    assert_eq!(parse_whole_file(zip), Err(FormatError::LooksLikeZip));
}

#[test]
fn an_oversized_header_length_is_header_too_large() {
    let prefix = (MAX_HEADER_BYTES + 1).to_le_bytes();
    assert_eq!(
        header_len_from_prefix(&prefix, None),
        Err(FormatError::HeaderTooLarge {
            header_len_bytes: MAX_HEADER_BYTES + 1,
            max_bytes: MAX_HEADER_BYTES
        })
    );
    // The largest allowed length is accepted when the file is long enough.
    assert_eq!(
        header_len_from_prefix(&MAX_HEADER_BYTES.to_le_bytes(), None),
        Ok(MAX_HEADER_BYTES)
    );
    assert_eq!(header_byte_range(MAX_HEADER_BYTES), 8..MAX_HEADER_BYTES + 8);
}

#[test]
fn a_header_that_is_not_utf8_is_reported() {
    let bytes = raw_file_bytes(b"{\"a\xFF\": 1}", 0);
    assert_eq!(
        parse_whole_file(&bytes),
        Err(FormatError::HeaderNotUtf8 { valid_up_to: 3 })
    );
}

/// Like [`raw_file`] but with arbitrary header bytes.
fn raw_file_bytes(header: &[u8], data_len_bytes: usize) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.resize(bytes.len() + data_len_bytes, 0);
    bytes
}

#[test]
fn a_header_that_is_not_json_is_reported() {
    let result = parse_whole_file(&raw_file("this is not json at all", 0));
    assert!(
        matches!(result, Err(FormatError::HeaderNotJson { .. })),
        "{result:?}"
    );
    let truncated = parse_whole_file(&raw_file(r#"{"a": {"dtype": "F32""#, 0));
    assert!(
        matches!(truncated, Err(FormatError::HeaderNotJson { .. })),
        "{truncated:?}"
    );
}

#[test]
fn a_header_that_is_json_but_not_an_object_is_reported() {
    let result = parse_whole_file(&raw_file("[1, 2, 3]", 0));
    assert!(
        matches!(result, Err(FormatError::HeaderNotObject { .. })),
        "{result:?}"
    );
}

#[test]
fn an_entry_with_missing_fields_or_a_bad_dtype_is_invalid() {
    let missing = parse_whole_file(&raw_file(r#"{"w": {"dtype": "F32", "shape": [2]}}"#, 8));
    match missing {
        Err(FormatError::InvalidEntry { name, detail }) => {
            assert_eq!(name, "w");
            assert!(detail.contains("data_offsets"), "{detail}");
        }
        other => panic!("expected InvalidEntry, got {other:?}"),
    }
    let bad_dtype = parse_whole_file(&raw_file(
        r#"{"w": {"dtype": "F33", "shape": [2], "data_offsets": [0, 8]}}"#,
        8,
    ));
    assert!(
        matches!(bad_dtype, Err(FormatError::InvalidEntry { .. })),
        "{bad_dtype:?}"
    );
    let negative = parse_whole_file(&raw_file(
        r#"{"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}"#,
        8,
    ));
    assert!(
        matches!(negative, Err(FormatError::InvalidEntry { .. })),
        "{negative:?}"
    );
}

#[test]
fn metadata_that_is_not_a_map_is_invalid() {
    let result = parse_whole_file(&raw_file(r#"{"__metadata__": [1, 2]}"#, 0));
    assert!(
        matches!(result, Err(FormatError::InvalidMetadata { .. })),
        "{result:?}"
    );
}

#[test]
fn offsets_out_of_bounds_are_data_beyond_file() {
    let json = r#"{"w": {"dtype": "F32", "shape": [1024], "data_offsets": [0, 4096]}}"#;
    let bytes = raw_file(json, 16);
    match parse_whole_file(&bytes) {
        Err(FormatError::DataBeyondFile {
            name,
            data_end_byte,
            file_len_bytes,
        }) => {
            assert_eq!(name, "w");
            assert_eq!(data_end_byte, 8 + json.len() as u64 + 4096);
            assert_eq!(file_len_bytes, bytes.len() as u64);
        }
        other => panic!("expected DataBeyondFile, got {other:?}"),
    }
}

#[test]
fn offsets_with_a_gap_or_an_overlap_are_out_of_order() {
    let gap = r#"{"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
                  "b": {"dtype": "U8", "shape": [4], "data_offsets": [8, 12]}}"#;
    assert_eq!(
        whole_file_error(gap, 12),
        FormatError::OffsetsOutOfOrder {
            name: "b".to_owned(),
            expected_begin: 4,
            actual_begin: 8
        }
    );
    let overlap = r#"{"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
                      "b": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]}}"#;
    assert_refused!(overlap, 6, FormatError::OffsetsOutOfOrder { .. });
    let not_from_zero = r#"{"a": {"dtype": "U8", "shape": [4], "data_offsets": [4, 8]}}"#;
    assert_refused!(not_from_zero, 8, FormatError::OffsetsOutOfOrder { .. });
}

#[test]
fn offsets_that_run_backwards_are_reversed() {
    let json = r#"{"a": {"dtype": "U8", "shape": [0], "data_offsets": [4, 0]}}"#;
    assert_refused!(json, 4, FormatError::OffsetsReversed { .. });
}

#[test]
fn shape_and_offsets_that_disagree_are_a_length_mismatch() {
    let json = r#"{"w": {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 40]}}"#;
    assert_eq!(
        whole_file_error(json, 40),
        FormatError::LengthMismatch {
            name: "w".to_owned(),
            expected_bytes: 48,
            actual_bytes: 40
        }
    );
}

#[test]
fn a_shape_whose_size_overflows_is_reported() {
    let json =
        r#"{"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}}"#;
    assert_refused!(json, 0, FormatError::ShapeOverflow { .. });
    let json = r#"{"w": {"dtype": "F64", "shape": [4611686018427387904], "data_offsets": [0, 0]}}"#;
    assert_refused!(json, 0, FormatError::ShapeOverflow { .. });
}

#[test]
fn absolute_offsets_that_overflow_are_reported() {
    // Eight tensors of 2^61 − 1 bytes each end at 2^64 − 8 relative to the data buffer, which
    // is valid on its own but overflows once the 8 + N bytes before the data are added.
    let len = (1_u64 << 61) - 1;
    let entries: Vec<String> = (0..8_u64)
        .map(|index| {
            format!(
                r#""t{index}": {{"dtype": "U8", "shape": [{len}], "data_offsets": [{}, {}]}}"#,
                index * len,
                (index + 1) * len
            )
        })
        .collect();
    let json = format!("{{{}}}", entries.join(", "));
    assert_eq!(
        parse_header(json.as_bytes(), None),
        Err(FormatError::OffsetOverflow {
            name: "t7".to_owned()
        })
    );
}

#[test]
fn a_duplicate_tensor_name_is_reported() {
    let json = r#"{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
                   "a": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}}"#;
    assert_eq!(
        whole_file_error(json, 2),
        FormatError::DuplicateTensor {
            name: "a".to_owned()
        }
    );
}

#[test]
fn an_oversized_tensor_is_refused_by_the_read_plan() {
    // A 4 GB tensor, described by a header alone (the browser never has the data).
    let json =
        r#"{"big": {"dtype": "F32", "shape": [1000000, 1000], "data_offsets": [0, 4000000000]}}"#;
    let header = parse_header(json.as_bytes(), None).unwrap();
    let entry = header.tensor("big").unwrap();
    assert_eq!(
        plan_tensor_read(entry, DEFAULT_MAX_TENSOR_BYTES),
        Err(FormatError::TensorTooLarge {
            name: "big".to_owned(),
            len_bytes: 4_000_000_000,
            max_bytes: DEFAULT_MAX_TENSOR_BYTES
        })
    );
    // With a large enough cap the plan is the tensor's absolute range.
    let data_start = 8 + json.len() as u64;
    assert_eq!(
        plan_tensor_read(entry, 4_000_000_000),
        Ok(data_start..data_start + 4_000_000_000)
    );
}

#[test]
fn a_missing_tensor_lists_some_that_exist() {
    let bytes = valid_file(&[
        ("wte.weight", "F32", &[4, 2]),
        ("wpe.weight", "F32", &[3, 2]),
    ]);
    let header = parse_whole_file(&bytes).unwrap();
    let error = header.tensor("nope").unwrap_err();
    assert!(matches!(error, FormatError::MissingTensor { .. }));
    assert!(error.to_string().contains("`wpe.weight`"), "{error}");
}

#[test]
fn a_one_dimensional_tensor_is_not_a_matrix() {
    let bytes = valid_file(&[("wpe.weight", "F32", &[768]), ("ln_f.bias", "F32", &[768])]);
    let header = parse_whole_file(&bytes).unwrap();
    assert_eq!(
        matrix_view(&header, "ln_f.bias"),
        Err(DetectError::NotMatrix {
            name: "ln_f.bias".to_owned(),
            shape: vec![768]
        })
    );
    assert!(matches!(
        detect_positional_embedding(&header),
        Err(DetectError::NotMatrix { .. })
    ));
}

#[test]
fn an_integer_tensor_is_not_float_and_only_integers_means_no_embedding() {
    let bytes = valid_file(&[
        ("embeddings.position_ids", "I64", &[1, 512]),
        ("token_ids", "I32", &[16, 4]),
    ]);
    let header = parse_whole_file(&bytes).unwrap();
    assert!(matches!(
        matrix_view(&header, "embeddings.position_ids"),
        Err(DetectError::NotFloat { .. })
    ));
    assert_eq!(
        detect_positional_embedding(&header),
        Err(DetectError::NoPositionalEmbedding { candidates: vec![] })
    );
    assert!(matches!(
        matrix_view(&header, "missing"),
        Err(DetectError::NotFound { .. })
    ));
}

#[test]
fn unsafe_shard_names_are_refused() {
    let refused = [
        "",
        "..",
        "../model.safetensors",
        "a/../../model.safetensors",
        "sub/model.safetensors",
        "sub\\model.safetensors",
        "https://evil.example/model.safetensors",
        "model\n.safetensors",
        "model\u{7}.safetensors",
        ".hidden.safetensors",
        ".safetensors",
        "model.bin",
        "model.safetensors.json",
        "model%2F.safetensors",
        "model?.safetensors",
        "C:model.safetensors",
    ];
    for name in refused {
        assert!(
            matches!(
                validate_shard_name(name),
                Err(ShardError::UnsafeShardName { .. })
            ),
            "{name:?} should be refused"
        );
    }
    for name in [
        "model-00001-of-00002.safetensors",
        "model.safetensors",
        "pytorch_model-1.safetensors",
    ] {
        assert_eq!(validate_shard_name(name), Ok(()), "{name:?}");
    }
    let index = br#"{"metadata": {"total_size": 8}, "weight_map": {"wpe.weight": "../../etc/passwd.safetensors"}}"#;
    match parse_shard_index(index) {
        Err(error @ ShardError::UnsafeShardName { .. }) => {
            assert!(error.to_string().contains("wpe.weight"), "{error}");
        }
        other => panic!("expected UnsafeShardName, got {other:?}"),
    }
}

#[test]
fn every_format_error_message_is_distinct_and_says_what_to_do() {
    let errors = [
        FormatError::Empty,
        FormatError::TooShort { len_bytes: 3 },
        FormatError::LooksLikeHtml,
        FormatError::LooksLikeLfsPointer {
            pointed_len_bytes: None,
        },
        FormatError::LooksLikeJson,
        FormatError::LooksLikeZip,
        FormatError::HeaderTooLarge {
            header_len_bytes: 1,
            max_bytes: 1,
        },
        FormatError::HeaderBeyondFile {
            header_len_bytes: 1,
            file_len_bytes: 1,
        },
        FormatError::HeaderNotUtf8 { valid_up_to: 1 },
        FormatError::HeaderNotJson { detail: "x".into() },
        FormatError::HeaderNotObject { detail: "x".into() },
        FormatError::LengthMismatch {
            name: "w".into(),
            expected_bytes: 1,
            actual_bytes: 2,
        },
        FormatError::TensorTooLarge {
            name: "w".into(),
            len_bytes: 2,
            max_bytes: 1,
        },
    ];
    let messages: std::collections::BTreeSet<String> =
        errors.iter().map(ToString::to_string).collect();
    assert_eq!(messages.len(), errors.len());
    for message in &messages {
        let advises = ["download", "Check", "Pick", "pick", "use", "re-export"]
            .iter()
            .any(|word| message.contains(word));
        assert!(advises, "no advice in: {message}");
    }
}

/// A valid file used as the seed for mutation.
fn seed_file() -> Vec<u8> {
    valid_file(&[
        ("wte.weight", "F32", &[8, 4]),
        ("wpe.weight", "F16", &[6, 4]),
        ("position_ids", "I64", &[1, 6]),
    ])
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256), file_len in proptest::option::of(any::<u64>())) {
        let _ = header_len_from_prefix(&bytes, file_len);
        let _ = parse_header(&bytes, file_len);
        let _ = parse_whole_file(&bytes);
        let _ = parse_shard_index(&bytes);
    }

    #[test]
    fn mutated_valid_files_never_panic(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0_u8..3), 1..8)
    ) {
        let mut bytes = seed_file();
        for (position, value, kind) in edits {
            if bytes.is_empty() {
                bytes.push(value);
                continue;
            }
            let index = position % bytes.len();
            match kind {
                0 => bytes[index] = value,
                1 => bytes.insert(index, value),
                _ => { bytes.remove(index); }
            }
        }
        if let Ok(header) = parse_whole_file(&bytes) {
            for entry in &header.tensors {
                prop_assert!(entry.byte_range.end <= bytes.len() as u64);
                let _ = plan_tensor_read(entry, DEFAULT_MAX_TENSOR_BYTES);
            }
            let _ = detect_positional_embedding(&header);
        }
        let _ = header_len_from_prefix(&bytes, None);
        let start = 8.min(bytes.len());
        let _ = parse_header(&bytes[start..], Some(bytes.len() as u64));
    }

    #[test]
    fn mutated_header_text_never_panics(
        position in any::<usize>(),
        replacement in "[\\[\\]{}\",:0-9a-zA-Z_. -]{0,6}"
    ) {
        let bytes = seed_file();
        let header_len = usize::try_from(u64::from_le_bytes(bytes[..8].try_into().unwrap())).unwrap();
        let mut text = String::from_utf8(bytes[8..8 + header_len].to_vec()).unwrap();
        let mut cut = position % (text.len() + 1);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.insert_str(cut, &replacement);
        let _ = parse_header(text.as_bytes(), None);
        let _ = parse_whole_file(&raw_file(&text, 200));
    }
}
