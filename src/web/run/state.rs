//! The page's state: reactive signals for everything drawn, plus the browser objects that
//! cannot live in signals (the open file, cached tensor bytes, the runs' abort controllers).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use leptos::prelude::*;
use web_sys::AbortController;

use crate::pure::analysis::{Analysis, AnalysisOptions};
use crate::pure::common::ErrorKind;
use crate::pure::source::detect::MatrixView;
use crate::pure::source::offline::SavedEntry;
use crate::pure::url_state::ViewSettings;
use crate::web::io::source::OpenedFile;

/// Where the analysed bytes came from, as the page names it: the core's
/// [`Origin`](crate::pure::source::Origin), with a local file's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// A Hub repository.
    Hub,
    /// A local file, by name.
    Local(String),
    /// The built-in sample.
    Sample,
}

impl SourceKind {
    /// The core's name for where the bytes came from.
    pub fn origin(&self) -> crate::pure::source::Origin {
        match self {
            SourceKind::Hub => crate::pure::source::Origin::Hub,
            SourceKind::Local(_) => crate::pure::source::Origin::Local,
            SourceKind::Sample => crate::pure::source::Origin::Sample,
        }
    }
}

/// What the user should know about a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorInfo {
    /// The failure's kind, from the core's error enums; shown as `[data-testid=error]`'s
    /// `data-kind` ([`ErrorKind::as_str`]: `not-found`, `gated`…).
    pub kind: ErrorKind,
    /// A short headline ("Not found", "Network unreachable"…).
    pub title: String,
    /// What happened and what to do.
    pub message: String,
    /// Whether to offer the built-in sample (the Hub cannot be reached).
    pub offer_sample: bool,
    /// Whether the tensor picker can fix the problem.
    pub offer_picker: bool,
}

/// The page's overall state, mirrored in `[data-testid=status]`'s `data-state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Nothing has run yet, or the last run was cancelled.
    Idle {
        /// A note to show, e.g. that the last run was cancelled.
        note: Option<String>,
    },
    /// Fetching or analysing; the label names the current step.
    Loading {
        /// The current step.
        label: String,
    },
    /// Every result on the page is computed.
    Ready,
    /// The last run failed.
    Error(ErrorInfo),
}

impl Status {
    /// The `data-state` value: `idle`, `loading`, `ready` or `error`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Idle { .. } => "idle",
            Status::Loading { .. } => "loading",
            Status::Ready => "ready",
            Status::Error(_) => "error",
        }
    }
}

/// Byte progress of the current request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProgressInfo {
    /// What is being read.
    pub label: String,
    /// Bytes received so far.
    pub received_bytes: u64,
    /// Bytes needed in total.
    pub needed_bytes: u64,
}

/// What is known about the open file, for display.
#[derive(Debug, Clone, PartialEq)]
pub struct FileInfo {
    /// Where the file came from.
    pub kind: SourceKind,
    /// The repository (Hub sources only).
    pub repo: String,
    /// The file's path or name.
    pub file_path: String,
    /// The whole file's size, when known.
    pub file_len_bytes: Option<u64>,
    /// The commit analysed (Hub sources only), when known.
    pub commit_sha: Option<String>,
    /// Every 2-D float tensor the file offers.
    pub candidates: Vec<MatrixView>,
}

/// The results of the last finished analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultInfo {
    /// The matrix that was analysed.
    pub view: MatrixView,
    /// Everything the analysis computed.
    pub analysis: Analysis,
    /// Wall time on the page from the moment the tensor bytes arrived to all results, in
    /// milliseconds (0 while the vectors are still being computed).
    pub analysis_ms: f64,
    /// Wall time on the page from the moment the tensor bytes arrived to every singular value.
    pub values_ms: f64,
    /// The longest of the workers' own times from their decoded matrix to their part's result,
    /// in milliseconds (the compute alone, without start-up, transfer and decoding).
    pub worker_analysis_ms: f64,
    /// Whether the singular vectors are still being computed (the values are already here).
    pub vectors_pending: bool,
    /// The largest WebAssembly memory of the analysis workers, in bytes (0 until known).
    pub worker_memory_bytes: u64,
    /// Time spent decoding the bytes.
    pub decode_ms: f64,
    /// Whether the bytes reached the workers as they downloaded (decoded, and the Gram
    /// matrix's leading rows summed, during the download).
    pub bytes_streamed: bool,
}

