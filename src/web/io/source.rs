//! Where the weights come from: the Hub (by byte ranges), a local file, or the built-in
//! sample, and the pipeline that turns any of them into one tensor's bytes.
//!
//! Order of work for the Hub: resolve the revision to a commit and a file list, choose
//! `model.safetensors` or the shard holding the tensor, read the 8-byte header length, read
//! the header, pick the matrix, then read only that tensor's bytes. Every request after the
//! first is made at the resolved commit, so all bytes come from one commit.

use std::cell::Cell;
use std::ops::Range;
use std::rc::Rc;

use js_sys::Uint8Array;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, File};

use crate::pure::common::{ErrorKind, MAX_TENSOR_BYTES};
use crate::pure::source::detect::{self, DetectError, MatrixView};
use crate::pure::source::format::{self, FormatError, Header, LEN_PREFIX_BYTES};
use crate::pure::source::hub::{self, HubError, WeightsChoice};
use crate::pure::source::shards::{self, ShardError};
use crate::pure::source::transfer::{self, FileIdentity};
use crate::web::platform::fetch::{self, FetchError, Fetched, RequestContext, WholeStream};
use crate::web::platform::js::js_error_text;

/// The built-in sample: the all-MiniLM-L6-v2 positional embedding, copied into the build.
pub const SAMPLE_URL: &str = "./minilm_position_embeddings.safetensors";

/// The sample's display name.
pub const SAMPLE_LABEL: &str = "Built-in sample: sentence-transformers/all-MiniLM-L6-v2";

/// Everything that can go wrong while opening a source or reading a tensor.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SourceError {
    /// A request failed.
    #[error("{0}")]
    Fetch(#[from] FetchError),
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
    Offline(#[from] crate::pure::source::offline::OfflineError),
    /// The browser could not read the local file.
    #[error("The browser could not read the local file `{name}` ({detail}). Pick the file again.")]
    LocalRead {
        /// The file's name.
        name: String,
        /// What the browser reported.
        detail: String,
    },
}

impl SourceError {
    /// Returns true when the user cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, SourceError::Fetch(FetchError::Cancelled))
    }

    /// The kind the page shows for this failure (`[data-testid=error]`'s `data-kind`).
    pub fn kind(&self) -> ErrorKind {
        match self {
            SourceError::Fetch(error) => error.kind(),
            SourceError::Hub(error) => error.kind(),
            SourceError::Format(error) => error.kind(),
            SourceError::Shards(error) => error.kind(),
            SourceError::Detect(DetectError::NoPositionalEmbedding { .. }) => {
                ErrorKind::NoEmbedding
            }
            SourceError::Detect(DetectError::NotFound { .. }) => ErrorKind::MissingTensor,
            SourceError::Detect(_) => ErrorKind::BadTensor,
            SourceError::LocalRead { .. } => ErrorKind::LocalRead,
            SourceError::Offline(crate::pure::source::offline::OfflineError::Unreachable {
                ..
            }) => ErrorKind::Network,
            SourceError::Offline(_) => ErrorKind::NotOffline,
        }
    }

    /// Returns true when the server could not be reached at all (offline, DNS, CORS).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            SourceError::Fetch(FetchError::Hub(HubError::Network { .. }))
                | SourceError::Hub(HubError::Network { .. })
        )
    }
}

/// Where a file's bytes are read from once it is open.
#[derive(Debug, Clone)]
pub enum ByteSource {
    /// A file on a Hub, read by ranged GETs at `url`.
    Hub {
        /// The repository, for error messages.
        repo: String,
        /// The resolve URL, pinned to a commit when one is known.
        url: String,
    },
    /// A file the user picked; read with `Blob.slice`, no network.
    Local {
        /// The picked file.
        file: File,
    },
    /// A file already in memory (the built-in sample).
    Memory {
        /// The whole file.
        bytes: Rc<Vec<u8>>,
    },
    /// Entries saved for offline use: the file's prefix and header in memory, and the saved
    /// tensors in the browser's storage (read by [`crate::web::io::saved`]), no network.
    Saved {
        /// The first `8 + N` bytes of the file (length prefix and header).
        prefix: Rc<Vec<u8>>,
        /// The saved tensors of this file.
        entries: Vec<crate::pure::source::offline::SavedEntry>,
    },
}

