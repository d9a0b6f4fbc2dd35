//! Safetensors access planning: read the length prefix, parse and validate the JSON header,
//! and plan the exact absolute byte range of one tensor.
//!
//! A safetensors file is laid out as
//! `[8-byte little-endian u64 N][N bytes of UTF-8 JSON header][data buffer]`.
//! Each header entry names a tensor with its `dtype`, `shape` and `data_offsets`, where the
//! offsets are relative to the start of the data buffer (byte `8 + N`).
//!
//! The browser never downloads a whole file: it fetches the first bytes, then the header,
//! then exactly one tensor. Everything here works on byte slices and `u64` offsets and never
//! touches the network.
//!
//! # Why not `safetensors::tensor::Metadata`
//!
//! The `safetensors` crate parses headers into `Metadata`, whose offsets and shapes are
//! `usize`. On `wasm32` a `usize` is 32 bits wide, so any file larger than 4 GiB (gpt2-xl's
//! `model.safetensors` is 6.4 GB) cannot be described by it in the browser. This module
//! therefore deserialises the header into its own structs with `u64` offsets and shapes and
//! repeats the crate's validation with checked `u64` arithmetic. It still reuses
//! [`safetensors::Dtype`] for dtype names and `bitsize()`.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

pub use safetensors::Dtype;

use crate::pure::common::{shorten, size_label, ErrorKind};

/// Number of bytes of the little-endian `u64` header length that starts every file.
pub const LEN_PREFIX_BYTES: u64 = 8;

/// Largest header accepted, in bytes (the same cap as the `safetensors` crate).
pub const MAX_HEADER_BYTES: u64 = 100_000_000;

/// Default cap on the size of a single tensor read, in bytes, checked before any of the
/// tensor's bytes are fetched: [`crate::pure::common::MAX_TENSOR_BYTES`].
pub const DEFAULT_MAX_TENSOR_BYTES: u64 = crate::pure::common::MAX_TENSOR_BYTES;

/// How many tensor names an error message lists before summarising the rest.
const MAX_NAMES_IN_MESSAGE: usize = 10;

/// One tensor as described by the header, with its byte range made absolute.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TensorEntry {
    /// The tensor's name in the header, for example `wpe.weight`.
    pub name: String,
    /// The element type.
    pub dtype: Dtype,
    /// The shape, outermost dimension first (row-major).
    pub shape: Vec<u64>,
    /// The tensor's bytes as an ABSOLUTE range in the file (`8 + N + data_offsets`).
    pub byte_range: Range<u64>,
}

impl TensorEntry {
    /// Returns the number of bytes the tensor occupies in the file.
    pub fn len_bytes(&self) -> u64 {
        self.byte_range.end.saturating_sub(self.byte_range.start)
    }

    /// Returns the number of elements (the product of the shape; 1 for a scalar).
    ///
    /// The product saturates at `u64::MAX`; headers accepted by [`parse_header`] never overflow.
    pub fn n_elements(&self) -> u64 {
        self.shape
            .iter()
            .fold(1_u64, |product, &dim| product.saturating_mul(dim))
    }

    /// Returns true for the floating-point dtypes the app can decode (F16, BF16, F32, F64).
    pub fn is_float(&self) -> bool {
        is_float_dtype(self.dtype)
    }

    /// Returns the shape as a human label such as `512 × 384`, or `scalar` for a 0-D tensor.
    pub fn shape_label(&self) -> String {
        shape_label(&self.shape)
    }
}

/// Returns true for the floating-point dtypes the app can decode (F16, BF16, F32, F64).
pub fn is_float_dtype(dtype: Dtype) -> bool {
    matches!(dtype, Dtype::F16 | Dtype::BF16 | Dtype::F32 | Dtype::F64)
}

/// Formats a shape as a human label such as `512 × 384`, or `scalar` for an empty shape.
pub fn shape_label(shape: &[u64]) -> String {
    if shape.is_empty() {
        return "scalar".to_owned();
    }
    shape
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(" × ")
}

