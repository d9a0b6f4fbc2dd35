//! Where the weights come from: the Hub (by byte ranges), a local file, or the built-in
//! sample, and the reads that turn any of them into one tensor's bytes.
//!
//! Which read comes next, and what the reads concluded, is decided by the core's read plan
//! ([`crate::pure::source::plan`]): the saved entries first, then the revision listing, the
//! weights file (or shard index), the 8-byte header length, the header, and the tensor's
//! bytes, every request after the first at the resolved commit. This module performs the
//! reads the plan asks for (a `fetch`, the saved entries through [`saved`], a local `File`)
//! and feeds the answers back.

use std::cell::Cell;
use std::ops::Range;
use std::rc::Rc;

use js_sys::Uint8Array;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, File};

use crate::pure::common::{Cancelled, ErrorKind};
use crate::pure::source::detect::{DetectError, MatrixView};
use crate::pure::source::format::{FormatError, Header};
use crate::pure::source::hub::{self, HubError};
use crate::pure::source::offline::{self, EntryKey, OfflineError, SavedEntry};
use crate::pure::source::plan::{
    self, Answer, FailureClass, FileLocation, Formats, HeaderPlan, HeaderRead, HeaderStep, HubPlan,
    HubQuery, PlanError, PlannedFile, Read, Received, Step,
};
use crate::pure::source::shards::ShardError;
use crate::pure::source::transfer::{self, FileIdentity};
use crate::pure::source::{detect, Origin};
use crate::web::io::saved;
use crate::web::platform::fetch::{self, FetchError, Fetched, RequestContext, WholeStream};
use crate::web::platform::js::js_error_text;

/// The built-in sample: the all-MiniLM-L6-v2 positional embedding, copied into the build.
pub const SAMPLE_URL: &str = "./minilm_position_embeddings.safetensors";

/// The sample's display name.
pub const SAMPLE_LABEL: &str = "Built-in sample: sentence-transformers/all-MiniLM-L6-v2";

/// Everything that can go wrong while opening a source or reading a tensor.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SourceError {
    /// The user cancelled, or a newer run replaced this one: not a failure.
    #[error("The download was cancelled. Press Analyse to start again.")]
    Cancelled(#[from] Cancelled),
    /// A request failed (never a cancelled one: that is [`SourceError::Cancelled`]).
    #[error("{0}")]
    Fetch(FetchError),
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
    /// The browser could not read the local file.
    #[error("The browser could not read the local file `{name}` ({detail}). Pick the file again.")]
    LocalRead {
        /// The file's name.
        name: String,
        /// What the browser reported.
        detail: String,
    },
}

impl From<FetchError> for SourceError {
    fn from(error: FetchError) -> Self {
        match error {
            FetchError::Cancelled(cancelled) => SourceError::Cancelled(cancelled),
            other => SourceError::Fetch(other),
        }
    }
}

impl From<PlanError<SourceError>> for SourceError {
    fn from(error: PlanError<SourceError>) -> Self {
        match error {
            PlanError::Read(error) => error,
            PlanError::Hub(error) => error.into(),
            PlanError::Format(error) => error.into(),
            PlanError::Shards(error) => error.into(),
            PlanError::Detect(error) => error.into(),
            PlanError::Offline(error) => error.into(),
            PlanError::Transfer(error) => FetchError::from(error).into(),
            PlanError::WrongAnswer { asked } => SourceError::Fetch(FetchError::Browser {
                url: String::new(),
                detail: format!("the answer to `{asked}` did not fit that read"),
            }),
        }
    }
}

