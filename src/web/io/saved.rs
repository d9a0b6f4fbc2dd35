//! Entries saved for offline use, in the browser's Cache API storage.
//!
//! What is kept and how it is keyed is decided by [`crate::pure::source::offline`]; this module only
//! moves bytes in and out of the Cache API. Each entry has a cache of its own (the file's prefix
//! and header, the tensor, and its analysis results), so deleting it frees the space at once,
//! and one more cache ([`offline::INDEX_CACHE_NAME`]) holds the index document. Writes go entry
//! first, index last, so an entry is never read back half-written.
//!
//! The index is read, changed and written back. Two tabs of the site that did so at the same
//! moment would each write an index without the other's change, so every change of the index
//! runs under one Web Lock ([`offline::INDEX_LOCK_NAME`]), which the browser grants to one tab
//! (and one task) at a time.

use std::cell::RefCell;
use std::future::Future;
use std::ops::Range;
use std::rc::Rc;

use js_sys::{Array, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, Cache, CacheStorage, Response};

use crate::pure::analysis::{Analysis, AnalysisOptions};
use crate::pure::source::offline::{self, OfflineError, SavedEntry, SavedIndex};
use crate::web::platform::js::{
    js_error_text, lock_manager, yield_to_browser, COPY_BYTES_PER_TASK,
};

/// Everything that can go wrong with the store itself.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// The page has no Cache API (an insecure origin, or a browser without it).
    #[error("this page cannot keep data for offline use (no Cache API; serve it over https or from localhost)")]
    Unsupported,
    /// The storage is full.
    #[error("{0}")]
    Full(OfflineError),
    /// A browser call failed.
    #[error(
        "the browser's storage refused the operation ({detail}); reload the page and try again"
    )]
    Browser {
        /// What the browser reported.
        detail: String,
    },
}

impl StoreError {
    /// Whether deleting the oldest saved entries makes room (the storage is full, and the
    /// entries saved are enough).
    pub fn room_can_be_made(&self) -> bool {
        matches!(
            self,
            StoreError::Full(OfflineError::StorageFull {
                room_can_be_made: true,
                ..
            })
        )
    }
}

/// An entry that did not fit in storage, with its bytes, kept in memory so that it can be saved
/// once room is made for it.
#[derive(Debug, Clone)]
pub struct UnsavedEntry {
    /// The entry.
    pub entry: SavedEntry,
    /// The file's length prefix and header.
    pub prefix: Rc<Vec<u8>>,
    /// The tensor's bytes.
    pub tensor: Rc<Vec<u8>>,
}

thread_local! {
    /// The last entry that did not fit, while the page offers to make room for it.
    static UNSAVED: RefCell<Option<UnsavedEntry>> = const { RefCell::new(None) };
}

/// Keeps (or with `None`, forgets) the entry that did not fit.
pub fn keep_unsaved(unsaved: Option<UnsavedEntry>) {
    UNSAVED.with(|cell| *cell.borrow_mut() = unsaved);
}

/// Takes the entry that did not fit, if any.
pub fn take_unsaved() -> Option<UnsavedEntry> {
    UNSAVED.with(|cell| cell.borrow_mut().take())
}

/// Saves an entry that did not fit, deleting the oldest saved entries to make room: first as
/// many as the browser's estimate says are needed, then one more at a time for as long as the
/// browser still refuses (its estimate can promise more room than it gives).
///
/// # Errors
/// [`StoreError::Full`] when even deleting every entry would not make room (nothing is deleted
/// when the estimate says so first), or a browser failure.
pub async fn save_making_room(unsaved: &UnsavedEntry) -> Result<(), StoreError> {
    let needed_bytes = unsaved.entry.stored_bytes();
    let estimated = estimate().await;
    let index = load_index().await;
    let room = match estimated {
        Some((used, quota)) => index.make_room(needed_bytes, used, quota),
        None => Some(Vec::new()),
    };
    let Some(first) = room else {
        return Err(StoreError::Full(offline::storage_full(
            needed_bytes,
            estimated,
            &index,
        )));
    };
    for entry_id in first {
        delete_entry(&entry_id).await?;
    }
    loop {
        match save_entry(unsaved.entry.clone(), &unsaved.prefix, &unsaved.tensor).await {
            Err(StoreError::Full(full)) => {
                let oldest = load_index().await.oldest_to_free(1);
                let Some(entry_id) = oldest.first() else {
                    return Err(StoreError::Full(full));
                };
                delete_entry(entry_id).await?;
            }
            outcome => return outcome,
        }
    }
}

