#![allow(clippy::restriction)]
// a test may unwrap, index and panic
// These are native tests of the pure core; the wasm32 build only lints the app.
#![cfg(not(target_arch = "wasm32"))]
//! The read plan of a run, end to end without a browser: a stand-in Hub (a map from URL to
//! bytes, holding the real all-MiniLM-L6-v2 `model.safetensors`) performs the reads the plan
//! asks for, and the tests check the order of the reads, the commit they are pinned to, the
//! offline decisions, the choice of file and the errors with their kinds.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;

use poslens::pure::common::ErrorKind;
use poslens::pure::source::format::LEN_PREFIX_BYTES;
use poslens::pure::source::offline::{EntryKey, OfflineError, SavedEntry, SavedIndex};
use poslens::pure::source::plan::{
    self, Answer, FailureClass, FileLocation, Formats, HubPlan, HubQuery, PlanError, PlannedFile,
    Read, ReadWhat, Received, Step, WeightsFile,
};
use poslens::pure::source::transfer::FileIdentity;
use poslens::pure::source::Origin;

const HUB: &str = "https://hub.test";
const REPO: &str = "sentence-transformers/all-MiniLM-L6-v2";
const SHA: &str = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf";
const W_POS: &str = "embeddings.position_embeddings.weight";
/// The positional embedding's data offsets in the real file, relative to the data buffer.
const W_POS_DATA_OFFSETS: Range<u64> = 7168..793_600;

/// Finds the real test file, failing loudly (never skipping) when it is absent.
fn minilm_bytes() -> Vec<u8> {
    let path = std::env::var_os("POSLENS_MINILM_SAFETENSORS").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join(".cache/test-data/all-MiniLM-L6-v2/model.safetensors")
        },
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "The real test file {} is missing. Run `scripts/fetch-test-data.sh` to fetch it \
         (or set POSLENS_MINILM_SAFETENSORS to its path).",
        path.display()
    );
    std::fs::read(path).unwrap()
}

/// The header's length N of a safetensors file.
fn header_len(file: &[u8]) -> u64 {
    u64::from_le_bytes(file[..8].try_into().unwrap())
}

fn url(rev: &str, path: &str) -> String {
    format!("{HUB}/{REPO}/resolve/{rev}/{path}")
}

fn api_url(rev: &str) -> String {
    format!("{HUB}/api/models/{REPO}/revision/{rev}")
}

fn listing(files: &[&str]) -> Vec<u8> {
    let siblings: Vec<String> = files
        .iter()
        .map(|f| format!("{{\"rfilename\":\"{f}\"}}"))
        .collect();
    format!(
        "{{\"sha\":\"{SHA}\",\"siblings\":[{}]}}",
        siblings.join(",")
    )
    .into_bytes()
}

/// One read the plan asked for, as the log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Logged {
    Whole(String),
    Range(String, Range<u64>, ReadWhat),
    Saved(String),
}

/// A stand-in Hub and storage: documents and files by URL, saved entries by id.
#[derive(Default)]
struct World {
    /// URL → (bytes, the commit its answer names).
    docs: BTreeMap<String, (Vec<u8>, Option<String>)>,
    /// URL → how its read fails.
    failures: BTreeMap<String, FailureClass>,
    /// Entry id → (prefix, entries); a listed id that is missing here fails.
    saved: BTreeMap<String, (Vec<u8>, Vec<SavedEntry>)>,
    /// The ETag files answer with, by read number (to make a file change mid-way).
    etag_by_read: Vec<&'static str>,
    /// Every read asked for, in order.
    log: Vec<Logged>,
}

impl World {
    fn serve(&mut self, url: String, bytes: Vec<u8>) {
        self.docs.insert(url, (bytes, Some(SHA.to_owned())));
    }

