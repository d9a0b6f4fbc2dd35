//! Offline bookkeeping: what a saved entry is, how it is keyed, the index that lists the saved
//! entries, and which entry (if any) answers a request without the network.
//!
//! An entry holds the bytes one analysis needs: the first `8 + N` bytes of a safetensors file
//! (length prefix and header) and one tensor's bytes. Hub entries are keyed by
//! `(hub endpoint, repo, commit sha, file, tensor)`; local files and the built-in sample by the
//! sha256 of the whole file in place of the commit. The browser shell stores the bytes (Cache
//! API) and this module decides everything else, so that it is tested natively.
//!
//! Writes are ordered so that no half-written entry is ever read back: first the entry's
//! bytes, then the index that names it. An entry missing from the index does not exist, and
//! an index entry whose bytes are missing is dropped when read.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::pure::analysis::AnalysisOptions;
use crate::pure::common::{format_bytes, ByteUnits};
use crate::pure::source::Origin;

/// Where a saved entry came from: [`Origin`], by the name the saved index's code used first.
pub use crate::pure::source::Origin as EntryOrigin;

/// The version of the index layout; an index of another version is ignored (and rewritten).
pub const INDEX_FORMAT_VERSION: u32 = 1;

/// The folder, below the app's own URL, that names saved bytes in the Cache API. These URLs
/// are only cache keys: nothing is ever fetched from them.
pub const STORE_PREFIX: &str = "__poslens_saved__/v1/";

/// The Cache API cache that holds the index of saved entries (the app shell has caches of its
/// own).
pub const INDEX_CACHE_NAME: &str = "poslens-saved-v1";

/// The Web Lock under which the index is read, changed and written back, so that two tabs
/// saving at the same moment do not each drop the other's entry.
pub const INDEX_LOCK_NAME: &str = "poslens-saved-v1-index";

/// The prefix of the Cache API caches that hold one saved entry each; deleting an entry deletes
/// its whole cache, so the browser frees the space at once.
pub const ENTRY_CACHE_PREFIX: &str = "poslens-saved-v1-entry-";

/// Characters of a commit sha shown to users.
pub const SHORT_SHA_CHARS: usize = 7;

/// Everything that can go wrong in the offline bookkeeping.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OfflineError {
    /// The index could not be read.
    #[error(
        "the list of saved entries is damaged ({detail}); it was reset, so save the models again"
    )]
    BadIndex {
        /// What the JSON parser reported.
        detail: String,
    },
    /// The requested model is not saved, and the network cannot be used.
    #[error(
        "{what} is not available offline. {saved} Reconnect to analyse it, or open a saved entry."
    )]
    NotAvailableOffline {
        /// The model asked for, in words (`gpt2 at main`).
        what: String,
        /// What is saved, in words.
        saved: String,
    },
    /// The Hub could not be reached, and nothing saved answers the request.
    #[error("{what} is not available offline, and the Hub could not be reached ({detail}). {saved} Check your connection, or open a saved entry.")]
    Unreachable {
        /// The model asked for, in words.
        what: String,
        /// What the network failure was.
        detail: String,
        /// What is saved, in words.
        saved: String,
    },
    /// The browser's storage is full.
    #[error(
        "saving {needed_label} for offline use failed: the browser's storage for this site is \
         full{usage}. {remedy}"
    )]
    StorageFull {
        /// The size of the entry, in words.
        needed_label: String,
        /// The browser's estimate, ` (3.1 MB of 4.0 MB used)`, when it agrees that the entry
        /// does not fit (some browsers report a larger quota than they enforce); else empty.
        usage: String,
        /// What to do: delete the oldest entries, or why that would not help.
        remedy: String,
        /// Whether deleting the oldest saved entries can make room for it.
        room_can_be_made: bool,
    },
}

/// The identity of a saved tensor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryKey {
    /// Where it came from.
    pub origin: Origin,
    /// The Hub endpoint without a trailing slash (empty for local files and the sample).
    pub hub: String,
    /// The repository id, or the local file's name.
    pub repo: String,
    /// The 40-hex commit sha (Hub), or the 64-hex sha256 of the whole file (local, sample).
    pub commit_sha: String,
    /// The file's path in the repository (or its name).
    pub file_path: String,
    /// The tensor's name in the file.
    pub tensor_name: String,
}

