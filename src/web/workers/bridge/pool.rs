//! The pool's state: its workers, the job in flight, and the handling of each worker's
//! messages, errors and end. Every message to a worker is posted here ([`post`]).

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{MessageEvent, Worker};

use super::buffers::CancelToken;
use super::{streaming, OnStage, OnValues, WorkerError, POOL_SIZE, WORKER_SCRIPT_URL};
use crate::pure::analysis::{assemble, Analysis, AnalysisOptions, AnalysisPart, SvdSummary};
use crate::web::platform::js::js_error_text;
use crate::web::workers::protocol::{
    reply_from_js, Envelope, FromWorker, JobFailure, JobId, JobOwner,
};

/// How a job ended: the one value its caller receives.
pub(super) enum JobEnd {
    /// Every worker taking part answered.
    Finished(Vec<PartDone>),
    /// A worker reported a failure (the first decides).
    Failed(JobFailure),
    /// A worker taking part ended before it answered: what ended it.
    Lost(String),
    /// Cancelled, superseded by a newer job of its owner, or pre-empted by the main run.
    Cancelled,
}

/// One worker's finished part.
pub(super) struct PartDone {
    /// The part computed.
    pub part: AnalysisPart,
    /// Its result; `None` for the dropped part when nothing is dropped.
    pub summary: Option<SvdSummary>,
    /// The worker's own analysis time, in milliseconds.
    pub analysis_ms: f64,
    /// The worker's decoding time, in milliseconds.
    pub decode_ms: f64,
    /// The worker's memory after the part, in bytes.
    pub memory_bytes: u64,
}

/// The job in flight, spread over one or two workers.
pub(super) struct PendingJob {
    /// Matches the workers' answers to this job.
    pub job_id: JobId,
    /// Whose job it is (the pool's rule).
    pub owner: JobOwner,
    /// Wakes the job's caller once `end` is set.
    resolve: Function,
    /// Where the job's end is left for its caller.
    end: Rc<RefCell<Option<JobEnd>>>,
    /// Receives the combined progress label while the job runs.
    on_stage: OnStage,
    /// Receives the values-only analysis once, when every part's values are known.
    on_values: OnValues,
    /// The job's settings, to assemble the values-only analysis.
    options: AnalysisOptions,
    /// Whether `on_values` was called.
    values_reported: bool,
    /// Per slot: whether it takes part, its latest stage label, and its answer once given.
    slots: Vec<SlotProgress>,
    /// The job's cancel token, revoked when the job is dropped: finished, failed, cancelled or
    /// superseded.
    _cancel_token: Option<CancelToken>,
}

/// One worker's share of the pending job.
#[derive(Default)]
struct SlotProgress {
    /// Whether this worker was given a part of the job.
    takes_part: bool,
    /// The worker's latest stage label, until it answers.
    label: Option<String>,
    /// The worker's finished part.
    answer: Option<PartDone>,
    /// The part and its values-only summary, once the worker sent them.
    values: Option<(AnalysisPart, Option<SvdSummary>)>,
}

/// What a new pending job is made of (see [`PendingJob::new`]).
pub(super) struct JobParts {
    /// The job's id.
    pub job_id: JobId,
    /// Whose job it is.
    pub owner: JobOwner,
    /// Its settings.
    pub options: AnalysisOptions,
    /// How many workers take part (the first slots).
    pub part_count: usize,
    /// Progress labels.
    pub on_stage: OnStage,
    /// The values-only analysis.
    pub on_values: OnValues,
    /// Its cancel token.
    pub cancel_token: Option<CancelToken>,
}

impl PendingJob {
    /// A pending job and the promise that resolves when it ends; its end is then in the cell.
    pub fn new(parts: JobParts) -> (Self, Promise, Rc<RefCell<Option<JobEnd>>>) {
        let end = Rc::new(RefCell::new(None));
        let mut resolver: Option<Function> = None;
        let promise = Promise::new(&mut |resolve, _reject| resolver = Some(resolve));
        let job = Self {
            job_id: parts.job_id,
            owner: parts.owner,
            resolve: resolver.unwrap_or_else(|| Function::new_no_args("")),
            end: Rc::clone(&end),
            on_stage: parts.on_stage,
            on_values: parts.on_values,
            options: parts.options,
            values_reported: false,
            slots: (0..POOL_SIZE.max(parts.part_count))
                .map(|index| SlotProgress {
                    takes_part: index < parts.part_count,
                    ..SlotProgress::default()
                })
                .collect(),
            _cancel_token: parts.cancel_token,
        };
        (job, promise, end)
    }

