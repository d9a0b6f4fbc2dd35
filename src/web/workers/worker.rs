//! The worker side: decode the tensor bytes, compute one part of the analysis, post the
//! result back. The page runs one worker per part, in parallel. Before a job, the page may
//! name the job's first memory blocks, which the worker allocates once while the tensor
//! downloads (`make_memory_ready`).
//!
//! When the two parts share a Gram matrix (`pure::analysis::parts_share_gram`), a job runs
//! in two steps: the worker forms its half of the Gram matrix, sends it to the other worker
//! through the port that came with the job, and returns to its event loop (a worker busy
//! computing receives no messages); the other half's arrival starts the rest
//! (`continue_with_other_half`).

use std::cell::{Cell, RefCell};
use std::ops::ControlFlow;
use std::rc::Rc;

use js_sys::{Array, ArrayBuffer, Float64Array, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use nalgebra::DMatrix;

use crate::pure::analysis::{
    analyse_part_values_first, analyse_part_with_gram_halves, complete_gram_half, part_gram_half,
    parts_share_gram, values_progress_label, AnalysisError, AnalysisOptions, AnalysisPart,
    AnalysisStage, PartGramHalf, PartMemory, SvdSummary,
};
use crate::pure::common::ErrorKind;
use crate::pure::source::decode::decode_matrix;
use crate::pure::source::format::Dtype;
use crate::web::platform::js::now_ms;
use crate::web::workers::protocol::{
    reply_to_js, Envelope, FromWorker, JobFailure, JobId, JobSpec, PartJob, ToWorker,
};
use crate::web::workers::stream::{self, DecodedTensor};

/// Starts the worker: installs the message handler and tells the page it is ready.
///
/// Called from the worker binary's `main`. Outside a dedicated worker it does nothing.
pub fn run_worker() {
    let Ok(scope) = js_sys::global().dyn_into::<DedicatedWorkerGlobalScope>() else {
        return;
    };
    let reply_scope = scope.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let outbox = Outbox {
            scope: &reply_scope,
            quiet: false,
        };
        let envelope = match Envelope::from_js(&event.data()) {
            Ok(envelope) => envelope,
            Err(detail) => {
                // Whatever it was, the job this worker runs next cannot be trusted to be whole.
                outbox.post(&FromWorker::Failed {
                    job_id: None,
                    error: JobFailure {
                        kind: ErrorKind::Analysis,
                        message: format!(
                            "The worker received a malformed message ({detail}). Reload the page and retry."
                        ),
                    },
                });
                return;
            }
        };
        match envelope.message {
            ToWorker::Prepare { memory } => make_memory_ready(memory),
            ToWorker::OpenStream { job } => stream::open_stream(job),
            ToWorker::Chunk { job_id } => {
                if let Some(bytes) = &envelope.bytes {
                    stream::push_chunk(job_id, bytes);
                }
            }
            ToWorker::Job { job } => handle_job(&outbox, job, envelope.bytes, envelope.port),
        }
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker does.
    on_message.forget();
    warm_up_engine(&scope);
    hold_life_lock_then_ready(&scope);
}

/// The start of the name of the Web Lock each worker holds for its whole life.
const LIFE_LOCK_PREFIX: &str = "poslens-analysis-worker-";

/// Takes a Web Lock of its own, never released while the worker lives, and posts "ready"
/// naming it once it is held (see [`FromWorker::Ready`]). The page then learns of the
/// worker's end, whatever ends it, from the browser, which releases the lock with the worker:
/// a worker busy computing sends nothing, so its silence says nothing. Without Web Locks, or
/// when the request fails, "ready" names no lock.
fn hold_life_lock_then_ready(scope: &DedicatedWorkerGlobalScope) {
    let posted = Rc::new(Cell::new(false));
    let post_ready = {
        let scope = scope.clone();
        let posted = Rc::clone(&posted);
        move |life_lock: Option<String>| {
            if posted.replace(true) {
                return;
            }
            Outbox {
                scope: &scope,
                quiet: false,
            }
            .post(&FromWorker::Ready { life_lock });
        }
    };
    // Unique enough among the workers of one origin: the page's and other tabs'.
    let name = format!(
        "{LIFE_LOCK_PREFIX}{:x}-{:x}",
        (js_sys::Math::random() * 4_294_967_296.0) as u64,
        (js_sys::Date::now() * 1000.0) as u64
    );
    let Some(locks) = crate::web::platform::js::lock_manager() else {
        post_ready(None);
        return;
    };
    let on_granted = {
        let post_ready = post_ready.clone();
        let name = name.clone();
        // The promise handed back to the lock manager never settles: the lock is held until
        // the worker ends.
        Closure::once_into_js(move |_lock: JsValue| -> JsValue {
            post_ready(Some(name));
            js_sys::Promise::new(&mut |_resolve, _reject| {}).into()
        })
    };
    match locks.request(&name, on_granted.unchecked_ref()) {
        Ok(promise) => {
            // Settles only if the request fails (it is never released otherwise).
            let held = JsFuture::from(promise);
            wasm_bindgen_futures::spawn_local(async move {
                if held.await.is_err() {
                    post_ready(None);
                }
            });
        }
        Err(_) => post_ready(None),
    }
}

/// The time the singular vectors take, as a share of the time the values took: about 0.4 at
/// 1024 × 768 and 0.1 at 2048 × 2560 in the browser (the values grow as the cube of the
/// smaller side, the vectors only as its square); the larger share keeps the estimate honest.
const VECTORS_PER_VALUES_TIME: f64 = 0.4;

/// Least time between two progress lines of one worker, in milliseconds.
const PROGRESS_EVERY_MS: f64 = 250.0;

/// Least time between two looks at a job's cancel token, in milliseconds. A look is a
/// synchronous read of a `blob:` URL (a few milliseconds at most), so this keeps its cost near
/// 1% and a cancelled job stops within about this long.
const CANCEL_CHECK_EVERY_MS: f64 = 100.0;

/// When the first look at the cancel token comes, in milliseconds after the analysis started.
/// Measured in the browser on a 2-core machine, a look takes 2 to 9 ms, and at 1024 × 768 the
/// values take 100 to 150 ms: a first look at 100 ms would land on the way to the first chart,
/// one at 150 ms mostly after the values are posted (where a look is due anyway). A cancelled
/// job still stops within about this long.
const CANCEL_FIRST_CHECK_MS: f64 = 150.0;

/// Whether the page revoked the cancel token `url` (see [`PartJob::cancel_url`]): a
/// synchronous read that fails once the URL is revoked.
fn is_revoked(url: &str) -> bool {
    let Ok(request) = web_sys::XmlHttpRequest::new() else {
        return false;
    };
    if request.open_with_async("GET", url, false).is_err() {
        return true;
    }
    match request.send() {
        Ok(()) => request.status() != Ok(200),
        Err(_) => true,
    }
}

/// The id of the warm-up's job, which never leaves the worker: its messages are not posted,
/// and its stream and waiting part are taken before the worker reads any message.
const WARM_UP_JOB: JobId = JobId(0);

/// Rows of the small matrix analysed once at start-up.
const WARM_UP_ROWS: usize = 200;
/// Columns of the small matrix analysed once at start-up.
const WARM_UP_COLS: usize = 150;

/// Runs a job once on a small synthetic matrix, through [`handle_job`] itself, and discards
/// the answer.
///
/// The browser first runs WebAssembly with a quick baseline compiler and optimises a
/// function only after it has run hot for a while. A function already running is never
/// swapped for its optimised version, so the SVD of a real matrix, one long call, would stay
/// on slow code for its whole run. This warm-up makes the analysis code hot while the page
/// is still downloading the tensor, so the optimised code is in place when the job arrives.
///
/// It goes through the job's own code path, with the job's own callbacks, on purpose: the
/// optimised code assumes the callees it saw while warming up at each indirect call (the
/// progress, stage and values callbacks are `dyn FnMut`). A warm-up with other callbacks made
/// the optimised SVD bail out to baseline code at the real job's first callback and compile
/// again (about 150 ms per worker, on a core the two workers need) while the job ran.
///
/// It changes no result. It takes about 80 to 160 ms on the baseline code (measured on a
/// 2-core machine), spent while the tensor downloads; the size spans several panels of the
/// blocked reduction, so every kernel of the decomposition runs.
fn warm_up_engine(scope: &DedicatedWorkerGlobalScope) {
    let matrix = DMatrix::from_fn(WARM_UP_ROWS, WARM_UP_COLS, |row, col| {
        // Converting small indices to f64 is exact; the sines give a full-rank matrix.
        let row_f64 = row as f64 + 1.0;
        let col_f64 = col as f64 + 1.0;
        (row_f64 * col_f64 * 0.37).sin() + 0.01 * row_f64
    });
    // Decoding is part of every job too: each stored type once, from the same values.
    let values_f32: Vec<f32> = matrix.transpose().iter().map(|&v| v as f32).collect();
    for dtype in [Dtype::F64, Dtype::F16, Dtype::BF16] {
        let bytes: Vec<u8> = values_f32
            .iter()
            .flat_map(|&v| match dtype {
                Dtype::F64 => f64::from(v).to_le_bytes().to_vec(),
                Dtype::F16 => half::f16::from_f32(v).to_le_bytes().to_vec(),
                _ => half::bf16::from_f32(v).to_le_bytes().to_vec(),
            })
            .collect();
        let _ignored = decode_matrix(&bytes, dtype, WARM_UP_ROWS, WARM_UP_COLS, "warm-up");
    }
    let f32_bytes: Vec<u8> = values_f32.iter().flat_map(|v| v.to_le_bytes()).collect();
    // One part is enough: the dropped part runs the same functions with the same callbacks.
    let job = PartJob {
        spec: JobSpec {
            job_id: WARM_UP_JOB,
            tensor_name: "warm-up".to_owned(),
            dtype: Dtype::F32,
            n_rows: WARM_UP_ROWS,
            n_cols: WARM_UP_COLS,
            options: AnalysisOptions::default(),
        },
        part: AnalysisPart::Full,
        cancel_url: None,
        streamed: false,
    };
    // Through the envelope, as a real job comes, so that its encoding is warm too.
    let buffer = Uint8Array::from(f32_bytes.as_slice()).buffer();
    let envelope = Envelope {
        bytes: Some(buffer),
        ..Envelope::new(ToWorker::Job { job: job.clone() })
    };
    let Ok(envelope) = envelope
        .to_js()
        .and_then(|(data, _)| Envelope::from_js(&data))
    else {
        return;
    };
    let outbox = Outbox { scope, quiet: true };
    if let ToWorker::Job { job } = envelope.message {
        handle_job(&outbox, job, envelope.bytes, None);
    }
    // The route of a job whose parts share the Gram matrix too, with its bytes streamed as a
    // download streams them: this part's half through the job's own path, then the other
    // half, formed here from the same decoded matrix, handed over as the other worker's
    // message would hand it.
    let streamed_job = PartJob {
        streamed: true,
        ..job.clone()
    };
    stream::open_stream(job.clone());
    for piece in f32_bytes.chunks(f32_bytes.len() / 3 + 1) {
        let buffer = Uint8Array::from(piece).buffer();
        stream::push_chunk(job.spec.job_id, &buffer);
    }
    let Ok(channel) = web_sys::MessageChannel::new() else {
        return;
    };
    handle_job(&outbox, streamed_job, None, Some(channel.port1()));
    let Some(waiting) = WAITING.with(|slot| slot.borrow_mut().take()) else {
        return;
    };
    let Ok(decoded) = decode_matrix(
        &f32_bytes,
        Dtype::F32,
        WARM_UP_ROWS,
        WARM_UP_COLS,
        "warm-up",
    ) else {
        return;
    };
    let go = &mut |_share: f64| ControlFlow::Continue(());
    let other = part_gram_half(
        &decoded,
        &job.spec.options,
        AnalysisPart::Dropped,
        &mut |_| {},
        go,
    );
    if let Ok(Some(other)) = other {
        let mut waiting = waiting;
        let message = Float64Array::from(other.exported().as_slice()).buffer();
        import_other_half(&mut waiting.half, &message);
        continue_with_other_half(&outbox, waiting);
    }
}

/// The system's memory page size, in bytes: one write per page maps it.
const MEMORY_PAGE_BYTES: usize = 4096;

thread_local! {
    /// The largest total [`make_memory_ready`] has allocated, in bytes: a smaller job needs no
    /// second pass, since the allocator keeps what was freed.
    static READY_BYTES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Allocates the blocks a job's part will allocate first, in the same order (the tensor
/// bytes, the matrix, then, with the bytes freed, the Gram matrix and its panels), writes one
/// byte per memory page of each, and frees them all.
///
/// A job's first allocations grow the WebAssembly memory, and the system maps each new page
/// on its first write: measured in the browser on a 2-core machine, that made decoding
/// GPT-2's W_pos take 9 to 22 ms instead of 2 to 9. The allocator keeps the freed blocks, and
/// the job, allocating the same sizes in the same order, gets the same addresses: its
/// matrices land on pages already mapped, and the memory grows no further than the job alone
/// grows it. Called while the tensor downloads; a block that cannot be allocated ends the
/// preparation (the job then grows the memory itself, or reports that it cannot).
fn make_memory_ready(memory: PartMemory) {
    let total = memory.total_bytes();
    if total <= READY_BYTES.with(std::cell::Cell::get) {
        return;
    }
    let Some(bytes) = touched_block(memory.tensor_bytes) else {
        return;
    };
    let Some(matrix) = touched_block(memory.matrix_bytes) else {
        return;
    };
    drop(bytes);
    let gram = touched_block(memory.gram_bytes);
    let panels = gram
        .as_ref()
        .and_then(|_| touched_block(memory.panel_bytes));
    drop(panels);
    drop(gram);
    drop(matrix);
    READY_BYTES.with(|ready| ready.set(total));
}

/// A block of `len` bytes with one byte written per memory page, or `None` when it cannot be
/// allocated.
fn touched_block(len: u64) -> Option<Vec<u8>> {
    let len = usize::try_from(len).ok()?;
    let mut block: Vec<u8> = Vec::new();
    block.try_reserve_exact(len).ok()?;
    for page in block.spare_capacity_mut().chunks_mut(MEMORY_PAGE_BYTES) {
        if let Some(first) = page.first_mut() {
            first.write(0);
        }
    }
    // Keeps the writes: without a reader, they could be optimised away.
    std::hint::black_box(block.spare_capacity_mut());
    Some(block)
}

/// The current size of this worker's WebAssembly memory, in bytes.
fn memory_bytes() -> u64 {
    wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .ok()
        .and_then(|memory| memory.buffer().dyn_into::<ArrayBuffer>().ok())
        .map_or(0, |buffer| u64::from(buffer.byte_length()))
}

/// Where a job's messages go: the page, or nowhere for the warm-up's job (which still encodes
/// them, as a real job does).
struct Outbox<'scope> {
    scope: &'scope DedicatedWorkerGlobalScope,
    quiet: bool,
}

impl Outbox<'_> {
    /// Posts one message to the page.
    fn post(&self, message: &FromWorker) {
        let reply = reply_to_js(message);
        if self.quiet {
            return;
        }
        // A failed post cannot be reported anywhere else; the page's timeout-free wait then
        // ends when the user cancels.
        let _ignored = self.scope.post_message(&reply);
    }
}

