//! The page side of the analysis workers: spawn them, wait for "ready", send each its part
//! of a job, await both answers and put the analysis together.
//!
//! The page keeps a pool of two workers. The SVD of the whole matrix and the SVD after
//! dropping leading rows or columns are independent, so each runs in its own worker at the
//! same time; with nothing to drop, only the first worker runs.
//!
//! **The pool's rule.** One job at a time, shared by the main run ([`run_job`]) and the compare
//! queue ([`run_compare_job`]):
//! - a main job pre-empts whatever runs: an older main job is cancelled (its workers are
//!   terminated), a compare job ends with [`WorkerError::Cancelled`] and the compare queue
//!   analyses that model again after the main run;
//! - a compare job never pre-empts a main job: while a main job is being prepared or runs, a
//!   compare job ends at once with [`WorkerError::Cancelled`], and is not sent;
//! - [`cancel`] (the user's Cancel) stops whatever runs or is being prepared.
//!
//! Cancelling terminates the busy workers (a running SVD cannot be interrupted any other way);
//! the next job spawns fresh ones. A superseded job's workers stop by themselves once they see
//! its cancel token revoked.

use std::cell::Cell;
use std::rc::Rc;

use wasm_bindgen_futures::{spawn_local, JsFuture};

use crate::pure::analysis::{assemble, Analysis, AnalysisPart, PartMemory};
use crate::pure::common::{Cancelled, ErrorKind};
use crate::web::workers::protocol::{
    admit, Admission, Envelope, JobFailure, JobOwner, JobSpec, PartJob, ToWorker,
};

mod buffers;
mod pool;
mod streaming;

use buffers::{copy_to_buffer, make_spare_buffers, CancelToken, SPARE_TOKEN};
use pool::{ensure_worker, post, wait_ready, JobEnd, JobParts, PartDone, PendingJob, POOL};
pub use streaming::{start_stream, stream_bytes};

/// The loader script Trunk emits for the worker binary (`data-loader-shim`).
pub const WORKER_SCRIPT_URL: &str = "./worker_loader.js";

/// How many workers the pool holds: one per part of the analysis.
const POOL_SIZE: usize = 2;

/// Everything that can go wrong while the workers run a job.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkerError {
    /// The browser could not start the worker.
    #[error("The analysis worker could not start ({detail}). Reload the page; if it persists, the build is incomplete.")]
    Spawn {
        /// What the browser reported.
        detail: String,
    },
    /// The worker's script failed to load, it went away before it started, or the job could
    /// not be sent to it.
    #[error("The analysis worker stopped unexpectedly ({detail}). Reload the page and retry.")]
    Crashed {
        /// What the browser reported.
        detail: String,
    },
    /// A worker computing a part of the job ended before it answered: it crashed (a trap, such
    /// as running out of memory) or was closed. It has been replaced.
    #[error("An analysis worker stopped before it finished its part ({detail}). The browser may have run out of memory. A new worker has been started: press Retry, or pick a smaller tensor.")]
    Died {
        /// What ended it, as far as the page can tell.
        detail: String,
    },
    /// The job itself failed (bad bytes, impossible options…), with the kind and message the
    /// core gave it.
    #[error("{}", .0.message)]
    Job(JobFailure),
    /// The job was cancelled, superseded, or pre-empted by the main run: not a failure.
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

impl WorkerError {
    /// The kind the page shows for this failure; `None` for a cancelled job, which is none.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            WorkerError::Spawn { .. } | WorkerError::Crashed { .. } => Some(ErrorKind::Analysis),
            WorkerError::Died { .. } => Some(ErrorKind::WorkerDied),
            WorkerError::Job(failure) => Some(failure.kind),
            WorkerError::Cancelled(_) => None,
        }
    }
}