/// A parsed and fully validated safetensors header.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Header {
    /// N, the length of the JSON header in bytes.
    pub header_len_bytes: u64,
    /// The absolute offset of the data buffer, `8 + N`.
    pub data_start_byte: u64,
    /// Every tensor, sorted by byte offset.
    pub tensors: Vec<TensorEntry>,
    /// The free-form `__metadata__` string map (empty when absent).
    pub metadata: BTreeMap<String, String>,
    /// The total file length in bytes, when it was known while parsing.
    pub file_len_bytes: Option<u64>,
}

impl Header {
    /// Looks a tensor up by name.
    ///
    /// # Errors
    /// [`FormatError::MissingTensor`] (listing a few available names) when no tensor has that name.
    pub fn tensor(&self, name: &str) -> Result<&TensorEntry, FormatError> {
        self.tensors
            .iter()
            .find(|entry| entry.name == name)
            .ok_or_else(|| FormatError::MissingTensor {
                name: name.to_owned(),
                available: self
                    .tensors
                    .iter()
                    .take(MAX_NAMES_IN_MESSAGE)
                    .map(|entry| entry.name.clone())
                    .collect(),
            })
    }

    /// Returns the length of the data buffer described by the header, in bytes.
    pub fn data_len_bytes(&self) -> u64 {
        self.tensors
            .iter()
            .map(|entry| entry.byte_range.end.saturating_sub(self.data_start_byte))
            .max()
            .unwrap_or(0)
    }

    /// Returns the tensor names in offset order.
    pub fn tensor_names(&self) -> impl Iterator<Item = &str> {
        self.tensors.iter().map(|entry| entry.name.as_str())
    }
}

