//! The offline bookkeeping: keys, the index, and where a run's bytes come from.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use poslens::pure::analysis::AnalysisOptions;
use poslens::pure::source::offline::{
    self, EntryKey, EntryOrigin, HubLookup, HubPlan, OfflineError, SavedEntry, SavedIndex,
};

const SHA_A: &str = "aaaaaaa1b2a3c4d5e6f708192a3b4c5d6e7f8091";
const SHA_B: &str = "bbbbbbb1b2a3c4d5e6f708192a3b4c5d6e7f8091";
const HUB: &str = "https://huggingface.co";

fn entry(repo: &str, sha: &str, rev: &str, tensor: &str, saved_at_ms: f64) -> SavedEntry {
    SavedEntry {
        key: EntryKey {
            origin: EntryOrigin::Hub,
            hub: HUB.to_owned(),
            repo: repo.to_owned(),
            commit_sha: sha.to_owned(),
            file_path: "model.safetensors".to_owned(),
            tensor_name: tensor.to_owned(),
        },
        revs: vec![rev.to_owned()],
        dtype: "F32".to_owned(),
        matrix_shape: [1024, 768],
        file_len_bytes: 548_105_171,
        header_len_bytes: 15_000,
        tensor_len_bytes: 3_145_728,
        tensor_byte_range: [15_000, 15_000 + 3_145_728],
        repo_files: vec!["model.safetensors".to_owned(), "config.json".to_owned()],
        saved_at_ms,
    }
}

fn lookup<'a>(repo: &'a str) -> HubLookup<'a> {
    HubLookup {
        hub: HUB,
        repo,
        file: None,
        tensor: None,
    }
}

#[test]
fn ids_are_stable_distinct_and_path_safe() {
    let a = entry("gpt2", SHA_A, "main", "wpe.weight", 1.0);
    let b = entry("gpt2", SHA_B, "main", "wpe.weight", 1.0);
    assert_eq!(a.id(), a.clone().id());
    assert_ne!(a.id(), b.id());
    assert_eq!(a.id().len(), 32);
    assert!(a.id().bytes().all(|c| c.is_ascii_hexdigit()));
    // Parts are length-prefixed: moving a character between parts changes the id.
    let mut c = a.clone();
    c.key.repo = "gpt".to_owned();
    c.key.commit_sha = format!("2{SHA_A}");
    assert_ne!(a.id(), c.id());
    // A hostile tensor name never reaches the storage path.
    let mut d = a.clone();
    d.key.tensor_name = "../../<script>".to_owned();
    assert!(!d.tensor_path().contains(".."));
    assert!(d.header_path().starts_with(offline::STORE_PREFIX));
}

#[test]
fn index_round_trips_and_rejects_garbage() {
    let mut index = SavedIndex::default();
    index.upsert(entry("gpt2", SHA_A, "main", "wpe.weight", 1.0));
    let parsed = SavedIndex::parse(&index.to_json()).unwrap();
    assert_eq!(parsed, index);
    assert!(index.knows_hub("https://huggingface.co/"));
    assert!(!index.knows_hub("http://127.0.0.1:8765"));
    assert!(matches!(
        SavedIndex::parse(b"not json"),
        Err(OfflineError::BadIndex { .. })
    ));
    // Another format version reads as empty rather than failing.
    let other = br#"{"version": 99, "entries": "whatever"}"#;
    assert_eq!(SavedIndex::parse(other).unwrap(), SavedIndex::default());
}

#[test]
fn upsert_merges_revisions_and_remove_deletes() {
    let mut index = SavedIndex::default();
    let id = index.upsert(entry("gpt2", SHA_A, "main", "wpe.weight", 1.0));
    index.upsert(entry("gpt2", SHA_A, "v1.0", "wpe.weight", 2.0));
    assert_eq!(index.entries.len(), 1);
    assert_eq!(index.entries[0].revs, vec!["main", "v1.0"]);
    assert_eq!(index.entries[0].saved_at_ms, 2.0);
    index.upsert(entry("gpt2", SHA_A, "main", "wpe.weight", 3.0));
    assert_eq!(index.entries[0].revs, vec!["v1.0", "main"]);
    assert_eq!(index.total_bytes(), 15_000 + 3_145_728);
    assert!(index.remove(&id).is_some());
    assert!(index.remove(&id).is_none());
    assert!(index.entries.is_empty());
}