impl EntryKey {
    /// A stable id for this key: 32 hex digits of the sha256 of its parts. Used in cache URLs,
    /// so it is safe in a path whatever the repository or tensor names hold.
    pub fn id(&self) -> String {
        let origin = match self.origin {
            Origin::Hub => "hub",
            Origin::Local => "local",
            Origin::Sample => "sample",
        };
        let parts = [
            origin,
            self.hub.as_str(),
            self.repo.as_str(),
            self.commit_sha.as_str(),
            self.file_path.as_str(),
            self.tensor_name.as_str(),
        ];
        let mut hasher = Sha256::new();
        for part in parts {
            // Length-prefixed, so that ("ab", "c") and ("a", "bc") differ.
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        hex_prefix(&hasher.finalize(), 16)
    }
}

/// One saved tensor and what is needed to analyse it without the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedEntry {
    /// The entry's identity.
    pub key: EntryKey,
    /// Branch or tag names this commit was reached through (`main`), newest last.
    pub revs: Vec<String>,
    /// The tensor's dtype, as the header spells it (`F32`).
    pub dtype: String,
    /// The matrix shape analysed, `[n_rows, n_cols]`.
    pub matrix_shape: [u64; 2],
    /// The whole file's size in bytes.
    pub file_len_bytes: u64,
    /// Bytes of the saved file prefix: the 8-byte length and the JSON header.
    pub header_len_bytes: u64,
    /// Bytes of the saved tensor.
    pub tensor_len_bytes: u64,
    /// Where the tensor sits in the whole file, `[start, end)` in bytes.
    pub tensor_byte_range: [u64; 2],
    /// The repository's file list at that commit (used to choose the weights file).
    pub repo_files: Vec<String>,
    /// When it was saved, in milliseconds since the Unix epoch.
    pub saved_at_ms: f64,
}

impl SavedEntry {
    /// The entry's id (see [`EntryKey::id`]).
    pub fn id(&self) -> String {
        self.key.id()
    }

    /// Bytes this entry occupies in storage (prefix, header and tensor).
    pub fn stored_bytes(&self) -> u64 {
        self.header_len_bytes.saturating_add(self.tensor_len_bytes)
    }

    /// The Cache API cache holding this entry's bytes.
    pub fn cache_name(&self) -> String {
        format!("{ENTRY_CACHE_PREFIX}{}", self.id())
    }

    /// The commit sha's first seven characters.
    pub fn short_sha(&self) -> &str {
        short_sha(&self.key.commit_sha)
    }

    /// A one-line description: `gpt2@abc1234 wpe.weight [1024 × 768]`.
    pub fn label(&self) -> String {
        format!(
            "{}@{} {} [{} × {}]",
            self.key.repo,
            self.short_sha(),
            self.key.tensor_name,
            self.matrix_shape[0],
            self.matrix_shape[1]
        )
    }

    /// The URL path (relative to the app) under which the file prefix and header are stored.
    pub fn header_path(&self) -> String {
        format!("{STORE_PREFIX}{}/header", self.id())
    }

    /// The URL path (relative to the app) under which the tensor bytes are stored.
    pub fn tensor_path(&self) -> String {
        format!("{STORE_PREFIX}{}/tensor", self.id())
    }
}

/// The first seven characters of a sha (all of it when shorter).
pub fn short_sha(sha: &str) -> &str {
    sha.get(..SHORT_SHA_CHARS).unwrap_or(sha)
}

/// The URL path (relative to the app) of the index of saved entries.
pub fn index_path() -> String {
    format!("{STORE_PREFIX}index.json")
}

/// The URL path (relative to the app) under which an analysis result for `entry_id` and
/// `options` is stored. Any change of the options that the analysis depends on gives another
/// path.
pub fn result_path(entry_id: &str, options: &AnalysisOptions) -> String {
    let mut hasher = Sha256::new();
    hasher.update(entry_id.as_bytes());
    // The threshold only changes the rank, which the page recomputes live; it is still part
    // of the stored result, so it belongs to the key.
    hasher.update(serde_json::to_vec(options).unwrap_or_default());
    format!(
        "{STORE_PREFIX}{entry_id}/result-{}",
        hex_prefix(&hasher.finalize(), 12)
    )
}

/// The list of saved entries, stored as one JSON document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedIndex {
    /// [`INDEX_FORMAT_VERSION`].
    pub version: u32,
    /// The entries, oldest first.
    pub entries: Vec<SavedEntry>,
}

impl Default for SavedIndex {
    fn default() -> Self {
        Self {
            version: INDEX_FORMAT_VERSION,
            entries: Vec::new(),
        }
    }
}