/// One part of a job on its way: who to answer and the state of its progress reports.
struct PartRun {
    /// The job this part belongs to.
    job_id: JobId,
    /// The part this worker computes.
    part: AnalysisPart,
    /// The job's cancel token (see [`PartJob::cancel_url`]).
    cancel_url: Option<String>,
    /// When the analysis started (after decoding), in milliseconds.
    analysis_start_ms: f64,
    /// How long decoding took, in milliseconds.
    decode_ms: f64,
    /// Whether the values were posted: the vectors follow without progress reports, so the
    /// cancel token is read once more before them.
    values_posted: Cell<bool>,
    /// When the last progress line was posted.
    last_progress_ms: Cell<f64>,
    /// When the cancel token was last read (the first look comes CANCEL_FIRST_CHECK_MS in).
    last_cancel_check_ms: Cell<f64>,
}

impl PartRun {
    /// A part whose analysis starts now, `decode_ms` after its bytes arrived.
    fn new(job_id: JobId, part: AnalysisPart, cancel_url: Option<String>, decode_ms: f64) -> Self {
        let analysis_start_ms = now_ms();
        Self {
            job_id,
            part,
            cancel_url,
            analysis_start_ms,
            decode_ms,
            values_posted: Cell::new(false),
            last_progress_ms: Cell::new(analysis_start_ms),
            last_cancel_check_ms: Cell::new(
                analysis_start_ms + CANCEL_FIRST_CHECK_MS - CANCEL_CHECK_EVERY_MS,
            ),
        }
    }

