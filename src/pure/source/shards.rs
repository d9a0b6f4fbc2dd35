//! Sharded checkpoints: parse `model.safetensors.index.json` and vet its shard file names.
//!
//! The index has the form `{"metadata": {"total_size": …}, "weight_map": {tensor: shard_file}}`.
//! Shard names come from the repository, so they are untrusted: each one is checked before it
//! is ever joined onto a URL.

use std::collections::{BTreeMap, BTreeSet};

use crate::pure::common::ErrorKind;
use crate::pure::source::format::{sniff_text_kind, TextKind};

/// The conventional file name of a sharded model's index.
pub const INDEX_FILE_NAME: &str = "model.safetensors.index.json";

/// The conventional file name of a single-file model.
pub const SINGLE_FILE_NAME: &str = "model.safetensors";

/// The file extension every shard must have.
const SHARD_EXTENSION: &str = ".safetensors";

/// The longest shard name accepted, in bytes (a common file-system limit).
const MAX_SHARD_NAME_BYTES: usize = 255;

/// A parsed and validated shard index.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShardIndex {
    /// `metadata.total_size` (the sum of all tensor bytes), when present.
    pub total_size_bytes: Option<u64>,
    /// Maps each tensor name to the shard file that holds it.
    pub weight_map: BTreeMap<String, String>,
}

impl ShardIndex {
    /// Returns the shard file holding `tensor`, if the index lists it.
    pub fn shard_for(&self, tensor: &str) -> Option<&str> {
        self.weight_map.get(tensor).map(String::as_str)
    }

    /// Returns every tensor name, in sorted order.
    pub fn tensor_names(&self) -> impl Iterator<Item = &str> {
        self.weight_map.keys().map(String::as_str)
    }

    /// Returns the distinct shard file names, in sorted order.
    pub fn shard_files(&self) -> Vec<&str> {
        self.weight_map
            .values()
            .map(String::as_str)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }
}

/// Everything that can be wrong with a shard index.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ShardError {
    /// The index is an HTML page.
    #[error("The shard index is an HTML page, not JSON: the URL probably points at a web page or login page. Check the repo name, or whether the repo is gated.")]
    LooksLikeHtml,
    /// The index is a Git LFS pointer.
    #[error("The shard index is a Git LFS pointer, not the JSON it names. Use the Hub's /resolve/ URL rather than /raw/, or run `git lfs pull` on a local clone.")]
    LooksLikeLfsPointer,
    /// The index is not valid JSON.
    #[error("The shard index is not valid JSON ({detail}). The download may have been cut off: try again, or pick a single .safetensors file instead.")]
    NotJson {
        /// The parser's description of the problem.
        detail: String,
    },
    /// The index is JSON but not shaped like a shard index.
    #[error("The shard index does not have the expected shape `{{\"metadata\": {{…}}, \"weight_map\": {{tensor: file}}}}` ({detail}). Check that this is really {INDEX_FILE_NAME}, or pick a single .safetensors file instead.")]
    NotAnIndex {
        /// What was wrong.
        detail: String,
    },
    /// The weight map lists no tensors.
    #[error("The shard index's weight_map is empty, so it names no tensors. Pick a single .safetensors file instead.")]
    EmptyWeightMap,
    /// A shard name is unsafe to join onto a URL.
    #[error("The shard index names the file {name:?} for tensor {tensor:?}, which is refused: {reason}. Shard names must be plain file names ending in .safetensors; the index is malformed or hostile, so pick a single .safetensors file instead.")]
    UnsafeShardName {
        /// The offending name (shown quoted and escaped).
        name: String,
        /// The tensor it was listed for (empty when validating a bare name).
        tensor: String,
        /// Why it was refused.
        reason: &'static str,
    },
}

impl ShardError {
    /// The kind the page shows for this failure: an HTML page or LFS pointer is not the JSON
    /// index at all; anything else is a bad index.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ShardError::LooksLikeHtml | ShardError::LooksLikeLfsPointer => {
                ErrorKind::NotSafetensors
            }
            ShardError::NotJson { .. }
            | ShardError::NotAnIndex { .. }
            | ShardError::EmptyWeightMap
            | ShardError::UnsafeShardName { .. } => ErrorKind::BadIndex,
        }
    }
}

/// Checks a shard file name taken from an untrusted index.
///
/// Rejects empty names, over-long names, `..`, `/`, `\`, `://`, `:`, `?`, `#`, `%`, control
/// characters, a leading `.`, and names that do not end in `.safetensors`.
///
/// # Errors
/// [`ShardError::UnsafeShardName`] with the reason.
pub fn validate_shard_name(name: &str) -> Result<(), ShardError> {
    shard_name_problem(name).map_or(Ok(()), |reason| {
        Err(ShardError::UnsafeShardName {
            name: name.to_owned(),
            tensor: String::new(),
            reason,
        })
    })
}

