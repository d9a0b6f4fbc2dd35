//! The messages exchanged between the page and the analysis worker.
//!
//! A job goes to the worker as a JavaScript object `{ spec, bytes }`: `spec` is the JSON of
//! [`JobSpec`] and `bytes` the raw tensor bytes as a transferred `ArrayBuffer`. Every answer
//! is the JSON text of one [`WorkerMessage`].

use crate::pure::analysis::{Analysis, AnalysisOptions};
use crate::pure::format::Dtype;

/// The property of a job object that holds the [`JobSpec`] JSON.
pub const SPEC_KEY: &str = "spec";

/// The property of a job object that holds the tensor bytes.
pub const BYTES_KEY: &str = "bytes";

/// What to decode and how to analyse it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct JobSpec {
    /// Identifies the job, so that stale answers can be ignored.
    pub job_id: u32,
    /// The tensor's name, for error messages.
    pub tensor_name: String,
    /// The stored element type of the bytes.
    pub dtype: Dtype,
    /// Rows of the matrix (positions, including any offset rows).
    pub n_rows: usize,
    /// Columns of the matrix (the model width).
    pub n_cols: usize,
    /// The analysis settings.
    pub options: AnalysisOptions,
}

/// One message from the worker to the page.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorkerMessage {
    /// The worker's WebAssembly is running and it accepts jobs.
    Ready,
    /// A job moved to a new step.
    Stage {
        /// The job this is about.
        job_id: u32,
        /// A short description of the step.
        label: String,
    },
    /// A job finished.
    Done {
        /// The job this is about.
        job_id: u32,
        /// Every result of the analysis.
        analysis: Analysis,
        /// Wall time from the decoded matrix to all results, in milliseconds.
        analysis_ms: f64,
        /// Time spent decoding the bytes into a matrix, in milliseconds.
        decode_ms: f64,
    },
    /// A job failed; the message says what happened and what to do.
    Failed {
        /// The job this is about.
        job_id: u32,
        /// The user-facing message.
        message: String,
    },
}
