//! PyTorch `.bin` checkpoints (`pytorch_model.bin`), read by byte ranges: never downloaded
//! whole, and never executed. The pickle inside is data to interpret ([`pickle`]), with an
//! allowlist of globals.
//!
//! Two layouts exist:
//! - **zip** (torch ≥ 1.6): a zip archive of stored entries `<prefix>/data.pkl` (the state
//!   dict, whose tensors name their storages by key) and `<prefix>/data/<key>` (each
//!   storage's raw little-endian bytes). The end records, the central directory, `data.pkl`
//!   and one storage's local header are read from the file's end and start ([`zip`]).
//! - **legacy** (torch < 1.6, or `_use_new_zipfile_serialization=False`): a magic number,
//!   then pickles (protocol version, `sys_info`, the state dict, the sorted storage keys),
//!   then each storage as an 8-byte element count and its raw data ([`legacy`]).
//!
//! Everything here is sans-IO: a plan says which byte range it needs next
//! ([`RangePlan::next_read`]) and is fed the bytes ([`RangePlan::feed`]) until it yields its
//! result. Reading a tensor takes two plans:
//! 1. [`IndexPlan`] finds every tensor's name, dtype, shape and strides ([`TorchIndex`]), a
//!    few small reads: the file's first 16 KiB, and for a zip file its last 8 KiB (the end
//!    records and usually the central directory) and `data.pkl`.
//! 2. [`TorchIndex::locate`] gives a [`LocatePlan`] for one tensor, which reads its storage's
//!    local header (zip) or element count (legacy), one small read, and yields a
//!    [`TensorLocation`]: the exact byte range to fetch, and how to turn those bytes into a
//!    row-major matrix ([`TensorLocation::row_major_bytes`]).
//!
//! [`detect_positional`] applies the safetensors W_pos name rules to an index, and
//! [`TensorLocation::matrix_view`] gives the [`MatrixView`](crate::pure::source::detect::MatrixView) the rest of the pipeline uses.
//! Every read and allocation is bounded by a constant, never by a count from the file.

pub mod legacy;
mod location;
pub mod pickle;
mod plans;
pub mod zip;

pub use location::{Layout, TensorLocation};
pub use plans::{IndexPlan, LocatePlan};

use std::ops::Range;
use std::rc::Rc;

use crate::pure::common::{shorten, size_label, ErrorKind};
use crate::pure::source::detect::{self, DetectError};
use crate::pure::source::format::{shape_label, Dtype, Header, TensorEntry};

use self::pickle::{PickleError, StorageRef, TensorRecord};
use self::zip::Entry;

/// Largest pickle read: `data.pkl`, or a legacy file's pickle prefix (16 MiB; GPT-2's
/// `data.pkl` is about 30 KB).
pub const MAX_PICKLE_BYTES: u64 = 16 * 1024 * 1024;

/// Largest zip central directory read (16 MiB, about 150,000 entries).
pub const MAX_DIRECTORY_BYTES: u64 = 16 * 1024 * 1024;

/// The first read of every file: its first 16 KiB (the format, and usually a legacy file's
/// whole pickle prefix or a zip file's `data.pkl`).
pub const HEAD_READ_BYTES: u64 = 16 * 1024;

/// The first read from a zip file's end: 8 KiB (the end records, and the central directory
/// of a checkpoint of up to about a hundred tensors).
pub const TAIL_READ_BYTES: u64 = 8 * 1024;

/// How many bytes past a local header's name are read with it, for the extra field that
/// torch uses to align storages to 64 bytes.
const LOCAL_EXTRA_READ_BYTES: u64 = 256;

/// How many names a "no such tensor" message lists.
const MAX_NAMES_IN_MESSAGE: usize = 10;

/// A zip file starts with a local file header.
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

/// The legacy format's first pickle: protocol 2, `LONG1` 0x1950a86a20f9469cfc6c, `STOP`.
pub const LEGACY_MAGIC: &[u8] = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e";

/// The two layouts of a torch checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TorchFormat {
    /// torch ≥ 1.6: a zip archive.
    Zip,
    /// torch < 1.6: pickles followed by raw storages.
    Legacy,
}

impl TorchFormat {
    /// The format's name for messages.
    pub fn label(self) -> &'static str {
        match self {
            TorchFormat::Zip => "PyTorch zip checkpoint (torch ≥ 1.6)",
            TorchFormat::Legacy => "legacy PyTorch checkpoint (torch < 1.6)",
        }
    }
}