/// When a [`ResultInfo`] was made, with the times known then.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ResultTiming {
    /// Read from storage: no analysis ran.
    FromStore,
    /// The singular values arrived; the vectors are still being computed.
    Values {
        /// Milliseconds from the tensor bytes to the values.
        values_ms: f64,
    },
    /// Every result is computed.
    Finished {
        /// Milliseconds from the tensor bytes to all results.
        analysis_ms: f64,
        /// Milliseconds from the tensor bytes to every singular value on the page.
        values_ms: f64,
        /// The longest of the workers' own compute times, in milliseconds.
        worker_analysis_ms: f64,
        /// The largest WebAssembly memory of the workers, in bytes.
        worker_memory_bytes: u64,
        /// Time spent decoding the bytes, in milliseconds.
        decode_ms: f64,
        /// Whether the bytes reached the workers as they downloaded.
        bytes_streamed: bool,
    },
}

impl ResultInfo {
    /// The results of `view`'s analysis, at the moment `timing` says.
    pub fn new(view: &MatrixView, analysis: Analysis, timing: ResultTiming) -> Self {
        let mut info = ResultInfo {
            view: view.clone(),
            analysis,
            analysis_ms: 0.0,
            values_ms: 0.0,
            worker_analysis_ms: 0.0,
            vectors_pending: false,
            worker_memory_bytes: 0,
            decode_ms: 0.0,
            bytes_streamed: false,
        };
        match timing {
            ResultTiming::FromStore => {}
            ResultTiming::Values { values_ms } => {
                info.values_ms = values_ms;
                info.vectors_pending = true;
            }
            ResultTiming::Finished {
                analysis_ms,
                values_ms,
                worker_analysis_ms,
                worker_memory_bytes,
                decode_ms,
                bytes_streamed,
            } => {
                info.analysis_ms = analysis_ms;
                info.values_ms = values_ms;
                info.worker_analysis_ms = worker_analysis_ms;
                info.worker_memory_bytes = worker_memory_bytes;
                info.decode_ms = decode_ms;
                info.bytes_streamed = bytes_streamed;
            }
        }
        info
    }
}