/// Everything that can be wrong with a file that should be safetensors.
///
/// Each message says what happened and what to do about it.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum FormatError {
    /// The file has no bytes at all.
    #[error("The file is empty (0 bytes), so it is not a safetensors file. Check that the download finished and that the file name is right.")]
    Empty,
    /// The file is shorter than the 8-byte length prefix.
    #[error("The file is only {len_bytes} bytes long, shorter than the 8-byte header length every safetensors file starts with. The download was probably cut off, or this is not a safetensors file: download it again.")]
    TooShort {
        /// How many bytes there were.
        len_bytes: u64,
    },
    /// The bytes are an HTML page.
    #[error("This is an HTML page, not a safetensors file: the URL probably points at a web page or login page. Check the repo and file name, or whether the repo is gated (gated and private repos need you to accept their terms or sign in).")]
    LooksLikeHtml,
    /// The bytes are a Git LFS pointer rather than the file it points to.
    #[error("This is a Git LFS pointer (a small text file that names the real weights{}), not the weights themselves. The server returned the pointer instead of the content: use the Hub's /resolve/ URL rather than /raw/, or run `git lfs pull` on a local clone.", lfs_size_note(.pointed_len_bytes))]
    LooksLikeLfsPointer {
        /// The size of the real file, when the pointer states it.
        pointed_len_bytes: Option<u64>,
    },
    /// The bytes are a JSON document.
    #[error("This is a JSON document, not a safetensors file. It may be config.json or model.safetensors.index.json (a sharded model's index): pick a .safetensors weights file, or open the index so its shards are used.")]
    LooksLikeJson,
    /// The bytes are a zip archive (a PyTorch `.bin`/`.pt` checkpoint).
    #[error("This is a zip archive (most likely a PyTorch pytorch_model.bin checkpoint), not a safetensors file. Pick the repo's .safetensors file instead; if the repo has none, look for a `refs/pr/…` revision that adds one.")]
    LooksLikeZip,
    /// The header length is above [`MAX_HEADER_BYTES`].
    #[error("The header length prefix says {header_len_bytes} bytes, above the {max_bytes}-byte limit for safetensors headers. The file is corrupt or not a safetensors file: check the file name and download it again.")]
    HeaderTooLarge {
        /// The declared header length.
        header_len_bytes: u64,
        /// The limit.
        max_bytes: u64,
    },
    /// The header would end after the end of the file.
    #[error("The header length prefix says {header_len_bytes} bytes, but the whole file is only {file_len_bytes} bytes, so the header cannot fit. The file is truncated or not a safetensors file: download it again.")]
    HeaderBeyondFile {
        /// The declared header length.
        header_len_bytes: u64,
        /// The file length.
        file_len_bytes: u64,
    },
    /// The header bytes are not valid UTF-8.
    #[error("The header is not valid UTF-8 text (the first invalid byte is at header byte {valid_up_to}). The file is corrupt or not a safetensors file: download it again.")]
    HeaderNotUtf8 {
        /// How many leading header bytes were valid UTF-8.
        valid_up_to: u64,
    },
    /// The header text is not JSON.
    #[error("The header is not valid JSON ({detail}). The file is corrupt, truncated or not a safetensors file: download it again.")]
    HeaderNotJson {
        /// The parser's description of the problem.
        detail: String,
    },
    /// The header is JSON but not an object.
    #[error("The header is JSON but not an object of tensor entries ({detail}). This is not a valid safetensors file: check the file and download it again.")]
    HeaderNotObject {
        /// The parser's description of what was found instead.
        detail: String,
    },
    /// The same tensor name appears twice.
    #[error("The header names the tensor `{name}` twice, so its data is ambiguous. The file is corrupt: download it again or re-export it.")]
    DuplicateTensor {
        /// The repeated name.
        name: String,
    },
    /// The `__metadata__` entry is not a map.
    #[error("The header's `__metadata__` entry is not a map of strings ({detail}). The file was written by a non-conforming tool: re-export it with the safetensors library.")]
    InvalidMetadata {
        /// What was wrong.
        detail: String,
    },
    /// A tensor entry is malformed (missing fields, unknown dtype, wrong types).
    #[error("The header entry for tensor `{name}` is malformed: {detail}. Every entry needs `dtype`, `shape` and `data_offsets`; the file is corrupt or uses an unsupported dtype, so re-export it with a current safetensors library.")]
    InvalidEntry {
        /// The tensor's name.
        name: String,
        /// What was wrong.
        detail: String,
    },
    /// The product of a tensor's shape (or its size in bits) overflows 64 bits.
    #[error("The shape of tensor `{name}` ({shape_label}) is so large that its size overflows 64-bit arithmetic. The header is corrupt: download the file again.")]
    ShapeOverflow {
        /// The tensor's name.
        name: String,
        /// The shape as a label.
        shape_label: String,
    },
    /// A sub-byte dtype's tensor does not fill a whole number of bytes.
    #[error("Tensor `{name}` has {n_bits} bits of data, which is not a whole number of bytes. Sub-byte dtypes like this are not supported: pick another tensor.")]
    PartialByte {
        /// The tensor's name.
        name: String,
        /// The tensor's size in bits.
        n_bits: u64,
    },
    /// A tensor's end offset is before its start offset.
    #[error("Tensor `{name}` has data offsets [{begin}, {end}) that run backwards. The header is corrupt: download the file again.")]
    OffsetsReversed {
        /// The tensor's name.
        name: String,
        /// The start offset (relative to the data buffer).
        begin: u64,
        /// The end offset (relative to the data buffer).
        end: u64,
    },
    /// Offsets are not contiguous from 0: a gap, an overlap, or out of order.
    #[error("Tensor `{name}` starts at data offset {actual_begin}, but the previous tensor ends at {expected_begin}; safetensors data must be packed in order from offset 0 without gaps or overlaps. The header is corrupt or was written by a non-conforming tool: re-export or download the file again.")]
    OffsetsOutOfOrder {
        /// The tensor's name.
        name: String,
        /// Where the tensor should start (the previous tensor's end).
        expected_begin: u64,
        /// Where it actually starts.
        actual_begin: u64,
    },
    /// The byte length implied by shape × dtype disagrees with the offsets.
    #[error("Tensor `{name}` should take {expected_bytes} bytes (its shape times its dtype size), but its data offsets span {actual_bytes} bytes. The header is corrupt: download the file again.")]
    LengthMismatch {
        /// The tensor's name.
        name: String,
        /// n_elements × dtype bits / 8.
        expected_bytes: u64,
        /// end − begin.
        actual_bytes: u64,
    },
    /// The absolute byte position of a tensor overflows 64 bits.
    #[error("Tensor `{name}` has data offsets so large that its position in the file overflows 64-bit arithmetic. The header is corrupt: download the file again.")]
    OffsetOverflow {
        /// The tensor's name.
        name: String,
    },
    /// A tensor's data ends after the end of the file.
    #[error("Tensor `{name}` ends at byte {data_end_byte}, past the end of the {file_len_bytes}-byte file. The file is truncated (an interrupted download?) or its header is corrupt: download it again.")]
    DataBeyondFile {
        /// The tensor's name.
        name: String,
        /// The absolute end byte of the tensor.
        data_end_byte: u64,
        /// The file length.
        file_len_bytes: u64,
    },
    /// No tensor has the requested name.
    #[error("The file has no tensor named `{name}`. {}", list_available(available))]
    MissingTensor {
        /// The requested name.
        name: String,
        /// A few names that do exist.
        available: Vec<String>,
    },
    /// The tensor is larger than the read cap.
    #[error("Tensor `{name}` is {} ({len_bytes} bytes), above the {} limit for one tensor in a browser tab, so none of its bytes were downloaded. Pick a smaller tensor (a positional embedding is usually a few MB).", size_label(*.len_bytes), size_label(*.max_bytes))]
    TensorTooLarge {
        /// The tensor's name.
        name: String,
        /// Its size.
        len_bytes: u64,
        /// The cap.
        max_bytes: u64,
    },
}

