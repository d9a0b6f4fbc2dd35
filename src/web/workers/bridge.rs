//! The page side of the analysis workers: spawn them, wait for "ready", send each its part
//! of a job, await both answers and put the analysis together.
//!
//! The page keeps a pool of two workers. The SVD of the whole matrix and the SVD after
//! dropping leading rows or columns are independent, so each runs in its own worker at the
//! same time; with nothing to drop, only the first worker runs. One job runs at a time.
//! Cancelling terminates the busy workers (a running SVD cannot be interrupted any other
//! way); the next job spawns fresh ones.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, ArrayBuffer, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{MessageEvent, Worker};

use crate::pure::analysis::{assemble, Analysis, AnalysisPart, PartMemory, SvdSummary};
use crate::pure::common::{ErrorKind, MAX_TENSOR_BYTES};
use crate::web::platform::js::{js_error_text, yield_to_browser, COPY_BYTES_PER_TASK};
use crate::web::workers::protocol::{
    JobSpec, PartJob, WorkerMessage, BYTES_KEY, PORT_KEY, PREPARE_KEY, SPEC_KEY,
};

mod streaming;

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
    /// The worker's script failed to load, it went away before it started, or it sent an
    /// answer the page cannot read.
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
    /// The job itself failed (bad bytes, impossible options…); the message comes from the core.
    #[error("{message}")]
    Job {
        /// The user-facing message.
        message: String,
    },
    /// The user cancelled the job.
    #[error("The analysis was cancelled. Press Analyse to start again.")]
    Cancelled,
}

impl WorkerError {
    /// The kind the page shows for this failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            WorkerError::Died { .. } => ErrorKind::WorkerDied,
            _ => ErrorKind::Analysis,
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

/// The job in flight, spread over one or two workers.
struct PendingJob {
    /// Matches the workers' answers to this job.
    job_id: u32,
    /// Resolves the job's promise: with `true` on success (the answers, parsed once, wait in
    /// [`Pool::finished`]), with one failure's JSON text, with `false` when a worker of the job
    /// was lost (what ended it waits in [`Pool::lost`]), or with `undefined` when cancelled.
    resolve: Function,
    /// Receives the combined progress label while the job runs.
    on_stage: Rc<dyn Fn(String)>,
    /// Receives the values-only analysis once, when every part's values are known.
    on_values: OnValues,
    /// The job's settings, to assemble the values-only analysis.
    options: crate::pure::analysis::AnalysisOptions,
    /// Whether `on_values` was called.
    values_reported: bool,
    /// Per slot: whether it takes part, its latest stage label, and its answer once given.
    slots: Vec<SlotProgress>,
    /// The job's cancel token, revoked when the job is dropped: finished, failed, cancelled or
    /// superseded.
    _cancel_token: Option<CancelToken>,
}

/// A job's cancel token (see [`PartJob::cancel_url`]): the `blob:` URL of an empty blob,
/// revoked when the token is dropped, so that no path leaves it behind, including a job that
/// fails before it is sent.
struct CancelToken {
    /// The URL (empty when the browser cannot make one: the workers then run to the end).
    url: String,
}

impl CancelToken {
    /// A fresh token.
    fn new() -> Self {
        let url = web_sys::Blob::new()
            .and_then(|blob| web_sys::Url::create_object_url_with_blob(&blob))
            .unwrap_or_default();
        Self { url }
    }
}

impl Drop for CancelToken {
    fn drop(&mut self) {
        if !self.url.is_empty() {
            let _ignored = web_sys::Url::revoke_object_url(&self.url);
        }
    }
}

/// One worker's share of the pending job.
#[derive(Default)]
struct SlotProgress {
    /// Whether this worker was given a part of the job.
    takes_part: bool,
    /// The worker's latest stage label, until it answers.
    label: Option<String>,
    /// The worker's final answer (`Done`), parsed once.
    answer: Option<WorkerMessage>,
    /// The part and its values-only summary, once the worker sent them.
    values: Option<(AnalysisPart, Option<SvdSummary>)>,
}

impl PendingJob {
    /// Returns the labels of the workers still running, joined into one progress line.
    fn combined_label(&self) -> String {
        let mut labels: Vec<&str> = Vec::new();
        for label in self.slots.iter().filter_map(|slot| slot.label.as_deref()) {
            if !labels.contains(&label) {
                labels.push(label);
            }
        }
        labels.join(" · ")
    }