/// Returns why a shard name is refused, or `None` when it is acceptable.
fn shard_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("the name is empty");
    }
    if name.len() > MAX_SHARD_NAME_BYTES {
        return Some("the name is longer than 255 bytes");
    }
    if name.contains("..") {
        return Some("it contains `..`, which could climb out of the repository");
    }
    if name.contains("://") {
        return Some("it contains `://`, so it is a URL rather than a file name");
    }
    if name.contains('/') || name.contains('\\') {
        return Some("it contains a path separator");
    }
    if name.chars().any(char::is_control) {
        return Some("it contains control characters");
    }
    if name.contains([':', '?', '#', '%']) {
        return Some(
            "it contains a character (`:`, `?`, `#` or `%`) that would change the meaning of a URL",
        );
    }
    if name.starts_with('.') {
        return Some("it starts with `.` (a hidden file)");
    }
    if !name.ends_with(SHARD_EXTENSION) || name.len() == SHARD_EXTENSION.len() {
        return Some("it does not end in `.safetensors`");
    }
    None
}

/// The index as written, before validation.
#[derive(serde::Deserialize)]
struct RawIndex {
    /// Free-form metadata; only `total_size` is read.
    #[serde(default)]
    metadata: Option<serde_json::Value>,
    /// Tensor name → shard file name.
    weight_map: BTreeMap<String, String>,
}

/// Reads `metadata.total_size`, accepting an integer or an integral non-negative float.
fn total_size_bytes(metadata: Option<&serde_json::Value>) -> Option<u64> {
    let total = metadata?.get("total_size")?;
    if let Some(bytes) = total.as_u64() {
        return Some(bytes);
    }
    let float = total.as_f64()?;
    // A float total is accepted only when it is a whole number that fits in a u64 exactly.
    let in_range = (0.0..18_446_744_073_709_551_616.0).contains(&float);
    if in_range && float.fract() == 0.0 {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let bytes = float as u64;
        Some(bytes)
    } else {
        None
    }
}

/// Parses `model.safetensors.index.json` and validates every shard name.
///
/// # Errors
/// A [`ShardError`] for non-JSON input (with HTML and Git LFS pointers named), a wrong shape,
/// an empty weight map, or any unsafe shard name.
pub fn parse_shard_index(json_bytes: &[u8]) -> Result<ShardIndex, ShardError> {
    match sniff_text_kind(json_bytes) {
        Some(TextKind::Html) => return Err(ShardError::LooksLikeHtml),
        Some(TextKind::LfsPointer) => return Err(ShardError::LooksLikeLfsPointer),
        Some(TextKind::Zip) => {
            return Err(ShardError::NotJson {
                detail: "the file is a zip archive".to_owned(),
            })
        }
        Some(TextKind::Json) | None => {}
    }
    let raw: RawIndex =
        serde_json::from_slice(json_bytes).map_err(|error| match error.classify() {
            serde_json::error::Category::Data => ShardError::NotAnIndex {
                detail: error.to_string(),
            },
            _ => ShardError::NotJson {
                detail: error.to_string(),
            },
        })?;
    if raw.weight_map.is_empty() {
        return Err(ShardError::EmptyWeightMap);
    }
    for (tensor, shard) in &raw.weight_map {
        if let Some(reason) = shard_name_problem(shard) {
            return Err(ShardError::UnsafeShardName {
                name: shard.clone(),
                tensor: tensor.clone(),
                reason,
            });
        }
    }
    Ok(ShardIndex {
        total_size_bytes: total_size_bytes(raw.metadata.as_ref()),
        weight_map: raw.weight_map,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_two_shard_index() {
        let json = br#"{"metadata":{"total_size":13476839424},"weight_map":{"a.weight":"model-00001-of-00002.safetensors","b.weight":"model-00002-of-00002.safetensors","c.weight":"model-00002-of-00002.safetensors"}}"#;
        let index = parse_shard_index(json).unwrap();
        assert_eq!(index.total_size_bytes, Some(13_476_839_424));
        assert_eq!(
            index.shard_for("b.weight"),
            Some("model-00002-of-00002.safetensors")
        );
        assert_eq!(index.shard_for("z"), None);
        assert_eq!(index.shard_files().len(), 2);
        assert_eq!(index.tensor_names().count(), 3);
    }

    #[test]
    fn float_total_size_and_missing_metadata_are_accepted() {
        let json = br#"{"metadata":{"total_size":1024.0},"weight_map":{"a":"m.safetensors"}}"#;
        assert_eq!(
            parse_shard_index(json).unwrap().total_size_bytes,
            Some(1024)
        );
        let json = br#"{"weight_map":{"a":"m.safetensors"}}"#;
        assert_eq!(parse_shard_index(json).unwrap().total_size_bytes, None);
    }

    #[test]
    fn wrong_shapes_are_reported() {
        assert!(matches!(
            parse_shard_index(b"{"),
            Err(ShardError::NotJson { .. })
        ));
        assert!(matches!(
            parse_shard_index(b"[]"),
            Err(ShardError::NotAnIndex { .. })
        ));
        assert!(matches!(
            parse_shard_index(br#"{"metadata":{}}"#),
            Err(ShardError::NotAnIndex { .. })
        ));
        assert_eq!(
            parse_shard_index(br#"{"weight_map":{}}"#),
            Err(ShardError::EmptyWeightMap)
        );
        assert_eq!(
            parse_shard_index(b"<!DOCTYPE html><html>"),
            Err(ShardError::LooksLikeHtml)
        );
    }
}