impl FormatError {
    /// The kind the page shows for this failure: too large, a missing tensor, or (for every
    /// other problem) not a usable safetensors file.
    pub fn kind(&self) -> ErrorKind {
        match self {
            FormatError::TensorTooLarge { .. } => ErrorKind::TooLarge,
            FormatError::MissingTensor { .. } => ErrorKind::MissingTensor,
            _ => ErrorKind::NotSafetensors,
        }
    }
}

/// Phrases the pointed size of a Git LFS pointer for an error message.
fn lfs_size_note(pointed_len_bytes: &Option<u64>) -> String {
    match *pointed_len_bytes {
        Some(len_bytes) => format!(", which is {len_bytes} bytes"),
        None => String::new(),
    }
}

/// Phrases a short list of available tensor names for an error message (shared with
/// `detect`, whose "no such tensor" error reads the same).
pub(crate) fn list_available(available: &[String]) -> String {
    if available.is_empty() {
        return "The file has no tensors at all: pick another file.".to_owned();
    }
    let quoted: Vec<String> = available.iter().map(|name| format!("`{name}`")).collect();
    format!(
        "Check the spelling; tensors in this file include {}.",
        quoted.join(", ")
    )
}

/// What kind of non-safetensors text a prefix looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextKind {
    /// An HTML (or XML) page.
    Html,
    /// A Git LFS pointer.
    LfsPointer,
    /// A JSON document.
    Json,
    /// A zip archive.
    Zip,
}

/// Skips a UTF-8 byte-order mark and ASCII whitespace at the start of `bytes`.
fn trim_text_start(bytes: &[u8]) -> &[u8] {
    let without_bom = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    let first_non_space = without_bom
        .iter()
        .position(|byte| !byte.is_ascii_whitespace())
        .unwrap_or(without_bom.len());
    without_bom.get(first_non_space..).unwrap_or(&[])
}

/// Returns true when `bytes` starts with `pattern`, ignoring ASCII case.
///
/// A short input (at least two bytes) that is itself the start of `pattern` also matches, so
/// an 8-byte first read such as `<!DOCTYP` is still recognised.
fn starts_with_ignore_case(bytes: &[u8], pattern: &[u8]) -> bool {
    match bytes.get(..pattern.len()) {
        Some(head) => head.eq_ignore_ascii_case(pattern),
        None => {
            bytes.len() >= 2
                && pattern
                    .get(..bytes.len())
                    .is_some_and(|start| start.eq_ignore_ascii_case(bytes))
        }
    }
}