/// What a request for Hub bytes names, for looking it up among the saved entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubLookup<'a> {
    /// The Hub endpoint.
    pub hub: &'a str,
    /// The repository id.
    pub repo: &'a str,
    /// The file asked for, if any (otherwise any file of the repo matches).
    pub file: Option<&'a str>,
    /// The tensor asked for, if any (otherwise any tensor matches; detection decides later).
    pub tensor: Option<&'a str>,
}

impl SavedIndex {
    /// Parses a stored index. An index of another format version reads as empty.
    ///
    /// # Errors
    /// [`OfflineError::BadIndex`] when the bytes are not an index.
    pub fn parse(json_bytes: &[u8]) -> Result<Self, OfflineError> {
        #[derive(Deserialize)]
        struct VersionOnly {
            version: u32,
        }
        let version: VersionOnly =
            serde_json::from_slice(json_bytes).map_err(|err| OfflineError::BadIndex {
                detail: err.to_string(),
            })?;
        if version.version != INDEX_FORMAT_VERSION {
            return Ok(Self::default());
        }
        serde_json::from_slice(json_bytes).map_err(|err| OfflineError::BadIndex {
            detail: err.to_string(),
        })
    }

    /// The index as JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Adds an entry, or refreshes the one with the same key (its revision names are merged
    /// and its save time updated). Returns the entry's id.
    pub fn upsert(&mut self, mut entry: SavedEntry) -> String {
        let id = entry.id();
        if let Some(position) = self.entries.iter().position(|old| old.id() == id) {
            let old = self.entries.remove(position);
            let mut revs = old.revs;
            for rev in entry.revs.drain(..) {
                revs.retain(|known| known != &rev);
                revs.push(rev);
            }
            entry.revs = revs;
        }
        self.entries.push(entry);
        id
    }

    /// Removes the entry with this id; returns it when it was there.
    pub fn remove(&mut self, id: &str) -> Option<SavedEntry> {
        let position = self.entries.iter().position(|entry| entry.id() == id)?;
        Some(self.entries.remove(position))
    }

    /// The entry with this id.
    pub fn get(&self, id: &str) -> Option<&SavedEntry> {
        self.entries.iter().find(|entry| entry.id() == id)
    }

    /// Bytes of every entry together.
    pub fn total_bytes(&self) -> u64 {
        self.entries
            .iter()
            .map(SavedEntry::stored_bytes)
            .fold(0, u64::saturating_add)
    }

    /// Saved Hub entries of `lookup` at exactly `commit_sha`, newest first.
    pub fn at_commit(&self, lookup: &HubLookup<'_>, commit_sha: &str) -> Vec<&SavedEntry> {
        let mut found: Vec<&SavedEntry> = self
            .hub_matches(lookup)
            .into_iter()
            .filter(|entry| entry.key.commit_sha.eq_ignore_ascii_case(commit_sha))
            .collect();
        newest_first(&mut found);
        found
    }

    /// Saved Hub entries of `lookup` reached through the branch or tag `rev`, newest first;
    /// the first one's commit is the newest cached commit for that branch.
    pub fn for_rev(&self, lookup: &HubLookup<'_>, rev: &str) -> Vec<&SavedEntry> {
        let mut found: Vec<&SavedEntry> = self
            .hub_matches(lookup)
            .into_iter()
            .filter(|entry| entry.revs.iter().any(|known| known == rev))
            .collect();
        newest_first(&mut found);
        found
    }

    /// Entries whose whole-file sha256 is `file_sha256` (local files and the sample).
    pub fn for_file_sha256(&self, file_sha256: &str) -> Vec<&SavedEntry> {
        self.entries
            .iter()
            .filter(|entry| entry.key.origin != Origin::Hub)
            .filter(|entry| entry.key.commit_sha.eq_ignore_ascii_case(file_sha256))
            .collect()
    }

    /// Ids of the oldest entries whose removal frees at least `needed_bytes` (oldest first).
    pub fn oldest_to_free(&self, needed_bytes: u64) -> Vec<String> {
        let mut by_age: Vec<&SavedEntry> = self.entries.iter().collect();
        by_age.sort_by(|a, b| a.saved_at_ms.total_cmp(&b.saved_at_ms));
        let mut freed: u64 = 0;
        let mut ids = Vec::new();
        for entry in by_age {
            if freed >= needed_bytes {
                break;
            }
            freed = freed.saturating_add(entry.stored_bytes());
            ids.push(entry.id());
        }
        ids
    }