    fn answer(&mut self, read: &Read) -> Answer<String> {
        let failed = |class: FailureClass, url: &str| Answer::Failed {
            class,
            error: format!("{class:?} at {url}"),
        };
        match read {
            Read::Saved { entry_id } => {
                self.log.push(Logged::Saved(entry_id.clone()));
                match self.saved.get(entry_id) {
                    Some((prefix, entries)) => Answer::Saved {
                        prefix: prefix.clone(),
                        entries: entries.clone(),
                    },
                    None => failed(FailureClass::Other, entry_id),
                }
            }
            Read::Whole { url, .. } | Read::Range { url, .. } => {
                let range = match read {
                    Read::Range { range, what, .. } => {
                        self.log
                            .push(Logged::Range(url.clone(), range.clone(), *what));
                        Some(range.clone())
                    }
                    _ => {
                        self.log.push(Logged::Whole(url.clone()));
                        None
                    }
                };
                if let Some(class) = self.failures.get(url) {
                    return failed(*class, url);
                }
                let Some((bytes, commit)) = self.docs.get(url) else {
                    return failed(FailureClass::NotFound, url);
                };
                let len = bytes.len() as u64;
                let etag = self
                    .etag_by_read
                    .get(self.log.len() - 1)
                    .copied()
                    .unwrap_or("v1");
                let slice = match &range {
                    Some(r) => bytes[r.start as usize..(r.end.min(len)) as usize].to_vec(),
                    None => bytes.clone(),
                };
                Answer::Bytes(Received {
                    bytes: slice,
                    file_len_bytes: Some(len),
                    repo_commit: commit.clone(),
                    identity: FileIdentity::new(Some(etag), Some(len)),
                })
            }
        }
    }

    /// Runs a plan to its end, performing every read it asks for.
    fn run(&mut self, mut plan: HubPlan<String>) -> Result<PlannedFile, PlanError<String>> {
        let mut step = plan.start();
        for _ in 0..20 {
            match step {
                Step::Read(read) => {
                    let answer = self.answer(&read);
                    step = plan.feed(answer);
                }
                Step::Done(file) => return Ok(*file),
                Step::Failed(err) => return Err(err),
            }
        }
        panic!("the plan asked for more than 20 reads: {:?}", self.log);
    }
}

fn query(rev: &str, tensor: Option<&str>) -> HubQuery {
    HubQuery {
        hub: HUB.to_owned(),
        repo: REPO.to_owned(),
        rev: rev.to_owned(),
        file: None,
        tensor: tensor.map(str::to_owned),
    }
}

fn online_plan(q: HubQuery) -> HubPlan<String> {
    HubPlan::new(q, SavedIndex::default(), true, Formats::default())
}

/// The two reads of a header at `file_url`.
fn header_reads(file_url: &str, file: &[u8]) -> Vec<Logged> {
    let n = header_len(file);
    vec![
        Logged::Range(file_url.to_owned(), 0..LEN_PREFIX_BYTES, ReadWhat::Prefix),
        Logged::Range(
            file_url.to_owned(),
            LEN_PREFIX_BYTES..LEN_PREFIX_BYTES + n,
            ReadWhat::Header,
        ),
    ]
}

/// A saved entry of W_pos of the real file at [`SHA`], reached through `main`.
fn saved_entry(file: &[u8]) -> SavedEntry {
    let n = header_len(file);
    let data_start = LEN_PREFIX_BYTES + n;
    SavedEntry {
        key: EntryKey {
            origin: Origin::Hub,
            hub: HUB.to_owned(),
            repo: REPO.to_owned(),
            commit_sha: SHA.to_owned(),
            file_path: "model.safetensors".to_owned(),
            tensor_name: W_POS.to_owned(),
        },
        revs: vec!["main".to_owned()],
        dtype: "F32".to_owned(),
        matrix_shape: [512, 384],
        file_len_bytes: file.len() as u64,
        header_len_bytes: data_start,
        tensor_len_bytes: W_POS_DATA_OFFSETS.end - W_POS_DATA_OFFSETS.start,
        tensor_byte_range: [
            data_start + W_POS_DATA_OFFSETS.start,
            data_start + W_POS_DATA_OFFSETS.end,
        ],
        repo_files: vec!["model.safetensors".to_owned()],
        saved_at_ms: 1_764_000_000_000.0,
    }
}

