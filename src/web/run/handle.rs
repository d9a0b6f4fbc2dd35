//! What a run is: its source, its failure, and the one handle that says whether it is still
//! the newest run. Every write a run makes to the page goes through its [`RunHandle`], which
//! drops the writes of a run that a newer one (or Cancel) replaced: the one place stale
//! results are dropped.

use leptos::prelude::*;
use web_sys::{AbortController, AbortSignal, File};

use crate::web::io::source::SourceError;
pub use crate::web::run::state::Lane;
use crate::web::run::state::{SourceKind, RUNTIME};
use crate::web::workers::bridge::WorkerError;
use crate::web::workers::protocol::JobId;

/// Which source a run opens.
pub enum RunSource {
    /// The Hub repository in the settings.
    Hub,
    /// A local file.
    Local(File),
    /// The built-in sample.
    Sample,
    /// The file already open (a new tensor or new analysis options).
    Reuse,
    /// A local file or the sample, saved for offline use, by its entry id.
    Saved {
        /// The saved entry.
        entry_id: String,
        /// How it was first opened (its file name for a local file).
        kind: SourceKind,
    },
}

impl RunSource {
    /// The kind of source this run opens, or `None` when it reuses the open file.
    pub(super) fn kind(&self) -> Option<SourceKind> {
        match self {
            RunSource::Hub => Some(SourceKind::Hub),
            RunSource::Local(file) => Some(SourceKind::Local(file.name())),
            RunSource::Sample => Some(SourceKind::Sample),
            RunSource::Reuse => None,
            RunSource::Saved { kind, .. } => Some(kind.clone()),
        }
    }
}

/// A failure anywhere in a run.
pub(super) enum RunError {
    /// A newer run (or Cancel) replaced this one: nothing to show.
    Superseded,
    /// Opening or reading the file failed.
    Source(SourceError),
    /// The worker failed.
    Worker(WorkerError),
}

/// Compare jobs take worker job ids from here on, far from the main runs' ids.
const COMPARE_JOB_BASE: u32 = 0x4000_0000;

/// One run: which lane, which generation, and the signal that aborts its requests.
#[derive(Debug, Clone)]
pub struct RunHandle {
    lane: Lane,
    generation: u32,
    signal: AbortSignal,
}

impl RunHandle {
    /// Starts a new run in `lane`, aborting the lane's run in progress. `None` when the
    /// browser has no `AbortController` (the run cannot start).
    pub fn start(lane: Lane) -> Option<RunHandle> {
        Self::cancel(lane);
        let controller = AbortController::new().ok()?;
        let signal = controller.signal();
        let generation = RUNTIME.with(|cell| {
            let mut runtime = cell.borrow_mut();
            let state = runtime.runs.lane_mut(lane);
            state.abort = Some(controller);
            state.generation
        });
        Some(RunHandle {
            lane,
            generation,
            signal,
        })
    }

    /// Ends the lane's run in progress (Cancel): aborts its requests and makes it stale.
    /// Returns whether a run still had requests to abort.
    pub fn cancel(lane: Lane) -> bool {
        let abort = RUNTIME.with(|cell| {
            let mut runtime = cell.borrow_mut();
            let state = runtime.runs.lane_mut(lane);
            state.generation = state.generation.wrapping_add(1);
            state.abort.take()
        });
        // Aborted outside the borrow: the page's code may run before `abort` returns.
        abort.map(|abort| abort.abort()).is_some()
    }

    /// Whether this is still its lane's newest run.
    pub fn is_current(&self) -> bool {
        RUNTIME.with(|cell| {
            let runs = &cell.borrow().runs;
            runs.lane(self.lane).generation == self.generation
        })
    }

    /// `Err(RunError::Superseded)` once a newer run replaced this one: a run's steps end with
    /// `?` there.
    pub(super) fn check(&self) -> Result<(), RunError> {
        if self.is_current() {
            Ok(())
        } else {
            Err(RunError::Superseded)
        }
    }

    /// Sets `signal` to `value`, unless a newer run replaced this one.
    pub fn set<T: Send + Sync + 'static>(&self, signal: RwSignal<T>, value: T) {
        if self.is_current() {
            signal.set(value);
        }
    }

    /// Updates `signal` in place, unless a newer run replaced this one.
    pub fn update<T: Send + Sync + 'static>(&self, signal: RwSignal<T>, f: impl FnOnce(&mut T)) {
        if self.is_current() {
            signal.update(f);
        }
    }

    /// The signal that aborts this run's requests.
    pub fn signal(&self) -> AbortSignal {
        self.signal.clone()
    }

    /// The workers' job id for this run (main runs and compare jobs never share one).
    pub fn job_id(&self) -> JobId {
        JobId(match self.lane {
            Lane::Main => self.generation,
            Lane::Compare => COMPARE_JOB_BASE.wrapping_add(self.generation),
        })
    }
}

/// Held while the compare queue works through its rows; a second queue cannot start meanwhile.
pub(super) struct CompareQueueTurn;

impl CompareQueueTurn {
    /// Takes the queue's turn, unless a queue is running already.
    pub(super) fn take() -> Option<CompareQueueTurn> {
        let busy = RUNTIME
            .with(|cell| std::mem::replace(&mut cell.borrow_mut().runs.compare_queue_busy, true));
        // Made only when taken: dropping a turn ends the queue's turn.
        if busy {
            None
        } else {
            Some(CompareQueueTurn)
        }
    }
}

impl Drop for CompareQueueTurn {
    fn drop(&mut self) {
        RUNTIME.with(|cell| cell.borrow_mut().runs.compare_queue_busy = false);
    }
}