    /// The oldest entries whose deletion makes room for an entry of `needed_bytes`, with
    /// `used_bytes` of `quota_bytes` in use (oldest first; empty when it fits already); `None`
    /// when even deleting every entry would not make room.
    pub fn make_room(
        &self,
        needed_bytes: u64,
        used_bytes: u64,
        quota_bytes: u64,
    ) -> Option<Vec<String>> {
        let to_free = bytes_to_free(needed_bytes, used_bytes, quota_bytes);
        (self.total_bytes() >= to_free).then(|| self.oldest_to_free(to_free))
    }

    /// Whether any Hub entry was saved from this Hub endpoint (the user used it before).
    pub fn knows_hub(&self, hub: &str) -> bool {
        self.entries
            .iter()
            .any(|entry| entry.key.origin == Origin::Hub && same_hub(&entry.key.hub, hub))
    }

    /// A sentence listing what is saved, for the "not available offline" message.
    pub fn summary_sentence(&self) -> String {
        if self.entries.is_empty() {
            return "Nothing is saved for offline use yet.".to_owned();
        }
        let labels: Vec<String> = self.entries.iter().rev().map(SavedEntry::label).collect();
        format!("Saved for offline: {}.", labels.join("; "))
    }

    fn hub_matches<'s>(&'s self, lookup: &HubLookup<'_>) -> Vec<&'s SavedEntry> {
        let lookup = *lookup;
        self.entries
            .iter()
            .filter(|entry| {
                entry.key.origin == Origin::Hub
                    && same_hub(&entry.key.hub, lookup.hub)
                    && entry.key.repo == lookup.repo
                    && lookup.file.is_none_or(|file| entry.key.file_path == file)
                    && lookup
                        .tensor
                        .is_none_or(|tensor| entry.key.tensor_name == tensor)
            })
            .collect()
    }
}

/// Sorts entries newest first.
fn newest_first(entries: &mut [&SavedEntry]) {
    entries.sort_by(|a, b| b.saved_at_ms.total_cmp(&a.saved_at_ms));
}

/// Compares two Hub endpoints, ignoring a trailing slash and the case of the scheme and host.
fn same_hub(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

/// Where the bytes of a Hub run come from, decided before any request.
#[derive(Debug, Clone, PartialEq)]
pub enum HubPlan {
    /// A saved entry at the requested commit answers it: no request at all.
    Saved {
        /// The entry's id.
        entry_id: String,
    },
    /// The network is down and the branch was saved at some commit: use the newest one and
    /// say so.
    SavedOffline {
        /// The entry's id.
        entry_id: String,
        /// The note for the page ("offline: showing commit abc1234 cached on …").
        note: String,
    },
    /// Ask the network: resolve the revision (and use a saved entry if its commit matches).
    Network,
    /// Offline, and nothing saved answers the request.
    Unavailable(OfflineError),
}

/// Decides where a Hub run's bytes come from.
///
/// - A commit sha that is saved is read from storage, online or offline, with no request.
/// - Offline, a branch uses its newest saved commit, with a note that says so.
/// - Online, a branch is resolved by the network (the cheap revision call); the caller then
///   calls [`HubPlan`] again through [`plan_after_resolve`].
pub fn plan_hub_run(
    index: &SavedIndex,
    lookup: &HubLookup<'_>,
    rev: &str,
    rev_is_commit: bool,
    online: bool,
) -> HubPlan {
    if rev_is_commit {
        if let Some(entry) = index.at_commit(lookup, rev).first() {
            return HubPlan::Saved {
                entry_id: entry.id(),
            };
        }
    } else if !online {
        if let Some(entry) = index.for_rev(lookup, rev).first() {
            return HubPlan::SavedOffline {
                entry_id: entry.id(),
                note: offline_note(entry),
            };
        }
    }
    if online {
        HubPlan::Network
    } else {
        HubPlan::Unavailable(not_available(index, lookup, rev))
    }
}

/// After the revision resolved online to `commit_sha`: the saved entry at that commit, if any.
pub fn plan_after_resolve(
    index: &SavedIndex,
    lookup: &HubLookup<'_>,
    commit_sha: &str,
) -> Option<String> {
    index
        .at_commit(lookup, commit_sha)
        .first()
        .map(|entry| entry.id())
}

/// The "not available offline" error for a request, listing what is saved.
pub fn not_available(index: &SavedIndex, lookup: &HubLookup<'_>, rev: &str) -> OfflineError {
    let mut what = format!("`{}` at `{}`", lookup.repo, rev);
    if let Some(tensor) = lookup.tensor {
        what.push_str(&format!(" (tensor `{tensor}`)"));
    }
    OfflineError::NotAvailableOffline {
        what: capitalise_first(&what),
        saved: index.summary_sentence(),
    }
}

/// The error when the Hub cannot be reached and nothing saved answers the request.
pub fn unreachable(
    index: &SavedIndex,
    lookup: &HubLookup<'_>,
    rev: &str,
    detail: &str,
) -> OfflineError {
    match not_available(index, lookup, rev) {
        OfflineError::NotAvailableOffline { what, saved } => OfflineError::Unreachable {
            what,
            detail: detail.to_owned(),
            saved,
        },
        other => other,
    }
}

/// The note shown when a branch link is answered from storage while offline.
pub fn offline_note(entry: &SavedEntry) -> String {
    format!(
        "offline: showing commit {} cached on {}",
        entry.short_sha(),
        format_utc_ms(entry.saved_at_ms)
    )
}

/// Formats milliseconds since the Unix epoch as `2026-11-27 11:52 UTC`.
pub fn format_utc_ms(unix_ms: f64) -> String {
    #[allow(clippy::cast_possible_truncation)]
    let secs = (unix_ms / 1000.0).floor() as i64;
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(at) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute()
        ),
        Err(_) => "an unknown date".to_owned(),
    }
}