/// A world whose storage holds the saved entry of [`saved_entry`].
fn world_with_saved(file: &[u8]) -> (World, SavedIndex, String) {
    let entry = saved_entry(file);
    let id = entry.id();
    let mut world = World::default();
    let prefix = file[..(LEN_PREFIX_BYTES + header_len(file)) as usize].to_vec();
    world
        .saved
        .insert(id.clone(), (prefix, vec![entry.clone()]));
    let mut index = SavedIndex::default();
    index.upsert(entry);
    (world, index, id)
}

#[test]
fn a_single_file_is_read_listing_first_then_prefix_and_header_at_the_commit() {
    let file = minilm_bytes();
    let mut world = World::default();
    world.serve(
        api_url("main"),
        listing(&["config.json", "model.safetensors", "pytorch_model.bin"]),
    );
    world.serve(url(SHA, "model.safetensors"), file.clone());
    let planned = world.run(online_plan(query("main", None))).unwrap();

    let mut expected = vec![Logged::Whole(api_url("main"))];
    expected.extend(header_reads(&url(SHA, "model.safetensors"), &file));
    assert_eq!(world.log, expected);
    assert_eq!(planned.file_path, "model.safetensors");
    assert_eq!(planned.commit_sha.as_deref(), Some(SHA));
    assert_eq!(planned.origin, Origin::Hub);
    assert_eq!(
        planned.tensor_url(),
        Some(url(SHA, "model.safetensors").as_str())
    );
    assert_eq!(planned.read.file_len_bytes, Some(file.len() as u64));
    assert_eq!(planned.read.header.tensors.len(), 104);
    assert!(planned.repo_files.contains(&"pytorch_model.bin".to_owned()));

    // The tensor: detected by name, read by exactly its range, at the same commit.
    let view = plan::choose_matrix(&planned.read.header, None, None).unwrap();
    assert_eq!(view.tensor_name, W_POS);
    assert_eq!((view.n_rows, view.n_cols), (512, 384));
    let range = plan::tensor_range(&planned.read.header, &view).unwrap();
    let data_start = LEN_PREFIX_BYTES + header_len(&file);
    assert_eq!(
        range,
        data_start + W_POS_DATA_OFFSETS.start..data_start + W_POS_DATA_OFFSETS.end
    );
}

#[test]
fn a_sharded_model_reads_its_index_then_the_shard_holding_the_tensor() {
    let file = minilm_bytes();
    let index = format!(
        "{{\"metadata\":{{}},\"weight_map\":{{\"{W_POS}\":\"model-00002-of-00002.safetensors\",\
         \"embeddings.word_embeddings.weight\":\"model-00001-of-00002.safetensors\"}}}}"
    );
    let mut world = World::default();
    world.serve(
        api_url("main"),
        listing(&[
            "model.safetensors.index.json",
            "model-00001-of-00002.safetensors",
            "model-00002-of-00002.safetensors",
        ]),
    );
    world.serve(url(SHA, "model.safetensors.index.json"), index.into_bytes());
    world.serve(url(SHA, "model-00002-of-00002.safetensors"), file.clone());
    let planned = world.run(online_plan(query("main", None))).unwrap();

    let mut expected = vec![
        Logged::Whole(api_url("main")),
        Logged::Whole(url(SHA, "model.safetensors.index.json")),
    ];
    expected.extend(header_reads(
        &url(SHA, "model-00002-of-00002.safetensors"),
        &file,
    ));
    assert_eq!(world.log, expected);
    assert_eq!(planned.file_path, "model-00002-of-00002.safetensors");
    assert_eq!(planned.shard_tensor.as_deref(), Some(W_POS));
    let view =
        plan::choose_matrix(&planned.read.header, None, planned.shard_tensor.as_deref()).unwrap();
    assert_eq!(view.tensor_name, W_POS);
}