/// A finished job's results.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutput {
    /// Every result of the analysis.
    pub analysis: Analysis,
    /// Wall time from the decoded matrix to all results, in milliseconds: the longest of the
    /// workers' own times, each measured inside its worker from its decoded matrix to its
    /// part's result (the parts run at the same time).
    pub analysis_ms: f64,
    /// Time spent decoding the bytes, in milliseconds (the longest of the workers' times).
    pub decode_ms: f64,
    /// The largest WebAssembly memory of the workers taking part, in bytes (their peak).
    pub worker_memory_bytes: u64,
    /// Whether the bytes reached the workers as they downloaded ([`start_stream`]).
    pub bytes_streamed: bool,
}

/// Receives the analysis without vectors as soon as every part's singular values are known.
pub type OnValues = Rc<dyn Fn(Analysis)>;

/// Receives a progress label.
type OnStage = Rc<dyn Fn(String)>;

thread_local! {
    /// Counts what stops a job being prepared (before it is sent): the calls of [`cancel`] and
    /// the main jobs that pre-empt it.
    static PREEMPTIONS: Cell<u64> = const { Cell::new(0) };
    /// How many main jobs are being prepared: a compare job does not start meanwhile.
    static MAIN_PREPARING: Cell<u32> = const { Cell::new(0) };
}

/// Marks a main job as being prepared while it lives.
struct MainPreparing;

impl MainPreparing {
    fn start() -> Self {
        MAIN_PREPARING.with(|count| count.set(count.get().saturating_add(1)));
        Self
    }
}

impl Drop for MainPreparing {
    fn drop(&mut self) {
        MAIN_PREPARING.with(|count| count.set(count.get().saturating_sub(1)));
    }
}

/// Spawns the workers ahead of time so that their WebAssembly loads while the tensor
/// downloads.
pub fn warm_up() {
    for index in 0..POOL_SIZE {
        let _ignored = ensure_worker(index);
    }
}

/// Tells every worker the memory blocks the next job's part will allocate, so that it can
/// allocate them once while the tensor downloads (see [`ToWorker::Prepare`]). Spawns the
/// workers if needed, and makes the next job's cancel token and the buffers its bytes are
/// copied into.
pub fn prepare(memory: PartMemory) {
    warm_up();
    SPARE_TOKEN.with(|spare| {
        spare.borrow_mut().get_or_insert_with(CancelToken::new);
    });
    spawn_local(make_spare_buffers(memory.tensor_bytes));
    let envelope = Envelope::new(ToWorker::Prepare { memory });
    POOL.with(|cell| {
        for slot in cell.borrow().slots.iter().flatten() {
            // Only an optimisation: a worker that misses it allocates during the job instead.
            let _ignored = post(slot, &envelope);
        }
    });
}

/// Stops the running job, if any, by terminating its workers, and any job being prepared.
pub fn cancel() {
    PREEMPTIONS.with(|count| count.set(count.get().wrapping_add(1)));
    let (job, busy) = POOL.with(|cell| {
        let mut pool = cell.borrow_mut();
        let job = pool.job.take();
        let busy = pool.take_busy_slots();
        (job, busy)
    });
    for slot in busy {
        slot.shut_down("cancelled");
    }
    if let Some(job) = job {
        job.end(JobEnd::Cancelled);
    }
}

/// Makes way for a new job of `owner`, by the pool's rule ([`admit`]).
///
/// # Errors
/// [`Cancelled`] for a compare job while a main job is being prepared or runs.
fn make_way(owner: JobOwner) -> Result<(), Cancelled> {
    let running = POOL.with(|cell| cell.borrow().job.as_ref().map(|job| job.owner));
    match admit(owner, running, MAIN_PREPARING.with(Cell::get) > 0) {
        Admission::Refuse => Err(Cancelled),
        Admission::CancelRunning => {
            cancel();
            Ok(())
        }
        Admission::PreemptRunning => {
            // Its workers stop once they see its token revoked, and take this job next, with
            // the bytes streamed to them meanwhile. A compare job being prepared stops too.
            if owner == JobOwner::Main {
                PREEMPTIONS.with(|count| count.set(count.get().wrapping_add(1)));
            }
            if let Some(job) = POOL.with(|cell| cell.borrow_mut().job.take()) {
                job.end(JobEnd::Cancelled);
            }
            Ok(())
        }
    }
}