    /// Posts the label of a new stage.
    fn on_stage(&self, outbox: &Outbox<'_>, stage: AnalysisStage) {
        outbox.post(&FromWorker::Stage {
            job_id: self.job_id,
            label: stage.label().to_owned(),
        });
    }

    /// Posts the values, then the vectors' stage (with an estimate on long runs).
    fn on_values(&self, outbox: &Outbox<'_>, summary: &SvdSummary) {
        self.values_posted.set(true);
        outbox.post(&FromWorker::Values {
            job_id: self.job_id,
            part: self.part,
            summary: Some(summary.clone()),
        });
        // The vectors take a steady share of the values' time (measured on the shapes of the
        // benchmark), which gives a long run its estimate.
        let values_elapsed_ms = now_ms() - self.analysis_start_ms;
        let remaining_s = values_elapsed_ms * VECTORS_PER_VALUES_TIME / 1000.0;
        let label = if remaining_s >= 1.0 {
            format!(
                "Singular values ready after {:.1} s; computing the singular vectors, about {remaining_s:.0} s left",
                values_elapsed_ms / 1000.0
            )
        } else {
            "Computing the singular vectors".to_owned()
        };
        outbox.post(&FromWorker::Stage {
            job_id: self.job_id,
            label,
        });
    }

    /// A progress line at most every PROGRESS_EVERY_MS, with an estimate on long runs, and a
    /// look at the cancel token at most every CANCEL_CHECK_EVERY_MS.
    fn on_progress(&self, outbox: &Outbox<'_>, done_share: f64) -> ControlFlow<()> {
        let now = now_ms();
        // Not when the values are done but not yet posted: that read would delay them.
        let before_vectors = done_share >= 1.0 && self.values_posted.get();
        if now - self.last_cancel_check_ms.get() >= CANCEL_CHECK_EVERY_MS || before_vectors {
            self.last_cancel_check_ms.set(now);
            if self.cancel_url.as_deref().is_some_and(is_revoked) {
                return ControlFlow::Break(());
            }
        }
        if now - self.last_progress_ms.get() >= PROGRESS_EVERY_MS {
            self.last_progress_ms.set(now);
            let label = values_progress_label(self.part, done_share, now - self.analysis_start_ms);
            outbox.post(&FromWorker::Stage {
                job_id: self.job_id,
                label,
            });
        }
        ControlFlow::Continue(())
    }