/// All reactive state of the page. Copyable: every field is an arena handle.
#[derive(Debug, Clone, Copy)]
pub struct AppState {
    /// The settings of the analysis shown (or about to be), mirrored in the URL.
    pub settings: RwSignal<ViewSettings>,
    /// Notes from decoding the URL (rejected values), shown until dismissed.
    pub url_notes: RwSignal<Vec<String>>,
    /// The page status.
    pub status: RwSignal<Status>,
    /// Byte progress of the current request.
    pub progress: RwSignal<ProgressInfo>,
    /// The open file, when one is.
    pub file_info: RwSignal<Option<FileInfo>>,
    /// The last results.
    pub result: RwSignal<Option<ResultInfo>>,
    /// Bytes fetched over the network for the analysis shown.
    pub bytes_fetched: RwSignal<u64>,
    /// The longest main-thread task seen during the last analysis, in milliseconds.
    pub longest_task_ms: RwSignal<f64>,
    /// The number of histogram bins (a view setting, not part of the analysis).
    pub histogram_bins: RwSignal<usize>,
    /// The text in the repository field (committed to settings by Analyse).
    pub draft_repo: RwSignal<String>,
    /// The text in the revision field.
    pub draft_rev: RwSignal<String>,
    /// The text in the file field.
    pub draft_file: RwSignal<String>,
    /// The kind of source the last run opened, for Retry.
    pub last_kind: RwSignal<SourceKind>,
    /// One row per compared model (the `compare` setting), in order.
    pub compare_rows: RwSignal<Vec<CompareRow>>,
    /// Notes about the current run's transfers (retries, resumes, whole-file downloads).
    pub transfer_notes: RwSignal<Vec<String>>,
    /// A Hub address from the link that is not the default, waiting for the user's click.
    pub hub_to_confirm: RwSignal<Option<String>>,
    /// Whether the browser says it is online (`navigator.onLine`).
    pub online: RwSignal<bool>,
    /// A new build of the app is installed and waits for a reload.
    pub update_ready: RwSignal<bool>,
    /// Set when an offline branch link is answered by a saved commit.
    pub offline_note: RwSignal<Option<String>>,
    /// The entries saved for offline use, oldest first.
    pub saved_entries: RwSignal<Vec<SavedEntry>>,
    /// The browser's storage estimate, `(usage_bytes, quota_bytes)`.
    pub storage_estimate: RwSignal<Option<(u64, u64)>>,
    /// Whether the browser granted persistent storage (unknown until asked).
    pub storage_persisted: RwSignal<Option<bool>>,
    /// The last failure to save for offline use (the analysis itself is unaffected).
    pub save_error: RwSignal<Option<SaveProblem>>,
    /// The saved entry the shown analysis belongs to, when it is saved.
    pub current_entry_id: RwSignal<Option<String>>,
    /// Whether the shown result came from storage rather than from a new SVD.
    pub result_from_store: RwSignal<bool>,
    /// Queued drawing steps of the results still to run; the page says "ready" only when
    /// none is left (see `components::stages`).
    pub drawing_steps: RwSignal<usize>,
    /// The options of the analysis being computed, from the moment its tensor is chosen
    /// until the run ends: the first chart's cards stand on the page, empty, meanwhile, so
    /// that only their bars and numbers are left to draw when the singular values arrive.
    pub pending_options: RwSignal<Option<AnalysisOptions>>,
}

/// A failed save for offline use, with what it needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveProblem {
    /// What happened and what to do.
    pub message: String,
    /// The size of the entry that did not fit, when the storage is full.
    pub needed_bytes: Option<u64>,
}

impl AppState {
    /// Creates the state from decoded settings and notes.
    pub fn new(settings: ViewSettings, notes: Vec<String>) -> Self {
        AppState {
            draft_repo: RwSignal::new(settings.repo.clone()),
            draft_rev: RwSignal::new(settings.rev.clone()),
            draft_file: RwSignal::new(settings.file.clone().unwrap_or_default()),
            settings: RwSignal::new(settings),
            url_notes: RwSignal::new(notes),
            status: RwSignal::new(Status::Idle { note: None }),
            progress: RwSignal::new(ProgressInfo::default()),
            file_info: RwSignal::new(None),
            result: RwSignal::new(None),
            bytes_fetched: RwSignal::new(0),
            longest_task_ms: RwSignal::new(0.0),
            histogram_bins: RwSignal::new(DEFAULT_HISTOGRAM_BINS),
            last_kind: RwSignal::new(SourceKind::Hub),
            compare_rows: RwSignal::new(Vec::new()),
            transfer_notes: RwSignal::new(Vec::new()),
            hub_to_confirm: RwSignal::new(None),
            online: RwSignal::new(true),
            update_ready: RwSignal::new(false),
            offline_note: RwSignal::new(None),
            saved_entries: RwSignal::new(Vec::new()),
            storage_estimate: RwSignal::new(None),
            storage_persisted: RwSignal::new(None),
            save_error: RwSignal::new(None),
            current_entry_id: RwSignal::new(None),
            result_from_store: RwSignal::new(false),
            drawing_steps: RwSignal::new(0),
            pending_options: RwSignal::new(None),
        }
    }

    /// Copies the settings' source fields into the text fields.
    pub fn reset_drafts(&self) {
        let settings = self.settings.get_untracked();
        self.draft_repo.set(settings.repo.clone());
        self.draft_rev.set(settings.rev.clone());
        self.draft_file
            .set(settings.file.clone().unwrap_or_default());
    }
}

/// The default histogram bin count: 40 bins show the spectrum's shape well, and the chart's
/// Bins control changes it.
pub const DEFAULT_HISTOGRAM_BINS: usize = 40;