    /// Ends the job: leaves `how` for its caller and wakes it. Waking only queues the caller's
    /// task, so this is safe inside the pool's borrow.
    pub fn end(self, how: JobEnd) {
        *self.end.borrow_mut() = Some(how);
        let _ignored = self.resolve.call0(&JsValue::NULL);
    }

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

    /// Whether the worker in slot `index` takes part and has not answered.
    fn awaits(&self, index: usize) -> bool {
        self.slots
            .get(index)
            .is_some_and(|slot| slot.takes_part && slot.answer.is_none())
    }
}

/// One live worker.
pub(super) struct Slot {
    /// The worker itself.
    worker: Worker,
    /// Tells this worker from the others spawned in the same slot before and after it.
    pub serial: u64,
    /// Whether the worker has posted its "ready" message.
    pub is_ready: bool,
    /// Whether the worker is computing a part of the job in flight.
    pub is_busy: bool,
    /// Resolvers waiting for "ready".
    ready_waiters: Vec<Function>,
    /// Keeps the message handler alive.
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    /// Keeps the error handler alive.
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

impl Slot {
    /// Terminates the worker and tells anyone waiting for "ready" why it will never come.
    pub fn shut_down(mut self, reason: &str) {
        self.worker.terminate();
        for waiter in self.ready_waiters.drain(..) {
            let _ignored = waiter.call1(&JsValue::NULL, &JsValue::from_str(reason));
        }
    }
}

/// Posts `envelope` to the worker of `slot`: the only way a message reaches a worker.
///
/// # Errors
/// What went wrong, as the browser or the encoding reported it.
pub(super) fn post(slot: &Slot, envelope: &Envelope) -> Result<(), String> {
    let (object, transfer) = envelope.to_js()?;
    slot.worker
        .post_message_with_transfer(&object, &transfer)
        .map_err(|err| js_error_text(&err))
}

/// The page's workers and the job they share.
#[derive(Default)]
pub(super) struct Pool {
    /// The workers, spawned on first use; `None` where none runs.
    pub slots: Vec<Option<Slot>>,
    /// The job in flight, if any.
    pub job: Option<PendingJob>,
    /// The serial of the last worker spawned.
    last_serial: u64,
}

impl Pool {
    /// Takes every worker still computing a part, leaving idle ones in place.
    pub fn take_busy_slots(&mut self) -> Vec<Slot> {
        self.slots
            .iter_mut()
            .filter(|slot| slot.as_ref().is_some_and(|slot| slot.is_busy))
            .filter_map(Option::take)
            .collect()
    }