/// The parts of a job with `spec`, in pool-slot order: the whole matrix's and, when something is
/// dropped, the dropped variant's.
fn job_parts(spec: &JobSpec) -> &'static [AnalysisPart] {
    if spec.options.drop_count == 0 {
        &[AnalysisPart::Full]
    } else {
        &[AnalysisPart::Full, AnalysisPart::Dropped]
    }
}

/// Runs the main run's analysis job in the workers and waits for its results. It pre-empts any
/// other job (see the pool's rule in the module's documentation).
///
/// The whole-matrix SVD goes to the first worker and, when something is dropped, the
/// dropped variant to the second, so both run at the same time. When the bytes were streamed
/// to the workers as they downloaded ([`start_stream`]), only the rest is sent; otherwise they
/// are copied into an `ArrayBuffer` per worker, a slice per browser task, and each buffer is
/// transferred.
/// `on_stage` receives each progress label (both workers' steps, joined), and `on_values`
/// the analysis without vectors once every part's singular values are known.
///
/// # Errors
/// See [`WorkerError`]. A failure in either worker fails the job.
pub async fn run_job(
    spec: &JobSpec,
    tensor_bytes: &[u8],
    on_stage: OnStage,
    on_values: OnValues,
) -> Result<JobOutput, WorkerError> {
    run(JobOwner::Main, spec, tensor_bytes, on_stage, on_values).await
}

/// Runs a compared model's analysis job in the workers and waits for its results. It never
/// pre-empts the main run's job: it ends with [`WorkerError::Cancelled`] when one is being
/// prepared or runs, or when one starts before it ends (see the pool's rule).
///
/// # Errors
/// See [`WorkerError`].
pub async fn run_compare_job(
    spec: &JobSpec,
    tensor_bytes: &[u8],
) -> Result<JobOutput, WorkerError> {
    let quiet_stage: OnStage = Rc::new(|_| {});
    let quiet_values: OnValues = Rc::new(|_| {});
    run(
        JobOwner::Compare,
        spec,
        tensor_bytes,
        quiet_stage,
        quiet_values,
    )
    .await
}