#[test]
fn pinned_commit_in_store_needs_no_network_online_or_offline() {
    let mut index = SavedIndex::default();
    let id = index.upsert(entry("gpt2", SHA_A, "main", "wpe.weight", 1.0));
    for online in [true, false] {
        let plan = offline::plan_hub_run(&index, &lookup("gpt2"), SHA_A, true, online);
        assert_eq!(
            plan,
            HubPlan::Saved {
                entry_id: id.clone()
            }
        );
    }
    // The same commit on another hub or repo is not a match.
    let other_hub = HubLookup {
        hub: "http://127.0.0.1:9",
        ..lookup("gpt2")
    };
    assert_eq!(
        offline::plan_hub_run(&index, &other_hub, SHA_A, true, true),
        HubPlan::Network
    );
    // A named tensor or file must match too.
    let wte = HubLookup {
        tensor: Some("wte.weight"),
        ..lookup("gpt2")
    };
    assert!(matches!(
        offline::plan_hub_run(&index, &wte, SHA_A, true, false),
        HubPlan::Unavailable(OfflineError::NotAvailableOffline { .. })
    ));
}

#[test]
fn branch_offline_uses_newest_cached_commit_with_a_note() {
    let mut index = SavedIndex::default();
    index.upsert(entry(
        "gpt2",
        SHA_A,
        "main",
        "wpe.weight",
        1_795_000_000_000.0,
    ));
    let newer = index.upsert(entry(
        "gpt2",
        SHA_B,
        "main",
        "wpe.weight",
        1_795_000_600_000.0,
    ));
    match offline::plan_hub_run(&index, &lookup("gpt2"), "main", false, false) {
        HubPlan::SavedOffline { entry_id, note } => {
            assert_eq!(entry_id, newer);
            assert!(
                note.starts_with("offline: showing commit bbbbbbb cached on 2026-"),
                "{note}"
            );
            assert!(note.ends_with(" UTC"), "{note}");
        }
        other => panic!("expected the newest saved commit, got {other:?}"),
    }
    // Online, a branch is always resolved by the network first.
    assert_eq!(
        offline::plan_hub_run(&index, &lookup("gpt2"), "main", false, true),
        HubPlan::Network
    );
    // ... and the resolved commit is then looked up.
    assert_eq!(
        offline::plan_after_resolve(&index, &lookup("gpt2"), SHA_A),
        Some(entry("gpt2", SHA_A, "main", "wpe.weight", 0.0).id())
    );
    assert_eq!(
        offline::plan_after_resolve(&index, &lookup("gpt2"), &SHA_A.replace('a', "c")),
        None
    );
}

#[test]
fn uncached_offline_says_so_and_lists_what_is_saved() {
    let mut index = SavedIndex::default();
    index.upsert(entry("gpt2", SHA_A, "main", "wpe.weight", 1.0));
    let plan = offline::plan_hub_run(&index, &lookup("bert-base-uncased"), "main", false, false);
    let HubPlan::Unavailable(err) = plan else {
        panic!("expected unavailable, got {plan:?}");
    };
    let message = err.to_string();
    assert!(
        message.contains("`bert-base-uncased` at `main` is not available offline"),
        "{message}"
    );
    assert!(
        message.contains("gpt2@aaaaaaa wpe.weight [1024 × 768]"),
        "{message}"
    );
    let down = offline::unreachable(
        &index,
        &lookup("bert-base-uncased"),
        "main",
        "Failed to fetch",
    );
    let message = down.to_string();
    assert!(
        message.contains(
            "is not available offline, and the Hub could not be reached (Failed to fetch)"
        ),
        "{message}"
    );
    assert!(message.contains("gpt2@aaaaaaa"), "{message}");
    let empty = offline::not_available(&SavedIndex::default(), &lookup("gpt2"), "main");
    assert!(empty.to_string().contains("Nothing is saved"), "{empty}");
}

#[test]
fn local_entries_are_keyed_by_file_sha256() {
    let bytes = std::fs::read("tests/fixtures/minilm_position_embeddings.safetensors").unwrap();
    let whole = offline::sha256_hex(&bytes);
    let mut stream = offline::Sha256Stream::default();
    for chunk in bytes.chunks(100_000) {
        stream.update(chunk);
    }
    assert_eq!(stream.finish_hex(), whole);
    assert_eq!(whole.len(), 64);
    let mut local = entry(
        "minilm.safetensors",
        &whole,
        "",
        "embeddings.position_embeddings.weight",
        5.0,
    );
    local.key.origin = EntryOrigin::Local;
    local.key.hub = String::new();
    local.revs.clear();
    let mut index = SavedIndex::default();
    index.upsert(local);
    assert_eq!(index.for_file_sha256(&whole).len(), 1);
    // A local entry never answers a Hub request.
    assert!(index
        .at_commit(&lookup("minilm.safetensors"), &whole)
        .is_empty());
}