#[test]
fn without_a_listing_a_missing_single_file_leads_to_the_index_pinned_to_its_commit() {
    let file = minilm_bytes();
    let index = format!("{{\"weight_map\":{{\"{W_POS}\":\"model-00001-of-00001.safetensors\"}}}}");
    let mut world = World::default();
    world.failures.insert(api_url("main"), FailureClass::Other);
    world.serve(
        url("main", "model.safetensors.index.json"),
        index.into_bytes(),
    );
    world.serve(url(SHA, "model-00001-of-00001.safetensors"), file.clone());
    let planned = world.run(online_plan(query("main", None))).unwrap();

    let mut expected = vec![
        Logged::Whole(api_url("main")),
        Logged::Range(url("main", "model.safetensors"), 0..8, ReadWhat::Prefix),
        Logged::Whole(url("main", "model.safetensors.index.json")),
    ];
    // The index named its commit (X-Repo-Commit): the shard is read there.
    expected.extend(header_reads(
        &url(SHA, "model-00001-of-00001.safetensors"),
        &file,
    ));
    assert_eq!(world.log, expected);
    assert_eq!(planned.commit_sha.as_deref(), Some(SHA));
    assert!(planned.repo_files.is_empty());
}

#[test]
fn a_file_read_at_a_branch_is_continued_at_the_commit_that_served_its_header() {
    let file = minilm_bytes();
    let mut world = World::default();
    world.failures.insert(api_url("main"), FailureClass::Other);
    world.serve(url("main", "model.safetensors"), file.clone());
    let planned = world.run(online_plan(query("main", None))).unwrap();
    assert_eq!(planned.commit_sha.as_deref(), Some(SHA));
    assert_eq!(
        planned.tensor_url(),
        Some(url(SHA, "model.safetensors").as_str())
    );
}

#[test]
fn without_a_listing_and_without_either_file_the_first_404_is_reported() {
    let mut world = World::default();
    world
        .failures
        .insert(api_url("main"), FailureClass::NotFound);
    let err = world.run(online_plan(query("main", None))).unwrap_err();
    assert_eq!(
        err,
        PlanError::Read(format!("NotFound at {}", url("main", "model.safetensors")))
    );
    assert_eq!(world.log.len(), 3, "{:?}", world.log);
}

#[test]
fn offline_a_branch_is_answered_by_its_newest_saved_commit_with_no_request() {
    let file = minilm_bytes();
    let (mut world, index, id) = world_with_saved(&file);
    let plan = HubPlan::new(query("main", None), index, false, Formats::default());
    assert!(!plan.expects_network());
    let planned = world.run(plan).unwrap();
    assert_eq!(world.log, vec![Logged::Saved(id)]);
    assert_eq!(planned.origin, Origin::Hub);
    assert_eq!(planned.commit_sha.as_deref(), Some(SHA));
    assert!(matches!(planned.location, FileLocation::Saved { .. }));
    assert!(planned
        .offline_note
        .as_deref()
        .unwrap()
        .starts_with("offline: showing commit c9745ed"));
    let view = plan::choose_matrix(&planned.read.header, Some(W_POS), None).unwrap();
    let range = plan::tensor_range(&planned.read.header, &view).unwrap();
    assert_eq!(
        [range.start, range.end],
        saved_entry(&file).tensor_byte_range
    );
    assert_eq!(
        plan::saved_hub_url(match &planned.location {
            FileLocation::Saved { entries } => entries,
            _ => unreachable!(),
        }),
        Some(url(SHA, "model.safetensors"))
    );
}

#[test]
fn a_saved_commit_is_read_from_storage_even_online() {
    let file = minilm_bytes();
    let (mut world, index, id) = world_with_saved(&file);
    let planned = world
        .run(HubPlan::new(
            query(SHA, None),
            index,
            true,
            Formats::default(),
        ))
        .unwrap();
    assert_eq!(world.log, vec![Logged::Saved(id)]);
    assert_eq!(planned.offline_note, None);
}

