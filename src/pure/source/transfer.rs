//! Transfer decisions, as pure functions: which answers to retry, how long to wait, where
//! to resume a body that stopped early, whether two answers came from the same file, and
//! which kind of failure the page shows.
//!
//! The browser shell (`web::platform::fetch`) makes the requests and asks this module what to do next,
//! so every decision is tested natively. Randomness (the backoff jitter) and the clock are
//! passed in, which keeps the tests deterministic.
//!
//! # The policy
//!
//! - 429 and 5xx answers are retried up to [`RetryPolicy::max_attempts`] tries in all, with
//!   exponential backoff and jitter (`base · 2^(n−1)`, capped, the upper half jittered). A
//!   `Retry-After` header (seconds or an HTTP date) is honoured, up to
//!   [`RetryPolicy::max_retry_after_ms`].
//! - A body that stops early (a network error, a stall, or fewer bytes than asked for) is
//!   resumed with a new `Range: bytes=<next>-<end>`, up to [`RetryPolicy::max_resumes`] times.
//! - Every answer after the first must report the same `ETag` and file size; otherwise the
//!   file changed while it was read, and the read fails rather than mixing two versions.
//! - A tensor above [`MAX_TENSOR_BYTES`] is refused before its bytes are asked for
//!   ([`crate::pure::source::format::plan_tensor_read`] checks it; the message shows the tensor's size).

use std::ops::Range;

use crate::pure::common::shorten;
pub use crate::pure::common::{size_label, ErrorKind};

pub use crate::pure::common::MAX_TENSOR_BYTES;

/// How often and how patiently a request is retried and resumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RetryPolicy {
    /// Tries in all (the first one included) for an answer with a retryable status.
    pub max_attempts: u32,
    /// How many times a body that stopped early is resumed.
    pub max_resumes: u32,
    /// The wait before the first retry, in milliseconds (doubles with each further retry).
    pub base_delay_ms: u64,
    /// The longest backoff wait, in milliseconds.
    pub max_delay_ms: u64,
    /// The longest `Retry-After` wait honoured, in milliseconds; longer asks are cut to this.
    pub max_retry_after_ms: u64,
    /// A body that delivers no byte for this long is treated as dropped, in milliseconds.
    pub stall_timeout_ms: u64,
}

impl Default for RetryPolicy {
    /// 5 tries, 5 resumes, 500 ms doubling up to 8 s, `Retry-After` up to 60 s, stall after 10 s.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            max_resumes: 5,
            base_delay_ms: 500,
            max_delay_ms: 8_000,
            max_retry_after_ms: 60_000,
            stall_timeout_ms: 10_000,
        }
    }
}

/// Returns true for statuses worth retrying: 429 (rate limited) and every 5xx.
pub fn is_retryable_status(status: u16) -> bool {
    status == 429 || (500..=599).contains(&status)
}

/// Returns the backoff wait before retry number `retry_number` (1 for the first retry).
///
/// The wait is `base · 2^(n−1)`, capped at `max_delay_ms`; its lower half is fixed and its
/// upper half is scaled by `jitter_unit` (a number in `[0, 1]`, clamped), so that many
/// clients do not retry in step.
pub fn backoff_delay_ms(policy: &RetryPolicy, retry_number: u32, jitter_unit: f64) -> u64 {
    let exponent = retry_number.saturating_sub(1).min(32);
    let uncapped = policy
        .base_delay_ms
        .saturating_mul(1_u64.checked_shl(exponent).unwrap_or(u64::MAX));
    let capped = uncapped.min(policy.max_delay_ms);
    let half = capped / 2;
    let jitter = if jitter_unit.is_finite() {
        jitter_unit.clamp(0.0, 1.0)
    } else {
        0.0
    };
    // `half` is at most `max_delay_ms / 2`; as f64 it is exact for any realistic wait.
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let jittered = ((capped - half) as f64 * jitter).round() as u64;
    half.saturating_add(jittered)
}