/// An open safetensors file: its source, header and the matrices it offers.
#[derive(Debug, Clone)]
pub struct OpenedFile {
    /// Where to read more bytes.
    pub source: ByteSource,
    /// The file's path in the repository, or its local name.
    pub file_path: String,
    /// The whole file's size, when known.
    pub file_len_bytes: Option<u64>,
    /// The commit the Hub served (40 hex digits), when known.
    pub commit_sha: Option<String>,
    /// The parsed header.
    pub header: Header,
    /// Every 2-D float tensor, for the picker.
    pub candidates: Vec<MatrixView>,
    /// The tensor a shard index chose, when the file is a shard.
    pub shard_tensor: Option<String>,
    /// The file's first `8 + N` bytes (length prefix and header), kept for offline use.
    pub header_prefix: Rc<Vec<u8>>,
    /// The repository's file list at the commit (Hub files, when the revision API answered).
    pub repo_files: Vec<String>,
    /// The file version the header was read from (`ETag`, size); the tensor must match it.
    pub identity: FileIdentity,
}

/// Receives `(step label, bytes received, bytes needed)` for the current request.
pub type ProgressCallback = Rc<dyn Fn(&str, u64, u64)>;

/// Receives a short note about a transfer (a retry, a resume, a whole-file download).
pub type NoteCallback = Rc<dyn Fn(&str)>;

/// Shared state for the requests of one run: cancellation, byte counting and progress.
pub struct RunContext {
    /// Aborts every request of the run.
    pub signal: AbortSignal,
    /// The repository, for error messages.
    pub repo: String,
    /// Bytes received over the network so far in this run.
    pub network_bytes: Rc<Cell<u64>>,
    /// Receives `(step label, bytes received, bytes needed)` for the current request.
    pub on_progress: ProgressCallback,
    /// Receives notes about retries, resumes and whole-file downloads.
    pub on_note: NoteCallback,
    /// The open answer of a server that ignored `Range`, continued by the next read of the
    /// same file instead of a new download from byte 0. Dropped (and so cancelled) with the run.
    pub whole_stream: Cell<Option<WholeStream>>,
}

impl RunContext {
    /// Runs one whole-file GET, counting its bytes.
    async fn get_whole(&self, url: &str, label: &str) -> Result<Fetched, FetchError> {
        let on_progress = |received: u64| (self.on_progress)(label, received, received);
        let on_note = |note: &str| (self.on_note)(note);
        let ctx = RequestContext {
            signal: &self.signal,
            repo: &self.repo,
            on_progress: &on_progress,
            on_bytes: &|_| {},
            on_note: &on_note,
        };
        let outcome = fetch::fetch_whole(url, &ctx).await;
        if let Ok(fetched) = &outcome {
            self.count(fetched.received_bytes);
        }
        outcome
    }