#[test]
fn online_a_branch_that_resolves_to_a_saved_commit_makes_no_file_request() {
    let file = minilm_bytes();
    let (mut world, index, id) = world_with_saved(&file);
    world.serve(api_url("main"), listing(&["model.safetensors"]));
    let plan = HubPlan::new(query("main", None), index, true, Formats::default());
    assert!(!plan.expects_network(), "the branch was saved before");
    let planned = world.run(plan).unwrap();
    assert_eq!(
        world.log,
        vec![Logged::Whole(api_url("main")), Logged::Saved(id)]
    );
    assert!(matches!(planned.location, FileLocation::Saved { .. }));
}

#[test]
fn a_saved_entry_whose_bytes_are_gone_is_read_from_the_network_at_its_commit() {
    let file = minilm_bytes();
    let (mut world, index, id) = world_with_saved(&file);
    world.saved.clear();
    world.serve(api_url("main"), listing(&["model.safetensors"]));
    world.serve(url(SHA, "model.safetensors"), file.clone());
    let planned = world
        .run(HubPlan::new(
            query("main", None),
            index,
            true,
            Formats::default(),
        ))
        .unwrap();
    let mut expected = vec![Logged::Whole(api_url("main")), Logged::Saved(id)];
    expected.extend(header_reads(&url(SHA, "model.safetensors"), &file));
    assert_eq!(world.log, expected);
    assert!(matches!(planned.location, FileLocation::Network { .. }));
}

#[test]
fn offline_with_nothing_saved_fails_at_once_as_not_available_offline() {
    let mut world = World::default();
    let plan = HubPlan::new(
        query("main", None),
        SavedIndex::default(),
        false,
        Formats::default(),
    );
    let err = world.run(plan).unwrap_err();
    assert!(world.log.is_empty());
    assert!(matches!(
        err,
        PlanError::Offline(OfflineError::NotAvailableOffline { .. })
    ));
    assert_eq!(err.kind(), Some(ErrorKind::NotOffline));
}

#[test]
fn when_nothing_answers_the_saved_entries_are_asked_again_as_if_offline() {
    let file = minilm_bytes();
    let (mut world, index, id) = world_with_saved(&file);
    world
        .failures
        .insert(api_url("main"), FailureClass::Unreachable);
    let planned = world
        .run(HubPlan::new(
            query("main", None),
            index,
            true,
            Formats::default(),
        ))
        .unwrap();
    assert_eq!(
        world.log,
        vec![Logged::Whole(api_url("main")), Logged::Saved(id)]
    );
    assert!(planned.offline_note.is_some());
}

#[test]
fn when_nothing_answers_and_nothing_is_saved_the_error_says_unreachable() {
    let mut world = World::default();
    world
        .failures
        .insert(api_url("main"), FailureClass::Unreachable);
    world
        .failures
        .insert(url("main", "model.safetensors"), FailureClass::Unreachable);
    let err = world.run(online_plan(query("main", None))).unwrap_err();
    assert!(
        matches!(&err, PlanError::Offline(OfflineError::Unreachable { detail, .. }) if detail.contains("Unreachable at")),
        "{err:?}"
    );
    assert_eq!(err.kind(), Some(ErrorKind::Network));
}

#[test]
fn a_refused_listing_means_no_such_public_repository() {
    let mut world = World::default();
    world
        .failures
        .insert(api_url("main"), FailureClass::Gated { status: 401 });
    let err = world.run(online_plan(query("main", None))).unwrap_err();
    assert_eq!(world.log.len(), 1);
    assert_eq!(err.kind(), Some(ErrorKind::NotFound));
}

#[test]
fn a_file_404_is_the_read_error_itself() {
    let mut world = World::default();
    world.serve(api_url("main"), listing(&["model.safetensors"]));
    let err = world.run(online_plan(query("main", None))).unwrap_err();
    assert_eq!(
        err,
        PlanError::Read(format!("NotFound at {}", url(SHA, "model.safetensors")))
    );
}

