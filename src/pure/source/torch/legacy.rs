//! The legacy checkpoint layout (torch < 1.6, or `_use_new_zipfile_serialization=False`):
//!
//! ```text
//! pickle: the magic number 0x1950a86a20f9469cfc6c
//! pickle: the protocol version, 1001
//! pickle: sys_info, {protocol_version, little_endian, type_sizes}
//! pickle: the state dict, whose persistent ids name storages by key
//! pickle: the storage keys, sorted
//! for each key in that order: an 8-byte little-endian element count, then the raw data
//! ```
//!
//! The pickle prefix is read progressively from the file's start (doubling the read, up to
//! [`MAX_PICKLE_BYTES`]); a storage's data starts after the prefix and the storages before
//! it, each 8 bytes plus its elements.

use std::collections::HashMap;

use super::pickle::{self, PickleError, Value};
use super::{
    build_index, element_bytes, to_u64, Step, StoragePlace, TorchError, TorchFormat, TorchIndex,
    LEGACY_MAGIC, MAX_PICKLE_BYTES,
};
use crate::pure::common::shorten;

/// The protocol version the legacy format writes.
const LEGACY_PROTOCOL_VERSION: i64 = 1001;

/// One step of reading a legacy checkpoint's index, from `head`, the file's first bytes.
pub(super) fn index_step(head: &[u8], file_len: u64) -> Result<Step<TorchIndex>, TorchError> {
    match parse_prefix(head, file_len) {
        Err(PickleStage::Truncated) => {
            let have = to_u64(head.len());
            if have >= file_len {
                return Err(TorchError::BadLegacy {
                    detail: "the file ends inside its pickles".to_owned(),
                });
            }
            if have >= MAX_PICKLE_BYTES {
                return Err(TorchError::TooLarge {
                    what: "pickle prefix (legacy format)".to_owned(),
                    len: file_len.min(MAX_PICKLE_BYTES.saturating_add(1)),
                    max: MAX_PICKLE_BYTES,
                });
            }
            let want_end = have
                .saturating_mul(2)
                .clamp(1, MAX_PICKLE_BYTES)
                .min(file_len);
            Ok(Step::Need(have..want_end))
        }
        Err(PickleStage::Failed(error)) => Err(error),
        Ok(index) => Ok(Step::Done(index)),
    }
}

/// Why the prefix could not be read yet.
enum PickleStage {
    /// More bytes may complete it.
    Truncated,
    /// It cannot be read.
    Failed(TorchError),
}

impl From<TorchError> for PickleStage {
    fn from(error: TorchError) -> Self {
        PickleStage::Failed(error)
    }
}

/// Interprets the pickle at `at`, mapping errors.
fn next_pickle(head: &[u8], at: usize, which: &str) -> Result<(Value, usize), PickleStage> {
    pickle::interpret(head, at).map_err(|error| match error {
        PickleError::Truncated => PickleStage::Truncated,
        other => PickleStage::Failed(TorchError::from_pickle(other, which)),
    })
}

fn bad(detail: impl Into<String>) -> PickleStage {
    PickleStage::Failed(TorchError::BadLegacy {
        detail: detail.into(),
    })
}

/// Reads the pickle prefix and lays the storages out after it.
fn parse_prefix(head: &[u8], file_len: u64) -> Result<TorchIndex, PickleStage> {
    if !head.starts_with(LEGACY_MAGIC) {
        return Err(bad("it does not start with the legacy magic number"));
    }
    let (version, at) = next_pickle(head, LEGACY_MAGIC.len(), "protocol version")?;
    if !matches!(version, Value::Int(LEGACY_PROTOCOL_VERSION)) {
        return Err(bad("its protocol version is not 1001"));
    }
    let (sys_info, at) = next_pickle(head, at, "sys_info")?;
    if let Value::Dict(_) = sys_info {
        if dict_get(&sys_info, "little_endian").is_some_and(|v| matches!(v, Value::Bool(false))) {
            return Err(PickleStage::Failed(TorchError::BigEndian));
        }
    } else {
        return Err(bad("its sys_info is not a dict"));
    }
    let (state, at) = next_pickle(head, at, "state dict")?;
    let (keys, prefix_end) = next_pickle(head, at, "storage keys")?;
    let records = pickle::collect_tensors(&state)
        .map_err(|error| TorchError::from_pickle(error, "state dict"))?;
    let Value::List(keys) = keys else {
        return Err(bad("its storage keys are not a list"));
    };
    // The storages each tensor names, by key: their element type and count.
    let mut wanted: HashMap<&str, (u64, u64)> = HashMap::new();
    for (_, record) in &records {
        let storage = &record.storage;
        let size = element_bytes(storage.dtype);
        wanted.insert(storage.key.as_str(), (storage.numel, size));
    }
    // Lay the storages out in key order.
    let mut offsets: HashMap<String, u64> = HashMap::new();
    let mut next = to_u64(prefix_end);
    for key in keys_of(&keys)? {
        let Some(&(numel, size)) = wanted.get(key) else {
            return Err(bad(format!(
                "storage `{}` is listed but no tensor uses it, so its size is unknown",
                shorten(key, 40)
            )));
        };
        if offsets.insert(key.to_owned(), next).is_some() {
            return Err(bad(format!(
                "storage `{}` is listed twice",
                shorten(key, 40)
            )));
        }
        let len = numel
            .checked_mul(size)
            .and_then(|bytes| bytes.checked_add(8))
            .and_then(|bytes| next.checked_add(bytes))
            .filter(|&end| end <= file_len);
        next = len.ok_or_else(|| {
            PickleStage::Failed(TorchError::OutsideFile {
                what: format!(
                    "Storage `{}` ({numel} elements of {size} bytes)",
                    shorten(key, 40)
                ),
                end: next
                    .saturating_add(8)
                    .saturating_add(numel.saturating_mul(size)),
                limit: file_len,
            })
        })?;
    }
    if next != file_len {
        return Err(bad(format!(
            "its storages end at byte {next}, but the file has {file_len} bytes"
        )));
    }
    let index = build_index(TorchFormat::Legacy, file_len, records, |storage| {
        let count_at = offsets
            .get(&storage.key)
            .copied()
            .ok_or_else(|| TorchError::BadLegacy {
                detail: format!(
                    "the state dict uses storage `{}`, which the key list does not name",
                    shorten(&storage.key, 40)
                ),
            })?;
        Ok(StoragePlace::Legacy { count_at })
    })?;
    Ok(index)
}

/// The keys of the storage key list, which must all be strings.
fn keys_of(keys: &pickle::Seq<Value>) -> Result<Vec<&str>, PickleStage> {
    keys.items()
        .iter()
        .map(|key| match key {
            Value::Str(key) => Ok(&**key),
            _ => Err(bad("a storage key that is not a string")),
        })
        .collect()
}

/// A dict's value for a string key.
fn dict_get<'a>(dict: &'a Value, wanted: &str) -> Option<&'a Value> {
    let Value::Dict(seq) = dict else { return None };
    seq.items()
        .iter()
        .rev()
        .find(|(key, _)| matches!(key, Value::Str(k) if &**k == wanted))
        .map(|(_, value)| value)
}