/// Tells the format from a file's first bytes, or `None` when they are neither.
pub fn sniff_format(prefix: &[u8]) -> Option<TorchFormat> {
    if prefix.starts_with(ZIP_MAGIC) {
        Some(TorchFormat::Zip)
    } else if prefix.starts_with(LEGACY_MAGIC) {
        Some(TorchFormat::Legacy)
    } else {
        None
    }
}

/// Everything that can be wrong with a file that should be a torch checkpoint, or with the
/// bytes fed to a plan. Each message says what happened and what to do.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum TorchError {
    /// The first bytes are neither a zip archive nor a legacy checkpoint.
    #[error("The file is not a PyTorch checkpoint: it starts with {first_bytes}, not with a zip header (torch ≥ 1.6) or the legacy magic number (torch < 1.6). Check that the file is a `pytorch_model.bin`, or pick the model's safetensors file.")]
    UnknownFormat {
        /// The first bytes, escaped.
        first_bytes: String,
    },
    /// The zip structures are malformed.
    #[error("The PyTorch zip checkpoint is malformed: {detail}. The file is probably damaged or not a torch.save file; download it again or pick the model's safetensors file.")]
    BadZip {
        /// What is wrong.
        detail: String,
    },
    /// No end of central directory record.
    #[error("The file starts like a zip archive but has no zip end record in its last {} bytes, so it is truncated or not a PyTorch checkpoint. Download it again, or pick the model's safetensors file.", zip::MAX_EOCD_SPAN)]
    NoEndRecord,
    /// The archive has no `<prefix>/data.pkl`.
    #[error("The zip archive has no `{prefix}/data.pkl` entry, so it is not a torch.save checkpoint. Pick the model's safetensors file or its pytorch_model.bin.")]
    NoDataPkl {
        /// The prefix taken from the first entry.
        prefix: String,
    },
    /// An entry is compressed.
    #[error("Entry `{entry}` of the checkpoint is compressed (zip method {method}); torch.save stores entries uncompressed, and only stored entries can be read by byte ranges. Re-save the checkpoint with torch.save, or pick the model's safetensors file.")]
    Compressed {
        /// The entry's name.
        entry: String,
        /// Its zip compression method.
        method: u16,
    },
    /// An entry is encrypted.
    #[error("Entry `{entry}` of the checkpoint is encrypted and cannot be read. Pick an unencrypted file.")]
    Encrypted {
        /// The entry's name.
        entry: String,
    },
    /// Something the file describes lies beyond its end (or beyond its container).
    #[error("{what} would end at byte {end}, past the end of its container at byte {limit}: the file is truncated or damaged. Download it again, or pick the model's safetensors file.")]
    OutsideFile {
        /// What it is.
        what: String,
        /// Where it would end.
        end: u64,
        /// Where its container ends.
        limit: u64,
    },
    /// A pickle, directory or tensor above a constant cap.
    #[error("The checkpoint's {what} is {} ({len} bytes), above the {} this app reads, so it was not downloaded. Pick the model's safetensors file, or a smaller checkpoint.", size_label(*.len), size_label(*.max))]
    TooLarge {
        /// What it is.
        what: String,
        /// Its size.
        len: u64,
        /// The cap.
        max: u64,
    },
    /// The pickle cannot be interpreted.
    #[error("The checkpoint's pickle ({where_}) cannot be read: {detail}. Only plain state dicts of tensors saved with torch.save are read; re-save it with `torch.save(model.state_dict(), path)`, or pick the model's safetensors file.")]
    BadPickle {
        /// Which pickle, and where in it.
        where_: String,
        /// What is wrong.
        detail: String,
    },
    /// The pickle names a global outside the allowlist.
    #[error("The checkpoint's pickle refers to `{module}.{name}`, which is not a tensor, a storage or a dict. It was not run: pickles can execute code, and only plain state dicts of tensors are read. Re-save the weights as a state dict, or pick the model's safetensors file.")]
    UnknownGlobal {
        /// The module.
        module: String,
        /// The name.
        name: String,
    },
    /// The legacy layout is inconsistent.
    #[error("The legacy PyTorch checkpoint is malformed: {detail}. The file is probably damaged; download it again or pick the model's safetensors file.")]
    BadLegacy {
        /// What is wrong.
        detail: String,
    },
    /// The checkpoint was saved on a big-endian machine.
    #[error("The checkpoint was saved on a big-endian machine, and only little-endian data is read. Convert it on such a machine, or pick the model's safetensors file.")]
    BigEndian,
    /// A tensor's strides do not describe a matrix.
    #[error("Tensor `{name}` (shape [{}], strides [{}]) is stored with a layout that is neither contiguous nor a 2-D strided matrix, so it cannot be read as one. Pick another tensor.", shape_label(shape), strides.iter().map(u64::to_string).collect::<Vec<_>>().join(", "))]
    UnsupportedStrides {
        /// The tensor's name.
        name: String,
        /// Its shape.
        shape: Vec<u64>,
        /// Its strides in elements.
        strides: Vec<u64>,
    },
    /// No tensor has the requested name.
    #[error(
        "The checkpoint has no tensor named `{name}`. {}",
        crate::pure::source::format::list_available(available)
    )]
    MissingTensor {
        /// The requested name.
        name: String,
        /// A few names that exist.
        available: Vec<String>,
    },
    /// The bytes fed to a plan are not those it asked for.
    #[error("The server sent {got} where {want} were asked for, so the answer cannot be used. Try again; if it persists, the server does not honour byte ranges correctly.")]
    BadRead {
        /// The range asked for.
        want: String,
        /// What came.
        got: String,
    },
}

