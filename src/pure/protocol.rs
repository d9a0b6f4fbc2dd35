//! The messages between the page and the analysis workers, as types: [`ToWorker`] (page →
//! worker) and [`FromWorker`] (worker → page), each sent as the JSON text of one value.
//!
//! A job is named by its [`JobId`], given by the page. A failure crosses as a [`JobFailure`]: its
//! [`ErrorKind`] and its message, so that the page shows the kind the core gave it (a NaN in the
//! tensor is [`ErrorKind::BadTensor`], whichever way its bytes came). A cancelled part sends
//! nothing: cancelling is not a failure.
//!
//! What serde cannot carry (the tensor bytes as a transferred `ArrayBuffer`, a `MessagePort`)
//! travels beside the message, in the envelope the shell builds (`web::workers::protocol`).
//!
//! The order of a job: the page may send [`ToWorker::Prepare`] and, while the tensor downloads,
//! [`ToWorker::OpenStream`] and [`ToWorker::Chunk`]s; then [`ToWorker::Job`]. The worker answers
//! [`FromWorker::Stage`]s, [`FromWorker::Values`] as soon as its part's singular values are
//! known, then one [`FromWorker::Done`] or [`FromWorker::Failed`].

use crate::pure::analysis::{AnalysisError, AnalysisOptions, AnalysisPart, PartMemory, SvdSummary};
use crate::pure::common::{Cancelled, ErrorKind};
use crate::pure::linalg::svd::SvdError;
use crate::pure::source::decode::DecodeError;
use crate::pure::source::format::Dtype;

/// Names one job: the workers' answers carry it, so that the page can drop stale ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct JobId(pub u32);

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "job {}", self.0)
    }
}

/// What to decode and how to analyse it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct JobSpec {
    /// Identifies the job, so that stale answers can be ignored.
    pub job_id: JobId,
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
    /// once the read fails. `None`: never stop.
    #[serde(default)]
    pub cancel_url: Option<String>,
    /// The tensor bytes came ahead in this job's stream ([`ToWorker::OpenStream`]); the job
    /// carries none.
    #[serde(default)]
    pub streamed: bool,
}

/// A failed job, as it crosses from the worker to the page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JobFailure {
    /// What kind of failure, as the page's `data-kind` shows it.
    pub kind: ErrorKind,
    /// The user-facing message: what happened and what to do.
    pub message: String,
}

impl JobFailure {
    /// A failure to decode the tensor's bytes: the tensor cannot be analysed as a matrix (a
    /// NaN or infinity, a dtype the app does not read, a wrong length), or it is too large.
    pub fn of_decode(err: &DecodeError) -> Self {
        let kind = match err {
            DecodeError::ShapeOverflow { .. } => ErrorKind::TooLarge,
            _ => ErrorKind::BadTensor,
        };
        Self {
            kind,
            message: err.to_string(),
        }
    }

    /// A failed analysis, or [`Cancelled`] when it was stopped (not a failure: nothing is sent).
    ///
    /// # Errors
    /// [`Cancelled`] for a cancelled analysis.
    pub fn of_analysis(err: &AnalysisError) -> Result<Self, Cancelled> {
        let kind = match err {
            AnalysisError::Svd(SvdError::Cancelled) => return Err(Cancelled),
            AnalysisError::Svd(SvdError::NonFinite { .. }) => ErrorKind::BadTensor,
            _ => ErrorKind::Analysis,
        };
        Ok(Self {
            kind,
            message: err.to_string(),
        })
    }
}

/// One message from the page to a worker.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ToWorker {
    /// The memory blocks the next job's part will allocate: the worker allocates the same
    /// blocks in the same order while the tensor downloads, and answers nothing.
    Prepare {
        /// The blocks, in the order the part allocates them.
        memory: PartMemory,
    },
    /// Opens a stream for `job`: its tensor's bytes follow in [`ToWorker::Chunk`]s as they
    /// download. The worker decodes each whole row as it arrives and, when the parts share a
    /// Gram matrix, sums its half over the rows already there; the job itself then comes with
    /// `streamed` set and no bytes. A new stream replaces the previous one.
    OpenStream {
        /// The job part the bytes are for.
        job: PartJob,
    },
    /// The next bytes of the open stream, beside the message as a transferred `ArrayBuffer`.
    Chunk {
        /// The stream's job (bytes of another job are ignored).
        job_id: JobId,
    },
    /// A job part to run. Its tensor bytes are beside the message as a transferred
    /// `ArrayBuffer`, unless they came ahead (`streamed`). When the job has two parts, one end
    /// of a `MessageChannel` is beside it too: when the parts share a Gram matrix
    /// ([`crate::pure::analysis::parts_share_gram`]), each worker forms its half and sends the
    /// other its columns through it.
    Job {
        /// The part to run.
        job: PartJob,
    },
}

