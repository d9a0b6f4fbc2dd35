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
//! [`TensorLocation::matrix_view`] gives the [`MatrixView`] the rest of the pipeline uses.
//! Every read and allocation is bounded by a constant, never by a count from the file.

pub mod legacy;
pub mod pickle;
pub mod zip;

use std::borrow::Cow;
use std::ops::Range;
use std::rc::Rc;

use crate::pure::common::{shorten, size_label, ErrorKind, MAX_TENSOR_BYTES};
use crate::pure::source::detect::{self, DetectError, MatrixView};
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
fn element_bytes(dtype: Dtype) -> u64 {
    u64::try_from(dtype.bitsize() / 8).unwrap_or(1).max(1)
}

fn to_u64(n: usize) -> u64 {
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
struct Chunks {
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
enum Step<T> {
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

/// How a located tensor's bytes map to a row-major array.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Layout {
    /// The bytes are the tensor, row-major.
    Contiguous,
    /// A 2-D matrix (after dropping 1-sized dimensions) with these strides in elements,
    /// relative to the start of the byte range: element (i, j) is at `i·row_stride +
    /// j·col_stride`.
    Strided {
        /// Rows.
        rows: u64,
        /// Columns.
        cols: u64,
        /// Elements between rows.
        row_stride: u64,
        /// Elements between columns.
        col_stride: u64,
    },
}

/// Where one tensor's bytes are in the file, and how to read them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TensorLocation {
    /// The tensor's name.
    pub name: String,
    /// The element type.
    pub dtype: Dtype,
    /// The shape.
    pub shape: Vec<u64>,
    /// The strides, in elements.
    pub strides: Vec<u64>,
    /// The bytes to read: from the tensor's first element to its last (exactly the tensor's
    /// bytes for a contiguous one).
    pub byte_range: Range<u64>,
    /// How those bytes map to the row-major tensor.
    pub layout: Layout,
}

impl TensorLocation {
    /// The size of the row-major tensor, in bytes.
    pub fn len_bytes(&self) -> u64 {
        self.shape
            .iter()
            .fold(element_bytes(self.dtype), |n, &d| n.saturating_mul(d))
    }

    /// Turns the bytes of [`TensorLocation::byte_range`] into the tensor's row-major
    /// little-endian bytes (borrowed as they are when the tensor is contiguous), ready for
    /// the decoder as a safetensors tensor's bytes would be.
    ///
    /// # Errors
    /// [`TorchError::BadRead`] when `bytes` is not as long as the byte range.
    pub fn row_major_bytes<'a>(&self, bytes: &'a [u8]) -> Result<Cow<'a, [u8]>, TorchError> {
        let want = self.byte_range.end.saturating_sub(self.byte_range.start);
        if to_u64(bytes.len()) != want {
            return Err(TorchError::BadRead {
                want: format!("{want} bytes of tensor `{}`", self.name),
                got: format!("{} bytes", bytes.len()),
            });
        }
        let Layout::Strided {
            rows,
            cols,
            row_stride,
            col_stride,
        } = self.layout
        else {
            return Ok(Cow::Borrowed(bytes));
        };
        let size = element_bytes(self.dtype);
        // `locate` capped rows·cols·size at MAX_TENSOR_BYTES, so this allocation is bounded.
        let mut out = Vec::with_capacity(usize::try_from(self.len_bytes()).unwrap_or(0));
        for row in 0..rows {
            for col in 0..cols {
                let at = row
                    .saturating_mul(row_stride)
                    .saturating_add(col.saturating_mul(col_stride))
                    .saturating_mul(size);
                let element = usize::try_from(at)
                    .ok()
                    .zip(usize::try_from(at.saturating_add(size)).ok())
                    .and_then(|(from, to)| bytes.get(from..to))
                    .ok_or_else(|| TorchError::BadRead {
                        want: format!("element ({row}, {col}) of tensor `{}`", self.name),
                        got: format!("{} bytes", bytes.len()),
                    })?;
                out.extend_from_slice(element);
            }
        }
        Ok(Cow::Owned(out))
    }

    /// The tensor as the [`MatrixView`] the decoder and the analysis use, with the same
    /// rules as for safetensors (float, 2-D after dropping leading 1-sized dimensions, row
    /// offsets by name). Its `byte_range` is [`TensorLocation::byte_range`]: pass the bytes
    /// read there through [`TensorLocation::row_major_bytes`] before decoding.
    ///
    /// # Errors
    /// The [`DetectError`]s of [`detect::matrix_view`].
    pub fn matrix_view(&self) -> Result<MatrixView, DetectError> {
        let header = Header {
            header_len_bytes: 0,
            data_start_byte: 0,
            tensors: vec![TensorEntry {
                name: self.name.clone(),
                dtype: self.dtype,
                shape: self.shape.clone(),
                byte_range: self.byte_range.clone(),
            }],
            metadata: std::collections::BTreeMap::new(),
            file_len_bytes: None,
        };
        detect::matrix_view(&header, &self.name)
    }
}

