//! The memory the pool hands the workers: each job's cancel token, and the buffers the tensor
//! bytes are copied into (made ahead, while the tensor downloads, when they can be).

use std::cell::RefCell;

use js_sys::{Array, ArrayBuffer, Function, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

use super::{WorkerError, POOL_SIZE};
use crate::pure::common::{ErrorKind, MAX_TENSOR_BYTES};
use crate::web::platform::js::{yield_to_browser, COPY_BYTES_PER_TASK};
use crate::web::workers::protocol::JobFailure;

/// A job's cancel token (see [`crate::pure::protocol::PartJob::cancel_url`]): the `blob:` URL of an empty blob,
/// revoked when the token is dropped, so that no path leaves it behind, including a job that
/// fails before it is sent.
pub(super) struct CancelToken {
    /// The URL (`None` when the browser cannot make one: the workers then run to the end).
    pub url: Option<String>,
}

impl CancelToken {
    /// A fresh token.
    pub fn new() -> Self {
        let url = web_sys::Blob::new()
            .and_then(|blob| web_sys::Url::create_object_url_with_blob(&blob))
            .ok();
        Self { url }
    }
}

impl Drop for CancelToken {
    fn drop(&mut self) {
        if let Some(url) = &self.url {
            let _ignored = web_sys::Url::revoke_object_url(url);
        }
    }
}

thread_local! {
    /// A cancel token made ahead for the next job: making one registers a `blob:` URL, which
    /// took 2 to 7 ms of the page's time on the way from the bytes to the workers (measured on
    /// a 2-core machine). Dropping it revokes it.
    pub(super) static SPARE_TOKEN: RefCell<Option<CancelToken>> = const { RefCell::new(None) };
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
pub(super) async fn make_spare_buffers(len_bytes: u64) {
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
pub(super) fn drop_spare_buffers() {
    SPARE_BUFFERS_ROUND.with(|count| count.set(count.get().wrapping_add(1)));
    SPARE_BUFFERS.with(|spares| spares.borrow_mut().clear());
}

/// A new zero-filled `Uint8Array` of `len` bytes, or `None` when the browser cannot allocate it
/// (`new Uint8Array(len)` throws a `RangeError` then, which must not unwind through
/// WebAssembly).
pub(super) fn new_byte_array(len: u32) -> Option<Uint8Array> {
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

/// Copies `bytes` into an `ArrayBuffer` for one worker (a spare one made while the tensor
/// downloaded, if `use_spares`, else a new one), a slice per browser task, so that a large
/// tensor does not hold the page in one long task.
pub(super) async fn copy_to_buffer(
    bytes: &[u8],
    use_spares: bool,
) -> Result<ArrayBuffer, WorkerError> {
    let too_large = || {
        WorkerError::Job(JobFailure {
            kind: ErrorKind::TooLarge,
            message: "The tensor is too large to hand to the worker. Pick a smaller tensor."
                .to_owned(),
        })
    };
    let spare = if use_spares {
        take_spare_buffer(bytes.len())
    } else {
        None
    };
    let array = match spare {
        Some(array) => array,
        None => new_byte_array(u32::try_from(bytes.len()).map_err(|_| too_large())?).ok_or_else(
            || WorkerError::Job(JobFailure {
                kind: ErrorKind::Browser,
                message: "The browser could not allocate memory to hand the tensor to the workers. Close other tabs, or pick a smaller tensor, and retry.".to_owned(),
            }),
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