/// One message from a worker to the page.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FromWorker {
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
        job_id: JobId,
        /// A short description of the step.
        label: String,
    },
    /// A worker knows its part's singular values; the vectors are still being computed.
    Values {
        /// The job this is about.
        job_id: JobId,
        /// The part this worker computes.
        part: AnalysisPart,
        /// The part's values, energies and rank, with no vectors (`u_top_k` is empty); `None`
        /// for the dropped part when nothing is dropped.
        summary: Option<SvdSummary>,
    },
    /// A worker finished its part of a job.
    Done {
        /// The job this is about.
        job_id: JobId,
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
    /// A job failed.
    Failed {
        /// The job this is about; `None` when the worker could not read which job it was
        /// given (the job it was running then fails).
        job_id: Option<JobId>,
        /// What failed, with its kind.
        error: JobFailure,
    },
}

impl FromWorker {
    /// The JSON text of this message.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|err| {
            // Only a non-finite float can fail here, and the summaries hold finite ones; the
            // page still hears of it, as a failure of the job.
            let failed = FromWorker::Failed {
                job_id: self.job_id(),
                error: JobFailure {
                    kind: ErrorKind::Analysis,
                    message: format!(
                        "The worker could not encode its answer ({err}). Reload the page and retry."
                    ),
                },
            };
            serde_json::to_string(&failed).unwrap_or_default()
        })
    }

    /// The job this message is about, if any.
    pub fn job_id(&self) -> Option<JobId> {
        match self {
            FromWorker::Ready { .. } => None,
            FromWorker::Stage { job_id, .. }
            | FromWorker::Values { job_id, .. }
            | FromWorker::Done { job_id, .. } => Some(*job_id),
            FromWorker::Failed { job_id, .. } => *job_id,
        }
    }
}

/// Whose job the shared worker pool runs: the pool's rule ([`admit`]) tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOwner {
    /// The main run's analysis.
    Main,
    /// A compared model's analysis.
    Compare,
}

/// What the pool does with the job in flight (or being prepared) when a new job arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The new job is not run: it ends as cancelled at once.
    Refuse,
    /// The job in flight, and any being prepared, belong to an abandoned run: stop them (their
    /// workers are terminated).
    CancelRunning,
    /// The job in flight ends as cancelled, and its owner runs it again later; its workers stop
    /// by themselves (its cancel token is revoked) and take the new job next.
    PreemptRunning,
}

/// The pool's rule: one job at a time; a main job pre-empts a compare job (which the compare
/// queue runs again after the main run) and cancels an older main job; a compare job never
/// pre-empts a main job, whether it runs (`running`) or is being prepared (`main_preparing`),
/// and supersedes an older compare job.
pub fn admit(owner: JobOwner, running: Option<JobOwner>, main_preparing: bool) -> Admission {
    match (owner, running) {
        (JobOwner::Compare, Some(JobOwner::Main)) => Admission::Refuse,
        (JobOwner::Compare, _) if main_preparing => Admission::Refuse,
        (JobOwner::Compare, _) | (JobOwner::Main, Some(JobOwner::Compare)) => {
            Admission::PreemptRunning
        }
        (JobOwner::Main, _) => Admission::CancelRunning,
    }
}

impl ToWorker {
    /// The JSON text of this message.
    ///
    /// # Errors
    /// serde's, for a value JSON cannot hold (a non-finite threshold).
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pure::analysis::analyse;
    use nalgebra::DMatrix;

    fn spec() -> JobSpec {
        JobSpec {
            job_id: JobId(7),
            tensor_name: "wpe.weight".to_owned(),
            dtype: Dtype::BF16,
            n_rows: 12,
            n_cols: 5,
            options: AnalysisOptions::default(),
        }
    }

    fn part_job(streamed: bool) -> PartJob {
        PartJob {
            spec: spec(),
            part: AnalysisPart::Dropped,
            cancel_url: Some("blob:http://localhost/1234".to_owned()),
            streamed,
        }
    }

    fn summary() -> SvdSummary {
        let matrix = DMatrix::from_fn(9, 8, |row, col| ((row * 8 + col) as f64 * 0.7).sin());
        let analysis = analyse(&matrix, &AnalysisOptions::default());
        analysis
            .map(|analysis| analysis.full)
            .unwrap_or_else(|err| {
                unreachable!("a small finite matrix is analysed: {err}");
            })
    }

    fn round_trip_to(message: &ToWorker) {
        let text = message.to_json().unwrap_or_default();
        let back: Result<ToWorker, _> = serde_json::from_str(&text);
        assert_eq!(back.ok().as_ref(), Some(message), "{text}");
    }

