//! The messages exchanged between the page and the analysis worker.
//!
//! A job goes to a worker as a JavaScript object `{ spec, bytes }`: `spec` is the JSON of
//! [`PartJob`] (a [`JobSpec`] and the part of the analysis that worker computes) and `bytes`
//! the raw tensor bytes as an `ArrayBuffer` (each worker is given its own copy, transferred).
//! Before the bytes, the page may send `{ prepare }` (see [`PREPARE_KEY`]), and it may send
//! the bytes themselves ahead, as they download (see [`STREAM_KEY`]). When a job has
//! two parts, each job object also holds one end of a `MessageChannel` (see [`PORT_KEY`]).
//! Every answer is the JSON text of one [`WorkerMessage`]: stages, then `Values` as soon as
//! the singular values are known, then `Done` with the vectors too (or `Failed`).

use crate::pure::analysis::{AnalysisOptions, AnalysisPart, SvdSummary};
use crate::pure::source::format::Dtype;

/// The property of a job object that holds the [`JobSpec`] JSON.
pub const SPEC_KEY: &str = "spec";

/// The property of a job object that holds the tensor bytes.
pub const BYTES_KEY: &str = "bytes";

/// The property of a preparation message `{ prepare }`: the JSON of the
/// [`crate::pure::analysis::PartMemory`] of the next job's part. The worker allocates the same
/// blocks in the same order while the tensor downloads, and answers nothing.
pub const PREPARE_KEY: &str = "prepare";

/// The property of a stream's opening message `{ stream }`: the JSON of the [`PartJob`] whose
/// tensor bytes follow in `{ chunk, job }` messages as they download (see [`CHUNK_KEY`]). The
/// worker decodes each whole row as it arrives and, when the parts share a Gram matrix, sums
/// its half over the rows already there; the job itself then comes with `streamed` set and no
/// bytes. A new opening message replaces the previous stream.
pub const STREAM_KEY: &str = "stream";

/// The property of a stream message that holds the next tensor bytes, as a transferred
/// `ArrayBuffer`; [`JOB_KEY`] names the stream's job.
pub const CHUNK_KEY: &str = "chunk";

/// The property of a stream message that holds the job id of its stream (a number).
pub const JOB_KEY: &str = "job";

/// The property of a job object that holds one end of a `MessageChannel` whose other end the
/// other worker of the job holds (only when the job has two parts). When the parts share a
/// Gram matrix ([`crate::pure::analysis::parts_share_gram`]), each worker forms its half and
/// sends the other its columns through it, as a transferred `Float64Array` buffer.
pub const PORT_KEY: &str = "port";

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

/// What one worker is asked to do: the whole job's spec and the part it computes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartJob {
    /// The job shared by every worker taking part.
    pub spec: JobSpec,
    /// The part of the analysis this worker computes.
    pub part: AnalysisPart,
    /// A `blob:` URL the page revokes when it no longer wants the answer (cancelled or
    /// superseded). A worker busy computing cannot receive messages, so it reads this URL
    /// now and then (a synchronous request, well under a millisecond to a few) and stops
    /// once the read fails. Empty: never stop.
    #[serde(default)]
    pub cancel_url: String,
    /// The tensor bytes came ahead in this job's stream ([`STREAM_KEY`]); the job object holds
    /// none.
    #[serde(default)]
    pub streamed: bool,
}

/// One message from the worker to the page.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorkerMessage {
    /// The worker's WebAssembly is running and it accepts jobs.
    Ready {
        /// The name of the Web Lock the worker holds for the rest of its life, if it could take
        /// one: the page asks for the same lock, which the browser grants only once the worker
        /// is gone (closed, terminated or crashed), however busy it was. `None` where the
        /// browser has no Web Locks.
        #[serde(default)]
        life_lock: Option<String>,
    },
    /// A job moved to a new step.
    Stage {
        /// The job this is about.
        job_id: u32,
        /// A short description of the step.
        label: String,
    },
    /// A worker knows its part's singular values; the vectors are still being computed.
    Values {
        /// The job this is about.
        job_id: u32,
        /// The part this worker computes.
        part: AnalysisPart,
        /// The part's values, energies and rank, with no vectors (`u_top_k` is empty); `None`
        /// for the dropped part when nothing is dropped.
        summary: Option<SvdSummary>,
    },
    /// A worker finished its part of a job.
    Done {
        /// The job this is about.
        job_id: u32,
        /// The part this worker computed.
        part: AnalysisPart,
        /// The part's result; `None` for the dropped part when nothing is dropped.
        summary: Option<SvdSummary>,
        /// Wall time inside this worker from its decoded matrix to its part's result, in
        /// milliseconds.
        analysis_ms: f64,
        /// Time spent decoding the bytes into a matrix, in milliseconds.
        decode_ms: f64,
        /// The size of the worker's WebAssembly memory after the part, in bytes. That memory
        /// never shrinks, so this is the worker's peak.
        memory_bytes: u64,
    },
    /// A job failed; the message says what happened and what to do.
    Failed {
        /// The job this is about.
        job_id: u32,
        /// The user-facing message.
        message: String,
    },
}
