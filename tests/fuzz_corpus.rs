#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![cfg(not(target_arch = "wasm32"))]
//! Replays the fuzz corpus natively with the fuzz targets' own checks, so every input kept in
//! `fuzz/corpus/<target>/` (the real-header seeds, and any input that once crashed a target,
//! saved there as `crash-*`) is a regression test of `cargo test`.

use std::path::{Path, PathBuf};

use poslens::pure::format::{
    header_byte_range, header_len_from_prefix, parse_header, parse_whole_file, plan_tensor_read,
    DEFAULT_MAX_TENSOR_BYTES,
};
use poslens::pure::shards::{parse_shard_index, validate_shard_name};
use poslens::pure::url_state::{decode_query, encode_query};

/// Every file of one target's corpus, sorted by name.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect()
}

/// The checks of `fuzz/fuzz_targets/header.rs`.
fn check_header(data: &[u8]) {
    let whole = parse_whole_file(data);
    let Ok(header_len) = header_len_from_prefix(data, None) else {
        return;
    };
    let range = header_byte_range(header_len);
    let Some(header_bytes) = data.get(range.start as usize..range.end as usize) else {
        return;
    };
    let Ok(header) = parse_header(header_bytes, None) else {
        assert!(whole.is_err());
        return;
    };
    let mut expected_start = header.data_start_byte;
    for entry in &header.tensors {
        assert_eq!(entry.byte_range.start, expected_start);
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
    }
}

#[test]
fn header_corpus_passes_the_fuzz_checks_and_real_headers_parse() {
    let mut real_headers = 0;
    for (path, data) in corpus("header") {
        check_header(&data);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".header") && !name.starts_with("html") && !name.starts_with("lfs") {
            // The seeds cut from real files: prefix and header parse; the data is not included.
            let n = header_len_from_prefix(&data, None).unwrap();
            let header = parse_header(&data[8..8 + n as usize], None).unwrap();
            assert!(
                !header.tensors.is_empty() || name.starts_with("empty"),
                "{name}"
            );
            real_headers += 1;
        }
    }
    assert!(real_headers >= 5, "{real_headers} real headers");
}

#[test]
fn shard_index_corpus_passes_the_fuzz_checks() {
    for (path, data) in corpus("shard_index") {
        if let Ok(index) = parse_shard_index(&data) {
            for shard in index.shard_files() {
                assert_eq!(validate_shard_name(shard), Ok(()), "{}", path.display());
            }
        }
    }
    let (_, real) = corpus("shard_index")
        .into_iter()
        .find(|(path, _)| path.ends_with("gpt2_sharded.index.json"))
        .unwrap();
    assert_eq!(parse_shard_index(&real).unwrap().shard_files().len(), 2);
}

#[test]
fn url_state_corpus_round_trips() {
    for (path, data) in corpus("url_state") {
        let query = String::from_utf8_lossy(&data);
        let decoded = decode_query(&query);
        let settings = decoded.settings;
        assert!(settings.hub.starts_with("http"), "{}", path.display());
        assert_eq!(settings.validate(), Ok(()), "{}", path.display());
        let again = decode_query(&encode_query(&settings));
        assert!(
            again.notes.is_empty(),
            "{}: {:?}",
            path.display(),
            again.notes
        );
        assert_eq!(again.settings, settings, "{}", path.display());
    }
}