/// Reads a `Retry-After` header as a wait in milliseconds.
///
/// Accepts a number of seconds (`120`) or an HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`, and
/// the two obsolete date forms), measured from `now_unix_ms`. A date in the past means no
/// wait. Anything else gives `None`.
pub fn parse_retry_after_ms(value: &str, now_unix_ms: u64) -> Option<u64> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) {
        return value
            .parse::<u64>()
            .ok()
            .map(|seconds| seconds.saturating_mul(1000));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    let when_unix_ms = when
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX))?;
    Some(when_unix_ms.saturating_sub(now_unix_ms))
}

/// What to do after an answer with an unsuccessful status.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RetryDecision {
    /// The status is not worth retrying (404, 401…): report it now.
    Fail,
    /// Wait, then try again.
    Retry {
        /// Which retry this is (1 for the first).
        retry_number: u32,
        /// The retries allowed in all (`max_attempts − 1`).
        max_retries: u32,
        /// How long to wait first, in milliseconds.
        delay_ms: u64,
        /// Whether the wait came from the server's `Retry-After`.
        from_retry_after: bool,
    },
    /// Retryable, but every try is used up.
    GiveUp {
        /// How many times the request was sent.
        attempts: u32,
    },
}

/// Decides whether to retry after `status`, given how many tries were already made
/// (`attempts_so_far`, at least 1), the `Retry-After` header if any, the clock and a jitter
/// value in `[0, 1]`.
pub fn decide_retry(
    policy: &RetryPolicy,
    status: u16,
    attempts_so_far: u32,
    retry_after: Option<&str>,
    now_unix_ms: u64,
    jitter_unit: f64,
) -> RetryDecision {
    if !is_retryable_status(status) {
        return RetryDecision::Fail;
    }
    if attempts_so_far >= policy.max_attempts {
        return RetryDecision::GiveUp {
            attempts: attempts_so_far,
        };
    }
    let retry_number = attempts_so_far.max(1);
    let server_wait = retry_after.and_then(|value| parse_retry_after_ms(value, now_unix_ms));
    let (delay_ms, from_retry_after) = match server_wait {
        Some(wait_ms) => (wait_ms.min(policy.max_retry_after_ms), true),
        None => (backoff_delay_ms(policy, retry_number, jitter_unit), false),
    };
    RetryDecision::Retry {
        retry_number,
        max_retries: policy.max_attempts.saturating_sub(1),
        delay_ms,
        from_retry_after,
    }
}

/// What to do after a body stopped before all of `requested` arrived.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ResumeDecision {
    /// Every byte arrived.
    Complete,
    /// Ask for the rest with a new `Range`, after a wait.
    Resume {
        /// The bytes still missing, half-open (`Range: bytes=start-(end−1)`).
        range: Range<u64>,
        /// Which resume this is (1 for the first).
        resume_number: u32,
        /// The resumes allowed in all.
        max_resumes: u32,
        /// How long to wait first, in milliseconds.
        delay_ms: u64,
    },
    /// The body kept stopping early; every resume is used up.
    GiveUp {
        /// How many times the body was resumed.
        resumes: u32,
    },
}

/// Plans the next request after `received_bytes` of the half-open `requested` range arrived,
/// given how many resumes were already made and a jitter value in `[0, 1]`.
pub fn decide_resume(
    policy: &RetryPolicy,
    requested: &Range<u64>,
    received_bytes: u64,
    resumes_so_far: u32,
    jitter_unit: f64,
) -> ResumeDecision {
    let next_byte = requested.start.saturating_add(received_bytes);
    if next_byte >= requested.end {
        return ResumeDecision::Complete;
    }
    if resumes_so_far >= policy.max_resumes {
        return ResumeDecision::GiveUp {
            resumes: resumes_so_far,
        };
    }
    let resume_number = resumes_so_far.saturating_add(1);
    // The first resume is quick (a dropped connection usually reconnects at once).
    let delay_ms = if resume_number == 1 {
        0
    } else {
        backoff_delay_ms(policy, resume_number - 1, jitter_unit)
    };
    ResumeDecision::Resume {
        range: next_byte..requested.end,
        resume_number,
        max_resumes: policy.max_resumes,
        delay_ms,
    }
}