/// Works out a tensor's location from where its storage's data starts.
fn tensor_location(
    tensor: &TensorInfo,
    storage: &StorageInfo,
    data_start: u64,
    data_limit: u64,
) -> Result<TensorLocation, TorchError> {
    let size = element_bytes(tensor.dtype);
    let overflow = || TorchError::TooLarge {
        what: format!("tensor `{}`", tensor.name),
        len: u64::MAX,
        max: MAX_TENSOR_BYTES,
    };
    let n_elements = tensor
        .shape
        .iter()
        .try_fold(1_u64, |n, &d| n.checked_mul(d))
        .ok_or_else(overflow)?;
    let len_bytes = n_elements.checked_mul(size).ok_or_else(overflow)?;
    // The elements from the first to the last one the tensor uses.
    let span_elements = if n_elements == 0 {
        0
    } else {
        tensor
            .shape
            .iter()
            .zip(&tensor.strides)
            .try_fold(1_u64, |span, (&d, &s)| {
                span.checked_add((d - 1).checked_mul(s)?)
            })
            .ok_or_else(overflow)?
    };
    let span_bytes = span_elements.checked_mul(size).ok_or_else(overflow)?;
    for (what, len) in [("tensor", len_bytes), ("byte span of tensor", span_bytes)] {
        if len > MAX_TENSOR_BYTES {
            return Err(TorchError::TooLarge {
                what: format!("{what} `{}`", tensor.name),
                len,
                max: MAX_TENSOR_BYTES,
            });
        }
    }
    let end_element = tensor
        .storage_offset
        .checked_add(span_elements)
        .ok_or_else(overflow)?;
    if end_element > storage.numel {
        return Err(TorchError::OutsideFile {
            what: format!(
                "Tensor `{}` (elements {}..{end_element} of storage `{}`)",
                tensor.name, tensor.storage_offset, storage.key
            ),
            end: end_element,
            limit: storage.numel,
        });
    }
    let start = tensor
        .storage_offset
        .checked_mul(size)
        .and_then(|offset| data_start.checked_add(offset))
        .ok_or_else(overflow)?;
    let end = start.checked_add(span_bytes).ok_or_else(overflow)?;
    if end > data_limit {
        return Err(TorchError::OutsideFile {
            what: format!("Tensor `{}`", tensor.name),
            end,
            limit: data_limit,
        });
    }
    Ok(TensorLocation {
        name: tensor.name.clone(),
        dtype: tensor.dtype,
        shape: tensor.shape.clone(),
        strides: tensor.strides.clone(),
        byte_range: start..end,
        layout: layout_of(tensor)?,
    })
}

/// Contiguous row-major, a 2-D strided matrix, or refused.
fn layout_of(tensor: &TensorInfo) -> Result<Layout, TorchError> {
    let mut expected = 1_u64;
    let mut contiguous = true;
    for (&d, &s) in tensor.shape.iter().zip(&tensor.strides).rev() {
        if d != 1 && s != expected {
            contiguous = false;
            break;
        }
        expected = expected.saturating_mul(d);
    }
    if contiguous || tensor.n_elements() == 0 {
        return Ok(Layout::Contiguous);
    }
    let kept: Vec<(u64, u64)> = tensor
        .shape
        .iter()
        .zip(&tensor.strides)
        .filter(|(&d, _)| d != 1)
        .map(|(&d, &s)| (d, s))
        .collect();
    match kept.as_slice() {
        [(rows, row_stride), (cols, col_stride)] => Ok(Layout::Strided {
            rows: *rows,
            cols: *cols,
            row_stride: *row_stride,
            col_stride: *col_stride,
        }),
        [(n, stride)] => Ok(Layout::Strided {
            rows: *n,
            cols: 1,
            row_stride: *stride,
            col_stride: 0,
        }),
        _ => Err(TorchError::UnsupportedStrides {
            name: tensor.name.clone(),
            shape: tensor.shape.clone(),
            strides: tensor.strides.clone(),
        }),
    }
}

