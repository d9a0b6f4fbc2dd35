//! The read plan of a run, without any I/O: given what has been read so far, which read comes
//! next, and what the reads concluded.
//!
//! The shell only performs reads (a `fetch`, the browser's storage, a local file) and feeds the
//! answers back; the order of reads, the offline decisions (a saved entry first) and the
//! choice of file are made here. For a Hub repository ([`HubPlan`]):
//!
//! 1. the saved entries decide first ([`crate::pure::source::offline::plan_hub_run`]): a saved commit is read from
//!    storage with no request at all, and offline a branch uses its newest saved commit;
//! 2. the revision listing names the commit and the files ([`ReadWhat::Revision`]); a saved
//!    entry at that commit is read from storage; when nothing answers, the saved entries are
//!    asked again as if offline;
//! 3. the weights file is chosen ([`choose_file`]): `model.safetensors`, then the
//!    safetensors index, then (one more arm, not read yet) PyTorch's `pytorch_model.bin` and
//!    its index; a shard index is read and names the shard holding the tensor;
//! 4. the file's first 8 bytes give the header's length, then the header is read
//!    ([`HeaderPlan`]), both from one version of the file;
//! 5. every request after the revision listing is made at its commit, and the tensor's bytes
//!    at the commit that served the header ([`PlannedFile::tensor_url`]).
//!
//! A local file, the built-in sample and a saved entry go through [`HeaderPlan`] alone.
//! A reader of another file format slots in as one more arm of [`WeightsFile`] and a plan of
//! its own that ends, like these, in a [`PlannedFile`]-like conclusion.

use std::ops::Range;

use crate::pure::common::{ErrorKind, MAX_TENSOR_BYTES};
use crate::pure::source::detect::{self, DetectError, MatrixView};
use crate::pure::source::format::{self, FormatError, Header, LEN_PREFIX_BYTES};
use crate::pure::source::hub::{self, HubError, WeightsChoice};
use crate::pure::source::offline::{OfflineError, SavedEntry};
use crate::pure::source::shards::ShardError;
use crate::pure::source::transfer::{self, FileIdentity, TransferError};
use crate::pure::source::Origin;

mod hub_run;
pub use hub_run::{HubPlan, HubQuery};

/// PyTorch's single weights file, the third choice of [`choose_file`].
pub const TORCH_WEIGHTS_FILE: &str = "pytorch_model.bin";

/// PyTorch's shard index, the fourth choice of [`choose_file`].
pub const TORCH_INDEX_FILE: &str = "pytorch_model.bin.index.json";

/// What a read is for; its [`label`](ReadWhat::label) is the progress line the page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadWhat {
    /// The revision listing (commit and files).
    Revision,
    /// A shard index.
    ShardIndex,
    /// A file's first 8 bytes: the header's length.
    Prefix,
    /// The header itself.
    Header,
    /// The tensor's bytes.
    Tensor,
}

impl ReadWhat {
    /// The progress line for this read.
    pub fn label(self) -> &'static str {
        match self {
            ReadWhat::Revision => "Resolving the revision",
            ReadWhat::ShardIndex => "Reading the shard index",
            ReadWhat::Prefix => "Reading the header length",
            ReadWhat::Header => "Reading the header",
            ReadWhat::Tensor => "Downloading the tensor",
        }
    }
}

/// The next read a plan asks the shell for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// A whole small document from the network (the revision listing, a shard index).
    Whole {
        /// Its URL.
        url: String,
        /// What it is.
        what: ReadWhat,
    },
    /// A byte range of a file from the network.
    Range {
        /// The file's URL (at a commit, once one is known).
        url: String,
        /// The bytes wanted.
        range: Range<u64>,
        /// What they are.
        what: ReadWhat,
    },
    /// A saved entry from storage: its file's prefix and every saved entry of that file.
    Saved {
        /// The entry's id.
        entry_id: String,
    },
}

/// Bytes a read returned, with what the answer said about the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Received {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The whole file's size, when reported.
    pub file_len_bytes: Option<u64>,
    /// The commit that served them (`X-Repo-Commit`), when reported.
    pub repo_commit: Option<String>,
    /// The file version that answered.
    pub identity: FileIdentity,
}

impl Received {
    /// Bytes with nothing said about the file.
    pub fn bytes(bytes: Vec<u8>) -> Self {
        Received {
            bytes,
            ..Received::default()
        }
    }
}

