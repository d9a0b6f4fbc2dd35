#![allow(clippy::restriction)] // a test may unwrap, index and panic
#![cfg(not(target_arch = "wasm32"))]
//! Replays fuzz inputs natively through the fuzz targets' own checks (`fuzz/checks.rs`, the
//! very functions the targets in `fuzz/fuzz_targets/` call), so that `cargo test` fails on
//! any of them:
//! - the committed corpus, `fuzz/corpus/<target>/` (real-header seeds, and any input that once
//!   broke a target, kept there as a regression test);
//! - whatever a fuzz run saved in `fuzz/artifacts/<target>/` (crashes, failed checks,
//!   timeouts; the folder is not committed and exists only after a run found something).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use poslens::pure::source::format::{header_len_from_prefix, parse_header};
use poslens::pure::source::shards::parse_shard_index;

#[path = "../fuzz/checks.rs"]
mod checks;

/// Every file of `fuzz/<folder>/<target>/`, sorted by name; none when the folder is missing.
fn inputs(folder: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(folder)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect()
}

/// Runs `check` on every committed corpus input of `target` (there must be some) and every
/// saved fuzz finding, and fails naming each input that broke it.
fn replay(target: &str, check: fn(&[u8])) {
    let corpus = inputs("corpus", target);
    assert!(!corpus.is_empty(), "fuzz/corpus/{target} is empty");
    let artifacts = inputs("artifacts", target);
    let failed: Vec<String> = corpus
        .iter()
        .chain(&artifacts)
        .filter(|(_, data)| catch_unwind(AssertUnwindSafe(|| check(data))).is_err())
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} inputs of fuzz target {target} ({} committed, {} in fuzz/artifacts) fail its \
         checks (messages above):\n  {}",
        failed.len(),
        corpus.len() + artifacts.len(),
        corpus.len(),
        artifacts.len(),
        failed.join("\n  ")
    );
}

#[test]
fn header_inputs_pass_the_fuzz_checks_and_real_headers_parse() {
    replay("header", checks::header);
    let mut real_headers = 0;
    for (path, data) in inputs("corpus", "header") {
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
fn shard_index_inputs_pass_the_fuzz_checks() {
    replay("shard_index", checks::shard_index);
    let (_, real) = inputs("corpus", "shard_index")
        .into_iter()
        .find(|(path, _)| path.ends_with("gpt2_sharded.index.json"))
        .unwrap();
    assert_eq!(parse_shard_index(&real).unwrap().shard_files().len(), 2);
}

#[test]
fn url_state_inputs_pass_the_fuzz_checks() {
    replay("url_state", checks::url_state);
}

#[test]
fn torch_bin_inputs_pass_the_fuzz_checks_and_real_files_read() {
    use poslens::pure::source::torch::{run_in_memory, IndexPlan};
    replay("torch_bin", checks::torch_bin);
    let mut real_files = 0;
    for (path, data) in inputs("corpus", "torch_bin") {
        let (index, _) = run_in_memory(IndexPlan::new(data.len() as u64), &data)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!index.tensors.is_empty(), "{}", path.display());
        real_files += 1;
    }
    assert!(real_files >= 4, "{real_files} real torch.save seeds");
}

#[test]
fn torch_pickle_inputs_pass_the_fuzz_checks_and_real_pickles_read() {
    use poslens::pure::source::torch::pickle::{collect_tensors, interpret};
    replay("torch_pickle", checks::torch_pickle);
    for (path, data) in inputs("corpus", "torch_pickle") {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // data.pkl is the state dict; a legacy prefix holds it as its fourth pickle.
        let mut at = 0;
        let skip = if name.ends_with(".legacy_prefix.pkl") {
            3
        } else {
            0
        };
        for _ in 0..skip {
            at = interpret(&data, at).unwrap().1;
        }
        let (value, _) = interpret(&data, at).unwrap();
        assert!(!collect_tensors(&value).unwrap().is_empty(), "{name}");
    }
}