    /// Runs one ranged GET, counting its bytes.
    async fn get_range(
        &self,
        url: &str,
        range: &Range<u64>,
        label: &str,
        on_bytes: &dyn Fn(&[u8]),
    ) -> Result<Fetched, FetchError> {
        let needed = range.end.saturating_sub(range.start);
        let on_progress = |received: u64| (self.on_progress)(label, received.min(needed), needed);
        let on_note = |note: &str| (self.on_note)(note);
        (self.on_progress)(label, 0, needed);
        let ctx = RequestContext {
            signal: &self.signal,
            repo: &self.repo,
            on_progress: &on_progress,
            on_bytes,
            on_note: &on_note,
        };
        // Continue an open whole-file answer for this file rather than starting again at 0.
        let stream = self
            .whole_stream
            .take()
            .filter(|open| open.url() == url && open.position_byte() <= range.start);
        if let Some(open) = &stream {
            if range.start.saturating_sub(open.position_byte()) >= WHOLE_STREAM_NOTE_BYTES {
                (self.on_note)(&transfer::whole_stream_note(
                    range.end,
                    open.position_byte(),
                ));
            }
        }
        let outcome = fetch::fetch_range_continuing(url, range, &ctx, stream).await;
        match outcome {
            Ok((fetched, rest)) => {
                self.count(fetched.received_bytes);
                if rest.is_some() && range.start >= WHOLE_STREAM_NOTE_BYTES {
                    (self.on_note)(&transfer::whole_stream_note(range.end, 0));
                }
                self.whole_stream.set(rest);
                Ok(fetched)
            }
            Err(error) => Err(error),
        }
    }

    /// Stops a whole-file download kept open for a later read.
    fn drop_whole_stream(&self) {
        drop(self.whole_stream.take());
    }

    /// Adds bytes to the run's network total.
    fn count(&self, len_bytes: u64) {
        self.network_bytes
            .set(self.network_bytes.get().saturating_add(len_bytes));
    }
}

/// A server that ignores `Range` makes the app read this many bytes or more before the
/// wanted ones: worth a note saying how much must be downloaded.
const WHOLE_STREAM_NOTE_BYTES: u64 = 1024 * 1024;

/// Bytes read from a source, with what the answer said about the file.
struct RangeRead {
    /// The requested bytes.
    bytes: Vec<u8>,
    /// The whole file's size, when reported.
    file_len_bytes: Option<u64>,
    /// The commit the Hub served, when reported.
    repo_commit: Option<String>,
    /// The file version that answered.
    identity: FileIdentity,
}

/// Reads `range` from a source. A read from the Hub hands `on_bytes` the bytes received so far
/// after each chunk (the other sources give theirs at once, when the read returns).
async fn read_range(
    source: &ByteSource,
    range: &Range<u64>,
    label: &str,
    run: &RunContext,
    on_bytes: &dyn Fn(&[u8]),
) -> Result<RangeRead, SourceError> {
    match source {
        ByteSource::Hub { url, .. } => {
            let fetched = run.get_range(url, range, label, on_bytes).await?;
            Ok(RangeRead {
                bytes: fetched.bytes,
                file_len_bytes: fetched.file_len_bytes,
                repo_commit: fetched.repo_commit,
                identity: fetched.identity,
            })
        }
        ByteSource::Local { file } => {
            let read_error = |detail: String| SourceError::LocalRead {
                name: file.name(),
                detail,
            };
            // f64 holds byte offsets exactly up to 2^53, far beyond any real file.
            #[allow(clippy::cast_precision_loss)]
            let blob = file
                .slice_with_f64_and_f64(range.start as f64, range.end as f64)
                .map_err(|err| read_error(js_error_text(&err)))?;
            let buffer = JsFuture::from(blob.array_buffer())
                .await
                .map_err(|err| read_error(js_error_text(&err)))?;
            let bytes = Uint8Array::new(&buffer).to_vec();
            let needed = range.end.saturating_sub(range.start);
            (run.on_progress)(label, bytes.len() as u64, needed);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let file_len_bytes = Some(file.size() as u64);
            Ok(RangeRead {
                bytes,
                file_len_bytes,
                repo_commit: None,
                identity: FileIdentity::new(None, file_len_bytes),
            })
        }
        ByteSource::Saved { prefix, entries } => {
            let bytes = match crate::web::io::saved::read_saved_range(prefix, entries, range).await
            {
                Ok(bytes) => bytes,
                Err(err) => {
                    // A tensor of a saved Hub file that was not saved itself: read it from
                    // the Hub at the same commit when the network is there.
                    let Some(url) = crate::web::io::saved::hub_url_of(entries) else {
                        return Err(err);
                    };
                    match run.get_range(&url, range, label, &|_| {}).await {
                        Ok(fetched) => fetched.bytes,
                        Err(FetchError::Cancelled) => return Err(FetchError::Cancelled.into()),
                        Err(_) => return Err(err),
                    }
                }
            };
            let needed = range.end.saturating_sub(range.start);
            (run.on_progress)(label, bytes.len() as u64, needed);
            let file_len_bytes = entries.first().map(|entry| entry.file_len_bytes);
            Ok(RangeRead {
                bytes,
                file_len_bytes,
                repo_commit: None,
                identity: FileIdentity::new(None, file_len_bytes),
            })
        }
        ByteSource::Memory { bytes } => {
            let start = usize::try_from(range.start).unwrap_or(usize::MAX);
            let end = usize::try_from(range.end).unwrap_or(usize::MAX);
            let slice = bytes.get(start..end).ok_or(FormatError::TooShort {
                len_bytes: bytes.len() as u64,
            })?;
            Ok(RangeRead {
                bytes: slice.to_vec(),
                file_len_bytes: Some(bytes.len() as u64),
                repo_commit: None,
                identity: FileIdentity::new(None, Some(bytes.len() as u64)),
            })
        }
    }
}