/// What identifies one version of a remote file: its `ETag` and its size, when the server
/// reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileIdentity {
    /// The entity tag's value ([`etag_value`]: no weak `W/` prefix, no quotes).
    pub etag: Option<String>,
    /// The whole file's size in bytes.
    pub len_bytes: Option<u64>,
}

impl FileIdentity {
    /// Builds an identity from the raw `ETag` header (if any) and the file size (if known).
    pub fn new(etag_header: Option<&str>, len_bytes: Option<u64>) -> Self {
        let etag = etag_header.and_then(etag_value).map(str::to_owned);
        FileIdentity { etag, len_bytes }
    }

    /// Fills in what `self` lacks from `other` (a later answer may report what an earlier one
    /// did not).
    pub fn merged_with(&self, other: &FileIdentity) -> FileIdentity {
        FileIdentity {
            etag: self.etag.clone().or_else(|| other.etag.clone()),
            len_bytes: self.len_bytes.or(other.len_bytes),
        }
    }
}

/// The value of an `ETag` header, as compared between answers: without a weak `W/` prefix
/// (`w/` too) and without the quotes around it, so that `"abc"`, `W/"abc"` and `abc` (as
/// some servers and proxies spell it) name the same version. This is the weak comparison of
/// RFC 9110 section 8.8.3.2, extended to tags sent unquoted. `None` for a blank header.
pub fn etag_value(header: &str) -> Option<&str> {
    let tag = header.trim();
    let tag = tag
        .strip_prefix("W/")
        .or_else(|| tag.strip_prefix("w/"))
        .unwrap_or(tag)
        .trim();
    let tag = tag
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(tag);
    (!tag.is_empty()).then_some(tag)
}

/// Everything a transfer can end in besides an HTTP status the Hub explains.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    /// The file's `ETag` or size differs between two answers.
    #[error(
        "the file changed while reading: {detail} between two requests to {url}. \
         The bytes read so far belong to another version, so nothing was analysed. \
         Press Analyse to read it again, or pin the revision to a commit"
    )]
    Changed {
        /// The URL read.
        url: String,
        /// What differed, e.g. `its ETag went from "a" to "b"`.
        detail: String,
    },
    /// The body kept stopping early, more often than the resume limit.
    #[error(
        "the connection to {url} dropped {resumes} times while reading (resumed each time), and the \
         last answer still stopped after {received_bytes} of {expected_bytes} bytes. \
         Check your connection and press Analyse to retry"
    )]
    KeptDropping {
        /// The URL read.
        url: String,
        /// How many times it was resumed.
        resumes: u32,
        /// How many of the requested bytes arrived.
        received_bytes: u64,
        /// How many bytes were requested.
        expected_bytes: u64,
    },
    /// Every try got a retryable status (429 or 5xx).
    #[error(
        "{cause}. The request was tried {attempts} times, waiting longer after each try, \
         and failed every time"
    )]
    GaveUp {
        /// What the last answer meant.
        cause: crate::pure::source::hub::HubError,
        /// How many times the request was sent.
        attempts: u32,
    },
}

/// Checks that a later answer comes from the same file version as the first.
///
/// Only what both answers report is compared: a missing `ETag` (not exposed under CORS) or
/// size is not a change.
///
/// # Errors
/// [`TransferError::Changed`] naming what differed.
pub fn check_same_file(
    url: &str,
    first: &FileIdentity,
    later: &FileIdentity,
) -> Result<(), TransferError> {
    let changed = |detail: String| TransferError::Changed {
        url: shorten(url, 300),
        detail,
    };
    if let (Some(before), Some(after)) = (&first.etag, &later.etag) {
        if before != after {
            return Err(changed(format!(
                "its ETag went from \"{}\" to \"{}\"",
                shorten(before, 80),
                shorten(after, 80)
            )));
        }
    }
    if let (Some(before), Some(after)) = (first.len_bytes, later.len_bytes) {
        if before != after {
            return Err(changed(format!(
                "its size went from {before} to {after} bytes"
            )));
        }
    }
    Ok(())
}