/// Recognises text (or zip) content that is clearly not a safetensors file.
///
/// Only call this when the first eight bytes do not form a plausible header length: a real
/// header length such as 123 starts with the byte `{` followed by zeros.
pub(crate) fn sniff_text_kind(bytes: &[u8]) -> Option<TextKind> {
    if bytes.starts_with(b"PK\x03\x04") {
        return Some(TextKind::Zip);
    }
    let text = trim_text_start(bytes);
    if starts_with_ignore_case(text, b"<!doctype")
        || starts_with_ignore_case(text, b"<html")
        || starts_with_ignore_case(text, b"<head")
        || starts_with_ignore_case(text, b"<body")
        || starts_with_ignore_case(text, b"<?xml")
        || starts_with_ignore_case(text, b"<!--")
    {
        return Some(TextKind::Html);
    }
    if starts_with_ignore_case(text, b"version https://git-lfs") {
        return Some(TextKind::LfsPointer);
    }
    if text.starts_with(b"{") || text.starts_with(b"[") {
        return Some(TextKind::Json);
    }
    None
}

/// Reads the `size N` line of a Git LFS pointer, if present in `bytes`.
fn lfs_pointed_len_bytes(bytes: &[u8]) -> Option<u64> {
    let text = String::from_utf8_lossy(bytes);
    text.lines()
        .find_map(|line| line.trim().strip_prefix("size "))
        .and_then(|size| size.trim().parse::<u64>().ok())
}

/// Converts a recognised text kind into the matching error.
fn text_kind_error(kind: TextKind, bytes: &[u8]) -> FormatError {
    match kind {
        TextKind::Html => FormatError::LooksLikeHtml,
        TextKind::LfsPointer => FormatError::LooksLikeLfsPointer {
            pointed_len_bytes: lfs_pointed_len_bytes(bytes),
        },
        TextKind::Json => FormatError::LooksLikeJson,
        TextKind::Zip => FormatError::LooksLikeZip,
    }
}

/// Converts a `usize` length to `u64` (lossless on every supported platform).
fn len_u64(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}

/// From the first bytes of a file (at least 8), returns N, the length of the JSON header.
///
/// Recognises empty and short input, HTML pages, Git LFS pointer text, JSON documents and zip
/// archives. Checks `N <= MAX_HEADER_BYTES` and, when `file_len_bytes` is known, `8 + N <= file_len_bytes`.
///
/// # Errors
/// A [`FormatError`] naming what the bytes are instead of a safetensors file.
pub fn header_len_from_prefix(
    prefix: &[u8],
    file_len_bytes: Option<u64>,
) -> Result<u64, FormatError> {
    if prefix.is_empty() {
        return Err(FormatError::Empty);
    }
    let Some(len_bytes_le) = prefix
        .get(..8)
        .and_then(|head| <[u8; 8]>::try_from(head).ok())
    else {
        if let Some(kind) = sniff_text_kind(prefix) {
            return Err(text_kind_error(kind, prefix));
        }
        return Err(FormatError::TooShort {
            len_bytes: len_u64(prefix.len()),
        });
    };
    if file_len_bytes == Some(0) {
        return Err(FormatError::Empty);
    }
    if let Some(file_len) = file_len_bytes {
        if file_len < LEN_PREFIX_BYTES {
            return Err(FormatError::TooShort {
                len_bytes: file_len,
            });
        }
    }
    let header_len_bytes = u64::from_le_bytes(len_bytes_le);
    if header_len_bytes > MAX_HEADER_BYTES {
        if let Some(kind) = sniff_text_kind(prefix) {
            return Err(text_kind_error(kind, prefix));
        }
        return Err(FormatError::HeaderTooLarge {
            header_len_bytes,
            max_bytes: MAX_HEADER_BYTES,
        });
    }
    if let Some(file_len) = file_len_bytes {
        let header_end = LEN_PREFIX_BYTES.saturating_add(header_len_bytes);
        if header_end > file_len {
            return Err(FormatError::HeaderBeyondFile {
                header_len_bytes,
                file_len_bytes: file_len,
            });
        }
    }
    Ok(header_len_bytes)
}

/// Returns the absolute byte range of the JSON header, `8 .. 8 + N`.
pub fn header_byte_range(header_len_bytes: u64) -> Range<u64> {
    LEN_PREFIX_BYTES..LEN_PREFIX_BYTES.saturating_add(header_len_bytes)
}