    /// The serials of the workers in the first `count` slots (`None` where none runs).
    pub fn serials(&self, count: usize) -> Vec<Option<u64>> {
        (0..count)
            .map(|index| {
                self.slots
                    .get(index)
                    .and_then(Option::as_ref)
                    .map(|slot| slot.serial)
            })
            .collect()
    }
}

thread_local! {
    /// The page's worker pool.
    pub(super) static POOL: RefCell<Pool> = RefCell::new(Pool::default());
}

/// What to do after a message was handled, outside the pool's borrow.
enum AfterMessage {
    /// Nothing.
    Nothing,
    /// Report a progress label.
    Stage(OnStage, String),
    /// Report the values-only analysis, then maybe a progress label.
    Values(OnValues, Analysis, Option<(OnStage, String)>),
    /// Terminate these workers, whose results are no longer wanted.
    Stop(Vec<Slot>),
    /// Watch the life lock (the name) of the worker with this serial.
    WatchLife(u64, String),
}

/// Handles one message from the worker in slot `index`.
fn on_worker_message(index: usize, data: &JsValue) {
    let Some(message) = reply_from_js(data) else {
        return;
    };
    let after = POOL.with(|cell| {
        let mut guard = cell.borrow_mut();
        handle_message(&mut guard, index, message)
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

/// Applies one message from the worker in slot `index` to `pool`.
fn handle_message(pool: &mut Pool, index: usize, message: FromWorker) -> AfterMessage {
    let pending =
        |pool: &Pool, job_id: JobId| pool.job.as_ref().is_some_and(|job| job.job_id == job_id);
    match message {
        FromWorker::Ready { life_lock } => {
            let Some(Some(slot)) = pool.slots.get_mut(index) else {
                return AfterMessage::Nothing;
            };
            slot.is_ready = true;
            for waiter in slot.ready_waiters.drain(..) {
                let _ignored = waiter.call1(&JsValue::NULL, &JsValue::TRUE);
            }
            match life_lock {
                Some(name) => AfterMessage::WatchLife(slot.serial, name),
                None => AfterMessage::Nothing,
            }
        }
        FromWorker::Stage { job_id, label } => {
            let Some(job) = pool.job.as_mut().filter(|job| job.job_id == job_id) else {
                return AfterMessage::Nothing;
            };
            if let Some(progress) = job.slots.get_mut(index) {
                progress.label = Some(label);
            }
            AfterMessage::Stage(Rc::clone(&job.on_stage), job.combined_label())
        }
        FromWorker::Values {
            job_id,
            part,
            summary,
        } => {
            let Some(job) = pool.job.as_mut().filter(|job| job.job_id == job_id) else {
                return AfterMessage::Nothing;
            };
            if let Some(progress) = job.slots.get_mut(index) {
                progress.values = Some((part, summary));
            }
            match job.take_values() {
                Some(analysis) => AfterMessage::Values(Rc::clone(&job.on_values), analysis, None),
                None => AfterMessage::Nothing,
            }
        }
        FromWorker::Failed { job_id, error } => {
            // No id: the worker could not read what it was sent, which fails the job it runs.
            let matches = match job_id {
                Some(job_id) => pending(pool, job_id),
                None => pool.job.as_ref().is_some_and(|job| job.awaits(index)),
            };
            if !matches {
                return AfterMessage::Nothing;
            }
            if let Some(Some(slot)) = pool.slots.get_mut(index) {
                slot.is_busy = false;
            }
            // The first failure decides the job; the other worker's result is moot.
            if let Some(job) = pool.job.take() {
                job.end(JobEnd::Failed(error));
            }
            AfterMessage::Stop(pool.take_busy_slots())
        }
        FromWorker::Done {
            job_id,
            part,
            summary,
            analysis_ms,
            decode_ms,
            memory_bytes,
        } => {
            if !pending(pool, job_id) {
                return AfterMessage::Nothing;
            }
            if let Some(Some(slot)) = pool.slots.get_mut(index) {
                slot.is_busy = false;
            }
            let Some(job) = pool.job.as_mut() else {
                return AfterMessage::Nothing;
            };
            if let Some(progress) = job.slots.get_mut(index) {
                progress.label = None;
                if progress.values.is_none() {
                    progress.values = Some((part, summary.clone()));
                }
                progress.answer = Some(PartDone {
                    part,
                    summary,
                    analysis_ms,
                    decode_ms,
                    memory_bytes,
                });
            }
            if job.is_complete() {
                let answers: Vec<PartDone> = job
                    .slots
                    .iter_mut()
                    .filter_map(|slot| slot.answer.take())
                    .collect();
                if let Some(job) = pool.job.take() {
                    job.end(JobEnd::Finished(answers));
                }
                return AfterMessage::Nothing;
            }
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

/// Asks the browser for the life lock `name` of the worker with `serial` in slot `index` (see
/// [`FromWorker::Ready`]): it is granted once that worker is gone, and if the page did not
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
    let (lost, others) = POOL.with(|cell| {
        let mut guard = cell.borrow_mut();
        let pool = &mut *guard;
        let Some(place) = pool.slots.get_mut(index) else {
            return (None, Vec::new());
        };
        if place.as_ref().is_none_or(|slot| slot.serial != serial) {
            // A worker the page itself ended, already replaced or taken out.
            return (None, Vec::new());
        }
        let lost = place.take();
        if !pool.job.as_ref().is_some_and(|job| job.awaits(index)) {
            return (lost, Vec::new());
        }
        if let Some(job) = pool.job.take() {
            job.end(JobEnd::Lost(detail.to_owned()));
        }
        (lost, pool.take_busy_slots())
    });
    let had_started = lost.as_ref().is_some_and(|slot| slot.is_ready);
    if let Some(slot) = lost {
        slot.shut_down(detail);
    }
    for slot in others {
        slot.shut_down(detail);
    }
    if had_started {
        super::warm_up();
    }
}

/// Spawns the worker in slot `index` if none runs there.
pub(super) fn ensure_worker(index: usize) -> Result<(), WorkerError> {
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

/// Waits until the worker in slot `index` has posted "ready".
pub(super) async fn wait_ready(index: usize) -> Result<(), WorkerError> {
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