#[test]
fn eviction_frees_oldest_first() {
    let mut index = SavedIndex::default();
    index.upsert(entry("a", SHA_A, "main", "wpe.weight", 3.0));
    index.upsert(entry("b", SHA_A, "main", "wpe.weight", 1.0));
    index.upsert(entry("c", SHA_A, "main", "wpe.weight", 2.0));
    let ids = index.oldest_to_free(4_000_000);
    let expected: Vec<String> = ["b", "c"]
        .iter()
        .map(|repo| entry(repo, SHA_A, "main", "wpe.weight", 0.0).id())
        .collect();
    assert_eq!(ids, expected);
    assert!(index.oldest_to_free(0).is_empty());
}

#[test]
fn making_room_deletes_only_what_the_entry_lacks() {
    // Each entry holds 15 000 + 3 145 728 bytes.
    let each = entry("a", SHA_A, "main", "wpe.weight", 0.0).stored_bytes();
    let mut index = SavedIndex::default();
    index.upsert(entry("a", SHA_A, "main", "wpe.weight", 3.0));
    index.upsert(entry("b", SHA_A, "main", "wpe.weight", 1.0));
    index.upsert(entry("c", SHA_A, "main", "wpe.weight", 2.0));
    let id = |repo: &str| entry(repo, SHA_A, "main", "wpe.weight", 0.0).id();
    let quota = 20_000_000;
    // It fits already, with the margin.
    assert_eq!(offline::bytes_to_free(each, 10_000_000, quota), 0);
    assert_eq!(index.make_room(each, 10_000_000, quota), Some(vec![]));
    // 100 kB short: the oldest entry alone makes room.
    let used = quota - each + 100_000;
    assert_eq!(
        offline::bytes_to_free(each, used, quota),
        100_000 + offline::STORAGE_MARGIN_BYTES
    );
    assert_eq!(index.make_room(each, used, quota), Some(vec![id("b")]));
    // Nothing free: the entry and the margin take the two oldest.
    assert_eq!(
        index.make_room(each, quota, quota),
        Some(vec![id("b"), id("c")])
    );
    // Short by more than every entry holds: nothing is deleted.
    assert_eq!(index.make_room(4 * each, quota, quota), None);
    // The message follows.
    let helps = offline::storage_full(each, Some((quota - each + 100_000, quota)), &index);
    assert!(
        matches!(
            helps,
            OfflineError::StorageFull {
                room_can_be_made: true,
                ..
            }
        ),
        "{helps:?}"
    );
    assert!(helps
        .to_string()
        .contains("Delete the oldest saved entries to make room"));
    let too_big = offline::storage_full(4 * each, Some((quota, quota)), &index);
    assert!(
        matches!(
            too_big,
            OfflineError::StorageFull {
                room_can_be_made: false,
                ..
            }
        ),
        "{too_big:?}"
    );
    assert!(
        too_big
            .to_string()
            .contains("even with every saved entry deleted")
            && too_big.to_string().contains("12.6 MB")
            && too_big.to_string().contains("20.0 MB"),
        "{too_big}"
    );
    // An estimate that leaves room (a quota larger than the one enforced) is not quoted, and
    // deleting the oldest entries one at a time is still offered.
    let loose = offline::storage_full(each, Some((1_000, 10_000_000_000)), &index);
    assert!(
        matches!(
            loose,
            OfflineError::StorageFull {
                room_can_be_made: true,
                ..
            }
        ) && !loose.to_string().contains(" used)"),
        "{loose}"
    );
    assert!(
        loose
            .to_string()
            .starts_with("saving 3.2 MB for offline use failed: the browser's storage for this site is full. Delete the oldest"),
        "{loose}"
    );
    let nothing_saved = offline::storage_full(each, Some((quota, quota)), &SavedIndex::default());
    assert!(
        matches!(
            nothing_saved,
            OfflineError::StorageFull {
                room_can_be_made: false,
                ..
            }
        ) && nothing_saved
            .to_string()
            .contains("Nothing else is saved here"),
        "{nothing_saved}"
    );
}

#[test]
fn result_paths_follow_the_options() {
    let options = AnalysisOptions::default();
    let mut other = options.clone();
    other.drop_count = 0;
    let a = offline::result_path("abc", &options);
    assert_eq!(a, offline::result_path("abc", &options));
    assert_ne!(a, offline::result_path("abc", &other));
    assert_ne!(a, offline::result_path("abd", &options));
    assert!(a.starts_with(offline::STORE_PREFIX));
}

#[test]
fn sizes_and_dates_read_well() {
    assert_eq!(offline::format_utc_ms(0.0), "1970-01-01 00:00 UTC");
    assert_eq!(
        offline::format_utc_ms(1_795_780_320_000.0),
        "2026-11-27 11:52 UTC"
    );
    let full = offline::storage_full(
        3_145_728,
        Some((9_000_000, 10_000_000)),
        &SavedIndex::default(),
    )
    .to_string();
    assert!(
        full.contains("3.1 MB") && full.contains("9.0 MB of 10.0 MB"),
        "{full}"
    );
    assert_eq!(offline::short_sha("abc"), "abc");
}