    /// Posts the part's outcome (nothing when it was cancelled: the page dropped the job).
    fn finish(&self, outbox: &Outbox<'_>, outcome: Result<Option<SvdSummary>, AnalysisError>) {
        let analysis_ms = now_ms() - self.analysis_start_ms;
        let message = match outcome {
            Ok(summary) => FromWorker::Done {
                job_id: self.job_id,
                part: self.part,
                summary,
                analysis_ms,
                decode_ms: self.decode_ms,
                memory_bytes: memory_bytes(),
            },
            Err(err) => match JobFailure::of_analysis(&err) {
                Ok(error) => FromWorker::Failed {
                    job_id: Some(self.job_id),
                    error,
                },
                // Not a failure: the page no longer waits for this part.
                Err(_cancelled) => return,
            },
        };
        outbox.post(&message);
    }
}

/// A part that formed its half of the shared Gram matrix and waits for the other worker's.
struct WaitingPart {
    run: PartRun,
    matrix: DMatrix<f64>,
    options: AnalysisOptions,
    half: PartGramHalf,
    quiet: bool,
    /// The end of the channel the other worker's half arrives on, with its handler.
    port: web_sys::MessagePort,
    _on_message: Option<Closure<dyn FnMut(MessageEvent)>>,
}

thread_local! {
    /// The part waiting for the other worker's half of the Gram matrix, if any.
    static WAITING: RefCell<Option<WaitingPart>> = const { RefCell::new(None) };
}