/// Bytes a saved object takes beyond its body (its URL, headers and the cache's own records),
/// kept free as a margin when deciding whether an entry fits.
pub const STORAGE_MARGIN_BYTES: u64 = 64 * 1024;

/// Bytes to free before an entry of `needed_bytes` fits, with `used_bytes` of `quota_bytes` in
/// use (the browser's estimate); 0 when it fits already.
pub fn bytes_to_free(needed_bytes: u64, used_bytes: u64, quota_bytes: u64) -> u64 {
    let free_bytes = quota_bytes.saturating_sub(used_bytes);
    needed_bytes
        .saturating_add(STORAGE_MARGIN_BYTES)
        .saturating_sub(free_bytes)
}

/// The storage-full error for an entry of `needed_bytes`, with the browser's estimate
/// `(used_bytes, quota_bytes)` if it gave one and the saved entries that could make room.
pub fn storage_full(
    needed_bytes: u64,
    estimate: Option<(u64, u64)>,
    index: &SavedIndex,
) -> OfflineError {
    // An estimate that leaves room for the entry is not the quota the browser enforces: it
    // says nothing then about how much must go.
    let telling = estimate.filter(|&(used, quota)| bytes_to_free(needed_bytes, used, quota) > 0);
    let room = match telling {
        Some((used, quota)) => index.make_room(needed_bytes, used, quota),
        None => Some(Vec::new()),
    };
    let remedy = if index.entries.is_empty() {
        "Nothing else is saved here to delete: free space for this site in the browser's settings, then analyse it again."
            .to_owned()
    } else if room.is_none() {
        format!(
            "It does not fit even with every saved entry deleted: {} is all this browser gives the site.",
            format_bytes(telling.map_or(0, |(_, quota)| quota), ByteUnits::Brief)
        )
    } else {
        "Delete the oldest saved entries to make room, and it is saved then.".to_owned()
    };
    OfflineError::StorageFull {
        needed_label: format_bytes(needed_bytes, ByteUnits::Brief),
        usage: telling.map_or_else(String::new, |(used, quota)| {
            format!(
                " ({} of {} used)",
                format_bytes(used, ByteUnits::Brief),
                format_bytes(quota, ByteUnits::Brief)
            )
        }),
        remedy,
        room_can_be_made: !index.entries.is_empty() && room.is_some(),
    }
}

/// The sha256 of some bytes, as 64 lower-case hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex_prefix(&Sha256::digest(bytes), 32)
}

/// An incremental sha256, for files read in slices.
#[derive(Debug, Clone, Default)]
pub struct Sha256Stream {
    hasher: Sha256,
}

impl Sha256Stream {
    /// Adds the next slice of the file.
    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
    }

    /// The digest of everything added, as 64 lower-case hex digits.
    pub fn finish_hex(self) -> String {
        hex_prefix(&self.hasher.finalize(), 32)
    }
}

/// The first `n_bytes` bytes of a digest as lower-case hex.
fn hex_prefix(digest: &[u8], n_bytes: usize) -> String {
    digest
        .iter()
        .take(n_bytes)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Upper-cases the first character.
fn capitalise_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