#[test]
fn an_html_page_is_not_safetensors_and_stops_after_the_prefix() {
    let mut world = World::default();
    world.serve(api_url("main"), listing(&["model.safetensors"]));
    world.serve(
        url(SHA, "model.safetensors"),
        b"<!DOCTYPE html><html><body>Sign in</body></html>".to_vec(),
    );
    let err = world.run(online_plan(query("main", None))).unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::NotSafetensors), "{err:?}");
    assert_eq!(world.log.len(), 2);
}

#[test]
fn a_file_that_changes_between_prefix_and_header_is_refused() {
    let file = minilm_bytes();
    let mut world = World::default();
    world.serve(api_url("main"), listing(&["model.safetensors"]));
    world.serve(url(SHA, "model.safetensors"), file);
    world.etag_by_read = vec!["v0", "v1", "v2"];
    let err = world.run(online_plan(query("main", None))).unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::Changed), "{err:?}");
}

#[test]
fn a_missing_tensor_is_named_in_a_shard_index_and_in_a_header() {
    let file = minilm_bytes();
    let index = format!("{{\"weight_map\":{{\"{W_POS}\":\"model-00001-of-00001.safetensors\"}}}}");
    let mut world = World::default();
    world.serve(api_url("main"), listing(&["model.safetensors.index.json"]));
    world.serve(url(SHA, "model.safetensors.index.json"), index.into_bytes());
    let err = world
        .run(online_plan(query("main", Some("no.such.tensor"))))
        .unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::MissingTensor), "{err:?}");
    assert_eq!(world.log.len(), 2, "nothing read after the index");

    let mut world = World::default();
    world.serve(api_url("main"), listing(&["model.safetensors"]));
    world.serve(url(SHA, "model.safetensors"), file);
    let planned = world
        .run(online_plan(query("main", Some("no.such.tensor"))))
        .unwrap();
    let err: PlanError<String> =
        plan::choose_matrix(&planned.read.header, Some("no.such.tensor"), None)
            .unwrap_err()
            .into();
    assert_eq!(err.kind(), Some(ErrorKind::MissingTensor));
}

#[test]
fn a_revision_without_safetensors_keeps_its_error_and_the_torch_arm_waits_behind_a_flag() {
    let files = vec!["config.json".to_owned(), "pytorch_model.bin".to_owned()];
    let mut world = World::default();
    world.serve(
        api_url("main"),
        listing(&["config.json", "pytorch_model.bin"]),
    );
    let err = world.run(online_plan(query("main", None))).unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::NotSafetensors));
    assert!(err.to_string().contains("pytorch_model.bin"), "{err}");
    assert_eq!(world.log.len(), 1);

    // The order of choice: model.safetensors, its index, pytorch_model.bin, its index.
    let torch = Formats { torch_bin: true };
    let choose = |names: &[&str]| {
        let files: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        plan::choose_file(Some(&files), None, torch).unwrap()
    };
    assert_eq!(
        choose(&[
            "pytorch_model.bin",
            "model.safetensors.index.json",
            "model.safetensors"
        ]),
        WeightsFile::Safetensors("model.safetensors".to_owned())
    );
    assert_eq!(
        choose(&["pytorch_model.bin", "model.safetensors.index.json"]),
        WeightsFile::SafetensorsIndex("model.safetensors.index.json".to_owned())
    );
    assert_eq!(
        choose(&["pytorch_model.bin.index.json", "pytorch_model.bin"]),
        WeightsFile::TorchBin("pytorch_model.bin".to_owned())
    );
    assert_eq!(
        choose(&["pytorch_model.bin.index.json"]),
        WeightsFile::TorchBinIndex("pytorch_model.bin.index.json".to_owned())
    );
    assert!(plan::choose_file(Some(&files), None, Formats::default()).is_err());
}