/// What [`read_header`] learnt: the header, the file size, the commit and the file version.
struct HeaderRead {
    /// The parsed header.
    header: Header,
    /// The whole file's size, when known.
    file_len_bytes: Option<u64>,
    /// The commit that served it, when reported.
    commit: Option<String>,
    /// The file version that answered both reads.
    identity: FileIdentity,
    /// The raw first `8 + N` bytes, kept for offline use.
    prefix_bytes: Vec<u8>,
}

/// Reads and parses the header: the 8-byte length prefix, then exactly the header bytes.
async fn read_header(
    source: &ByteSource,
    known_len_bytes: Option<u64>,
    run: &RunContext,
) -> Result<HeaderRead, SourceError> {
    let prefix = read_range(
        source,
        &(0..LEN_PREFIX_BYTES),
        "Reading the header length",
        run,
        &|_| {},
    )
    .await?;
    let file_len_bytes = prefix.file_len_bytes.or(known_len_bytes);
    let header_len_bytes = format::header_len_from_prefix(&prefix.bytes, file_len_bytes)?;
    let header_range = format::header_byte_range(header_len_bytes);
    let header_read = read_range(source, &header_range, "Reading the header", run, &|_| {}).await?;
    transfer::check_same_file(source_url(source), &prefix.identity, &header_read.identity)
        .map_err(FetchError::from)?;
    let header = format::parse_header(&header_read.bytes, file_len_bytes)?;
    let commit = prefix.repo_commit.or(header_read.repo_commit);
    let identity = prefix.identity.merged_with(&header_read.identity);
    let mut prefix_bytes = prefix.bytes;
    prefix_bytes.extend_from_slice(&header_read.bytes);
    Ok(HeaderRead {
        header,
        file_len_bytes,
        commit,
        identity,
        prefix_bytes,
    })
}

/// The URL of a Hub source, or the empty string for local, in-memory and saved ones.
fn source_url(source: &ByteSource) -> &str {
    match source {
        ByteSource::Hub { url, .. } => url,
        ByteSource::Local { .. } | ByteSource::Memory { .. } | ByteSource::Saved { .. } => "",
    }
}

/// Builds an [`OpenedFile`] once the header is known.
fn opened(
    source: ByteSource,
    file_path: String,
    commit_sha: Option<String>,
    read: HeaderRead,
) -> OpenedFile {
    let candidates = detect::matrix_candidates(&read.header);
    OpenedFile {
        source,
        file_path,
        file_len_bytes: read.file_len_bytes,
        commit_sha,
        header: read.header,
        candidates,
        shard_tensor: None,
        header_prefix: Rc::new(read.prefix_bytes),
        repo_files: Vec::new(),
        identity: read.identity,
    }
}