fn browser(err: &JsValue) -> StoreError {
    StoreError::Browser {
        detail: js_error_text(err),
    }
}

/// The page's `CacheStorage`, when it has one.
fn cache_storage() -> Result<CacheStorage, StoreError> {
    let window = web_sys::window().ok_or(StoreError::Unsupported)?;
    let has_caches = Reflect::has(&window, &JsValue::from_str("caches")).unwrap_or(false);
    if !has_caches {
        return Err(StoreError::Unsupported);
    }
    window.caches().map_err(|_| StoreError::Unsupported)
}

/// Opens one cache by name.
async fn open_cache(name: &str) -> Result<Cache, StoreError> {
    let cache = JsFuture::from(cache_storage()?.open(name))
        .await
        .map_err(|err| browser(&err))?;
    cache.dyn_into::<Cache>().map_err(|err| browser(&err))
}

/// Opens the cache of the index.
async fn open_store() -> Result<Cache, StoreError> {
    open_cache(offline::INDEX_CACHE_NAME).await
}

/// Deletes one whole cache (missing is fine). It is emptied first: the browser frees a deleted
/// cache's files only once every page has let go of its handles to it (at a garbage
/// collection), but the entries of an emptied cache at once, so the space counts as free for
/// the next save right away.
async fn delete_cache(name: &str) -> Result<(), StoreError> {
    let storage = cache_storage()?;
    let exists = JsFuture::from(storage.has(name))
        .await
        .map_err(|err| browser(&err))?;
    if exists.as_bool() == Some(true) {
        let cache = open_cache(name).await?;
        let keys = JsFuture::from(cache.keys())
            .await
            .map_err(|err| browser(&err))?;
        for key in Array::from(&keys).iter() {
            if let Some(request) = key.dyn_ref::<web_sys::Request>() {
                JsFuture::from(cache.delete_with_request(request))
                    .await
                    .map_err(|err| browser(&err))?;
            }
        }
    }
    JsFuture::from(storage.delete(name))
        .await
        .map(|_| ())
        .map_err(|err| browser(&err))
}

/// Runs `change` while this tab holds the index lock, so that no other tab (and no other task
/// of this one) reads or writes the index meanwhile. Without Web Locks it runs unlocked.
///
/// # Errors
/// The change's own error, or [`StoreError::Browser`] when the lock ended before it finished.
async fn with_index_lock<T: 'static>(
    change: impl Future<Output = Result<T, StoreError>> + 'static,
) -> Result<T, StoreError> {
    let Some(locks) = lock_manager() else {
        return change.await;
    };
    let pending = Rc::new(RefCell::new(Some(change)));
    let outcome: Rc<RefCell<Option<Result<T, StoreError>>>> = Rc::new(RefCell::new(None));
    let (pending_in_lock, outcome_in_lock) = (Rc::clone(&pending), Rc::clone(&outcome));
    let granted = wasm_bindgen::closure::Closure::once_into_js(move |_lock: JsValue| {
        let change = pending_in_lock.borrow_mut().take();
        wasm_bindgen_futures::future_to_promise(async move {
            if let Some(change) = change {
                let value = change.await;
                *outcome_in_lock.borrow_mut() = Some(value);
            }
            Ok(JsValue::UNDEFINED)
        })
    });
    let requested = locks.request(offline::INDEX_LOCK_NAME, granted.unchecked_ref());
    let refused = match requested {
        Ok(released) => JsFuture::from(released).await.err(),
        Err(err) => Some(err),
    };
    if let Some(value) = outcome.borrow_mut().take() {
        return value;
    }
    // The lock was never granted: run the change unlocked rather than not at all.
    let change = pending.borrow_mut().take();
    match change {
        Some(change) => change.await,
        None => Err(StoreError::Browser {
            detail: refused.map_or_else(
                || "the lock on the saved entries ended early".to_owned(),
                |err| js_error_text(&err),
            ),
        }),
    }
}