/// Runs one part of a job, with its tensor `bytes` unless they were streamed, and posts its
/// stages and outcome. When the job came with a `port` and the parts share a Gram matrix, only
/// this part's half of it is formed here and sent to the other worker; the part goes on once
/// the other half arrives ([`continue_with_other_half`]).
fn handle_job(
    outbox: &Outbox<'_>,
    job: PartJob,
    bytes: Option<ArrayBuffer>,
    port: Option<web_sys::MessagePort>,
) {
    let PartJob {
        spec,
        part,
        cancel_url,
        streamed,
    } = job;
    let job_id = spec.job_id;

    outbox.post(&FromWorker::Stage {
        job_id,
        label: "Decoding the tensor".to_owned(),
    });
    let decoded = if streamed {
        stream::take_streamed(job_id, part)
    } else {
        decode_job_bytes(&spec, bytes.as_ref())
    };
    let DecodedTensor {
        matrix,
        decode_ms,
        ahead,
    } = match decoded {
        Ok(decoded) => decoded,
        Err(error) => {
            outbox.post(&FromWorker::Failed {
                job_id: Some(job_id),
                error,
            });
            return;
        }
    };
    let run = PartRun::new(job_id, part, cancel_url, decode_ms);

    let shared_port = port.filter(|_| parts_share_gram(spec.n_rows, spec.n_cols, &spec.options));
    if let Some(port) = shared_port {
        let half = complete_gram_half(
            &matrix,
            &spec.options,
            part,
            ahead,
            &mut |stage| run.on_stage(outbox, stage),
            &mut |share| run.on_progress(outbox, share),
        );
        match half {
            Ok(Some(half)) => {
                send_half(&port, &half);
                wait_for_other_half(WaitingPart {
                    run,
                    matrix,
                    options: spec.options,
                    half,
                    quiet: outbox.quiet,
                    port,
                    _on_message: None,
                });
                return;
            }
            // Both workers decide alike: neither waits for the other.
            Ok(None) => port.close(),
            Err(err) => {
                port.close();
                run.finish(outbox, Err(err));
                return;
            }
        }
    }
    let outcome = analyse_part_values_first(
        &matrix,
        &spec.options,
        part,
        &mut |stage| run.on_stage(outbox, stage),
        &mut |summary| run.on_values(outbox, summary),
        &mut |share| run.on_progress(outbox, share),
    );
    run.finish(outbox, outcome);
}