impl TorchError {
    /// The kind the page shows: a file that is not a readable checkpoint shares the
    /// malformed-file kind of safetensors (`not-safetensors`), caps are `too-large`, a layout
    /// that is not a matrix `bad-tensor`, an unknown name `missing-tensor`, and wrong bytes
    /// from the server `bad-answer`.
    pub fn kind(&self) -> ErrorKind {
        match self {
            TorchError::TooLarge { .. } => ErrorKind::TooLarge,
            TorchError::UnsupportedStrides { .. } => ErrorKind::BadTensor,
            TorchError::MissingTensor { .. } => ErrorKind::MissingTensor,
            TorchError::BadRead { .. } => ErrorKind::BadAnswer,
            _ => ErrorKind::NotSafetensors,
        }
    }

    /// Wraps a pickle error from `where_` (e.g. `data.pkl`).
    fn from_pickle(error: PickleError, where_: &str) -> TorchError {
        match error {
            PickleError::UnknownGlobal { module, name } => TorchError::UnknownGlobal {
                module: shorten(&module, 80),
                name: shorten(&name, 80),
            },
            PickleError::Truncated => TorchError::BadPickle {
                where_: where_.to_owned(),
                detail: "it ends before its STOP opcode".to_owned(),
            },
            PickleError::Malformed { offset, detail } => TorchError::BadPickle {
                where_: format!("{where_}, byte {offset}"),
                detail,
            },
            PickleError::UnsupportedOpcode { offset, opcode } => TorchError::BadPickle {
                where_: format!("{where_}, byte {offset}"),
                detail: format!("opcode 0x{opcode:02x} is not one a state dict uses"),
            },
            PickleError::Limit { what } => TorchError::BadPickle {
                where_: where_.to_owned(),
                detail: format!("it exceeds the {what} limit"),
            },
        }
    }
}

/// The size of one element of `dtype`, in bytes.
pub(super) fn element_bytes(dtype: Dtype) -> u64 {
    u64::try_from(dtype.bitsize() / 8).unwrap_or(1).max(1)
}

pub(super) fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// A sans-IO reader: asks for byte ranges until it has its result.
pub trait RangePlan {
    /// What the plan yields.
    type Output;
    /// The byte range (half-open, absolute) the plan needs next; `None` once it has yielded
    /// its result or failed.
    fn next_read(&self) -> Option<Range<u64>>;
    /// Gives the plan the bytes of `range`, which must be the range [`next_read`] returned.
    /// Returns the result when the plan is done, `Ok(None)` when it needs another read.
    ///
    /// # Errors
    /// [`TorchError::BadRead`] when `range` or the length of `bytes` is not what was asked,
    /// and every error of the format being read. After an error the plan asks for nothing.
    ///
    /// [`next_read`]: RangePlan::next_read
    fn feed(&mut self, range: Range<u64>, bytes: &[u8])
        -> Result<Option<Self::Output>, TorchError>;
}

/// Runs a plan against a whole file in memory, feeding exactly the ranges it asks for;
/// returns its result and the number of bytes it read (for tests, fuzzing and local files).
///
/// # Errors
/// The plan's errors; [`TorchError::OutsideFile`] when it asks for bytes past the end.
pub fn run_in_memory<P: RangePlan>(
    mut plan: P,
    file: &[u8],
) -> Result<(P::Output, u64), TorchError> {
    let mut bytes_read = 0_u64;
    while let Some(range) = plan.next_read() {
        let slice = usize::try_from(range.start)
            .ok()
            .zip(usize::try_from(range.end).ok())
            .and_then(|(start, end)| file.get(start..end))
            .ok_or(TorchError::OutsideFile {
                what: "A requested read".to_owned(),
                end: range.end,
                limit: to_u64(file.len()),
            })?;
        bytes_read += range.end.saturating_sub(range.start);
        if let Some(output) = plan.feed(range, slice)? {
            return Ok((output, bytes_read));
        }
    }
    Err(TorchError::BadRead {
        want: "more bytes".to_owned(),
        got: "nothing (the plan ended without a result)".to_owned(),
    })
}