/// Whether one object is stored (without reading it).
async fn has_object(cache: &Cache, path: &str) -> bool {
    JsFuture::from(cache.match_with_str(path))
        .await
        .is_ok_and(|found| found.is_instance_of::<Response>())
}

/// Reads one stored object.
async fn get_bytes(cache: &Cache, path: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let found = JsFuture::from(cache.match_with_str(path))
        .await
        .map_err(|err| browser(&err))?;
    let Some(response) = found.dyn_ref::<Response>() else {
        return Ok(None);
    };
    let promise = response.array_buffer().map_err(|err| browser(&err))?;
    let buffer = JsFuture::from(promise).await.map_err(|err| browser(&err))?;
    Ok(Some(Uint8Array::new(&buffer).to_vec()))
}

/// Writes one object. Its body is a `Blob` of slices copied out of WebAssembly memory a few
/// megabytes per browser task, so that a large tensor does not hold the page in one long
/// task; the stored bytes are the same.
async fn put_bytes(cache: &Cache, path: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let parts = Array::new();
    for (index, chunk) in bytes.chunks(COPY_BYTES_PER_TASK).enumerate() {
        if index > 0 {
            yield_to_browser().await;
        }
        parts.push(&Uint8Array::from(chunk));
    }
    let body = Blob::new_with_u8_array_sequence(&parts).map_err(|err| browser(&err))?;
    let response = Response::new_with_opt_blob(Some(&body)).map_err(|err| browser(&err))?;
    match JsFuture::from(cache.put_with_str(path, &response)).await {
        Ok(_) => Ok(()),
        Err(err) => {
            let text = js_error_text(&err);
            if text.contains("Quota") {
                Err(full_error(bytes.len() as u64).await)
            } else {
                Err(StoreError::Browser { detail: text })
            }
        }
    }
}

/// The storage-full error for `needed_bytes`, with the browser's estimate and the saved entries
/// as they are now.
async fn full_error(needed_bytes: u64) -> StoreError {
    StoreError::Full(offline::storage_full(
        needed_bytes,
        estimate().await,
        &load_index().await,
    ))
}

/// Reads the index; a missing or damaged one reads as empty.
pub async fn load_index() -> SavedIndex {
    let Ok(cache) = open_store().await else {
        return SavedIndex::default();
    };
    match get_bytes(&cache, &offline::index_path()).await {
        Ok(Some(bytes)) => SavedIndex::parse(&bytes).unwrap_or_default(),
        _ => SavedIndex::default(),
    }
}

/// Writes the index.
async fn write_index(cache: &Cache, index: &SavedIndex) -> Result<(), StoreError> {
    put_bytes(cache, &offline::index_path(), &index.to_json()).await
}

/// Saves an entry: its header prefix and tensor first, then (under the index lock) the index
/// line that names it.
///
/// # Errors
/// [`StoreError::Full`] when the storage is full; nothing of the entry stays behind then, so
/// nothing half-written is listed.
pub async fn save_entry(entry: SavedEntry, prefix: &[u8], tensor: &[u8]) -> Result<(), StoreError> {
    let entry_cache_name = entry.cache_name();
    let entry_bytes = entry.stored_bytes();
    let entry_cache = open_cache(&entry_cache_name).await?;
    if load_index().await.get(&entry.id()).is_some()
        && has_object(&entry_cache, &entry.tensor_path()).await
    {
        // Saved already (reached through another branch name, say): only its index line
        // changes, and a failure cannot touch the bytes it lists.
        return with_index_lock(add_to_index(entry)).await;
    }
    let written = async {
        put_bytes(&entry_cache, &entry.header_path(), prefix).await?;
        put_bytes(&entry_cache, &entry.tensor_path(), tensor).await
    }
    .await;
    let listed = match written {
        Ok(()) => with_index_lock(add_to_index(entry)).await,
        Err(err) => Err(err),
    };
    if let Err(err) = listed {
        // Leave no unlisted bytes behind.
        let _ignored = delete_cache(&entry_cache_name).await;
        return Err(match err {
            // Say how much the whole entry needs, with the space its bytes took given back.
            StoreError::Full(_) => full_error(entry_bytes).await,
            other => other,
        });
    }
    // Ask once for storage the browser will not evict under pressure.
    let _ignored = request_persist().await;
    Ok(())
}