/// Decodes the tensor bytes that came with the job (none: an empty tensor, which the decoder
/// reports).
///
/// # Errors
/// The decoder's failure.
fn decode_job_bytes(
    spec: &JobSpec,
    buffer: Option<&ArrayBuffer>,
) -> Result<DecodedTensor, JobFailure> {
    // WebAssembly reads only its own memory, so the bytes are copied in once; they are
    // dropped as soon as the matrix is decoded.
    let bytes = buffer
        .map(|buffer| Uint8Array::new(buffer).to_vec())
        .unwrap_or_default();
    let started_ms = now_ms();
    let matrix = decode_matrix(
        &bytes,
        spec.dtype,
        spec.n_rows,
        spec.n_cols,
        &spec.tensor_name,
    )
    .map_err(|err| JobFailure::of_decode(&err))?;
    Ok(DecodedTensor {
        matrix,
        decode_ms: now_ms() - started_ms,
        ahead: None,
    })
}

/// Sends this part's half of the Gram matrix to the other worker, copied straight into a
/// `Float64Array` whose buffer is transferred.
fn send_half(port: &web_sys::MessagePort, half: &PartGramHalf) {
    let sent = u32::try_from(half.exported_len())
        .ok()
        .map(Float64Array::new_with_length)
        .and_then(|values| {
            half.export_with(|offset, column| {
                if let (Ok(start), Ok(len)) = (u32::try_from(offset), u32::try_from(column.len())) {
                    values
                        .subarray(start, start.saturating_add(len))
                        .copy_from(column);
                }
            });
            let buffer = values.buffer();
            port.post_message_with_transferable(&buffer, &Array::of1(&buffer))
                .ok()
        });
    // Without it the other worker computes its part alone (it waits for a message, so one is
    // sent regardless).
    if sent.is_none() {
        let _ignored = port.post_message(&JsValue::NULL);
    }
}