/// The bytes read so far, as non-overlapping chunks (adjacent chunks are merged).
#[derive(Debug, Clone, Default)]
pub(super) struct Chunks {
    chunks: Vec<(u64, Vec<u8>)>,
}

impl Chunks {
    fn insert(&mut self, start: u64, bytes: &[u8]) {
        for (chunk_start, chunk) in &mut self.chunks {
            if *chunk_start + to_u64(chunk.len()) == start {
                chunk.extend_from_slice(bytes);
                return;
            }
        }
        self.chunks.push((start, bytes.to_vec()));
    }

    /// The bytes of `range`, when one chunk holds them all.
    fn get(&self, range: &Range<u64>) -> Option<&[u8]> {
        self.chunks.iter().find_map(|(start, chunk)| {
            let from = usize::try_from(range.start.checked_sub(*start)?).ok()?;
            let to = usize::try_from(range.end.checked_sub(*start)?).ok()?;
            chunk.get(from..to)
        })
    }

    /// The longest run of bytes from offset 0.
    fn head(&self) -> &[u8] {
        self.chunks
            .iter()
            .find(|(start, _)| *start == 0)
            .map(|(_, chunk)| chunk.as_slice())
            .unwrap_or_default()
    }
}

/// One step of a plan: more bytes needed, or done.
pub(super) enum Step<T> {
    Need(Range<u64>),
    Done(T),
}

/// Where a storage's bytes are.
#[derive(Debug, Clone, PartialEq)]
pub enum StoragePlace {
    /// A zip entry, whose data starts after its local header.
    Zip(Entry),
    /// A legacy storage: its 8-byte element count is at this absolute offset, and its data
    /// follows.
    Legacy {
        /// Absolute offset of the element count.
        count_at: u64,
    },
}

/// One storage of a checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageInfo {
    /// The storage's key.
    pub key: String,
    /// Its element type.
    pub dtype: Dtype,
    /// Its length in elements.
    pub numel: u64,
    /// Where its bytes are.
    pub place: StoragePlace,
}

/// One tensor of the state dict, before its bytes are located.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    /// Its key in the state dict, e.g. `transformer.wpe.weight`.
    pub name: String,
    /// The element type.
    pub dtype: Dtype,
    /// The shape.
    pub shape: Vec<u64>,
    /// The strides, in elements.
    pub strides: Vec<u64>,
    /// Its first element's index in its storage.
    pub storage_offset: u64,
    /// Its storage, an index into [`TorchIndex::storages`].
    pub storage: usize,
}

impl TensorInfo {
    /// The number of elements (saturating).
    pub fn n_elements(&self) -> u64 {
        self.shape.iter().fold(1_u64, |n, &d| n.saturating_mul(d))
    }
}

/// Every tensor of a checkpoint's state dict, and where its storages are.
#[derive(Debug, Clone, PartialEq)]
pub struct TorchIndex {
    /// The layout.
    pub format: TorchFormat,
    /// The file's length.
    pub file_len: u64,
    /// The tensors, in the state dict's order.
    pub tensors: Vec<TensorInfo>,
    /// The storages the tensors use.
    pub storages: Vec<StorageInfo>,
}

impl TorchIndex {
    /// Looks a tensor up by name.
    ///
    /// # Errors
    /// [`TorchError::MissingTensor`] listing a few names.
    pub fn tensor(&self, name: &str) -> Result<&TensorInfo, TorchError> {
        self.tensors
            .iter()
            .find(|tensor| tensor.name == name)
            .ok_or_else(|| TorchError::MissingTensor {
                name: shorten(name, 200),
                available: self
                    .tensors
                    .iter()
                    .take(MAX_NAMES_IN_MESSAGE)
                    .map(|tensor| tensor.name.clone())
                    .collect(),
            })
    }

    /// Plans where tensor `name`'s bytes are.
    ///
    /// # Errors
    /// [`TorchError::MissingTensor`] when there is no such tensor, and
    /// [`TorchError::OutsideFile`] when its storage's header would lie past the file's end.
    pub fn locate(&self, name: &str) -> Result<LocatePlan, TorchError> {
        let tensor = self.tensor(name)?.clone();
        let storage =
            self.storages
                .get(tensor.storage)
                .cloned()
                .ok_or_else(|| TorchError::BadPickle {
                    where_: "state dict".to_owned(),
                    detail: format!("tensor `{name}` has no storage"),
                })?;
        LocatePlan {
            file_len: self.file_len,
            tensor,
            storage,
            pending: None,
            chunks: Chunks::default(),
            failed: false,
        }
        .start()
    }

