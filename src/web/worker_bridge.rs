//! The page side of the analysis worker: spawn it, wait for "ready", send a job, await the
//! answer.
//!
//! One worker runs at a time. Cancelling terminates it (a running SVD cannot be interrupted
//! any other way); the next job spawns a fresh one.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{MessageEvent, Worker};

use crate::pure::analysis::Analysis;
use crate::web::js::js_error_text;
use crate::web::protocol::{JobSpec, WorkerMessage, BYTES_KEY, SPEC_KEY};

/// The loader script Trunk emits for the worker binary (`data-loader-shim`).
pub const WORKER_SCRIPT_URL: &str = "./worker_loader.js";

/// Everything that can go wrong while the worker runs a job.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkerError {
    /// The browser could not start the worker.
    #[error("The analysis worker could not start ({detail}). Reload the page; if it persists, the build is incomplete.")]
    Spawn {
        /// What the browser reported.
        detail: String,
    },
    /// The worker crashed or its script failed to load.
    #[error("The analysis worker stopped unexpectedly ({detail}). Reload the page and retry.")]
    Crashed {
        /// What the browser reported.
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

/// A finished job's results.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutput {
    /// Every result of the analysis.
    pub analysis: Analysis,
    /// Wall time inside the worker from the decoded matrix to all results, in milliseconds.
    pub analysis_ms: f64,
    /// Time spent decoding the bytes, in milliseconds.
    pub decode_ms: f64,
}

/// A job waiting for its answer.
struct PendingJob {
    /// Matches the worker's answers to this job.
    job_id: u32,
    /// Resolves the job's promise with the answer's JSON text (or an error marker).
    resolve: Function,
    /// Receives stage labels while the job runs.
    on_stage: Rc<dyn Fn(String)>,
}

/// The live worker and the jobs waiting on it.
struct Bridge {
    /// The worker itself.
    worker: Worker,
    /// Whether the worker has posted its "ready" message.
    is_ready: bool,
    /// Resolvers waiting for "ready".
    ready_waiters: Vec<Function>,
    /// The job in flight, if any.
    job: Option<PendingJob>,
    /// Keeps the message handler alive.
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    /// Keeps the error handler alive.
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

thread_local! {
    /// The page's one worker, spawned on first use.
    static BRIDGE: RefCell<Option<Bridge>> = const { RefCell::new(None) };
}

/// The JSON text a crash resolves pending promises with.
fn crash_text(job_id: u32, detail: &str) -> String {
    let message = WorkerError::Crashed {
        detail: detail.to_owned(),
    }
    .to_string();
    serde_json::to_string(&WorkerMessage::Failed { job_id, message }).unwrap_or_default()
}

/// Handles one message from the worker.
fn on_worker_message(data: &JsValue) {
    let Some(text) = data.as_string() else {
        return;
    };
    let Ok(message) = serde_json::from_str::<WorkerMessage>(&text) else {
        return;
    };
    let stage_call = BRIDGE.with(|cell| {
        let mut guard = cell.borrow_mut();
        let bridge = guard.as_mut()?;
        match &message {
            WorkerMessage::Ready => {
                bridge.is_ready = true;
                for waiter in bridge.ready_waiters.drain(..) {
                    let _ignored = waiter.call1(&JsValue::NULL, &JsValue::TRUE);
                }
                None
            }
            WorkerMessage::Stage { job_id, label } => bridge
                .job
                .as_ref()
                .filter(|job| job.job_id == *job_id)
                .map(|job| (Rc::clone(&job.on_stage), label.clone())),
            WorkerMessage::Done { job_id, .. } | WorkerMessage::Failed { job_id, .. } => {
                let matches = bridge.job.as_ref().is_some_and(|job| job.job_id == *job_id)
                    || (*job_id == 0 && bridge.job.is_some());
                if matches {
                    if let Some(job) = bridge.job.take() {
                        // Resolving only queues the awaiting task, so this is safe inside the borrow.
                        let _ignored = job.resolve.call1(&JsValue::NULL, &JsValue::from_str(&text));
                    }
                }
                None
            }
        }
    });
    // The stage callback runs outside the borrow so that it may touch the bridge.
    if let Some((on_stage, label)) = stage_call {
        on_stage(label);
    }
}

/// Handles a worker crash or a script that failed to load.
fn on_worker_error(event: &web_sys::Event) {
    let detail = Reflect::get(event, &JsValue::from_str("message"))
        .ok()
        .and_then(|value| value.as_string())
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| "the worker script failed to load or threw".to_owned());
    let taken = BRIDGE.with(|cell| cell.borrow_mut().take());
    if let Some(mut bridge) = taken {
        bridge.worker.terminate();
        for waiter in bridge.ready_waiters.drain(..) {
            let _ignored = waiter.call1(&JsValue::NULL, &JsValue::from_str(&detail));
        }
        if let Some(job) = bridge.job.take() {
            let text = crash_text(job.job_id, &detail);
            let _ignored = job.resolve.call1(&JsValue::NULL, &JsValue::from_str(&text));
        }
    }
}