/// Writes the other worker's half of the Gram matrix, the message `data`, straight from its
/// buffer into `half`. Anything but a buffer of the right number of f64 values is left out,
/// and the part is then computed alone.
fn import_other_half(half: &mut PartGramHalf, data: &JsValue) {
    let Ok(buffer) = data.clone().dyn_into::<ArrayBuffer>() else {
        return;
    };
    let values = Float64Array::new(&buffer);
    half.import_with(values.length() as usize, |offset, column| {
        if let (Ok(start), Ok(len)) = (u32::try_from(offset), u32::try_from(column.len())) {
            values
                .subarray(start, start.saturating_add(len))
                .copy_to(column);
        }
    });
}

/// Keeps `waiting` until the other worker's half arrives on its port.
fn wait_for_other_half(mut waiting: WaitingPart) {
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let Some(mut waiting) = WAITING.with(|slot| slot.borrow_mut().take()) else {
            return;
        };
        import_other_half(&mut waiting.half, &event.data());
        let Ok(scope) = js_sys::global().dyn_into::<DedicatedWorkerGlobalScope>() else {
            return;
        };
        let outbox = Outbox {
            scope: &scope,
            quiet: waiting.quiet,
        };
        continue_with_other_half(&outbox, waiting);
    });
    waiting
        .port
        .set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    waiting._on_message = Some(on_message);
    WAITING.with(|slot| *slot.borrow_mut() = Some(waiting));
}

/// Finishes a waiting part once the other worker's half of the Gram matrix is written in (see
/// [`import_other_half`]; without it, the part is computed alone).
fn continue_with_other_half(outbox: &Outbox<'_>, waiting: WaitingPart) {
    let WaitingPart {
        run,
        matrix,
        options,
        half,
        port,
        ..
    } = waiting;
    port.close();
    let outcome = analyse_part_with_gram_halves(
        &matrix,
        &options,
        run.part,
        half,
        &mut |summary| run.on_values(outbox, summary),
        &mut |share| run.on_progress(outbox, share),
    );
    run.finish(outbox, outcome);
}
