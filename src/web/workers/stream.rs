//! The worker side of a tensor streamed while it downloads (see
//! [`crate::pure::protocol::ToWorker::OpenStream`]): each whole row is decoded as soon as its bytes arrive
//! and, when the parts share a Gram matrix, this part's half of it is summed over the rows
//! already there, a chunk of rows at a time. The job then finds its matrix decoded and its
//! half partly summed ([`take_streamed`]).

use std::cell::RefCell;

use js_sys::{ArrayBuffer, Uint8Array};
use nalgebra::DMatrix;

use crate::pure::analysis::{gram_half_ahead, AnalysisPart, GramHalfAhead};
use crate::pure::common::ErrorKind;
use crate::pure::source::decode::MatrixDecoder;
use crate::web::platform::js::now_ms;
use crate::web::workers::protocol::{JobFailure, JobId, PartJob};

/// The tensor of one job's part, as far as its bytes have arrived.
struct StreamedTensor {
    /// The job the bytes belong to.
    job_id: JobId,
    /// The part this worker computes.
    part: AnalysisPart,
    /// The decoder, or the first failure (the job reports it).
    decoder: Result<MatrixDecoder, JobFailure>,
    /// This part's half of the shared Gram matrix, summed over the rows decoded so far (when
    /// the parts share one and its samples are rows).
    ahead: Option<GramHalfAhead>,
    /// Time spent decoding so far, in milliseconds.
    decode_ms: f64,
}

thread_local! {
    /// The stream in progress, if any: a new one replaces it, its job takes it.
    static STREAMED: RefCell<Option<StreamedTensor>> = const { RefCell::new(None) };
}

/// A job's tensor, decoded (from bytes streamed ahead, or from the job's own): the matrix, the
/// time its decoding took and, when streamed, the part's Gram half as far as it was summed.
pub struct DecodedTensor {
    /// The decoded matrix.
    pub matrix: DMatrix<f64>,
    /// Time spent decoding, in milliseconds.
    pub decode_ms: f64,
    /// The part's half of the shared Gram matrix, summed over the leading rows (streamed bytes
    /// only).
    pub ahead: Option<GramHalfAhead>,
}

/// Opens a stream for the job part `job`, replacing any other: allocates its matrix and, when
/// the parts share a Gram matrix, an empty half of it.
pub fn open_stream(job: PartJob) {
    let stream = {
        let spec = job.spec;
        let decoder = MatrixDecoder::new(spec.dtype, spec.n_rows, spec.n_cols, &spec.tensor_name)
            .map_err(|err| JobFailure::of_decode(&err));
        let ahead = decoder
            .as_ref()
            .ok()
            .and_then(|decoder| gram_half_ahead(decoder.matrix(), &spec.options, job.part));
        StreamedTensor {
            job_id: spec.job_id,
            part: job.part,
            decoder,
            ahead,
            decode_ms: 0.0,
        }
    };
    STREAMED.with(|slot| *slot.borrow_mut() = Some(stream));
}

/// Takes the next bytes of `job_id`'s open stream: decodes the rows they complete, then sums
/// the chunks of rows now complete into the Gram half. Bytes of another job are ignored; after
/// a failure, nothing more is decoded.
pub fn push_chunk(job_id: JobId, buffer: &ArrayBuffer) {
    STREAMED.with(|slot| {
        let mut slot = slot.borrow_mut();
        let Some(stream) = slot.as_mut() else {
            return;
        };
        if job_id != stream.job_id {
            return;
        }
        let Ok(decoder) = stream.decoder.as_mut() else {
            return;
        };
        let bytes = Uint8Array::new(buffer).to_vec();
        let started_ms = now_ms();
        let pushed = decoder.push(&bytes);
        stream.decode_ms += now_ms() - started_ms;
        match pushed {
            Ok(()) => {
                if let Some(ahead) = stream.ahead.as_mut() {
                    ahead.add_rows(decoder.matrix(), decoder.rows_decoded());
                }
            }
            Err(err) => stream.decoder = Err(JobFailure::of_decode(&err)),
        }
    });
}

/// The streamed tensor of `job_id`'s `part`, once all its bytes arrived.
///
/// # Errors
/// The failure to show: a decoding failure, missing bytes, or no stream for this job.
pub fn take_streamed(job_id: JobId, part: AnalysisPart) -> Result<DecodedTensor, JobFailure> {
    let stream = STREAMED
        .with(|slot| slot.borrow_mut().take())
        .filter(|stream| stream.job_id == job_id && stream.part == part)
        .ok_or_else(|| JobFailure {
            kind: ErrorKind::Analysis,
            message: "The analysis worker did not receive the tensor's bytes (it may have \
                      restarted). Press Analyse to retry."
                .to_owned(),
        })?;
    let matrix = stream
        .decoder?
        .finish()
        .map_err(|err| JobFailure::of_decode(&err))?;
    Ok(DecodedTensor {
        matrix,
        decode_ms: stream.decode_ms,
        ahead: stream.ahead,
    })
}