/// One header entry as written in the JSON, with `u64` shape and offsets.
#[derive(Debug, Deserialize)]
struct RawEntry {
    /// The dtype name, parsed by the `safetensors` crate's enum.
    dtype: Dtype,
    /// The shape.
    shape: Vec<u64>,
    /// `[begin, end)` relative to the data buffer.
    data_offsets: [u64; 2],
}

/// The top-level header object, kept as an ordered list so duplicate names are detectable.
struct RawHeader {
    /// Every `(key, value)` pair in document order.
    pairs: Vec<(String, serde_json::Value)>,
}

impl<'de> Deserialize<'de> for RawHeader {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Visits the top-level JSON object.
        struct PairsVisitor;

        impl<'de> Visitor<'de> for PairsVisitor {
            type Value = RawHeader;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a JSON object mapping tensor names to entries")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawHeader, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry::<String, serde_json::Value>()? {
                    pairs.push(pair);
                }
                Ok(RawHeader { pairs })
            }
        }

        deserializer.deserialize_map(PairsVisitor)
    }
}

/// The reserved key holding free-form string metadata.
const METADATA_KEY: &str = "__metadata__";

/// Parses the `__metadata__` value into a string map.
///
/// The format allows only strings as values (the `safetensors` crate refuses anything else),
/// so a number, list, object or null is an error naming the key.
fn parse_metadata(value: serde_json::Value) -> Result<BTreeMap<String, String>, FormatError> {
    let serde_json::Value::Object(object) = value else {
        return Err(FormatError::InvalidMetadata {
            detail: format!("found {}", json_kind(&value)),
        });
    };
    object
        .into_iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(text) => Ok((key, text)),
            other => Err(FormatError::InvalidMetadata {
                detail: format!(
                    "the value of `{}` is {}, not a string",
                    shorten(&key, 80),
                    json_kind(&other)
                ),
            }),
        })
        .collect()
}

/// Names the kind of a JSON value for messages.
fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A validated entry with offsets still relative to the data buffer.
struct CheckedEntry {
    /// The tensor's name.
    name: String,
    /// The element type.
    dtype: Dtype,
    /// The shape.
    shape: Vec<u64>,
    /// `begin` relative to the data buffer.
    begin: u64,
    /// `end` relative to the data buffer.
    end: u64,
}

/// Checks one entry on its own: shape arithmetic, offsets direction, and byte length.
fn check_entry(name: String, raw: RawEntry) -> Result<CheckedEntry, FormatError> {
    let [begin, end] = raw.data_offsets;
    let n_elements = raw
        .shape
        .iter()
        .try_fold(1_u64, |product, &dim| product.checked_mul(dim));
    let n_bits = n_elements.and_then(|count| {
        u64::try_from(raw.dtype.bitsize())
            .ok()
            .and_then(|bits| count.checked_mul(bits))
    });
    let Some(n_bits) = n_bits else {
        return Err(FormatError::ShapeOverflow {
            shape_label: shape_label(&raw.shape),
            name,
        });
    };
    if n_bits % 8 != 0 {
        return Err(FormatError::PartialByte { name, n_bits });
    }
    let expected_bytes = n_bits / 8;
    if end < begin {
        return Err(FormatError::OffsetsReversed { name, begin, end });
    }
    let actual_bytes = end - begin;
    if actual_bytes != expected_bytes {
        return Err(FormatError::LengthMismatch {
            name,
            expected_bytes,
            actual_bytes,
        });
    }
    Ok(CheckedEntry {
        name,
        dtype: raw.dtype,
        shape: raw.shape,
        begin,
        end,
    })
}

