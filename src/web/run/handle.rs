//! What a run is: its source, its failure, and whether it is still the newest.

use web_sys::File;

use crate::web::io::source::SourceError;
use crate::web::run::state::{SourceKind, RUNTIME};
use crate::web::workers::bridge::WorkerError;

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
    /// Opening or reading the file failed.
    Source(SourceError),
    /// The worker failed.
    Worker(WorkerError),
}

/// Returns true while `generation` is the newest run.
pub(super) fn is_current(generation: u32) -> bool {
    RUNTIME.with(|cell| cell.borrow().generation == generation)
}