/// Opens a file from entries saved for offline use: its header from the saved prefix, its
/// tensors from storage. Makes no request.
///
/// # Errors
/// A damaged saved header ([`FormatError`]).
pub async fn open_saved(
    prefix: Rc<Vec<u8>>,
    entries: Vec<crate::pure::source::offline::SavedEntry>,
    run: &RunContext,
) -> Result<OpenedFile, SourceError> {
    let Some(first) = entries.first().cloned() else {
        return Err(FormatError::Empty.into());
    };
    let source = ByteSource::Saved {
        prefix: Rc::clone(&prefix),
        entries,
    };
    let read = read_header(&source, Some(first.file_len_bytes), run).await?;
    let commit = match first.key.origin {
        crate::pure::source::offline::EntryOrigin::Hub => Some(first.key.commit_sha.clone()),
        _ => None,
    };
    let mut file = opened(source, first.key.file_path.clone(), commit, read);
    file.repo_files = first.repo_files;
    Ok(file)
}

/// Which Hub file to read and at which revision.
pub struct HubRequest<'a> {
    /// The Hub address.
    pub hub: &'a str,
    /// The repository id.
    pub repo: &'a str,
    /// The revision asked for.
    pub rev: &'a str,
    /// The file asked for, if any.
    pub file: Option<&'a str>,
    /// The tensor asked for, if any (needed to pick a shard).
    pub tensor: Option<&'a str>,
}

/// Opens a safetensors file on a Hub and reads its header.
///
/// # Errors
/// See [`SourceError`].
pub async fn open_hub(
    request: &HubRequest<'_>,
    run: &RunContext,
) -> Result<OpenedFile, SourceError> {
    let resolved = resolve_revision(request, run).await?;
    open_hub_resolved(request, resolved.info, run).await
}

/// What the revision call said.
#[derive(Debug, Clone, PartialEq)]
pub struct RevisionOutcome {
    /// The commit and file list, when the call answered usefully.
    pub info: Option<hub::RevisionInfo>,
    /// True when the server could not be reached at all (offline, DNS, CORS).
    pub unreachable: bool,
    /// What went wrong, when the call failed.
    pub failure: Option<String>,
}

/// Asks the Hub which commit the requested revision is, and which files it has (one small
/// request). A failure other than cancellation is not an error here: the file URLs and
/// their `X-Repo-Commit` header are the fallback.
///
/// # Errors
/// Only [`FetchError::Cancelled`].
pub async fn resolve_revision(
    request: &HubRequest<'_>,
    run: &RunContext,
) -> Result<RevisionOutcome, SourceError> {
    let api_url = hub::revision_api_url(request.hub, request.repo, request.rev);
    match run.get_whole(&api_url, "Resolving the revision").await {
        Ok(fetched) => Ok(RevisionOutcome {
            info: hub::parse_revision_info(&fetched.bytes).ok(),
            unreachable: false,
            failure: None,
        }),
        Err(FetchError::Cancelled) => Err(FetchError::Cancelled.into()),
        // The Hub answers 401 to anonymous visitors for a repository that does not exist (or
        // is private): say so, rather than calling it gated.
        Err(FetchError::Hub(HubError::Gated { status, url, repo })) => {
            Err(HubError::RepoNotFound { status, url, repo }.into())
        }
        Err(err) => {
            let err = SourceError::from(err);
            Ok(RevisionOutcome {
                info: None,
                unreachable: err.is_unreachable(),
                failure: Some(err.to_string()),
            })
        }
    }
}

/// Opens the Hub file once the revision call has answered (or failed): see [`open_hub`].
///
/// # Errors
/// See [`SourceError`].
pub async fn open_hub_resolved(
    request: &HubRequest<'_>,
    info: Option<hub::RevisionInfo>,
    run: &RunContext,
) -> Result<OpenedFile, SourceError> {
    let repo_files = info
        .as_ref()
        .map(|info| info.files.clone())
        .unwrap_or_default();
    let mut file = open_hub_chosen(request, info, run).await?;
    file.repo_files = repo_files;
    Ok(file)
}