/// Parses and fully validates the JSON header (exactly the N header bytes).
///
/// Validation: UTF-8, JSON, a top-level object, no duplicate names, a string-map
/// `__metadata__`, well-formed entries, no arithmetic overflow, `len == n_elements × bits / 8`,
/// offsets contiguous and in order from 0 (like the `safetensors` crate), and every tensor
/// inside the file when `file_len_bytes` is known. Trailing bytes after the last tensor are
/// tolerated.
///
/// # Errors
/// The first [`FormatError`] found.
pub fn parse_header(
    header_bytes: &[u8],
    file_len_bytes: Option<u64>,
) -> Result<Header, FormatError> {
    let header_len_bytes = len_u64(header_bytes.len());
    if header_len_bytes > MAX_HEADER_BYTES {
        return Err(FormatError::HeaderTooLarge {
            header_len_bytes,
            max_bytes: MAX_HEADER_BYTES,
        });
    }
    let data_start_byte = LEN_PREFIX_BYTES.saturating_add(header_len_bytes);
    if let Some(file_len) = file_len_bytes {
        if data_start_byte > file_len {
            return Err(FormatError::HeaderBeyondFile {
                header_len_bytes,
                file_len_bytes: file_len,
            });
        }
    }
    let text = std::str::from_utf8(header_bytes).map_err(|error| FormatError::HeaderNotUtf8 {
        valid_up_to: len_u64(error.valid_up_to()),
    })?;
    let raw: RawHeader = serde_json::from_str(text).map_err(|error| match error.classify() {
        serde_json::error::Category::Data => FormatError::HeaderNotObject {
            detail: error.to_string(),
        },
        _ => FormatError::HeaderNotJson {
            detail: error.to_string(),
        },
    })?;

    let mut metadata = BTreeMap::new();
    let mut seen_metadata = false;
    let mut seen_names = std::collections::BTreeSet::new();
    let mut entries = Vec::with_capacity(raw.pairs.len());
    for (name, value) in raw.pairs {
        if name == METADATA_KEY {
            if seen_metadata {
                return Err(FormatError::DuplicateTensor { name });
            }
            seen_metadata = true;
            metadata = parse_metadata(value)?;
            continue;
        }
        if !seen_names.insert(name.clone()) {
            return Err(FormatError::DuplicateTensor { name });
        }
        let entry: RawEntry =
            serde_json::from_value(value).map_err(|error| FormatError::InvalidEntry {
                name: name.clone(),
                detail: error.to_string(),
            })?;
        entries.push(check_entry(name, entry)?);
    }

    entries.sort_by(|left, right| {
        (left.begin, left.end, &left.name).cmp(&(right.begin, right.end, &right.name))
    });

    let mut expected_begin = 0_u64;
    let mut tensors = Vec::with_capacity(entries.len());
    for entry in entries {
        if entry.begin != expected_begin {
            return Err(FormatError::OffsetsOutOfOrder {
                name: entry.name,
                expected_begin,
                actual_begin: entry.begin,
            });
        }
        expected_begin = entry.end;
        let absolute = data_start_byte
            .checked_add(entry.begin)
            .zip(data_start_byte.checked_add(entry.end));
        let Some((start_byte, end_byte)) = absolute else {
            return Err(FormatError::OffsetOverflow { name: entry.name });
        };
        if let Some(file_len) = file_len_bytes {
            if end_byte > file_len {
                return Err(FormatError::DataBeyondFile {
                    name: entry.name,
                    data_end_byte: end_byte,
                    file_len_bytes: file_len,
                });
            }
        }
        tensors.push(TensorEntry {
            name: entry.name,
            dtype: entry.dtype,
            shape: entry.shape,
            byte_range: start_byte..end_byte,
        });
    }

    Ok(Header {
        header_len_bytes,
        data_start_byte,
        tensors,
        metadata,
        file_len_bytes,
    })
}

/// Parses the header of a whole file held in memory (a local file the user dropped in).
///
/// # Errors
/// Any [`FormatError`] from [`header_len_from_prefix`] or [`parse_header`].
pub fn parse_whole_file(file_bytes: &[u8]) -> Result<Header, FormatError> {
    let file_len_bytes = len_u64(file_bytes.len());
    let header_len_bytes = header_len_from_prefix(file_bytes, Some(file_len_bytes))?;
    let range = header_byte_range(header_len_bytes);
    let header_bytes = usize::try_from(range.start)
        .ok()
        .zip(usize::try_from(range.end).ok())
        .and_then(|(start, end)| file_bytes.get(start..end))
        .ok_or(FormatError::HeaderBeyondFile {
            header_len_bytes,
            file_len_bytes,
        })?;
    parse_header(header_bytes, Some(file_len_bytes))
}