    /// Returns the values-only analysis the first time every worker taking part has sent its
    /// values (or its answer), and `None` before that and afterwards.
    fn take_values(&mut self) -> Option<Analysis> {
        if self.values_reported
            || !self
                .slots
                .iter()
                .all(|slot| !slot.takes_part || slot.values.is_some())
        {
            return None;
        }
        self.values_reported = true;
        let mut full = None;
        let mut dropped = None;
        for (part, summary) in self.slots.iter().filter_map(|slot| slot.values.clone()) {
            match part {
                AnalysisPart::Full => full = summary,
                AnalysisPart::Dropped => dropped = summary,
            }
        }
        full.map(|full| assemble(&self.options, full, dropped))
    }

    /// Returns true when every worker taking part has answered.
    fn is_complete(&self) -> bool {
        self.slots
            .iter()
            .all(|slot| !slot.takes_part || slot.answer.is_some())
    }
}

/// One live worker.
struct Slot {
    /// The worker itself.
    worker: Worker,
    /// Tells this worker from the others spawned in the same slot before and after it.
    serial: u64,
    /// Whether the worker has posted its "ready" message.
    is_ready: bool,
    /// Whether the worker is computing a part of the job in flight.
    is_busy: bool,
    /// Resolvers waiting for "ready".
    ready_waiters: Vec<Function>,
    /// Keeps the message handler alive.
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    /// Keeps the error handler alive.
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

impl Slot {
    /// Terminates the worker and tells anyone waiting for "ready" why it will never come.
    fn shut_down(mut self, reason: &str) {
        self.worker.terminate();
        for waiter in self.ready_waiters.drain(..) {
            let _ignored = waiter.call1(&JsValue::NULL, &JsValue::from_str(reason));
        }
    }
}

/// The page's workers and the job they share.
#[derive(Default)]
struct Pool {
    /// The workers, spawned on first use; `None` where none runs.
    slots: Vec<Option<Slot>>,
    /// The job in flight, if any.
    job: Option<PendingJob>,
    /// The answers of the job that just finished, with its id, until its caller takes them.
    finished: Option<(u32, Vec<WorkerMessage>)>,
    /// What ended a worker of the job that just failed for it, with the job's id, until its
    /// caller takes it.
    lost: Option<(u32, String)>,
    /// The serial of the last worker spawned.
    last_serial: u64,
}

impl Pool {
    /// Takes every worker still computing a part, leaving idle ones in place.
    fn take_busy_slots(&mut self) -> Vec<Slot> {
        self.slots
            .iter_mut()
            .filter(|slot| slot.as_ref().is_some_and(|slot| slot.is_busy))
            .filter_map(Option::take)
            .collect()
    }
}

thread_local! {
    /// The page's worker pool.
    static POOL: RefCell<Pool> = RefCell::new(Pool::default());
}

/// What to do after a message was handled, outside the pool's borrow.
enum AfterMessage {
    /// Nothing.
    Nothing,
    /// Report a progress label.
    Stage(Rc<dyn Fn(String)>, String),
    /// Report the values-only analysis, then maybe a progress label.
    Values(OnValues, Analysis, Option<(OnStage, String)>),
    /// Terminate these workers, whose results are no longer wanted.
    Stop(Vec<Slot>),
    /// Watch the life lock (the name) of the worker with this serial.
    WatchLife(u64, String),
}

/// Handles one message from the worker in slot `index`.
fn on_worker_message(index: usize, data: &JsValue) {
    let Some(text) = data.as_string() else {
        return;
    };
    let Ok(message) = serde_json::from_str::<WorkerMessage>(&text) else {
        return;
    };
    let after = POOL.with(|cell| {
        let mut guard = cell.borrow_mut();
        let pool = &mut *guard;
        match &message {
            WorkerMessage::Ready { life_lock } => {
                let Some(Some(slot)) = pool.slots.get_mut(index) else {
                    return AfterMessage::Nothing;
                };
                slot.is_ready = true;
                for waiter in slot.ready_waiters.drain(..) {
                    let _ignored = waiter.call1(&JsValue::NULL, &JsValue::TRUE);
                }
                match life_lock {
                    Some(name) => AfterMessage::WatchLife(slot.serial, name.clone()),
                    None => AfterMessage::Nothing,
                }
            }
            WorkerMessage::Stage { job_id, label } => {
                let Some(job) = pool.job.as_mut().filter(|job| job.job_id == *job_id) else {
                    return AfterMessage::Nothing;
                };
                if let Some(progress) = job.slots.get_mut(index) {
                    progress.label = Some(label.clone());
                }
                AfterMessage::Stage(Rc::clone(&job.on_stage), job.combined_label())
            }
            WorkerMessage::Values {
                job_id,
                part,
                summary,
            } => {
                let Some(job) = pool.job.as_mut().filter(|job| job.job_id == *job_id) else {
                    return AfterMessage::Nothing;
                };
                if let Some(progress) = job.slots.get_mut(index) {
                    progress.values = Some((*part, summary.clone()));
                }
                match job.take_values() {
                    Some(analysis) => {
                        AfterMessage::Values(Rc::clone(&job.on_values), analysis, None)
                    }
                    None => AfterMessage::Nothing,
                }
            }
            WorkerMessage::Done { job_id, .. } | WorkerMessage::Failed { job_id, .. } => {
                let matches = pool
                    .job
                    .as_ref()
                    .is_some_and(|job| job.job_id == *job_id || *job_id == 0);
                if !matches {
                    return AfterMessage::Nothing;
                }
                if let Some(Some(slot)) = pool.slots.get_mut(index) {
                    slot.is_busy = false;
                }
                let is_failure = matches!(message, WorkerMessage::Failed { .. });
                let Some(job) = pool.job.as_mut() else {
                    return AfterMessage::Nothing;
                };
                if let Some(progress) = job.slots.get_mut(index) {
                    progress.label = None;
                    progress.answer = Some(message.clone());
                    if let WorkerMessage::Done { part, summary, .. } = &message {
                        if progress.values.is_none() {
                            progress.values = Some((*part, summary.clone()));
                        }
                    }
                }
                if is_failure {
                    // The first failure decides the job; the other worker's result is moot.
                    if let Some(job) = pool.job.take() {
                        // Resolving only queues the awaiting task, so this is safe inside the borrow.
                        let _ignored = job.resolve.call1(&JsValue::NULL, &JsValue::from_str(&text));
                    }
                    AfterMessage::Stop(pool.take_busy_slots())
                } else if job.is_complete() {
                    let answers: Vec<WorkerMessage> = job
                        .slots
                        .iter_mut()
                        .filter_map(|slot| slot.answer.take())
                        .collect();
                    if let Some(job) = pool.job.take() {
                        pool.finished = Some((job.job_id, answers));
                        let _ignored = job.resolve.call1(&JsValue::NULL, &JsValue::TRUE);
                    }
                    AfterMessage::Nothing
                } else {
                    let stage = (Rc::clone(&job.on_stage), job.combined_label());
                    match job.take_values() {
                        Some(analysis) => {
                            AfterMessage::Values(Rc::clone(&job.on_values), analysis, Some(stage))
                        }
                        None => AfterMessage::Stage(stage.0, stage.1),
                    }
                }
            }
        }
    });
    // Callbacks and terminations run outside the borrow so that they may touch the pool.
    match after {
        AfterMessage::Nothing => {}
        AfterMessage::Stage(on_stage, label) => {
            if !label.is_empty() {
                on_stage(label);
            }
        }
        AfterMessage::Values(on_values, analysis, stage) => {
            on_values(analysis);
            if let Some((on_stage, label)) = stage.filter(|(_, label)| !label.is_empty()) {
                on_stage(label);
            }
        }
        AfterMessage::Stop(slots) => {
            for slot in slots {
                slot.shut_down("the job already failed");
            }
        }
        AfterMessage::WatchLife(serial, name) => watch_life_lock(index, serial, &name),
    }
}

/// Asks the browser for the life lock `name` of the worker with `serial` in slot `index` (see
/// [`WorkerMessage::Ready`]): it is granted once that worker is gone, and if the page did not
/// end it, the worker is lost ([`lose_worker`]). Where the browser has no Web Locks, only a
/// worker's `error` event tells of its end.
fn watch_life_lock(index: usize, serial: u64, name: &str) {
    let Some(locks) = crate::web::platform::js::lock_manager() else {
        return;
    };
    // Granted when the worker is gone; returning at once releases the lock again.
    let on_granted = Closure::once_into_js(move |_lock: JsValue| {
        lose_worker(index, serial, "it was closed, or stopped by the browser");
    });
    if let Ok(promise) = locks.request(name, on_granted.unchecked_ref()) {
        // Only a failed request rejects; the worker's end is then told by its error event alone.
        let settled = JsFuture::from(promise);
        spawn_local(async move {
            let _ignored = settled.await;
        });
    }
}

/// Handles a crash, or a script that failed to load, of the worker with `serial` in slot
/// `index`.
fn on_worker_error(index: usize, serial: u64, event: &web_sys::Event) {
    let detail = Reflect::get(event, &JsValue::from_str("message"))
        .ok()
        .and_then(|value| value.as_string())
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| "the worker script failed to load or threw".to_owned());
    // The worker may still run (an uncaught error does not end it), but its state is broken.
    lose_worker(index, serial, &detail);
}

/// The worker with `serial` in slot `index` ended, or broke, on its own (nothing happens if
/// that slot holds another worker by now): it is terminated and taken out of the pool. A job
/// it had not answered fails with [`WorkerError::Died`] and stops its other workers. A worker
/// that had started is replaced at once, so that the next job finds the pool whole (one that
/// never started is not, or a script that cannot load would be spawned again and again).
fn lose_worker(index: usize, serial: u64, detail: &str) {
    let (lost, job, others) = POOL.with(|cell| {
        let mut guard = cell.borrow_mut();
        let pool = &mut *guard;
        let Some(place) = pool.slots.get_mut(index) else {
            return (None, None, Vec::new());
        };
        if place.as_ref().is_none_or(|slot| slot.serial != serial) {
            // A worker the page itself ended, already replaced or taken out.
            return (None, None, Vec::new());
        }
        let lost = place.take();
        let took_part = pool.job.as_ref().is_some_and(|job| {
            job.slots
                .get(index)
                .is_some_and(|slot| slot.takes_part && slot.answer.is_none())
        });
        if !took_part {
            return (lost, None, Vec::new());
        }
        let job = pool.job.take();
        if let Some(job) = &job {
            pool.lost = Some((job.job_id, detail.to_owned()));
        }
        (lost, job, pool.take_busy_slots())
    });
    let had_started = lost.as_ref().is_some_and(|slot| slot.is_ready);
    if let Some(slot) = lost {
        slot.shut_down(detail);
    }
    for slot in others {
        slot.shut_down(detail);
    }
    if let Some(job) = job {
        let _ignored = job.resolve.call1(&JsValue::NULL, &JsValue::FALSE);
    }
    if had_started {
        warm_up();
    }
}

/// Spawns the worker in slot `index` if none runs there.
fn ensure_worker(index: usize) -> Result<(), WorkerError> {
    let exists = POOL.with(|cell| cell.borrow().slots.get(index).is_some_and(Option::is_some));
    if exists {
        return Ok(());
    }
    let worker = Worker::new(WORKER_SCRIPT_URL).map_err(|err| WorkerError::Spawn {
        detail: js_error_text(&err),
    })?;
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        on_worker_message(index, &event.data());
    });
    let serial = POOL.with(|cell| {
        let mut pool = cell.borrow_mut();
        pool.last_serial = pool.last_serial.wrapping_add(1);
        pool.last_serial
    });
    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
        on_worker_error(index, serial, &event);
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    // A stream in progress was sending to the worker this one replaces.
    streaming::break_stream();
    POOL.with(|cell| {
        let mut pool = cell.borrow_mut();
        if pool.slots.len() <= index {
            pool.slots.resize_with(index + 1, || None);
        }
        if let Some(place) = pool.slots.get_mut(index) {
            *place = Some(Slot {
                worker,
                serial,
                is_ready: false,
                is_busy: false,
                ready_waiters: Vec::new(),
                _on_message: on_message,
                _on_error: on_error,
            });
        }
    });
    Ok(())
}

