//! The tensor's bytes handed to the workers while they download (see
//! [`crate::pure::protocol::ToWorker::OpenStream`]), so that decoding and the Gram matrix's leading rows
//! are done by the time the last byte arrives.
//!
//! [`start_stream`] names the coming job; [`stream_bytes`], called after each network chunk
//! with the bytes so far, sends each ready worker the new ones (a worker still loading gets
//! them later); [`finish_stream`], at the job, sends whatever is left. Anything that breaks
//! the sequence (a worker restarted, a buffer the browser refused) sets the stream aside, and
//! the job hands over its bytes whole, as without a stream.

use std::cell::RefCell;

use super::buffers::new_byte_array;
use super::pool::{post, POOL};
use super::{job_parts, JobSpec, PartJob};
use crate::web::platform::js::{yield_to_browser, COPY_BYTES_PER_TASK};
use crate::web::workers::protocol::{Envelope, ToWorker};

/// The least number of new bytes worth a message while the download goes on: a few rows of
/// the widest W_pos, and few enough messages (12 for GPT-2's 3 MB) to cost nothing.
const STREAM_PIECE_BYTES: usize = 256 * 1024;

/// The coming job's stream.
struct TensorStream {
    /// The job the bytes are for.
    spec: JobSpec,
    /// The tensor's length in bytes.
    len_bytes: usize,
    /// Per worker taking part (by pool slot): the bytes sent so far, `None` before its stream
    /// was opened.
    sent_bytes: Vec<Option<usize>>,
    /// Set when the sequence broke: the job then sends its bytes whole.
    broken: bool,
}

thread_local! {
    /// The stream of the job being downloaded, if any.
    static STREAM: RefCell<Option<TensorStream>> = const { RefCell::new(None) };
}

/// Opens a stream for the job `spec`, whose tensor is `len_bytes` long, replacing any other.
/// Call it once the workers are spawned ([`super::prepare`]).
pub fn start_stream(spec: &JobSpec, len_bytes: u64) {
    super::buffers::drop_spare_buffers();
    let stream = usize::try_from(len_bytes)
        .ok()
        .map(|len_bytes| TensorStream {
            spec: spec.clone(),
            len_bytes,
            sent_bytes: vec![None; job_parts(spec).len()],
            broken: false,
        });
    STREAM.with(|slot| *slot.borrow_mut() = stream);
}

/// Sets the stream aside: a worker it was sending to was replaced.
pub(super) fn break_stream() {
    STREAM.with(|slot| {
        if let Some(stream) = slot.borrow_mut().as_mut() {
            stream.broken = true;
        }
    });
}

/// Sends each ready worker the bytes of `received` (the tensor's bytes so far) it lacks, once
/// enough are new or the tensor is complete.
pub fn stream_bytes(received: &[u8]) {
    let count = STREAM.with(|slot| slot.borrow().as_ref().map_or(0, |s| s.sent_bytes.len()));
    for index in 0..count {
        send_next(index, received, STREAM_PIECE_BYTES, false);
    }
}

/// Sends the worker in slot `index` the next bytes of `received` it lacks, at most
/// [`COPY_BYTES_PER_TASK`] of them and only if at least `least_bytes` are new (or they end the
/// tensor), opening its stream first. Returns whether that worker now has all of `received`.
///
/// At the job (`at_job`), a worker that is not ready breaks the stream.
fn send_next(index: usize, received: &[u8], least_bytes: usize, at_job: bool) -> bool {
    STREAM.with(|slot| {
        let mut slot = slot.borrow_mut();
        let Some(stream) = slot.as_mut().filter(|stream| !stream.broken) else {
            return false;
        };
        let Some(&part) = job_parts(&stream.spec).get(index) else {
            return false;
        };
        let sent = stream.sent_bytes.get(index).copied().flatten();
        let outcome = POOL.with(|pool| {
            let pool = pool.borrow();
            let Some(Some(worker_slot)) = pool.slots.get(index) else {
                return Err(());
            };
            if !worker_slot.is_ready {
                return if at_job { Err(()) } else { Ok(None) };
            }
            let sent = match sent {
                Some(sent) => sent,
                None => {
                    let job = PartJob {
                        spec: stream.spec.clone(),
                        part,
                        cancel_url: None,
                        streamed: false,
                    };
                    post(worker_slot, &Envelope::new(ToWorker::OpenStream { job }))
                        .map_err(|_| ())?;
                    0
                }
            };
            let new_bytes = received.len().saturating_sub(sent);
            let ends = received.len() >= stream.len_bytes;
            if received.len() < sent || new_bytes == 0 || (new_bytes < least_bytes && !ends) {
                return Ok(Some(sent));
            }
            let end = sent + new_bytes.min(COPY_BYTES_PER_TASK);
            let piece = received.get(sent..end).ok_or(())?;
            let array = new_byte_array(u32::try_from(piece.len()).map_err(|_| ())?).ok_or(())?;
            array.copy_from(piece);
            let chunk = Envelope {
                bytes: Some(array.buffer()),
                ..Envelope::new(ToWorker::Chunk {
                    job_id: stream.spec.job_id,
                })
            };
            post(worker_slot, &chunk).map_err(|_| ())?;
            Ok(Some(end))
        });
        match outcome {
            Ok(Some(sent)) => {
                if let Some(place) = stream.sent_bytes.get_mut(index) {
                    *place = Some(sent);
                }
                sent >= received.len() && received.len() == stream.len_bytes
            }
            Ok(None) => false,
            Err(()) => {
                stream.broken = true;
                false
            }
        }
    })
}

/// Completes the stream of the job `spec` with its `tensor_bytes`: sends every worker of the
/// job the bytes it lacks, a slice per browser task. Returns true when each now holds them all
/// (the job then carries none); false, with the stream set aside, when there is no intact
/// stream for this job. Call it once the job's workers are ready.
pub(super) async fn finish_stream(spec: &JobSpec, tensor_bytes: &[u8]) -> bool {
    let usable = STREAM.with(|slot| {
        slot.borrow().as_ref().is_some_and(|stream| {
            !stream.broken && stream.spec == *spec && stream.len_bytes == tensor_bytes.len()
        })
    });
    if !usable {
        STREAM.with(|slot| slot.borrow_mut().take());
        return false;
    }
    for index in 0..job_parts(spec).len() {
        let mut first = true;
        loop {
            if !first {
                yield_to_browser().await;
            }
            first = false;
            if send_next(index, tensor_bytes, 0, true) {
                break;
            }
            let broken = STREAM.with(|slot| slot.borrow().as_ref().is_none_or(|s| s.broken));
            if broken {
                STREAM.with(|slot| slot.borrow_mut().take());
                return false;
            }
        }
    }
    STREAM.with(|slot| slot.borrow_mut().take());
    true
}