/// Plans the exact absolute byte range to fetch for one tensor, enforcing a size cap.
///
/// The returned range is half-open (`start..end`); an HTTP `Range` header is inclusive, so it
/// asks for `bytes=start-(end-1)`.
///
/// # Errors
/// [`FormatError::TensorTooLarge`] when the tensor is above `max_tensor_bytes`, and
/// [`FormatError::OffsetsReversed`] for an entry whose range runs backwards.
pub fn plan_tensor_read(
    entry: &TensorEntry,
    max_tensor_bytes: u64,
) -> Result<Range<u64>, FormatError> {
    let Range { start, end } = entry.byte_range;
    if end < start {
        return Err(FormatError::OffsetsReversed {
            name: entry.name.clone(),
            begin: start,
            end,
        });
    }
    let len_bytes = end - start;
    if len_bytes > max_tensor_bytes {
        return Err(FormatError::TensorTooLarge {
            name: entry.name.clone(),
            len_bytes,
            max_bytes: max_tensor_bytes,
        });
    }
    Ok(start..end)
}

/// Slices one tensor's bytes out of a whole file held in memory.
///
/// # Errors
/// [`FormatError::DataBeyondFile`] when the range does not lie inside `file_bytes`, and the
/// errors of [`plan_tensor_read`].
pub fn tensor_bytes<'a>(
    file_bytes: &'a [u8],
    entry: &TensorEntry,
    max_tensor_bytes: u64,
) -> Result<&'a [u8], FormatError> {
    let range = plan_tensor_read(entry, max_tensor_bytes)?;
    usize::try_from(range.start)
        .ok()
        .zip(usize::try_from(range.end).ok())
        .and_then(|(start, end)| file_bytes.get(start..end))
        .ok_or(FormatError::DataBeyondFile {
            name: entry.name.clone(),
            data_end_byte: range.end,
            file_len_bytes: len_u64(file_bytes.len()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a file from header JSON text and `data_len` zero bytes.
    fn file(header_json: &str, data_len: usize) -> Vec<u8> {
        let mut bytes = (header_json.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header_json.as_bytes());
        bytes.extend(std::iter::repeat_n(0_u8, data_len));
        bytes
    }

    #[test]
    fn parses_a_small_file_with_absolute_ranges() {
        let json = r#"{"__metadata__":{"format":"pt"},"b":{"dtype":"F16","shape":[2],"data_offsets":[8,12]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
        let bytes = file(json, 12);
        let header = parse_whole_file(&bytes).unwrap();
        let n = json.len() as u64;
        assert_eq!(header.header_len_bytes, n);
        assert_eq!(header.tensors[0].name, "a");
        assert_eq!(header.tensors[0].byte_range, 8 + n..8 + n + 8);
        assert_eq!(header.tensors[1].byte_range, 8 + n + 8..8 + n + 12);
        assert_eq!(header.metadata.get("format").unwrap(), "pt");
        assert_eq!(header.data_len_bytes(), 12);
        assert_eq!(header.tensor("b").unwrap().shape_label(), "2");
    }

    #[test]
    fn a_small_valid_length_starting_with_a_brace_byte_is_not_json() {
        // N = 123 encodes as 0x7B ('{') followed by zeros; that is a real header length.
        let json = format!("{{}}{}", " ".repeat(121));
        assert_eq!(json.len(), 123);
        let bytes = file(&json, 0);
        assert_eq!(header_len_from_prefix(&bytes, None).unwrap(), 123);
        assert!(parse_whole_file(&bytes).unwrap().tensors.is_empty());
    }

    #[test]
    fn reversed_and_partial_byte_entries_are_rejected() {
        let json = r#"{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}"#;
        assert!(matches!(
            parse_whole_file(&file(json, 4)),
            Err(FormatError::OffsetsReversed { .. })
        ));
        let json = r#"{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}"#;
        assert!(matches!(
            parse_whole_file(&file(json, 2)),
            Err(FormatError::PartialByte { .. })
        ));
    }
}