/// Spawns the worker if none is running.
fn ensure_worker() -> Result<(), WorkerError> {
    let exists = BRIDGE.with(|cell| cell.borrow().is_some());
    if exists {
        return Ok(());
    }
    let worker = Worker::new(WORKER_SCRIPT_URL).map_err(|err| WorkerError::Spawn {
        detail: js_error_text(&err),
    })?;
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(|event: MessageEvent| {
        on_worker_message(&event.data());
    });
    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(|event: web_sys::Event| {
        on_worker_error(&event);
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    BRIDGE.with(|cell| {
        *cell.borrow_mut() = Some(Bridge {
            worker,
            is_ready: false,
            ready_waiters: Vec::new(),
            job: None,
            _on_message: on_message,
            _on_error: on_error,
        });
    });
    Ok(())
}

/// Spawns the worker ahead of time so its WebAssembly loads while the tensor downloads.
pub fn warm_up() {
    let _ignored = ensure_worker();
}

/// Waits until the worker has posted "ready".
async fn wait_ready() -> Result<(), WorkerError> {
    let mut waiting: Option<Promise> = None;
    BRIDGE.with(|cell| {
        if let Some(bridge) = cell.borrow_mut().as_mut() {
            if !bridge.is_ready {
                let promise = Promise::new(&mut |resolve, _reject| {
                    bridge.ready_waiters.push(resolve);
                });
                waiting = Some(promise);
            }
        }
    });
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

/// Stops the running job, if any, by terminating the worker.
pub fn cancel() {
    let taken = BRIDGE.with(|cell| {
        let mut guard = cell.borrow_mut();
        let busy = guard.as_ref().is_some_and(|bridge| bridge.job.is_some());
        if busy {
            guard.take()
        } else {
            None
        }
    });
    if let Some(mut bridge) = taken {
        bridge.worker.terminate();
        if let Some(job) = bridge.job.take() {
            let _ignored = job.resolve.call1(&JsValue::NULL, &JsValue::UNDEFINED);
        }
        for waiter in bridge.ready_waiters.drain(..) {
            let _ignored = waiter.call1(&JsValue::NULL, &JsValue::from_str("cancelled"));
        }
    }
}

/// Runs one analysis job in the worker and waits for its results.
///
/// The bytes are copied into a fresh `ArrayBuffer` that is transferred, not cloned, to the
/// worker. `on_stage` receives each progress label.
///
/// # Errors
/// See [`WorkerError`].
pub async fn run_job(
    spec: &JobSpec,
    tensor_bytes: &[u8],
    on_stage: Rc<dyn Fn(String)>,
) -> Result<JobOutput, WorkerError> {
    // A job still running belongs to an abandoned run: stop it first.
    cancel();
    ensure_worker()?;
    wait_ready().await?;

    let spec_text = serde_json::to_string(spec).map_err(|err| WorkerError::Job {
        message: format!("The job could not be encoded ({err}). Reload the page and retry."),
    })?;
    let array = Uint8Array::new_with_length(u32::try_from(tensor_bytes.len()).map_err(|_| {
        WorkerError::Job {
            message: "The tensor is too large to hand to the worker. Pick a smaller tensor."
                .to_owned(),
        }
    })?);
    array.copy_from(tensor_bytes);
    let buffer = array.buffer();
    let job_object = Object::new();
    let set =
        |key: &str, value: &JsValue| Reflect::set(&job_object, &JsValue::from_str(key), value);
    set(SPEC_KEY, &JsValue::from_str(&spec_text))
        .and_then(|_| set(BYTES_KEY, &buffer))
        .map_err(|err| WorkerError::Spawn {
            detail: js_error_text(&err),
        })?;
    let transfer = Array::of1(&buffer);

    let mut posted: Result<Promise, WorkerError> = Err(WorkerError::Crashed {
        detail: "the worker went away before the job was sent".to_owned(),
    });
    BRIDGE.with(|cell| {
        if let Some(bridge) = cell.borrow_mut().as_mut() {
            let promise = Promise::new(&mut |resolve, _reject| {
                bridge.job = Some(PendingJob {
                    job_id: spec.job_id,
                    resolve,
                    on_stage: Rc::clone(&on_stage),
                });
            });
            posted = bridge
                .worker
                .post_message_with_transfer(&job_object, &transfer)
                .map(|()| promise)
                .map_err(|err| WorkerError::Crashed {
                    detail: js_error_text(&err),
                });
            if posted.is_err() {
                bridge.job = None;
            }
        }
    });
    let answer = JsFuture::from(posted?).await.unwrap_or(JsValue::UNDEFINED);
    let Some(text) = answer.as_string() else {
        return Err(WorkerError::Cancelled);
    };
    match serde_json::from_str::<WorkerMessage>(&text) {
        Ok(WorkerMessage::Done {
            analysis,
            analysis_ms,
            decode_ms,
            ..
        }) => Ok(JobOutput {
            analysis,
            analysis_ms,
            decode_ms,
        }),
        Ok(WorkerMessage::Failed { message, .. }) => Err(WorkerError::Job { message }),
        Ok(_) | Err(_) => Err(WorkerError::Crashed {
            detail: "the worker sent an unreadable answer".to_owned(),
        }),
    }
}