/// Adds a written entry to the index (call it under the index lock).
async fn add_to_index(entry: SavedEntry) -> Result<(), StoreError> {
    // "Delete all" may have removed the entry's bytes since they were written.
    let still_there = JsFuture::from(cache_storage()?.has(&entry.cache_name()))
        .await
        .map_err(|err| browser(&err))?;
    if still_there.as_bool() != Some(true) {
        return Err(StoreError::Browser {
            detail: "the entry was deleted while it was being saved".to_owned(),
        });
    }
    let cache = open_store().await?;
    let mut index = load_index().await;
    index.upsert(entry);
    write_index(&cache, &index).await
}

/// Deletes one entry: its index line first (so it is gone at once), then its bytes.
///
/// # Errors
/// A browser failure.
pub async fn delete_entry(entry_id: &str) -> Result<(), StoreError> {
    let entry_id = entry_id.to_owned();
    let removed = with_index_lock(async move {
        let cache = open_store().await?;
        let mut index = load_index().await;
        let removed = index.remove(&entry_id);
        if removed.is_some() {
            write_index(&cache, &index).await?;
        }
        Ok(removed)
    })
    .await?;
    if let Some(entry) = removed {
        delete_cache(&entry.cache_name()).await?;
    }
    Ok(())
}

/// Deletes every saved entry and result.
///
/// # Errors
/// A browser failure.
pub async fn delete_all() -> Result<(), StoreError> {
    with_index_lock(async {
        let names = JsFuture::from(cache_storage()?.keys())
            .await
            .map_err(|err| browser(&err))?;
        delete_cache(offline::INDEX_CACHE_NAME).await?;
        for name in Array::from(&names)
            .iter()
            .filter_map(|name| name.as_string())
        {
            if name.starts_with(offline::ENTRY_CACHE_PREFIX) {
                delete_cache(&name).await?;
            }
        }
        Ok(())
    })
    .await
}

/// The file prefix of a saved entry, with every saved entry of the same file (so that the
/// tensor picker can switch between saved tensors offline).
///
/// # Errors
/// [`OfflineError::NotAvailableOffline`] when the entry or its bytes are gone.
pub async fn open_entry(entry_id: &str) -> Result<(Rc<Vec<u8>>, Vec<SavedEntry>), OfflineError> {
    let index = load_index().await;
    let gone = || OfflineError::NotAvailableOffline {
        what: "The saved entry".to_owned(),
        saved: index.summary_sentence(),
    };
    let entry = index.get(entry_id).cloned().ok_or_else(gone)?;
    let cache = open_cache(&entry.cache_name()).await.map_err(|_| gone())?;
    let prefix = get_bytes(&cache, &entry.header_path())
        .await
        .ok()
        .flatten()
        .ok_or_else(gone)?;
    let same_file = |other: &&SavedEntry| {
        other.key.origin == entry.key.origin
            && other.key.hub == entry.key.hub
            && other.key.repo == entry.key.repo
            && other.key.commit_sha == entry.key.commit_sha
            && other.key.file_path == entry.key.file_path
    };
    let mut entries: Vec<SavedEntry> = vec![entry.clone()];
    entries.extend(
        index
            .entries
            .iter()
            .filter(same_file)
            .filter(|other| other.id() != entry.id())
            .cloned(),
    );
    Ok((Rc::new(prefix), entries))
}