/// Builds the core's analysis options from the share-link settings and the chosen matrix.
pub fn analysis_options(settings: &ViewSettings, view: &MatrixView) -> AnalysisOptions {
    settings.analysis_options(view.row_offset)
}

/// Tensor bytes already downloaded, with the network bytes they cost.
#[derive(Debug, Clone)]
pub struct CachedTensor {
    /// The raw bytes.
    pub bytes: Rc<Vec<u8>>,
    /// Bytes fetched over the network to get them.
    pub network_bytes: u64,
}

/// The two kinds of run, each with its own newest run: the main analysis, and the compared
/// models (one at a time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// The analysis the page shows.
    Main,
    /// One compared model of the compare queue.
    Compare,
}

/// The newest run of one lane.
#[derive(Debug, Default)]
pub struct LaneState {
    /// Increases with each run (and with Cancel); a run whose number is not this one is stale.
    pub generation: u32,
    /// Aborts the newest run's requests, while it runs.
    pub abort: Option<AbortController>,
}

/// The newest run of each lane, and whether the compare queue is working through its rows:
/// everything that says which run is current. Read and changed through [`crate::web::run::handle::RunHandle`].
#[derive(Debug, Default)]
pub struct Runs {
    /// The main analysis's newest run.
    pub main: LaneState,
    /// The compare queue's newest job.
    pub compare: LaneState,
    /// Whether the compare queue is working through its rows.
    pub compare_queue_busy: bool,
}

impl Runs {
    /// The newest run of `lane`.
    pub fn lane(&self, lane: Lane) -> &LaneState {
        match lane {
            Lane::Main => &self.main,
            Lane::Compare => &self.compare,
        }
    }

    /// The newest run of `lane`, to replace or cancel it.
    pub fn lane_mut(&mut self, lane: Lane) -> &mut LaneState {
        match lane {
            Lane::Main => &mut self.main,
            Lane::Compare => &mut self.compare,
        }
    }
}

/// Browser objects of the current run, which cannot live in (thread-safe) signals.
#[derive(Debug, Default)]
pub struct Runtime {
    /// The newest run of each lane (see `web::run::handle::RunHandle`).
    pub runs: Runs,
    /// The open file.
    pub opened: Option<OpenedFile>,
    /// Bytes fetched over the network to open the file (prefix, header, API, index).
    pub open_network_bytes: u64,
    /// Tensor bytes downloaded from the open file, by tensor name.
    pub tensors: BTreeMap<String, CachedTensor>,
    /// The local file last opened, for Retry.
    pub last_local_file: Option<web_sys::File>,
}

thread_local! {
    /// The page's one runtime.
    pub static RUNTIME: RefCell<Runtime> = RefCell::new(Runtime::default());
}

/// Where one compared model stands.
#[derive(Debug, Clone, PartialEq)]
pub enum CompareState {
    /// Waiting for its turn, fetching or analysing.
    Loading,
    /// Analysed.
    Ready,
    /// Failed; the message says what happened and what to do.
    Error(String),
}

impl CompareState {
    /// The `data-state` value: `loading`, `ready` or `error`.
    pub fn as_str(&self) -> &'static str {
        match self {
            CompareState::Loading => "loading",
            CompareState::Ready => "ready",
            CompareState::Error(_) => "error",
        }
    }
}

/// One compared model: what was asked for and what its analysis gave.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRow {
    /// The entry from the share link.
    pub entry: crate::pure::url_state::CompareEntry,
    /// The settings that shaped its analysis (hub, k, centring, offset rows), to know when
    /// it must be analysed again.
    pub analysis_key: String,
    /// Where it stands.
    pub state: CompareState,
    /// The commit its revision resolved to, when known.
    pub commit_sha: Option<String>,
    /// The analysed tensor's name.
    pub tensor_name: Option<String>,
    /// The full analysis (no dropping), once ready.
    pub summary: Option<std::sync::Arc<crate::pure::analysis::SvdSummary>>,
}