    /// The index as a safetensors-like [`Header`], so that the W_pos detection rules
    /// ([`detect`]) apply unchanged: names, dtypes and shapes are the checkpoint's, in its
    /// order. The byte ranges are NOT file positions (they pack the tensors from 0, as a
    /// safetensors file of the same tensors would); use [`TorchIndex::locate`] for those.
    pub fn detection_header(&self) -> Header {
        let mut next = 0_u64;
        let tensors = self
            .tensors
            .iter()
            .map(|tensor| {
                let len = tensor
                    .n_elements()
                    .saturating_mul(element_bytes(tensor.dtype));
                let start = next;
                next = next.saturating_add(len);
                TensorEntry {
                    name: tensor.name.clone(),
                    dtype: tensor.dtype,
                    shape: tensor.shape.clone(),
                    byte_range: start..next,
                }
            })
            .collect();
        Header {
            header_len_bytes: 0,
            data_start_byte: 0,
            tensors,
            metadata: std::collections::BTreeMap::new(),
            file_len_bytes: Some(self.file_len),
        }
    }
}

/// Picks W_pos among a checkpoint's tensors by the same name rules as for safetensors
/// ([`detect::detect_positional_embedding`]).
///
/// # Errors
/// The detection errors: no positional name, or a matching tensor that is not a float matrix.
pub fn detect_positional(index: &TorchIndex) -> Result<&TensorInfo, DetectError> {
    let view = detect::detect_positional_embedding(&index.detection_header())?;
    index
        .tensors
        .iter()
        .find(|tensor| tensor.name == view.tensor_name)
        .ok_or(DetectError::NotFound {
            name: view.tensor_name,
            available: Vec::new(),
        })
}

/// Turns the pickle's tensors into the index's tensors and storages; `place` says where
/// each storage key is.
pub(super) fn build_index(
    format: TorchFormat,
    file_len: u64,
    records: Vec<(String, Rc<TensorRecord>)>,
    mut place: impl FnMut(&StorageRef) -> Result<StoragePlace, TorchError>,
) -> Result<TorchIndex, TorchError> {
    let mut storages: Vec<StorageInfo> = Vec::new();
    let mut by_key: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut tensors = Vec::with_capacity(records.len());
    for (name, record) in records {
        let storage_ref = &record.storage;
        let at = match by_key.get(&storage_ref.key) {
            Some(&at) => {
                let known = storages.get(at);
                if known
                    .is_none_or(|s| s.dtype != storage_ref.dtype || s.numel != storage_ref.numel)
                {
                    return Err(TorchError::BadPickle {
                        where_: "state dict".to_owned(),
                        detail: format!(
                            "storage `{}` is described twice with different types or sizes",
                            shorten(&storage_ref.key, 40)
                        ),
                    });
                }
                at
            }
            None => {
                let info = StorageInfo {
                    key: storage_ref.key.clone(),
                    dtype: storage_ref.dtype,
                    numel: storage_ref.numel,
                    place: place(storage_ref)?,
                };
                storages.push(info);
                by_key.insert(storage_ref.key.clone(), storages.len() - 1);
                storages.len() - 1
            }
        };
        tensors.push(TensorInfo {
            name,
            dtype: storage_ref.dtype,
            shape: record.shape.clone(),
            strides: record.strides.clone(),
            storage_offset: record.storage_offset,
            storage: at,
        });
    }
    Ok(TorchIndex {
        format,
        file_len,
        tensors,
        storages,
    })
}

/// Checks that fed bytes are those asked for.
pub(super) fn check_feed(
    pending: Option<&Range<u64>>,
    range: &Range<u64>,
    bytes: &[u8],
) -> Result<(), TorchError> {
    let want_len = range.end.saturating_sub(range.start);
    match pending {
        Some(want) if want == range && to_u64(bytes.len()) == want_len => Ok(()),
        Some(want) => Err(TorchError::BadRead {
            want: format!("bytes {}..{}", want.start, want.end),
            got: format!("{} bytes for {}..{}", bytes.len(), range.start, range.end),
        }),
        None => Err(TorchError::BadRead {
            want: "nothing (the plan is done or failed)".to_owned(),
            got: format!("bytes {}..{}", range.start, range.end),
        }),
    }
}