    fn round_trip_from(message: &FromWorker) {
        let text = message.to_json();
        let back: Result<FromWorker, _> = serde_json::from_str(&text);
        assert_eq!(back.ok().as_ref(), Some(message), "{text}");
    }

    #[test]
    fn every_page_message_round_trips() {
        let memory = PartMemory {
            tensor_bytes: 3,
            matrix_bytes: 5,
            gram_bytes: 7,
            panel_bytes: 11,
        };
        round_trip_to(&ToWorker::Prepare { memory });
        round_trip_to(&ToWorker::OpenStream {
            job: part_job(false),
        });
        round_trip_to(&ToWorker::Chunk { job_id: JobId(7) });
        round_trip_to(&ToWorker::Job {
            job: part_job(true),
        });
        round_trip_to(&ToWorker::Job {
            job: PartJob {
                cancel_url: None,
                ..part_job(false)
            },
        });
    }

    #[test]
    fn every_worker_message_round_trips() {
        round_trip_from(&FromWorker::Ready { life_lock: None });
        round_trip_from(&FromWorker::Ready {
            life_lock: Some("poslens-analysis-worker-1f".to_owned()),
        });
        round_trip_from(&FromWorker::Stage {
            job_id: JobId(3),
            label: "Decoding the tensor".to_owned(),
        });
        round_trip_from(&FromWorker::Values {
            job_id: JobId(3),
            part: AnalysisPart::Full,
            summary: Some(summary()),
        });
        round_trip_from(&FromWorker::Values {
            job_id: JobId(3),
            part: AnalysisPart::Dropped,
            summary: None,
        });
        round_trip_from(&FromWorker::Done {
            job_id: JobId(u32::MAX),
            part: AnalysisPart::Full,
            summary: Some(summary()),
            analysis_ms: 12.5,
            decode_ms: 0.25,
            memory_bytes: 1 << 33,
        });
        round_trip_from(&FromWorker::Failed {
            job_id: Some(JobId(3)),
            error: JobFailure {
                kind: ErrorKind::BadTensor,
                message: "tensor `wpe.weight` contains NaN".to_owned(),
            },
        });
        round_trip_from(&FromWorker::Failed {
            job_id: None,
            error: JobFailure {
                kind: ErrorKind::Analysis,
                message: "malformed job".to_owned(),
            },
        });
    }

    #[test]
    fn a_job_id_is_a_bare_number_and_no_job_is_null() {
        let text = FromWorker::Failed {
            job_id: None,
            error: JobFailure {
                kind: ErrorKind::Analysis,
                message: String::new(),
            },
        }
        .to_json();
        assert!(text.contains("\"job_id\":null"), "{text}");
        let text = ToWorker::Chunk { job_id: JobId(9) }.to_json();
        assert_eq!(text.ok().as_deref(), Some(r#"{"kind":"chunk","job_id":9}"#));
    }

    #[test]
    fn the_pool_rule_lets_a_main_job_pre_empt_a_compare_job_and_never_the_reverse() {
        use Admission::{CancelRunning, PreemptRunning, Refuse};
        use JobOwner::{Compare, Main};
        for preparing in [false, true] {
            assert_eq!(admit(Main, Some(Compare), preparing), PreemptRunning);
            assert_eq!(admit(Main, Some(Main), preparing), CancelRunning);
            assert_eq!(admit(Main, None, preparing), CancelRunning);
            assert_eq!(admit(Compare, Some(Main), preparing), Refuse);
        }
        assert_eq!(admit(Compare, None, true), Refuse);
        assert_eq!(admit(Compare, Some(Compare), true), Refuse);
        assert_eq!(admit(Compare, None, false), PreemptRunning);
        assert_eq!(admit(Compare, Some(Compare), false), PreemptRunning);
    }

    #[test]
    fn a_nan_crosses_as_a_bad_tensor_and_a_cancel_as_no_failure() {
        let decode = DecodeError::NonFinite {
            tensor_name: "wpe.weight".to_owned(),
            row: 1990,
            col: 7,
            value_label: "NaN".to_owned(),
        };
        let failure = JobFailure::of_decode(&decode);
        assert_eq!(failure.kind, ErrorKind::BadTensor);
        assert!(failure.message.contains("NaN at row 1990, column 7"));
        let analysis = AnalysisError::Svd(SvdError::NonFinite { row: 1, col: 2 });
        assert_eq!(
            JobFailure::of_analysis(&analysis).map(|failure| failure.kind),
            Ok(ErrorKind::BadTensor)
        );
        assert_eq!(
            JobFailure::of_analysis(&AnalysisError::Svd(SvdError::Cancelled)),
            Err(Cancelled)
        );
        let other = AnalysisError::InvalidK { k_vectors: 0 };
        assert_eq!(
            JobFailure::of_analysis(&other).map(|failure| failure.kind),
            Ok(ErrorKind::Analysis)
        );
    }
}