/// The visible note while a dropped body is resumed: `connection dropped, resuming (2/5)`.
pub fn resume_note(resume_number: u32, max_resumes: u32) -> String {
    format!("connection dropped, resuming ({resume_number}/{max_resumes})")
}

/// The visible note while waiting to retry: `the server is busy (HTTP 503), retrying in 1.2 s (1/4)`.
pub fn retry_note(status: u16, delay_ms: u64, retry_number: u32, max_retries: u32) -> String {
    let reason = if status == 429 {
        "the server is rate limiting (HTTP 429)".to_owned()
    } else {
        format!("the server is busy (HTTP {status})")
    };
    // Display only.
    #[allow(clippy::cast_precision_loss)]
    let seconds = delay_ms as f64 / 1000.0;
    format!("{reason}, retrying in {seconds:.1} s ({retry_number}/{max_retries})")
}

/// The note shown when a server ignores byte ranges and the tensor sits `tensor_end_byte`
/// bytes into the file, `already_read_bytes` of which have arrived: how much must still be
/// downloaded before the tensor is complete.
pub fn whole_stream_note(tensor_end_byte: u64, already_read_bytes: u64) -> String {
    let remaining = tensor_end_byte.saturating_sub(already_read_bytes);
    format!(
        "this server ignores byte ranges, so the file is read from its start: {} must be downloaded \
         before the tensor is complete (Cancel stops it)",
        size_label(remaining)
    )
}

impl TransferError {
    /// The kind the page shows for this failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            TransferError::Changed { .. } => ErrorKind::Changed,
            TransferError::KeptDropping { .. } => ErrorKind::Dropped,
            TransferError::GaveUp { cause, .. } => cause.kind(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn first_resume_is_immediate_and_later_ones_back_off() {
        let policy = RetryPolicy::default();
        let first = decide_resume(&policy, &(10..20), 4, 0, 1.0);
        assert_eq!(
            first,
            ResumeDecision::Resume {
                range: 14..20,
                resume_number: 1,
                max_resumes: 5,
                delay_ms: 0
            }
        );
        let second = decide_resume(&policy, &(10..20), 4, 1, 1.0);
        assert!(matches!(
            second,
            ResumeDecision::Resume { delay_ms: 500, .. }
        ));
    }

    #[test]
    fn an_etag_is_compared_by_its_value_whatever_its_spelling() {
        let strong = FileIdentity::new(Some("\"3f2a9c\""), Some(100));
        for spelling in [
            "W/\"3f2a9c\"",
            "w/\"3f2a9c\"",
            "3f2a9c",
            "  \"3f2a9c\"  ",
            "W/ \"3f2a9c\"",
            "W/3f2a9c",
        ] {
            let later = FileIdentity::new(Some(spelling), Some(100));
            assert_eq!(later.etag.as_deref(), Some("3f2a9c"), "{spelling}");
            assert_eq!(check_same_file("u", &strong, &later), Ok(()), "{spelling}");
            // Either order: weak first, then strong, is the same file too.
            assert_eq!(check_same_file("u", &later, &strong), Ok(()), "{spelling}");
        }
        for blank in ["", "  ", "\"\"", "W/\"\"", "W/"] {
            assert_eq!(etag_value(blank), None, "{blank:?}");
        }
    }

    #[test]
    fn another_etag_value_is_a_change_in_any_spelling() {
        let first = FileIdentity::new(Some("W/\"3f2a9c\""), None);
        for spelling in ["\"3f2a9d\"", "W/\"3f2a9d\"", "3f2a9d", "\"3F2A9C\""] {
            let err = check_same_file(
                "https://x/f",
                &first,
                &FileIdentity::new(Some(spelling), None),
            )
            .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Changed, "{spelling}");
            assert!(
                err.to_string().contains("its ETag went from \"3f2a9c\" to"),
                "{err}"
            );
        }
    }
}
