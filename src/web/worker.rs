//! The worker side: decode the tensor bytes, compute one part of the analysis, post the
//! result back. The page runs one worker per part, in parallel. Before a job, the page may
//! name the job's first memory blocks, which the worker allocates once while the tensor
//! downloads (`make_memory_ready`).

use std::ops::ControlFlow;

use js_sys::{ArrayBuffer, Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use nalgebra::DMatrix;

use crate::pure::analysis::{
    analyse_part_values_first, values_progress_label, AnalysisError, AnalysisOptions, AnalysisPart,
    AnalysisStage, PartMemory,
};
use crate::pure::decode::decode_matrix;
use crate::pure::format::Dtype;
use crate::web::js::now_ms;
use crate::web::protocol::{JobSpec, PartJob, WorkerMessage, BYTES_KEY, PREPARE_KEY, SPEC_KEY};

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
        let data = event.data();
        let prepare = Reflect::get(&data, &JsValue::from_str(PREPARE_KEY))
            .ok()
            .and_then(|value| value.as_string());
        match prepare {
            // A preparation that cannot be read is only a missed optimisation.
            Some(text) => {
                if let Ok(memory) = serde_json::from_str::<PartMemory>(&text) {
                    make_memory_ready(memory);
                }
            }
            None => handle_job(&outbox, &data),
        }
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker does.
    on_message.forget();
    warm_up_engine(&scope);
    Outbox {
        scope: &scope,
        quiet: false,
    }
    .post(&WorkerMessage::Ready);
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
/// synchronous read that fails once the URL is revoked. An empty token never is.
fn is_revoked(url: &str) -> bool {
    if url.is_empty() {
        return false;
    }
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
            job_id: 0,
            tensor_name: "warm-up".to_owned(),
            dtype: Dtype::F32,
            n_rows: WARM_UP_ROWS,
            n_cols: WARM_UP_COLS,
            options: AnalysisOptions::default(),
        },
        part: AnalysisPart::Full,
        cancel_url: String::new(),
    };
    let Ok(spec_text) = serde_json::to_string(&job) else {
        return;
    };
    let data = js_sys::Object::new();
    let buffer = Uint8Array::from(f32_bytes.as_slice()).buffer();
    let filled = Reflect::set(
        &data,
        &JsValue::from_str(SPEC_KEY),
        &JsValue::from_str(&spec_text),
    )
    .and_then(|_| Reflect::set(&data, &JsValue::from_str(BYTES_KEY), &buffer));
    if filled.is_ok() {
        handle_job(&Outbox { scope, quiet: true }, &data);
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
    /// Posts one message to the page as JSON text.
    fn post(&self, message: &WorkerMessage) {
        let text = match serde_json::to_string(message) {
            Ok(text) => text,
            Err(err) => format!(
                "{{\"kind\":\"failed\",\"job_id\":0,\"message\":\"The worker could not encode its answer: {err}. Reload the page.\"}}"
            ),
        };
        if self.quiet {
            return;
        }
        // A failed post cannot be reported anywhere else; the page's timeout-free wait then
        // ends when the user cancels.
        let _ignored = self.scope.post_message(&JsValue::from_str(&text));
    }
}