/// Spawns the workers ahead of time so that their WebAssembly loads while the tensor
/// downloads.
pub fn warm_up() {
    for index in 0..POOL_SIZE {
        let _ignored = ensure_worker(index);
    }
}

thread_local! {
    /// A cancel token made ahead for the next job: making one registers a `blob:` URL, which
    /// took 2 to 7 ms of the page's time on the way from the bytes to the workers (measured on
    /// a 2-core machine). Dropping it revokes it.
    static SPARE_TOKEN: RefCell<Option<CancelToken>> = const { RefCell::new(None) };
    /// Buffers made ahead for the next job's bytes, one per worker, every memory page of
    /// them already written (see [`make_spare_buffers`]).
    static SPARE_BUFFERS: RefCell<Vec<Uint8Array>> = const { RefCell::new(Vec::new()) };
    /// Counts the calls to [`make_spare_buffers`]: an older call that is still writing its
    /// buffers stops when a newer one starts.
    static SPARE_BUFFERS_ROUND: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Makes one buffer per worker for the next job's `len_bytes` tensor bytes and writes each of
/// its memory pages, a few megabytes per browser task.
///
/// The system maps a new buffer's pages on their first write: measured in the browser on a
/// 2-core machine, copying GPT-2's W_pos (3 MB) into two fresh buffers took 5 ms of the
/// page's time after the bytes arrived, most of it mapping pages. Made while the tensor
/// downloads, the copy only writes to pages already mapped. Buffers of another length, or
/// still being written, are not used: the job then makes its own.
async fn make_spare_buffers(len_bytes: u64) {
    let round = SPARE_BUFFERS_ROUND.with(|count| {
        count.set(count.get().wrapping_add(1));
        count.get()
    });
    SPARE_BUFFERS.with(|spares| spares.borrow_mut().clear());
    // A tensor above the size cap is refused before its bytes are read.
    if len_bytes > MAX_TENSOR_BYTES {
        return;
    }
    let Ok(len) = u32::try_from(len_bytes) else {
        return;
    };
    let step = u32::try_from(COPY_BYTES_PER_TASK).unwrap_or(u32::MAX);
    for _ in 0..POOL_SIZE {
        // Only an optimisation: without the memory, the job makes its buffers itself.
        let Some(buffer) = new_byte_array(len) else {
            return;
        };
        let mut start: u32 = 0;
        while start < len {
            yield_to_browser().await;
            if SPARE_BUFFERS_ROUND.with(std::cell::Cell::get) != round {
                return;
            }
            let end = start.saturating_add(step).min(len);
            buffer.fill(0, start, end);
            start = end;
        }
        SPARE_BUFFERS.with(|spares| spares.borrow_mut().push(buffer));
    }
}

/// Drops the buffers made ahead (and stops their making): the bytes will reach the workers
/// another way.
fn drop_spare_buffers() {
    SPARE_BUFFERS_ROUND.with(|count| count.set(count.get().wrapping_add(1)));
    SPARE_BUFFERS.with(|spares| spares.borrow_mut().clear());
}

/// A new zero-filled `Uint8Array` of `len` bytes, or `None` when the browser cannot allocate it
/// (`new Uint8Array(len)` throws a `RangeError` then, which must not unwind through
/// WebAssembly).
fn new_byte_array(len: u32) -> Option<Uint8Array> {
    let constructor = Reflect::get(&js_sys::global(), &JsValue::from_str("Uint8Array"))
        .ok()?
        .dyn_into::<Function>()
        .ok()?;
    Reflect::construct(&constructor, &Array::of1(&JsValue::from(len)))
        .ok()?
        .dyn_into::<Uint8Array>()
        .ok()
}

/// A spare buffer of exactly `len_bytes` bytes, if one is ready (see [`make_spare_buffers`]).
fn take_spare_buffer(len_bytes: usize) -> Option<Uint8Array> {
    SPARE_BUFFERS.with(|spares| {
        let mut spares = spares.borrow_mut();
        let index = spares
            .iter()
            .position(|buffer| usize::try_from(buffer.length()).ok() == Some(len_bytes))?;
        Some(spares.swap_remove(index))
    })
}

/// Tells every worker the memory blocks the next job's part will allocate, so that it can
/// allocate them once while the tensor downloads (see [`PREPARE_KEY`]). Spawns the workers if
/// needed, and makes the next job's cancel token and the buffers its bytes are copied into.
pub fn prepare(memory: PartMemory) {
    warm_up();
    SPARE_TOKEN.with(|spare| {
        spare.borrow_mut().get_or_insert_with(CancelToken::new);
    });
    spawn_local(make_spare_buffers(memory.tensor_bytes));
    let Ok(text) = serde_json::to_string(&memory) else {
        return;
    };
    let message = Object::new();
    if Reflect::set(
        &message,
        &JsValue::from_str(PREPARE_KEY),
        &JsValue::from_str(&text),
    )
    .is_err()
    {
        return;
    }
    POOL.with(|cell| {
        for slot in cell.borrow().slots.iter().flatten() {
            // Only an optimisation: a worker that misses it allocates during the job instead.
            let _ignored = slot.worker.post_message(&message);
        }
    });
}

/// Waits until the worker in slot `index` has posted "ready".
async fn wait_ready(index: usize) -> Result<(), WorkerError> {
    let mut waiting: Option<Promise> = None;
    let mut exists = false;
    POOL.with(|cell| {
        if let Some(Some(slot)) = cell.borrow_mut().slots.get_mut(index) {
            exists = true;
            if !slot.is_ready {
                let promise = Promise::new(&mut |resolve, _reject| {
                    slot.ready_waiters.push(resolve);
                });
                waiting = Some(promise);
            }
        }
    });
    if !exists {
        return Err(WorkerError::Crashed {
            detail: "the worker went away before it started".to_owned(),
        });
    }
    if let Some(promise) = waiting {
        let answer = JsFuture::from(promise).await.unwrap_or(JsValue::FALSE);
        if answer != JsValue::TRUE {
            let detail = answer
                .as_string()
                .unwrap_or_else(|| "the worker did not start".to_owned());
            return Err(WorkerError::Crashed { detail });
        }
    }
    Ok(())
}

thread_local! {
    /// Counts the calls of [`cancel`], so that a job being prepared can tell it was cancelled.
    static CANCELS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Copies `bytes` into an `ArrayBuffer` for one worker (a spare one made while the tensor
/// downloaded, else a new one), a slice per browser task, so that a large tensor does not hold
/// the page in one long task.
async fn copy_to_buffer(bytes: &[u8]) -> Result<ArrayBuffer, WorkerError> {
    let too_large = || WorkerError::Job {
        message: "The tensor is too large to hand to the worker. Pick a smaller tensor.".to_owned(),
    };
    let array = match take_spare_buffer(bytes.len()) {
        Some(array) => array,
        None => new_byte_array(u32::try_from(bytes.len()).map_err(|_| too_large())?).ok_or_else(
            || WorkerError::Job {
                message: "The browser could not allocate memory to hand the tensor to the workers. Close other tabs, or pick a smaller tensor, and retry.".to_owned(),
            },
        )?,
    };
    let mut start: u32 = 0;
    for (index, chunk) in bytes.chunks(COPY_BYTES_PER_TASK).enumerate() {
        if index > 0 {
            yield_to_browser().await;
        }
        let end = start
            .checked_add(u32::try_from(chunk.len()).map_err(|_| too_large())?)
            .ok_or_else(too_large)?;
        array.subarray(start, end).copy_from(chunk);
        start = end;
    }
    Ok(array.buffer())
}

/// Stops the running job, if any, by terminating its workers.
pub fn cancel() {
    CANCELS.with(|count| count.set(count.get().wrapping_add(1)));
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
        let _ignored = job.resolve.call1(&JsValue::NULL, &JsValue::UNDEFINED);
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

/// Runs one analysis job in the workers and waits for its results.
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
    on_stage: Rc<dyn Fn(String)>,
    on_values: OnValues,
) -> Result<JobOutput, WorkerError> {
    // A job still running belongs to an abandoned run: stop it first.
    cancel();
    let parts = job_parts(spec);
    for index in 0..parts.len() {
        ensure_worker(index)?;
    }
    for index in 0..parts.len() {
        wait_ready(index).await?;
    }
    // The workers the job goes to: one lost meanwhile is replaced by one that has neither
    // started nor received the bytes streamed ahead.
    let serials = slot_serials(parts.len());

    // The bytes went ahead while they downloaded; else one buffer per worker, each
    // transferred (a structured clone would copy the bytes in one long task).
    let cancels_before = CANCELS.with(std::cell::Cell::get);
    let streamed = streaming::finish_stream(spec, tensor_bytes).await;
    let mut buffers = Vec::with_capacity(parts.len());
    for _ in parts {
        buffers.push(if streamed {
            None
        } else {
            Some(copy_to_buffer(tensor_bytes).await?)
        });
    }
    if CANCELS.with(std::cell::Cell::get) != cancels_before {
        return Err(WorkerError::Cancelled);
    }
    // Dropped (and revoked) on every early return below; the pending job keeps it otherwise.
    let mut cancel_token = Some(
        SPARE_TOKEN
            .with(|spare| spare.borrow_mut().take())
            .unwrap_or_else(CancelToken::new),
    );
    let cancel_url = cancel_token
        .as_ref()
        .map(|token| token.url.clone())
        .unwrap_or_default();
    // Two parts: a channel between the two workers, for the halves of a shared Gram matrix.
    let ports: Vec<Option<web_sys::MessagePort>> = match web_sys::MessageChannel::new() {
        Ok(channel) if parts.len() == 2 => vec![Some(channel.port1()), Some(channel.port2())],
        _ => vec![None; parts.len()],
    };
    let mut messages = Vec::with_capacity(parts.len());
    for ((&part, buffer), port) in parts.iter().zip(&buffers).zip(&ports) {
        let job = PartJob {
            spec: spec.clone(),
            part,
            cancel_url: cancel_url.clone(),
            streamed,
        };
        let spec_text = serde_json::to_string(&job).map_err(|err| WorkerError::Job {
            message: format!("The job could not be encoded ({err}). Reload the page and retry."),
        })?;
        let job_object = Object::new();
        let set =
            |key: &str, value: &JsValue| Reflect::set(&job_object, &JsValue::from_str(key), value);
        set(SPEC_KEY, &JsValue::from_str(&spec_text))
            .and_then(|_| match buffer {
                Some(buffer) => set(BYTES_KEY, buffer),
                None => Ok(true),
            })
            .and_then(|_| match port {
                Some(port) => set(PORT_KEY, port),
                None => Ok(true),
            })
            .map_err(|err| WorkerError::Spawn {
                detail: js_error_text(&err),
            })?;
        let transfer = Array::new();
        if let Some(buffer) = buffer {
            transfer.push(buffer);
        }
        if let Some(port) = port {
            transfer.push(port);
        }
        messages.push((job_object, transfer));
    }

    let mut posted: Result<Promise, WorkerError> = Err(WorkerError::Died {
        detail: "it went away before the job was sent".to_owned(),
    });
    POOL.with(|cell| {
        let mut guard = cell.borrow_mut();
        let pool = &mut *guard;
        if pool_serials(pool, parts.len()) != serials {
            return;
        }
        if let Some(stale) = pool.job.take() {
            // An older run sent its job while this one waited for "ready"; it is superseded.
            let _ignored = stale.resolve.call1(&JsValue::NULL, &JsValue::UNDEFINED);
        }
        let promise = Promise::new(&mut |resolve, _reject| {
            pool.job = Some(PendingJob {
                job_id: spec.job_id,
                resolve,
                on_stage: Rc::clone(&on_stage),
                on_values: Rc::clone(&on_values),
                options: spec.options.clone(),
                values_reported: false,
                _cancel_token: cancel_token.take(),
                slots: (0..POOL_SIZE.max(parts.len()))
                    .map(|index| SlotProgress {
                        takes_part: index < parts.len(),
                        ..SlotProgress::default()
                    })
                    .collect(),
            });
        });
        posted = Ok(promise);
        for (index, (job_object, transfer)) in messages.iter().enumerate() {
            let Some(Some(slot)) = pool.slots.get_mut(index) else {
                continue;
            };
            let sent = slot.worker.post_message_with_transfer(job_object, transfer);
            match sent {
                Ok(()) => slot.is_busy = true,
                Err(err) => {
                    posted = Err(WorkerError::Crashed {
                        detail: js_error_text(&err),
                    });
                    break;
                }
            }
        }
    });
    if posted.is_err() {
        // Nothing will answer a job that was only partly sent: stop what did start.
        cancel();
    }
    let answer = JsFuture::from(posted?).await.unwrap_or(JsValue::UNDEFINED);
    if answer.is_undefined() {
        return Err(WorkerError::Cancelled);
    }
    if answer == JsValue::FALSE {
        let detail = POOL
            .with(|cell| cell.borrow_mut().lost.take())
            .filter(|(job_id, _)| *job_id == spec.job_id)
            .map_or_else(|| "it ended".to_owned(), |(_, detail)| detail);
        return Err(WorkerError::Died { detail });
    }
    if let Some(text) = answer.as_string() {
        // A single text is a failure (or an unreadable answer).
        return Err(match serde_json::from_str::<WorkerMessage>(&text) {
            Ok(WorkerMessage::Failed { message, .. }) => WorkerError::Job { message },
            Ok(_) | Err(_) => unreadable(),
        });
    }
    let answers = POOL
        .with(|cell| cell.borrow_mut().finished.take())
        .filter(|(job_id, _)| *job_id == spec.job_id)
        .map(|(_, answers)| answers)
        .ok_or_else(unreadable)?;
    collect_output(spec, answers, streamed)
}

/// The serials of the workers in the first `count` slots (`None` where none runs).
fn slot_serials(count: usize) -> Vec<Option<u64>> {
    POOL.with(|cell| pool_serials(&cell.borrow(), count))
}

/// The serials of the workers in the first `count` slots of `pool` (`None` where none runs).
fn pool_serials(pool: &Pool, count: usize) -> Vec<Option<u64>> {
    (0..count)
        .map(|index| {
            pool.slots
                .get(index)
                .and_then(Option::as_ref)
                .map(|slot| slot.serial)
        })
        .collect()
}

/// The error for an answer the page cannot read.
fn unreadable() -> WorkerError {
    WorkerError::Crashed {
        detail: "the worker sent an unreadable answer".to_owned(),
    }
}

/// Puts the workers' `Done` answers together into the job's output (`bytes_streamed`: whether
/// the bytes went to the workers as they downloaded).
fn collect_output(
    spec: &JobSpec,
    answers: Vec<WorkerMessage>,
    bytes_streamed: bool,
) -> Result<JobOutput, WorkerError> {
    let mut full = None;
    let mut dropped = None;
    let mut analysis_ms: f64 = 0.0;
    let mut decode_ms: f64 = 0.0;
    let mut worker_memory_bytes: u64 = 0;
    for answer in answers {
        match answer {
            WorkerMessage::Done {
                part,
                summary,
                analysis_ms: part_analysis_ms,
                decode_ms: part_decode_ms,
                memory_bytes,
                ..
            } => {
                worker_memory_bytes = worker_memory_bytes.max(memory_bytes);
                analysis_ms = analysis_ms.max(part_analysis_ms);
                decode_ms = decode_ms.max(part_decode_ms);
                match part {
                    AnalysisPart::Full => full = summary,
                    AnalysisPart::Dropped => dropped = summary,
                }
            }
            WorkerMessage::Failed { message, .. } => return Err(WorkerError::Job { message }),
            _ => return Err(unreadable()),
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