/// How a failed read failed, as far as the plan's decisions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// HTTP 404.
    NotFound,
    /// HTTP 401 or 403.
    Gated {
        /// The status.
        status: u16,
    },
    /// No answer at all (offline, DNS, nothing listening).
    Unreachable,
    /// Anything else (a saved entry that is gone, a server error…).
    Other,
}

/// The shell's answer to a [`Read`]. `E` is the shell's error type, handed back unchanged when
/// it is the outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer<E> {
    /// The bytes of a network or file read.
    Bytes(Received),
    /// A saved entry: its file's first `8 + N` bytes and the saved entries of that file (the
    /// asked-for one first).
    Saved {
        /// The file's length prefix and header.
        prefix: Vec<u8>,
        /// The saved entries of the file.
        entries: Vec<SavedEntry>,
    },
    /// The read failed. A cancelled read is never fed back: the run just stops.
    Failed {
        /// How, for the plan's decisions.
        class: FailureClass,
        /// The shell's error.
        error: E,
    },
}

/// Why a plan stopped without a file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError<E> {
    /// A read failed, and nothing else could answer.
    #[error("{0}")]
    Read(E),
    /// The Hub's answers could not be used.
    #[error("{0}")]
    Hub(#[from] HubError),
    /// The bytes are not a usable safetensors file.
    #[error("{0}")]
    Format(#[from] FormatError),
    /// The shard index is unusable.
    #[error("{0}")]
    Shards(#[from] ShardError),
    /// No suitable matrix, or the named tensor is unsuitable.
    #[error("{0}")]
    Detect(#[from] DetectError),
    /// Offline, and nothing saved answers the request.
    #[error("{0}")]
    Offline(#[from] OfflineError),
    /// Two reads came from different versions of the file.
    #[error("{0}")]
    Transfer(#[from] TransferError),
    /// An answer that does not fit the read asked for (a bug of the shell).
    #[error("the answer to `{asked}` was not the kind of answer that read needs")]
    WrongAnswer {
        /// The read.
        asked: &'static str,
    },
}

impl<E> PlanError<E> {
    /// The kind the page shows, for the core's own errors (`None` for a read's error, whose
    /// kind the shell's error type knows).
    pub fn kind(&self) -> Option<ErrorKind> {
        Some(match self {
            PlanError::Read(_) => return None,
            PlanError::Hub(error) => error.kind(),
            PlanError::Format(error) => error.kind(),
            PlanError::Shards(error) => error.kind(),
            PlanError::Detect(DetectError::NoPositionalEmbedding { .. }) => ErrorKind::NoEmbedding,
            PlanError::Detect(DetectError::NotFound { .. }) => ErrorKind::MissingTensor,
            PlanError::Detect(_) => ErrorKind::BadTensor,
            PlanError::Offline(OfflineError::Unreachable { .. }) => ErrorKind::Network,
            PlanError::Offline(_) => ErrorKind::NotOffline,
            PlanError::Transfer(error) => error.kind(),
            PlanError::WrongAnswer { .. } => ErrorKind::BadAnswer,
        })
    }
}

/// What a plan says next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step<T, E> {
    /// Perform this read and feed its answer back.
    Read(Read),
    /// The plan is done.
    Done(Box<T>),
    /// The plan stopped.
    Failed(PlanError<E>),
}

/// Where the rest of an opened file's bytes are read from.
#[derive(Debug, Clone, PartialEq)]
pub enum FileLocation {
    /// A Hub file, by ranged GETs at `url` (pinned to a commit when one is known).
    Network {
        /// The file's URL.
        url: String,
    },
    /// Saved entries in storage; no network (except, online, for a tensor that is not saved:
    /// [`saved_hub_url`]).
    Saved {
        /// The saved entries of this file.
        entries: Vec<SavedEntry>,
    },
    /// Where the shell found the file (a local file, the sample in memory).
    Shell,
}

/// What reading a file's header concluded.
#[derive(Debug, Clone, PartialEq)]
pub struct HeaderRead {
    /// The parsed header.
    pub header: Header,
    /// The whole file's size, when known.
    pub file_len_bytes: Option<u64>,
    /// The commit that served the header, when reported.
    pub commit: Option<String>,
    /// The file version both reads came from.
    pub identity: FileIdentity,
    /// The raw first `8 + N` bytes (length prefix and header).
    pub prefix_bytes: Vec<u8>,
}

/// What a [`HeaderPlan`] says after a read.
#[derive(Debug, Clone, PartialEq)]
pub enum HeaderStep {
    /// Read this range next.
    Read(Range<u64>, ReadWhat),
    /// The header is read.
    Done(HeaderRead),
}

/// Reading a safetensors header: the 8-byte length prefix, then exactly the header's bytes,
/// from one version of the file.
#[derive(Debug, Clone)]
pub struct HeaderPlan {
    /// The file's size, when known before any read.
    known_len_bytes: Option<u64>,
    /// The file's URL, for a changed-file message (empty for local files).
    url: String,
    /// The prefix's answer, once read.
    prefix: Option<Received>,
}

impl HeaderPlan {
    /// A header read of a file of `known_len_bytes` (when known) at `url` (for messages).
    pub fn new(known_len_bytes: Option<u64>, url: &str) -> Self {
        HeaderPlan {
            known_len_bytes,
            url: url.to_owned(),
            prefix: None,
        }
    }

    /// The first read: the length prefix.
    pub fn start(&self) -> (Range<u64>, ReadWhat) {
        (0..LEN_PREFIX_BYTES, ReadWhat::Prefix)
    }

    /// Feeds a read's bytes: the next range to read, or the header.
    ///
    /// # Errors
    /// A [`FormatError`] for bytes that are not a safetensors header, a [`TransferError`]
    /// when the two reads came from different versions of the file.
    pub fn feed<E>(&mut self, received: Received) -> Result<HeaderStep, PlanError<E>> {
        let Some(prefix) = self.prefix.take() else {
            let file_len_bytes = received.file_len_bytes.or(self.known_len_bytes);
            let header_len = format::header_len_from_prefix(&received.bytes, file_len_bytes)?;
            let next = format::header_byte_range(header_len);
            self.prefix = Some(received);
            return Ok(HeaderStep::Read(next, ReadWhat::Header));
        };
        let file_len_bytes = prefix.file_len_bytes.or(self.known_len_bytes);
        transfer::check_same_file(&self.url, &prefix.identity, &received.identity)?;
        let header = format::parse_header(&received.bytes, file_len_bytes)?;
        let identity = prefix.identity.merged_with(&received.identity);
        let mut prefix_bytes = prefix.bytes;
        prefix_bytes.extend_from_slice(&received.bytes);
        Ok(HeaderStep::Done(HeaderRead {
            header,
            file_len_bytes,
            commit: prefix.repo_commit.or(received.repo_commit),
            identity,
            prefix_bytes,
        }))
    }
}

/// Reads a header from bytes already in memory (a saved prefix, the sample) with [`HeaderPlan`].
///
/// # Errors
/// As [`HeaderPlan::feed`], and [`FormatError::TooShort`] when the bytes end early.
pub fn header_from_memory<E>(
    bytes: &[u8],
    known_len_bytes: Option<u64>,
) -> Result<HeaderRead, PlanError<E>> {
    let mut plan = HeaderPlan::new(known_len_bytes, "");
    let (mut range, _) = plan.start();
    loop {
        let start = usize::try_from(range.start).unwrap_or(usize::MAX);
        let end = usize::try_from(range.end).unwrap_or(usize::MAX);
        let slice = bytes.get(start..end).ok_or(FormatError::TooShort {
            len_bytes: bytes.len() as u64,
        })?;
        match plan.feed(Received::bytes(slice.to_vec()))? {
            HeaderStep::Read(next, _) => range = next,
            HeaderStep::Done(read) => return Ok(read),
        }
    }
}

/// The weights file of a repository, in order of preference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeightsFile {
    /// One safetensors file.
    Safetensors(String),
    /// A safetensors shard index.
    SafetensorsIndex(String),
    /// One PyTorch pickle file (`pytorch_model.bin`): no reader yet.
    TorchBin(String),
    /// A PyTorch shard index: no reader yet.
    TorchBinIndex(String),
}

/// Which file formats a plan may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Formats {
    /// Whether PyTorch `.bin` files are chosen when a revision has no safetensors weights.
    pub torch_bin: bool,
}

/// Chooses the weights file from a revision's file list (see [`hub::choose_weights_file`]):
/// `model.safetensors`, then its index, then, when `formats` allows it, `pytorch_model.bin`
/// and then its index. Without a list, the requested file or `model.safetensors` (whose 404
/// the plan follows with the index).
///
/// # Errors
/// The [`HubError`] of [`hub::choose_weights_file`] when nothing fits.
pub fn choose_file(
    files: Option<&[String]>,
    requested: Option<&str>,
    formats: Formats,
) -> Result<WeightsFile, HubError> {
    let Some(files) = files else {
        return Ok(match requested {
            Some(path) if path.ends_with(".index.json") => {
                WeightsFile::SafetensorsIndex(path.to_owned())
            }
            Some(path) => WeightsFile::Safetensors(path.to_owned()),
            None => WeightsFile::Safetensors(hub::SINGLE_WEIGHTS_FILE.to_owned()),
        });
    };
    match hub::choose_weights_file(files, requested) {
        Ok(WeightsChoice::Single(path)) => Ok(WeightsFile::Safetensors(path)),
        Ok(WeightsChoice::Sharded { index_file }) => Ok(WeightsFile::SafetensorsIndex(index_file)),
        Err(err) => {
            let has = |name: &str| files.iter().any(|file| file == name);
            if formats.torch_bin && requested.is_none() {
                if has(TORCH_WEIGHTS_FILE) {
                    return Ok(WeightsFile::TorchBin(TORCH_WEIGHTS_FILE.to_owned()));
                }
                if has(TORCH_INDEX_FILE) {
                    return Ok(WeightsFile::TorchBinIndex(TORCH_INDEX_FILE.to_owned()));
                }
            }
            Err(err)
        }
    }
}

/// What a plan concluded: an open file, its header, and where its other bytes are.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedFile {
    /// Where the bytes came from.
    pub origin: Origin,
    /// Where the rest of the file's bytes are read from.
    pub location: FileLocation,
    /// The file's path in the repository, or its name.
    pub file_path: String,
    /// The commit the Hub served (40 hex digits), when known.
    pub commit_sha: Option<String>,
    /// What the header read concluded.
    pub read: HeaderRead,
    /// The tensor a shard index chose, when the file is a shard.
    pub shard_tensor: Option<String>,
    /// The repository's file list at the commit (when the revision listing answered).
    pub repo_files: Vec<String>,
    /// "offline: showing commit … cached on …", when a branch was answered from storage offline.
    pub offline_note: Option<String>,
}

impl PlannedFile {
    /// The URL the tensor's bytes are read from (network files only).
    pub fn tensor_url(&self) -> Option<&str> {
        match &self.location {
            FileLocation::Network { url } => Some(url),
            FileLocation::Saved { .. } | FileLocation::Shell => None,
        }
    }
}

/// Opens the file of saved entries from their stored prefix (no request).
///
/// # Errors
/// [`FormatError::Empty`] without entries, or a damaged saved header.
pub fn saved_file<E>(prefix: &[u8], entries: Vec<SavedEntry>) -> Result<PlannedFile, PlanError<E>> {
    let Some(first) = entries.first().cloned() else {
        return Err(FormatError::Empty.into());
    };
    let read = header_from_memory(prefix, Some(first.file_len_bytes))?;
    let commit_sha = (first.key.origin == Origin::Hub).then(|| first.key.commit_sha.clone());
    Ok(PlannedFile {
        origin: first.key.origin,
        location: FileLocation::Saved { entries },
        file_path: first.key.file_path.clone(),
        commit_sha,
        read,
        shard_tensor: None,
        repo_files: first.repo_files,
        offline_note: None,
    })
}

/// The Hub URL of the file saved Hub entries come from, at their commit: where a tensor of
/// that file that was not saved is read from, when the network is there.
pub fn saved_hub_url(entries: &[SavedEntry]) -> Option<String> {
    let first = entries.first()?;
    (first.key.origin == Origin::Hub).then(|| {
        hub::resolve_url(
            &first.key.hub,
            &first.key.repo,
            &first.key.commit_sha,
            &first.key.file_path,
        )
    })
}

/// The byte range of a tensor's read, with the size cap checked before any byte is asked for.
///
/// # Errors
/// [`FormatError::MissingTensor`], [`FormatError::TensorTooLarge`] and the other errors of
/// [`format::plan_tensor_read`].
pub fn tensor_range(header: &Header, view: &MatrixView) -> Result<Range<u64>, FormatError> {
    let entry = header.tensor(&view.tensor_name)?;
    format::plan_tensor_read(entry, MAX_TENSOR_BYTES)
}

/// Picks the matrix to analyse: the named tensor, else the tensor a shard index chose, else the
/// detected positional embedding.
///
/// # Errors
/// [`DetectError`] when the named tensor is unsuitable or nothing is detected.
pub fn choose_matrix(
    header: &Header,
    tensor: Option<&str>,
    shard_tensor: Option<&str>,
) -> Result<MatrixView, DetectError> {
    match tensor.or(shard_tensor) {
        Some(name) => detect::matrix_view(header, name),
        None => detect::detect_positional_embedding(header),
    }
}