/// Runs one part of a job and posts its stages and outcome.
fn handle_job(outbox: &Outbox<'_>, data: &JsValue) {
    let spec_text = Reflect::get(data, &JsValue::from_str(SPEC_KEY))
        .ok()
        .and_then(|value| value.as_string())
        .unwrap_or_default();
    let PartJob {
        spec,
        part,
        cancel_url,
    } = match serde_json::from_str(&spec_text) {
        Ok(job) => job,
        Err(err) => {
            outbox.post(&WorkerMessage::Failed {
                job_id: 0,
                message: format!(
                    "The worker received a malformed job ({err}). Reload the page and retry."
                ),
            });
            return;
        }
    };
    let job_id = spec.job_id;
    // WebAssembly reads only its own memory, so the bytes are copied in once; they are
    // dropped as soon as the matrix is decoded.
    let bytes = Reflect::get(data, &JsValue::from_str(BYTES_KEY))
        .ok()
        .and_then(|value| value.dyn_into::<ArrayBuffer>().ok())
        .map(|buffer| Uint8Array::new(&buffer).to_vec())
        .unwrap_or_default();

    outbox.post(&WorkerMessage::Stage {
        job_id,
        label: "Decoding the tensor".to_owned(),
    });
    let decode_start_ms = now_ms();
    let matrix = match decode_matrix(
        &bytes,
        spec.dtype,
        spec.n_rows,
        spec.n_cols,
        &spec.tensor_name,
    ) {
        Ok(matrix) => matrix,
        Err(err) => {
            outbox.post(&WorkerMessage::Failed {
                job_id,
                message: err.to_string(),
            });
            return;
        }
    };
    drop(bytes);
    let analysis_start_ms = now_ms();
    let decode_ms = analysis_start_ms - decode_start_ms;
    let mut on_stage = |stage: AnalysisStage| {
        outbox.post(&WorkerMessage::Stage {
            job_id,
            label: stage.label().to_owned(),
        });
    };
    // Whether the values were posted: the vectors follow without progress reports, so the
    // cancel token is read once more before them.
    let values_posted = std::cell::Cell::new(false);
    let mut on_values = |summary: &crate::pure::analysis::SvdSummary| {
        values_posted.set(true);
        outbox.post(&WorkerMessage::Values {
            job_id,
            part,
            summary: Some(summary.clone()),
        });
        // The vectors take a steady share of the values' time (measured on the shapes of the
        // benchmark), which gives a long run its estimate.
        let values_elapsed_ms = now_ms() - analysis_start_ms;
        let remaining_s = values_elapsed_ms * VECTORS_PER_VALUES_TIME / 1000.0;
        let label = if remaining_s >= 1.0 {
            format!(
                "Singular values ready after {:.1} s; computing the singular vectors, about {remaining_s:.0} s left",
                values_elapsed_ms / 1000.0
            )
        } else {
            "Computing the singular vectors".to_owned()
        };
        outbox.post(&WorkerMessage::Stage { job_id, label });
    };
    // A progress line at most every PROGRESS_EVERY_MS, with an estimate on long runs, and a
    // look at the cancel token at most every CANCEL_CHECK_EVERY_MS, the first after
    // CANCEL_FIRST_CHECK_MS.
    let mut last_progress_ms = analysis_start_ms;
    let mut last_cancel_check_ms =
        analysis_start_ms + CANCEL_FIRST_CHECK_MS - CANCEL_CHECK_EVERY_MS;
    let mut on_progress = |done_share: f64| {
        let now = now_ms();
        // Not when the values are done but not yet posted: that read would delay them.
        let before_vectors = done_share >= 1.0 && values_posted.get();
        if now - last_cancel_check_ms >= CANCEL_CHECK_EVERY_MS || before_vectors {
            last_cancel_check_ms = now;
            if is_revoked(&cancel_url) {
                return ControlFlow::Break(());
            }
        }
        if now - last_progress_ms >= PROGRESS_EVERY_MS {
            last_progress_ms = now;
            let label = values_progress_label(part, done_share, now - analysis_start_ms);
            outbox.post(&WorkerMessage::Stage { job_id, label });
        }
        ControlFlow::Continue(())
    };
    let outcome = analyse_part_values_first(
        &matrix,
        &spec.options,
        part,
        &mut on_stage,
        &mut on_values,
        &mut on_progress,
    );
    let analysis_ms = now_ms() - analysis_start_ms;
    if matches!(outcome, Err(AnalysisError::Cancelled)) {
        // The page has dropped this job (and is terminating this worker): nobody reads an answer.
        return;
    }
    let message = match outcome {
        Ok(summary) => WorkerMessage::Done {
            job_id,
            part,
            summary,
            analysis_ms,
            decode_ms,
            memory_bytes: memory_bytes(),
        },
        Err(err) => WorkerMessage::Failed {
            job_id,
            message: err.to_string(),
        },
    };
    outbox.post(&message);
}