/// Serves a byte range of a saved file: from the prefix in memory, or a saved tensor whose
/// byte range it is.
///
/// # Errors
/// [`OfflineError::NotAvailableOffline`] for a tensor that is not saved.
pub async fn read_saved_range(
    prefix: &Rc<Vec<u8>>,
    entries: &[SavedEntry],
    range: &Range<u64>,
) -> Result<Vec<u8>, OfflineError> {
    if range.end <= prefix.len() as u64 {
        let start = usize::try_from(range.start).unwrap_or(usize::MAX);
        let end = usize::try_from(range.end).unwrap_or(usize::MAX);
        if let Some(slice) = prefix.get(start..end) {
            return Ok(slice.to_vec());
        }
    }
    let wanted = [range.start, range.end];
    let not_saved = |what: String| OfflineError::NotAvailableOffline {
        what,
        saved: format!(
            "Saved from this file: {}.",
            entries
                .iter()
                .map(|entry| entry.key.tensor_name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let Some(entry) = entries
        .iter()
        .find(|entry| entry.tensor_byte_range == wanted)
    else {
        return Err(not_saved(format!(
            "Bytes {}–{} of this file",
            range.start, range.end
        )));
    };
    let cache = open_cache(&entry.cache_name())
        .await
        .map_err(|_| not_saved(format!("Tensor `{}`", entry.key.tensor_name)))?;
    get_bytes(&cache, &entry.tensor_path())
        .await
        .ok()
        .flatten()
        .ok_or_else(|| not_saved(format!("Tensor `{}`", entry.key.tensor_name)))
}

/// A stored analysis result for a saved entry and options, if any.
pub async fn load_result(entry_id: &str, options: &AnalysisOptions) -> Option<Analysis> {
    let entry = load_index().await.get(entry_id).cloned()?;
    let cache = open_cache(&entry.cache_name()).await.ok()?;
    let bytes = get_bytes(&cache, &offline::result_path(entry_id, options))
        .await
        .ok()??;
    serde_json::from_slice(&bytes).ok()
}

/// Stores an analysis result for a saved entry (only while the entry is listed).
pub async fn save_result(entry_id: &str, options: &AnalysisOptions, analysis: &Analysis) {
    let Some(entry) = load_index().await.get(entry_id).cloned() else {
        return;
    };
    let Ok(cache) = open_cache(&entry.cache_name()).await else {
        return;
    };
    if let Ok(bytes) = serde_json::to_vec(analysis) {
        let _ignored = put_bytes(&cache, &offline::result_path(entry_id, options), &bytes).await;
    }
}

/// The browser's storage estimate: `(usage_bytes, quota_bytes)`.
pub async fn estimate() -> Option<(u64, u64)> {
    let manager = web_sys::window()?.navigator().storage();
    let value = JsFuture::from(manager.estimate().ok()?).await.ok()?;
    let number = |name: &str| {
        Reflect::get(&value, &JsValue::from_str(name))
            .ok()
            .and_then(|v| v.as_f64())
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some((number("usage")? as u64, number("quota")? as u64))
}

/// Asks for persistent storage; returns whether it is granted.
pub async fn request_persist() -> Option<bool> {
    let manager = web_sys::window()?.navigator().storage();
    let already = JsFuture::from(manager.persisted().ok()?).await.ok()?;
    if already.as_bool() == Some(true) {
        return Some(true);
    }
    let granted = JsFuture::from(manager.persist().ok()?).await.ok()?;
    granted.as_bool()
}

/// Whether storage is persistent already (without asking).
pub async fn is_persisted() -> Option<bool> {
    let manager = web_sys::window()?.navigator().storage();
    JsFuture::from(manager.persisted().ok()?)
        .await
        .ok()?
        .as_bool()
}

/// `navigator.onLine`.
pub fn is_online() -> bool {
    web_sys::window().is_none_or(|window| window.navigator().on_line())
}