impl SourceError {
    /// Returns true when the user cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, SourceError::Cancelled(_))
    }

    /// The kind the page shows for this failure (`[data-testid=error]`'s `data-kind`); none
    /// for a cancelled run, which is not a failure.
    pub fn kind(&self) -> Option<ErrorKind> {
        Some(match self {
            SourceError::Cancelled(_) => return None,
            SourceError::Fetch(error) => return error.kind(),
            SourceError::Hub(error) => error.kind(),
            SourceError::Format(error) => error.kind(),
            SourceError::Shards(error) => error.kind(),
            SourceError::Detect(DetectError::NoPositionalEmbedding { .. }) => {
                ErrorKind::NoEmbedding
            }
            SourceError::Detect(DetectError::NotFound { .. }) => ErrorKind::MissingTensor,
            SourceError::Detect(_) => ErrorKind::BadTensor,
            SourceError::LocalRead { .. } => ErrorKind::LocalRead,
            SourceError::Offline(OfflineError::Unreachable { .. }) => ErrorKind::Network,
            SourceError::Offline(_) => ErrorKind::NotOffline,
        })
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
        entries: Vec<SavedEntry>,
    },
}

impl ByteSource {
    /// Where the bytes came from in the first place (a saved entry: where it was saved from).
    pub fn origin(&self) -> Option<Origin> {
        match self {
            ByteSource::Hub { .. } => Some(Origin::Hub),
            ByteSource::Local { .. } => Some(Origin::Local),
            ByteSource::Memory { .. } => Some(Origin::Sample),
            ByteSource::Saved { entries, .. } => entries.first().map(|entry| entry.key.origin),
        }
    }
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
            let bytes = match saved::read_saved_range(prefix, entries, range).await {
                Ok(bytes) => bytes,
                Err(err) => {
                    // A tensor of a saved Hub file that was not saved itself: read it from
                    // the Hub at the same commit when the network is there.
                    let Some(url) = plan::saved_hub_url(entries) else {
                        return Err(err.into());
                    };
                    match run.get_range(&url, range, label, &|_| {}).await {
                        Ok(fetched) => fetched.bytes,
                        Err(FetchError::Cancelled(cancelled)) => return Err(cancelled.into()),
                        Err(_) => return Err(err.into()),
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

/// Reads and parses the header with the core's [`HeaderPlan`]: the 8-byte length prefix, then
/// exactly the header bytes.
async fn read_header(
    source: &ByteSource,
    known_len_bytes: Option<u64>,
    run: &RunContext,
) -> Result<HeaderRead, SourceError> {
    let mut plan = HeaderPlan::new(known_len_bytes, source_url(source));
    let (mut range, mut what) = plan.start();
    loop {
        let read = read_range(source, &range, what.label(), run, &|_| {}).await?;
        let received = Received {
            bytes: read.bytes,
            file_len_bytes: read.file_len_bytes,
            repo_commit: read.repo_commit,
            identity: read.identity,
        };
        match plan
            .feed::<SourceError>(received)
            .map_err(SourceError::from)?
        {
            HeaderStep::Read(next, next_what) => (range, what) = (next, next_what),
            HeaderStep::Done(header) => return Ok(header),
        }
    }
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

/// Builds an [`OpenedFile`] from what a plan concluded.
fn opened_from_plan(planned: PlannedFile, repo: &str) -> OpenedFile {
    let source = match planned.location {
        FileLocation::Network { url } => ByteSource::Hub {
            repo: repo.to_owned(),
            url,
        },
        FileLocation::Saved { entries } => ByteSource::Saved {
            prefix: Rc::new(planned.read.prefix_bytes.clone()),
            entries,
        },
        // A plan of the Hub never ends here; an empty file stands for it.
        FileLocation::Shell => ByteSource::Memory {
            bytes: Rc::new(Vec::new()),
        },
    };
    let mut file = opened(source, planned.file_path, planned.commit_sha, planned.read);
    file.shard_tensor = planned.shard_tensor;
    file.repo_files = planned.repo_files;
    file
}

/// Opens a saved entry: its header from the saved prefix, its tensors from storage, and every
/// saved entry of the same file (so that the tensor picker can switch between them). Makes no
/// request.
///
/// # Errors
/// [`OfflineError::NotAvailableOffline`] when the entry is gone, or a damaged saved header.
pub async fn open_saved_entry(entry_id: &str) -> Result<OpenedFile, SourceError> {
    let (prefix, entries) = saved::open_entry(entry_id).await?;
    let planned = plan::saved_file::<SourceError>(&prefix, entries)?;
    Ok(opened_from_plan(planned, ""))
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

/// A Hub file, opened from storage when a saved entry answers the request, else from the
/// network; with the note to show when an offline branch link used a saved commit.
pub struct HubOpen {
    /// The open file.
    pub opened: OpenedFile,
    /// "offline: showing commit … cached on …", when that is what happened.
    pub offline_note: Option<String>,
}

/// Opens a safetensors file of a Hub repository and reads its header, following the core's
/// [`HubPlan`]: this function only performs the reads it asks for (the saved entries, the
/// network) and feeds the answers back.
///
/// `on_network_expected` is called when the bytes will most likely come from the network (the
/// run warms up the analysis workers then, so that they load while the requests run).
///
/// # Errors
/// See [`SourceError`]; offline with nothing saved, [`OfflineError::NotAvailableOffline`].
pub async fn open_hub_with_store(
    request: &HubRequest<'_>,
    run: &RunContext,
    on_network_expected: &dyn Fn(),
) -> Result<HubOpen, SourceError> {
    let query = HubQuery {
        hub: request.hub.to_owned(),
        repo: request.repo.to_owned(),
        rev: request.rev.to_owned(),
        file: request.file.map(str::to_owned),
        tensor: request.tensor.map(str::to_owned),
    };
    let index = saved::load_index().await;
    let mut plan = HubPlan::new(query, index, saved::is_online(), Formats::default());
    // Let the analysis workers load while the requests run, unless this branch was saved
    // before: then the bytes most often come from storage, and a stored result needs no worker
    // at all (the run warms them up itself if the tensor has to be fetched after all).
    if plan.expects_network() {
        on_network_expected();
    }
    let mut step = plan.start();
    loop {
        match step {
            Step::Read(read) => {
                let answer = perform(&read, run).await?;
                step = plan.feed(answer);
            }
            Step::Done(planned) => {
                let offline_note = planned.offline_note.clone();
                return Ok(HubOpen {
                    opened: opened_from_plan(*planned, request.repo),
                    offline_note,
                });
            }
            Step::Failed(err) => return Err(err.into()),
        }
    }
}

/// Performs one read of a plan. Only a cancelled run ends it early.
async fn perform(read: &Read, run: &RunContext) -> Result<Answer<SourceError>, Cancelled> {
    let fetched = match read {
        Read::Whole { url, what } => run.get_whole(url, what.label()).await,
        Read::Range { url, range, what } => run.get_range(url, range, what.label(), &|_| {}).await,
        Read::Saved { entry_id } => {
            return Ok(match saved::open_entry(entry_id).await {
                Ok((prefix, entries)) => Answer::Saved {
                    prefix: prefix.to_vec(),
                    entries,
                },
                Err(err) => Answer::Failed {
                    class: FailureClass::Other,
                    error: err.into(),
                },
            })
        }
    };
    match fetched {
        Ok(fetched) => Ok(Answer::Bytes(Received {
            bytes: fetched.bytes,
            file_len_bytes: fetched.file_len_bytes,
            repo_commit: fetched.repo_commit,
            identity: fetched.identity,
        })),
        Err(FetchError::Cancelled(cancelled)) => Err(cancelled),
        Err(err) => {
            let class = match &err {
                FetchError::Hub(HubError::NotFound { .. }) => FailureClass::NotFound,
                FetchError::Hub(HubError::Gated { status, .. }) => {
                    FailureClass::Gated { status: *status }
                }
                FetchError::Hub(HubError::Network { .. }) => FailureClass::Unreachable,
                _ => FailureClass::Other,
            };
            Ok(Answer::Failed {
                class,
                error: err.into(),
            })
        }
    }
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
    Ok(plan::choose_matrix(
        &file.header,
        tensor,
        file.shard_tensor.as_deref(),
    )?)
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
    // The size cap is checked here, before any of the tensor's bytes are asked for.
    let range = plan::tensor_range(&file.header, view)?;
    let outcome = read_range(
        &file.source,
        &range,
        plan::ReadWhat::Tensor.label(),
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

/// The key under which the tensor `tensor_name` of an open Hub file is saved, when the file
/// was read at a known commit; for a file opened from storage, its saved entry's key.
pub fn entry_key_for(
    opened: &OpenedFile,
    hub_endpoint: &str,
    repo: &str,
    tensor_name: &str,
) -> Option<EntryKey> {
    match &opened.source {
        ByteSource::Saved { entries, .. } => entries.first().map(|entry| EntryKey {
            tensor_name: tensor_name.to_owned(),
            ..entry.key.clone()
        }),
        ByteSource::Hub { .. } => {
            let commit_sha = opened.commit_sha.clone()?;
            Some(EntryKey {
                origin: Origin::Hub,
                hub: hub_endpoint.trim_end_matches('/').to_owned(),
                repo: repo.to_owned(),
                commit_sha,
                file_path: opened.file_path.clone(),
                tensor_name: tensor_name.to_owned(),
            })
        }
        _ => None,
    }
}

/// Whether an open file's bytes come from a Hub repository (over the network or saved).
pub fn hub_origin(opened: &OpenedFile) -> bool {
    opened.source.origin() == Some(Origin::Hub)
}

/// Builds the index line for a tensor of an open file.
pub fn entry_for(
    key: EntryKey,
    opened: &OpenedFile,
    view: &MatrixView,
    rev: Option<&str>,
    tensor_len_bytes: u64,
) -> SavedEntry {
    SavedEntry {
        key,
        revs: rev
            .filter(|rev| !hub::is_commit_sha(rev))
            .map(str::to_owned)
            .into_iter()
            .collect(),
        dtype: format!("{:?}", view.dtype),
        matrix_shape: [view.n_rows as u64, view.n_cols as u64],
        file_len_bytes: opened.file_len_bytes.unwrap_or(0),
        header_len_bytes: opened.header_prefix.len() as u64,
        tensor_len_bytes,
        tensor_byte_range: [view.byte_range.start, view.byte_range.end],
        repo_files: opened.repo_files.clone(),
        saved_at_ms: js_sys::Date::now(),
    }
}

/// The sha256 of a whole local file or of the sample (the key of its saved entries). A local
/// file is read in 8 MiB slices, so that memory holds one slice at a time.
///
/// # Errors
/// [`SourceError::LocalRead`] when the browser cannot read the file.
pub async fn whole_file_sha256(opened: &OpenedFile) -> Result<String, SourceError> {
    const SLICE_BYTES: f64 = 8.0 * 1024.0 * 1024.0;
    match &opened.source {
        ByteSource::Memory { bytes } => Ok(offline::sha256_hex(bytes)),
        ByteSource::Local { file } => {
            let read_error = |err: &JsValue| SourceError::LocalRead {
                name: file.name(),
                detail: js_error_text(err),
            };
            let mut stream = offline::Sha256Stream::default();
            let size = file.size();
            let mut start = 0.0;
            while start < size {
                let end = (start + SLICE_BYTES).min(size);
                let blob = file
                    .slice_with_f64_and_f64(start, end)
                    .map_err(|err| read_error(&err))?;
                let buffer = JsFuture::from(blob.array_buffer())
                    .await
                    .map_err(|err| read_error(&err))?;
                stream.update(&Uint8Array::new(&buffer).to_vec());
                start = end;
            }
            Ok(stream.finish_hex())
        }
        ByteSource::Saved { entries, .. } => Ok(entries
            .first()
            .map(|entry| entry.key.commit_sha.clone())
            .unwrap_or_default()),
        ByteSource::Hub { .. } => Ok(opened.commit_sha.clone().unwrap_or_default()),
    }
}