/// Runs one job of `owner` (see [`run_job`]).
async fn run(
    owner: JobOwner,
    spec: &JobSpec,
    tensor_bytes: &[u8],
    on_stage: OnStage,
    on_values: OnValues,
) -> Result<JobOutput, WorkerError> {
    make_way(owner)?;
    let _preparing = (owner == JobOwner::Main).then(MainPreparing::start);
    let preemptions_before = PREEMPTIONS.with(Cell::get);
    let parts = job_parts(spec);
    for index in 0..parts.len() {
        ensure_worker(index)?;
    }
    for index in 0..parts.len() {
        wait_ready(index).await?;
    }
    // The workers the job goes to: one lost meanwhile is replaced by one that has neither
    // started nor received the bytes streamed ahead.
    let serials = POOL.with(|cell| cell.borrow().serials(parts.len()));

    // The bytes went ahead while they downloaded (the main run's only); else one buffer per
    // worker, each transferred (a structured clone would copy the bytes in one long task).
    let is_main = owner == JobOwner::Main;
    let streamed = is_main && streaming::finish_stream(spec, tensor_bytes).await;
    let mut buffers = Vec::with_capacity(parts.len());
    for _ in parts {
        buffers.push(if streamed {
            None
        } else {
            Some(copy_to_buffer(tensor_bytes, is_main).await?)
        });
    }
    if PREEMPTIONS.with(Cell::get) != preemptions_before {
        return Err(Cancelled.into());
    }
    // Dropped (and revoked) on every early return below; the pending job keeps it otherwise.
    let spare_token = if is_main {
        SPARE_TOKEN.with(|spare| spare.borrow_mut().take())
    } else {
        None
    };
    let cancel_token = spare_token.unwrap_or_else(CancelToken::new);
    // Two parts: a channel between the two workers, for the halves of a shared Gram matrix.
    let ports: Vec<Option<web_sys::MessagePort>> = match web_sys::MessageChannel::new() {
        Ok(channel) if parts.len() == 2 => vec![Some(channel.port1()), Some(channel.port2())],
        _ => vec![None; parts.len()],
    };
    let envelopes: Vec<Envelope> = parts
        .iter()
        .zip(buffers)
        .zip(ports)
        .map(|((&part, bytes), port)| Envelope {
            message: ToWorker::Job {
                job: PartJob {
                    spec: spec.clone(),
                    part,
                    cancel_url: cancel_token.url.clone(),
                    streamed,
                },
            },
            bytes,
            port,
        })
        .collect();
    let mut cancel_token = Some(cancel_token);

    let mut posted = Err(WorkerError::Died {
        detail: "it went away before the job was sent".to_owned(),
    });
    POOL.with(|cell| {
        let mut guard = cell.borrow_mut();
        let pool = &mut *guard;
        if pool.serials(parts.len()) != serials {
            return;
        }
        let running = pool.job.as_ref().map(|job| job.owner);
        if admit(owner, running, false) == Admission::Refuse {
            posted = Err(Cancelled.into());
            return;
        }
        if let Some(stale) = pool.job.take() {
            // An older job was sent while this one was prepared: it is superseded (or, a
            // compare job, pre-empted).
            stale.end(JobEnd::Cancelled);
        }
        let (job, promise, end) = PendingJob::new(JobParts {
            job_id: spec.job_id,
            owner,
            options: spec.options.clone(),
            part_count: parts.len(),
            on_stage: Rc::clone(&on_stage),
            on_values: Rc::clone(&on_values),
            cancel_token: cancel_token.take(),
        });
        pool.job = Some(job);
        posted = Ok((promise, end));
        for (index, envelope) in envelopes.iter().enumerate() {
            let Some(Some(slot)) = pool.slots.get_mut(index) else {
                continue;
            };
            match post(slot, envelope) {
                Ok(()) => slot.is_busy = true,
                Err(detail) => {
                    posted = Err(WorkerError::Crashed { detail });
                    break;
                }
            }
        }
    });
    if matches!(posted, Err(WorkerError::Crashed { .. })) {
        // Nothing will answer a job that was only partly sent: stop what did start.
        cancel();
    }
    let (promise, end) = posted?;
    let _woken = JsFuture::from(promise).await;
    let end = end.borrow_mut().take();
    match end {
        Some(JobEnd::Finished(answers)) => collect_output(spec, answers, streamed),
        Some(JobEnd::Failed(failure)) => Err(WorkerError::Job(failure)),
        Some(JobEnd::Lost(detail)) => Err(WorkerError::Died { detail }),
        Some(JobEnd::Cancelled) | None => Err(Cancelled.into()),
    }
}

/// Puts the workers' finished parts together into the job's output (`bytes_streamed`: whether
/// the bytes went to the workers as they downloaded).
fn collect_output(
    spec: &JobSpec,
    answers: Vec<PartDone>,
    bytes_streamed: bool,
) -> Result<JobOutput, WorkerError> {
    let unreadable = || WorkerError::Crashed {
        detail: "a worker's answer lacks the whole matrix's part".to_owned(),
    };
    let mut full = None;
    let mut dropped = None;
    let mut analysis_ms: f64 = 0.0;
    let mut decode_ms: f64 = 0.0;
    let mut worker_memory_bytes: u64 = 0;
    for answer in answers {
        worker_memory_bytes = worker_memory_bytes.max(answer.memory_bytes);
        analysis_ms = analysis_ms.max(answer.analysis_ms);
        decode_ms = decode_ms.max(answer.decode_ms);
        match answer.part {
            AnalysisPart::Full => full = answer.summary,
            AnalysisPart::Dropped => dropped = answer.summary,
        }
    }
    let full = full.ok_or_else(unreadable)?;
    if spec.options.drop_count > 0 && dropped.is_none() {
        return Err(unreadable());
    }
    Ok(JobOutput {
        analysis: assemble(&spec.options, full, dropped),
        analysis_ms,
        decode_ms,
        worker_memory_bytes,
        bytes_streamed,
    })
}