/// Turns the pickle's tensors into the index's tensors and storages; `place` says where
/// each storage key is.
fn build_index(
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
fn check_feed(
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

/// The first step of reading a checkpoint: every tensor's name, dtype, shape and strides.
#[derive(Debug, Clone)]
pub struct IndexPlan {
    file_len: u64,
    chunks: Chunks,
    pending: Option<Range<u64>>,
}

impl IndexPlan {
    /// A plan for a file of `file_len` bytes; it first asks for the file's first bytes
    /// (the empty range `0..0` for an empty file, which it then refuses).
    pub fn new(file_len: u64) -> IndexPlan {
        IndexPlan {
            file_len,
            chunks: Chunks::default(),
            pending: Some(0..file_len.min(HEAD_READ_BYTES)),
        }
    }

    fn step(&self) -> Result<Step<TorchIndex>, TorchError> {
        let head = self.chunks.head();
        let sniff = head.get(..LEGACY_MAGIC.len()).unwrap_or(head);
        match sniff_format(sniff) {
            Some(TorchFormat::Zip) => zip_index_step(&self.chunks, self.file_len),
            Some(TorchFormat::Legacy) => legacy::index_step(head, self.file_len),
            None if sniff.is_empty() => Err(TorchError::UnknownFormat {
                first_bytes: "no bytes at all (it is empty)".to_owned(),
            }),
            None => Err(TorchError::UnknownFormat {
                first_bytes: format!("`{}`", shorten(&String::from_utf8_lossy(sniff), 16)),
            }),
        }
    }
}

impl RangePlan for IndexPlan {
    type Output = TorchIndex;

    fn next_read(&self) -> Option<Range<u64>> {
        self.pending.clone()
    }

    fn feed(&mut self, range: Range<u64>, bytes: &[u8]) -> Result<Option<TorchIndex>, TorchError> {
        let checked = check_feed(self.pending.as_ref(), &range, bytes);
        self.pending = None;
        checked?;
        self.chunks.insert(range.start, bytes);
        match self.step()? {
            Step::Need(need) => {
                if need == range {
                    // Never ask twice for the same bytes.
                    return Err(TorchError::BadRead {
                        want: format!("bytes {}..{}", need.start, need.end),
                        got: "bytes that did not complete the structure there".to_owned(),
                    });
                }
                let range = need;
                if range.end > self.file_len || range.start >= range.end {
                    return Err(TorchError::OutsideFile {
                        what: "A structure of the checkpoint".to_owned(),
                        end: range.end,
                        limit: self.file_len,
                    });
                }
                self.pending = Some(range);
                Ok(None)
            }
            Step::Done(index) => Ok(Some(index)),
        }
    }
}

/// One step of reading a zip checkpoint's index from the bytes read so far.
fn zip_index_step(chunks: &Chunks, file_len: u64) -> Result<Step<TorchIndex>, TorchError> {
    // 1. The end records, from a short tail, then from the longest tail that can hold them.
    let short_tail = file_len.saturating_sub(TAIL_READ_BYTES)..file_len;
    let Some(tail) = chunks.get(&short_tail) else {
        return Ok(Step::Need(short_tail));
    };
    let mut end = zip::find_end_records(tail, short_tail.start)?;
    if end.is_none() && short_tail.start > 0 {
        let long_tail =
            file_len.saturating_sub(zip::MAX_EOCD_SPAN + zip::ZIP64_LOCATOR_LEN)..file_len;
        let Some(tail) = chunks.get(&long_tail) else {
            return Ok(Step::Need(long_tail));
        };
        end = zip::find_end_records(tail, long_tail.start)?;
    }
    let place = match end.ok_or(TorchError::NoEndRecord)? {
        zip::EndRecords::Directory(place) => place,
        zip::EndRecords::Zip64At(at) => {
            let range = at..at.saturating_add(zip::ZIP64_EOCD_LEN);
            let Some(bytes) = chunks.get(&range) else {
                return Ok(Step::Need(range));
            };
            zip::parse_zip64_record(bytes)?
        }
    };
    // 2. The central directory.
    if place.size > MAX_DIRECTORY_BYTES {
        return Err(TorchError::TooLarge {
            what: "zip central directory".to_owned(),
            len: place.size,
            max: MAX_DIRECTORY_BYTES,
        });
    }
    let directory_end = place
        .offset
        .checked_add(place.size)
        .filter(|&end| end <= file_len)
        .ok_or(TorchError::OutsideFile {
            what: "The zip central directory".to_owned(),
            end: place.offset.saturating_add(place.size),
            limit: file_len,
        })?;
    let directory_range = place.offset..directory_end;
    let Some(directory) = chunks.get(&directory_range) else {
        return Ok(Step::Need(directory_range));
    };
    let entries = zip::parse_directory(directory, &place)?;
    // 3. The prefix from the first entry, and `<prefix>/data.pkl`.
    let first = entries.first().ok_or_else(|| TorchError::BadZip {
        detail: "the archive has no entries".to_owned(),
    })?;
    let prefix = match first.name.split_once('/') {
        Some((prefix, _)) if !prefix.is_empty() => prefix.to_owned(),
        _ => {
            return Err(TorchError::NoDataPkl {
                prefix: shorten(&first.name, 60),
            })
        }
    };
    let pkl_name = format!("{prefix}/data.pkl");
    let pkl = entries
        .iter()
        .find(|entry| entry.name == pkl_name)
        .ok_or_else(|| TorchError::NoDataPkl {
            prefix: shorten(&prefix, 60),
        })?;
    pkl.check_stored()?;
    if pkl.size > MAX_PICKLE_BYTES {
        return Err(TorchError::TooLarge {
            what: "data.pkl".to_owned(),
            len: pkl.size,
            max: MAX_PICKLE_BYTES,
        });
    }
    // 4. Its local header and bytes, in one read when the header is the usual size.
    let header_len = zip::LOCAL_LEN + to_u64(pkl.name.len());
    let guess_end = pkl
        .local_header_offset
        .saturating_add(header_len + LOCAL_EXTRA_READ_BYTES)
        .saturating_add(pkl.size)
        .min(file_len);
    let header_range = pkl.local_header_offset..guess_end;
    let header_bytes = match chunks.get(&header_range) {
        Some(bytes) => bytes,
        None => {
            let exact = pkl.local_header_offset..pkl.local_header_offset.saturating_add(header_len);
            match chunks.get(&exact) {
                Some(bytes) => bytes,
                None => return Ok(Step::Need(header_range)),
            }
        }
    };
    let data_start =
        zip::local_data_start(header_bytes, pkl)?.ok_or_else(|| TorchError::BadZip {
            detail: format!("entry `{pkl_name}`'s local header is cut off by the end of the file"),
        })?;
    let data_range = data_start..data_start.saturating_add(pkl.size);
    if data_range.end > file_len {
        return Err(TorchError::OutsideFile {
            what: format!("Entry `{}`", shorten(&pkl_name, 60)),
            end: data_range.end,
            limit: file_len,
        });
    }
    let Some(pickle_bytes) = chunks.get(&data_range) else {
        return Ok(Step::Need(data_range));
    };
    // 5. The state dict, and each storage's entry.
    let (value, _) = pickle::interpret(pickle_bytes, 0)
        .map_err(|error| TorchError::from_pickle(error, "data.pkl"))?;
    let records = pickle::collect_tensors(&value)
        .map_err(|error| TorchError::from_pickle(error, "data.pkl"))?;
    let index = build_index(TorchFormat::Zip, file_len, records, |storage| {
        let name = format!("{prefix}/data/{}", storage.key);
        let entry = entries
            .iter()
            .find(|entry| entry.name == name)
            .ok_or_else(|| TorchError::BadZip {
                detail: format!(
                    "the state dict uses storage `{}`, but the archive has no entry `{}`",
                    shorten(&storage.key, 40),
                    shorten(&name, 80)
                ),
            })?;
        entry.check_stored()?;
        let needed = storage.numel.saturating_mul(element_bytes(storage.dtype));
        if needed > entry.size {
            return Err(TorchError::OutsideFile {
                what: format!(
                    "Storage `{}` ({} elements)",
                    shorten(&storage.key, 40),
                    storage.numel
                ),
                end: needed,
                limit: entry.size,
            });
        }
        Ok(StoragePlace::Zip(entry.clone()))
    })?;
    Ok(Step::Done(index))
}

/// The second step: where one tensor's bytes are.
#[derive(Debug, Clone)]
pub struct LocatePlan {
    file_len: u64,
    tensor: TensorInfo,
    storage: StorageInfo,
    pending: Option<Range<u64>>,
    chunks: Chunks,
    failed: bool,
}

impl LocatePlan {
    /// The read that finds the storage's data start.
    fn first_read(&self) -> Range<u64> {
        match &self.storage.place {
            StoragePlace::Zip(entry) => {
                let start = entry.local_header_offset;
                let end = start
                    .saturating_add(
                        zip::LOCAL_LEN + to_u64(entry.name.len()) + LOCAL_EXTRA_READ_BYTES,
                    )
                    .min(self.file_len);
                start..end
            }
            StoragePlace::Legacy { count_at } => *count_at..count_at.saturating_add(8),
        }
    }

    fn start(mut self) -> Result<LocatePlan, TorchError> {
        let range = self.first_read();
        if range.start >= range.end || range.end > self.file_len {
            return Err(TorchError::OutsideFile {
                what: format!("Storage `{}`", shorten(&self.storage.key, 40)),
                end: range.end,
                limit: self.file_len,
            });
        }
        self.pending = Some(range);
        Ok(self)
    }

    fn step(&self) -> Result<Step<TensorLocation>, TorchError> {
        let range = self.first_read();
        if range.end > self.file_len || range.start >= range.end {
            return Err(TorchError::OutsideFile {
                what: format!("Storage `{}`", shorten(&self.storage.key, 40)),
                end: range.end,
                limit: self.file_len,
            });
        }
        let Some(bytes) = self.chunks.get(&range) else {
            return Ok(Step::Need(range));
        };
        match &self.storage.place {
            StoragePlace::Zip(entry) => {
                let data_start =
                    zip::local_data_start(bytes, entry)?.ok_or_else(|| TorchError::BadZip {
                        detail: format!(
                            "entry `{}`'s local header is cut off by the end of the file",
                            shorten(&entry.name, 80)
                        ),
                    })?;
                let data_end = data_start
                    .checked_add(entry.size)
                    .filter(|&end| end <= self.file_len);
                let Some(data_end) = data_end else {
                    return Err(TorchError::OutsideFile {
                        what: format!("Entry `{}`", shorten(&entry.name, 80)),
                        end: data_start.saturating_add(entry.size),
                        limit: self.file_len,
                    });
                };
                tensor_location(&self.tensor, &self.storage, data_start, data_end).map(Step::Done)
            }
            StoragePlace::Legacy { count_at } => {
                let count = bytes
                    .get(..8)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(u64::from_le_bytes)
                    .unwrap_or(u64::MAX);
                if count != self.storage.numel {
                    return Err(TorchError::BadLegacy {
                        detail: format!(
                            "storage `{}` should hold {} elements, but its count at byte {count_at} says {count}",
                            shorten(&self.storage.key, 40),
                            self.storage.numel
                        ),
                    });
                }
                let data_start = count_at + 8;
                tensor_location(&self.tensor, &self.storage, data_start, self.file_len)
                    .map(Step::Done)
            }
        }
    }
}

impl RangePlan for LocatePlan {
    type Output = TensorLocation;

    fn next_read(&self) -> Option<Range<u64>> {
        if self.failed {
            return None;
        }
        self.pending.clone()
    }

    fn feed(
        &mut self,
        range: Range<u64>,
        bytes: &[u8],
    ) -> Result<Option<TensorLocation>, TorchError> {
        let checked = check_feed(self.pending.as_ref(), &range, bytes);
        self.pending = None;
        checked?;
        self.chunks.insert(range.start, bytes);
        match self.step() {
            Ok(Step::Need(range)) => {
                self.pending = Some(range);
                Ok(None)
            }
            Ok(Step::Done(location)) => Ok(Some(location)),
            Err(error) => {
                self.failed = true;
                Err(error)
            }
        }
    }
}