/// Chooses the weights file (single or sharded) and opens it.
async fn open_hub_chosen(
    request: &HubRequest<'_>,
    info: Option<hub::RevisionInfo>,
    run: &RunContext,
) -> Result<OpenedFile, SourceError> {
    let commit_sha = info.as_ref().map(|info| info.sha.clone());
    let pinned_rev = commit_sha.clone().unwrap_or_else(|| request.rev.to_owned());

    let choice = match &info {
        Some(info) => hub::choose_weights_file(&info.files, request.file)?,
        None => match request.file {
            Some(path) if path.ends_with(".index.json") => WeightsChoice::Sharded {
                index_file: path.to_owned(),
            },
            Some(path) => WeightsChoice::Single(path.to_owned()),
            None => WeightsChoice::Single(hub::SINGLE_WEIGHTS_FILE.to_owned()),
        },
    };

    let single_path = match &choice {
        WeightsChoice::Single(path) => Some(path.clone()),
        WeightsChoice::Sharded { .. } => None,
    };
    if let Some(path) = single_path {
        let outcome = open_hub_file(request, &pinned_rev, &path, commit_sha.clone(), run).await;
        let missing = matches!(
            outcome,
            Err(SourceError::Fetch(FetchError::Hub(
                HubError::NotFound { .. }
            )))
        );
        // Without the file list, a missing model.safetensors may mean a sharded model.
        if !(missing && info.is_none() && request.file.is_none()) {
            return outcome;
        }
        let sharded = open_sharded(
            request,
            &pinned_rev,
            hub::SHARDED_INDEX_FILE,
            commit_sha,
            run,
        )
        .await;
        // Report the original 404 if the index is missing too.
        return match sharded {
            Err(SourceError::Fetch(FetchError::Hub(HubError::NotFound { .. }))) => outcome,
            other => other,
        };
    }
    let index_file = choice.path().to_owned();
    open_sharded(request, &pinned_rev, &index_file, commit_sha, run).await
}

/// Reads a shard index, picks the shard holding the tensor, and opens that shard.
async fn open_sharded(
    request: &HubRequest<'_>,
    pinned_rev: &str,
    index_file: &str,
    commit_sha: Option<String>,
    run: &RunContext,
) -> Result<OpenedFile, SourceError> {
    let index_url = hub::resolve_url(request.hub, request.repo, pinned_rev, index_file);
    let fetched = run.get_whole(&index_url, "Reading the shard index").await?;
    let commit_sha = commit_sha.or(fetched.repo_commit.clone());
    let pinned_rev = commit_sha.clone().unwrap_or_else(|| pinned_rev.to_owned());
    let index = shards::parse_shard_index(&fetched.bytes)?;
    let tensor_name = match request.tensor {
        Some(name) => name.to_owned(),
        None => detect::detect_positional_name(index.tensor_names())
            .map(str::to_owned)
            .ok_or_else(|| DetectError::NoPositionalEmbedding {
                candidates: index.tensor_names().map(str::to_owned).collect(),
            })?,
    };
    let shard = index
        .shard_for(&tensor_name)
        .ok_or_else(|| FormatError::MissingTensor {
            name: tensor_name.clone(),
            available: index.tensor_names().take(12).map(str::to_owned).collect(),
        })?
        .to_owned();
    // The index already names a directory-free shard (validated by the core); keep the
    // index's folder, if any.
    let shard_path = match index_file.rsplit_once('/') {
        Some((folder, _)) => format!("{folder}/{shard}"),
        None => shard,
    };
    let mut file = open_hub_file(request, &pinned_rev, &shard_path, commit_sha, run).await?;
    file.shard_tensor = Some(tensor_name);
    Ok(file)
}

/// Opens one safetensors file on the Hub by its path and reads its header.
async fn open_hub_file(
    request: &HubRequest<'_>,
    rev: &str,
    path: &str,
    commit_sha: Option<String>,
    run: &RunContext,
) -> Result<OpenedFile, SourceError> {
    let url = hub::resolve_url(request.hub, request.repo, rev, path);
    let source = ByteSource::Hub {
        repo: request.repo.to_owned(),
        url,
    };
    let read = read_header(&source, None, run).await?;
    let commit_sha = commit_sha.or(read.commit.clone().filter(|sha| hub::is_commit_sha(sha)));
    // Read the tensor at the commit that served the header, so all bytes match.
    let source = match &commit_sha {
        Some(sha) if sha != rev => ByteSource::Hub {
            repo: request.repo.to_owned(),
            url: hub::resolve_url(request.hub, request.repo, sha, path),
        },
        _ => source,
    };
    Ok(opened(source, path.to_owned(), commit_sha, read))
}

/// Opens a local file picked by the user; reads only its header (no network).
///
/// # Errors
/// See [`SourceError`].
pub async fn open_local(file: File, run: &RunContext) -> Result<OpenedFile, SourceError> {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let file_len_bytes = file.size() as u64;
    if file_len_bytes == 0 {
        return Err(FormatError::Empty.into());
    }
    let name = file.name();
    let source = ByteSource::Local { file };
    let read = read_header(&source, Some(file_len_bytes), run).await?;
    Ok(opened(source, name, None, read))
}

/// Downloads the built-in sample (a small static file in the build) and reads its header.
///
/// # Errors
/// See [`SourceError`].
pub async fn open_sample(run: &RunContext) -> Result<OpenedFile, SourceError> {
    let fetched = run.get_whole(SAMPLE_URL, "Downloading the sample").await?;
    let bytes = Rc::new(fetched.bytes);
    let file_len_bytes = Some(bytes.len() as u64);
    let source = ByteSource::Memory { bytes };
    let read = read_header(&source, file_len_bytes, run).await?;
    Ok(opened(
        source,
        "minilm_position_embeddings.safetensors".to_owned(),
        None,
        read,
    ))
}

/// Picks the matrix to analyse: the named tensor, or the detected positional embedding.
///
/// # Errors
/// [`DetectError`] when the named tensor is unsuitable or nothing is detected.
pub fn choose_matrix(file: &OpenedFile, tensor: Option<&str>) -> Result<MatrixView, SourceError> {
    let name = tensor.or(file.shard_tensor.as_deref());
    let view = match name {
        Some(name) => detect::matrix_view(&file.header, name)?,
        None => detect::detect_positional_embedding(&file.header)?,
    };
    Ok(view)
}

/// Reads only the chosen tensor's bytes. From the Hub, `on_bytes` is handed the bytes received
/// so far after each chunk (a prefix of the tensor that only grows), before the read's checks:
/// only the returned bytes are known to be whole and of the header's version of the file.
///
/// # Errors
/// [`FormatError::TensorTooLarge`] above the size cap, or a read failure.
pub async fn read_tensor(
    file: &OpenedFile,
    view: &MatrixView,
    run: &RunContext,
    on_bytes: &dyn Fn(&[u8]),
) -> Result<Vec<u8>, SourceError> {
    let entry = file.header.tensor(&view.tensor_name)?;
    // The size cap is checked here, before any of the tensor's bytes are asked for.
    let range = format::plan_tensor_read(entry, MAX_TENSOR_BYTES)?;
    let outcome = read_range(
        &file.source,
        &range,
        "Downloading the tensor",
        run,
        on_bytes,
    )
    .await;
    // Nothing else will be read from this file in this run: stop any whole-file download.
    run.drop_whole_stream();
    let read = outcome?;
    // Never analyse a tensor from another version of the file than its header.
    transfer::check_same_file(source_url(&file.source), &file.identity, &read.identity)
        .map_err(FetchError::from)?;
    Ok(read.bytes)
}
