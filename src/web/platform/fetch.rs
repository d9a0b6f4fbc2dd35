//! HTTP GETs for one byte range or a whole small document, with retry, resume, progress and
//! cancellation.
//!
//! Requests carry at most one custom header, `Range: bytes=a-b`, so that browsers send them
//! as simple CORS requests without a preflight. No credentials and no referrer are sent, and
//! the HTTP cache is bypassed (it could serve a range of another version of the file). The
//! body is read chunk by chunk from its `ReadableStream`, so progress is real.
//!
//! What to do when something goes wrong is decided by [`crate::pure::source::transfer`]:
//! - 429 and 5xx answers are retried with backoff (honouring `Retry-After`), with a note;
//! - a body that drops, stalls or ends early is resumed with a new `Range` for the rest;
//! - every answer must come from the same file version (`ETag`, size) as the first;
//! - a request that gets no answer the page may read is told apart with a second, opaque
//!   (`no-cors`) request: nothing answered (offline, no server at the address), or the server
//!   answered without the CORS headers that let the page read it;
//! - a server that ignores `Range` (200 with the whole file) is read as one stream from byte 0;
//!   the stream is handed back as a [`WholeStream`], so later reads of the same file continue
//!   it instead of starting again.

use std::ops::Range;

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortSignal, Headers, ReadableStreamDefaultReader, ReferrerPolicy, RequestCache,
    RequestCredentials, RequestInit, RequestMode, Response,
};

use crate::pure::common::Cancelled;
use crate::pure::source::hub::{self, HubError};
use crate::pure::source::transfer::{
    self, ErrorKind, FileIdentity, ResumeDecision, RetryDecision, RetryPolicy, TransferError,
};
use crate::web::platform::js::{js_error_text, now_ms, sleep_ms, yield_to_browser};

/// How long a body is read in one browser task before the page yields, in milliseconds.
const READ_BUDGET_MS: f64 = 8.0;

/// The largest answer read whole (the revision JSON, a shard index): 32 MiB. Real ones are a
/// few hundred kilobytes; the cap keeps a hostile or mistaken URL from filling memory.
pub const MAX_WHOLE_RESPONSE_BYTES: u64 = 32 * 1024 * 1024;

/// How often a backoff wait checks whether the user cancelled, in milliseconds.
const CANCEL_POLL_MS: u64 = 100;

/// Everything that can go wrong with one request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    /// The server answered, but not with the requested bytes, or did not answer at all.
    #[error("{0}")]
    Hub(#[from] HubError),
    /// Retries or resumes ran out, or the file changed between answers.
    #[error("{0}")]
    Transfer(#[from] TransferError),
    /// The user pressed Cancel, or a newer run replaced this one: not a failure.
    #[error("The download was cancelled. Press Analyse to start again.")]
    Cancelled(#[from] Cancelled),
    /// The body would not fit into memory on this platform.
    #[error("The answer from {url} needs {len_bytes} bytes in memory, more than the browser can hold. Pick a smaller file or tensor.")]
    TooLarge {
        /// The URL that was read.
        url: String,
        /// The size that did not fit.
        len_bytes: u64,
    },
    /// A browser API failed unexpectedly.
    #[error("The browser refused a request to {url} ({detail}). Reload the page and retry.")]
    Browser {
        /// The URL being read.
        url: String,
        /// What the browser reported.
        detail: String,
    },
}

impl FetchError {
    /// The kind the page shows for this failure; none for a cancelled request, which is not
    /// a failure (and never a network error).
    pub fn kind(&self) -> Option<ErrorKind> {
        Some(match self {
            FetchError::Hub(error) => error.kind(),
            FetchError::Transfer(error) => error.kind(),
            FetchError::Cancelled(Cancelled) => return None,
            FetchError::TooLarge { .. } => ErrorKind::TooLarge,
            FetchError::Browser { .. } => ErrorKind::Browser,
        })
    }
}

/// The bytes of one answer and what its headers said.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    /// The body bytes: exactly the requested range when one was asked for.
    pub bytes: Vec<u8>,
    /// The whole file's length, from `Content-Range` (206) or `Content-Length` (200).
    pub file_len_bytes: Option<u64>,
    /// The commit the Hub served the file from (`X-Repo-Commit`), when exposed.
    pub repo_commit: Option<String>,
    /// The file version that answered (`ETag` and size), for consistency checks across reads.
    pub identity: FileIdentity,
    /// How many body bytes crossed the network for this read, over every retry and resume
    /// (may exceed `bytes.len()` when a server ignored the range).
    pub received_bytes: u64,
}

/// What a request needs besides its URL: the abort signal, the repo for error messages,
/// a progress callback receiving the wanted bytes received so far, and a note callback for
/// retries and resumes.
pub struct RequestContext<'a> {
    /// Aborts the request when the user presses Cancel.
    pub signal: &'a AbortSignal,
    /// The repository being read, named in error messages.
    pub repo: &'a str,
    /// Called after each chunk with this request's received byte count.
    pub on_progress: &'a dyn Fn(u64),
    /// Called after each chunk of a ranged read with the wanted bytes received so far (they
    /// only ever grow at the end), so that a consumer can start on them as they arrive.
    pub on_bytes: &'a dyn Fn(&[u8]),
    /// Called with a short note when a request is retried or resumed.
    pub on_note: &'a dyn Fn(&str),
}

/// An open whole-file answer (a server that ignored `Range`), positioned at `position_byte`.
///
/// Reads continue it forward; bytes before a read's range are skipped, never kept. Dropping
/// it cancels the download.
pub struct WholeStream {
    /// The URL that answered.
    url: String,
    /// The body reader.
    reader: ReadableStreamDefaultReader,
    /// The file offset of the next byte the reader (or `leftover`) yields.
    position_byte: u64,
    /// Bytes already received from `position_byte` on, not yet consumed by a read.
    leftover: Vec<u8>,
    /// The answer's file version.
    identity: FileIdentity,
    /// The answer's `X-Repo-Commit`.
    repo_commit: Option<String>,
    /// Whether the body has ended.
    finished: bool,
}

impl std::fmt::Debug for WholeStream {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("WholeStream")
            .field("url", &self.url)
            .field("position_byte", &self.position_byte)
            .finish_non_exhaustive()
    }
}

impl WholeStream {
    /// The URL whose answer this is.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The file offset of the next byte this stream yields.
    pub fn position_byte(&self) -> u64 {
        self.position_byte
    }
}

impl Drop for WholeStream {
    fn drop(&mut self) {
        if !self.finished {
            // Stop the download: nothing will read the rest of the file.
            let _ignored_promise = self.reader.cancel();
        }
    }
}

/// Fetches `url` whole (no `Range` header), for small JSON documents and the built-in sample.
///
/// 429 and 5xx answers are retried; a body that drops is fetched again (it is small).
///
/// # Errors
/// HTTP failures are described by [`hub::describe_http_status`]; an unreachable server by
/// [`hub::describe_network_failure`], one that answers without CORS headers by
/// [`hub::describe_cors_refusal`].
pub async fn fetch_whole(url: &str, ctx: &RequestContext<'_>) -> Result<Fetched, FetchError> {
    let policy = RetryPolicy::default();
    let mut attempts: u32 = 0;
    let mut drops: u32 = 0;
    let mut network_bytes: u64 = 0;
    loop {
        attempts = attempts.saturating_add(1);
        let response = send(url, None, ctx.signal).await?;
        let status = response.status();
        if status != 200 {
            let delay_ms = retry_or_fail(&policy, &response, attempts, ctx, |status| {
                hub::describe_http_status(status, url, ctx.repo)
            })?;
            wait_ms(delay_ms, ctx.signal).await?;
            continue;
        }
        attempts = 0;
        let file_len_bytes = header_u64(&response, "Content-Length");
        let too_large = |len_bytes: u64| FetchError::TooLarge {
            url: url.to_owned(),
            len_bytes,
        };
        if let Some(len_bytes) = file_len_bytes.filter(|&len| len > MAX_WHOLE_RESPONSE_BYTES) {
            return Err(too_large(len_bytes));
        }
        let mut body = open_body(&response, url, 0)?;
        let mut bytes = Vec::new();
        // Read at most one byte past the cap, so an oversized body is noticed without keeping it.
        let limit = file_len_bytes.unwrap_or(MAX_WHOLE_RESPONSE_BYTES.saturating_add(1));
        let outcome = body.read_into(0, limit, &mut bytes, &policy, ctx).await;
        network_bytes = network_bytes.saturating_add(body.network_bytes);
        let dropped = match outcome {
            Ok(()) => false,
            Err(ReadFailure::Cancelled) => return Err(Cancelled.into()),
            Err(ReadFailure::Browser(detail)) => {
                return Err(FetchError::Browser {
                    url: url.to_owned(),
                    detail,
                })
            }
            Err(ReadFailure::Dropped) => true,
        };
        let complete = !dropped
            && match file_len_bytes {
                Some(len) => len_u64(&bytes) >= len,
                None => body.finished,
            };
        if len_u64(&bytes) > MAX_WHOLE_RESPONSE_BYTES {
            return Err(too_large(len_u64(&bytes)));
        }
        if complete {
            return Ok(Fetched {
                file_len_bytes: file_len_bytes.or(Some(len_u64(&bytes))),
                repo_commit: header_text(&response, "X-Repo-Commit"),
                identity: FileIdentity::new(
                    header_text(&response, "ETag").as_deref(),
                    file_len_bytes,
                ),
                bytes,
                received_bytes: network_bytes,
            });
        }
        drops = drops.saturating_add(1);
        if drops > policy.max_resumes {
            return Err(TransferError::KeptDropping {
                url: url.to_owned(),
                resumes: policy.max_resumes,
                received_bytes: len_u64(&bytes),
                expected_bytes: file_len_bytes.unwrap_or(0),
            }
            .into());
        }
        (ctx.on_note)(&transfer::resume_note(drops, policy.max_resumes));
        let delay_ms = transfer::backoff_delay_ms(&policy, drops, js_sys::Math::random());
        wait_ms(delay_ms, ctx.signal).await?;
    }
}

/// Fetches exactly the bytes `range` of `url`, retrying and resuming as needed.
///
/// # Errors
/// See [`FetchError`].
pub async fn fetch_range(
    url: &str,
    range: &Range<u64>,
    ctx: &RequestContext<'_>,
) -> Result<Fetched, FetchError> {
    fetch_range_continuing(url, range, ctx, None)
        .await
        .map(|(fetched, _stream)| fetched)
}

/// Fetches exactly the bytes `range` of `url`, continuing `stream` (an earlier whole-file
/// answer for the same URL, positioned at or before `range.start`) when one is given.
///
/// Returns the bytes and, when the server answered with the whole file and the body goes on
/// past `range.end`, the open stream for a later read of the same file.
///
/// A 206 answer is checked with [`hub::check_range_response`]. A 200 answer (a server that
/// ignores `Range`) is read from byte 0, keeping only the wanted bytes.
///
/// # Errors
/// See [`FetchError`].
pub async fn fetch_range_continuing(
    url: &str,
    range: &Range<u64>,
    ctx: &RequestContext<'_>,
    stream: Option<WholeStream>,
) -> Result<(Fetched, Option<WholeStream>), FetchError> {
    let policy = RetryPolicy::default();
    let expected_bytes = range.end.saturating_sub(range.start);
    let capacity = usize::try_from(expected_bytes)
        .map_err(|_| FetchError::TooLarge {
            url: url.to_owned(),
            len_bytes: expected_bytes,
        })?
        .min(64 * 1024 * 1024);
    let mut bytes: Vec<u8> = Vec::with_capacity(capacity);
    let mut identity: Option<FileIdentity> = None;
    let mut repo_commit: Option<String> = None;
    let mut file_len_bytes: Option<u64> = None;
    let mut network_bytes: u64 = 0;
    let mut attempts: u32 = 0;
    let mut resumes: u32 = 0;
    let mut pending = stream.filter(|open| open.url == url && open.position_byte <= range.start);

    loop {
        let next = range.start.saturating_add(len_u64(&bytes))..range.end;
        if next.is_empty() {
            break;
        }
        let mut body = match pending.take() {
            Some(open) => Body::from(open),
            None => {
                attempts = attempts.saturating_add(1);
                let response = match send(url, Some(&next), ctx.signal).await {
                    Ok(response) => response,
                    // A reconnect that fails after a drop counts as one more resume (a server
                    // that already let this page read the file is not refusing it under CORS).
                    Err(FetchError::Hub(
                        HubError::Network { .. } | HubError::CorsRefused { .. },
                    )) if resumes > 0 => {
                        resume_or_fail(&policy, range, &bytes, &mut resumes, url, ctx).await?;
                        continue;
                    }
                    Err(other) => return Err(other),
                };
                let status = response.status();
                if status != 200 && status != 206 {
                    let delay_ms = retry_or_fail(&policy, &response, attempts, ctx, |status| {
                        hub::describe_http_status(status, url, ctx.repo)
                    })?;
                    wait_ms(delay_ms, ctx.signal).await?;
                    continue;
                }
                attempts = 0;
                let answer_len = if status == 206 {
                    let content_range = header_text(&response, "Content-Range");
                    hub::check_range_response(
                        status,
                        content_range.as_deref(),
                        &next,
                        url,
                        ctx.repo,
                    )?
                } else {
                    header_u64(&response, "Content-Length")
                };
                let answer_identity =
                    FileIdentity::new(header_text(&response, "ETag").as_deref(), answer_len);
                if let Some(first) = &identity {
                    transfer::check_same_file(url, first, &answer_identity)?;
                }
                let merged = identity.as_ref().map_or(answer_identity.clone(), |first| {
                    first.merged_with(&answer_identity)
                });
                identity = Some(merged);
                file_len_bytes = file_len_bytes.or(answer_len);
                repo_commit = repo_commit.or_else(|| header_text(&response, "X-Repo-Commit"));
                let start_byte = if status == 206 { next.start } else { 0 };
                let mut body = open_body(&response, url, start_byte)?;
                body.identity = answer_identity;
                body.repo_commit = header_text(&response, "X-Repo-Commit");
                body
            }
        };
        if identity.is_none() {
            identity = Some(body.identity.clone());
            repo_commit = repo_commit.or_else(|| body.repo_commit.clone());
            file_len_bytes = file_len_bytes.or(body.identity.len_bytes);
        }
        body.network_bytes = 0;
        // The server may clip the range at the end of the file.
        let end = file_len_bytes.map_or(next.end, |len| next.end.min(len));
        let outcome = body
            .read_into(next.start, end, &mut bytes, &policy, ctx)
            .await;
        network_bytes = network_bytes.saturating_add(body.network_bytes);
        match outcome {
            Ok(()) if body.position_byte >= end => {
                if end < next.end {
                    // The file is shorter than asked: what exists has arrived.
                    break;
                }
                // Keep an unfinished whole-file answer for the next read of this file.
                let keep = body.is_whole_file && !body.finished;
                let rest = keep.then_some(body.stream);
                return Ok((
                    Fetched {
                        bytes,
                        file_len_bytes,
                        repo_commit,
                        identity: identity.unwrap_or_default(),
                        received_bytes: network_bytes,
                    },
                    rest,
                ));
            }
            // The answer ended early, dropped or stalled: resume it.
            Ok(()) | Err(ReadFailure::Dropped) => {}
            Err(ReadFailure::Cancelled) => return Err(Cancelled.into()),
            Err(ReadFailure::Browser(detail)) => {
                return Err(FetchError::Browser {
                    url: url.to_owned(),
                    detail,
                })
            }
        }
        drop(body);
        resume_or_fail(&policy, range, &bytes, &mut resumes, url, ctx).await?;
    }
    Ok((
        Fetched {
            bytes,
            file_len_bytes,
            repo_commit,
            identity: identity.unwrap_or_default(),
            received_bytes: network_bytes,
        },
        None,
    ))
}

/// After a body stopped early: note and wait before a resume, or fail when resumes ran out.
async fn resume_or_fail(
    policy: &RetryPolicy,
    range: &Range<u64>,
    bytes: &[u8],
    resumes: &mut u32,
    url: &str,
    ctx: &RequestContext<'_>,
) -> Result<(), FetchError> {
    let received_bytes = len_u64(bytes);
    match transfer::decide_resume(
        policy,
        range,
        received_bytes,
        *resumes,
        js_sys::Math::random(),
    ) {
        ResumeDecision::Complete => Ok(()),
        ResumeDecision::GiveUp { resumes } => Err(TransferError::KeptDropping {
            url: url.to_owned(),
            resumes,
            received_bytes,
            expected_bytes: range.end.saturating_sub(range.start),
        }
        .into()),
        ResumeDecision::Resume {
            resume_number,
            max_resumes,
            delay_ms,
            ..
        } => {
            *resumes = resume_number;
            (ctx.on_note)(&transfer::resume_note(resume_number, max_resumes));
            wait_ms(delay_ms, ctx.signal).await
        }
    }
}

/// After an unsuccessful status: the wait before the next try (with a note), or the error.
fn retry_or_fail(
    policy: &RetryPolicy,
    response: &Response,
    attempts: u32,
    ctx: &RequestContext<'_>,
    describe: impl Fn(u16) -> HubError,
) -> Result<u64, FetchError> {
    let status = response.status();
    let retry_after = header_text(response, "Retry-After");
    // `Date.now()` is a whole number of milliseconds since the epoch, far below 2^53.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let now_unix_ms = js_sys::Date::now().max(0.0) as u64;
    match transfer::decide_retry(
        policy,
        status,
        attempts,
        retry_after.as_deref(),
        now_unix_ms,
        js_sys::Math::random(),
    ) {
        RetryDecision::Fail => Err(describe(status).into()),
        RetryDecision::GiveUp { attempts } => Err(TransferError::GaveUp {
            cause: describe(status),
            attempts,
        }
        .into()),
        RetryDecision::Retry {
            retry_number,
            max_retries,
            delay_ms,
            ..
        } => {
            (ctx.on_note)(&transfer::retry_note(
                status,
                delay_ms,
                retry_number,
                max_retries,
            ));
            Ok(delay_ms)
        }
    }
}

/// Waits `delay_ms`, returning early with [`Cancelled`] when the user cancels.
async fn wait_ms(delay_ms: u64, signal: &AbortSignal) -> Result<(), FetchError> {
    let mut left_ms = delay_ms;
    loop {
        if signal.aborted() {
            return Err(Cancelled.into());
        }
        if left_ms == 0 {
            return Ok(());
        }
        let step_ms = left_ms.min(CANCEL_POLL_MS);
        sleep_ms(i32::try_from(step_ms).unwrap_or(i32::MAX)).await;
        left_ms -= step_ms;
    }
}

/// The length of a byte buffer as `u64`.
fn len_u64(bytes: &[u8]) -> u64 {
    u64::try_from(bytes.len()).unwrap_or(u64::MAX)
}

/// Sends one GET with an optional `Range` header and waits for the response headers.
async fn send(
    url: &str,
    range: Option<&Range<u64>>,
    signal: &AbortSignal,
) -> Result<Response, FetchError> {
    let browser = |err: JsValue| FetchError::Browser {
        url: url.to_owned(),
        detail: js_error_text(&err),
    };
    let init = RequestInit::new();
    init.set_method("GET");
    init.set_signal(Some(signal));
    // No cookies or HTTP auth, and no Referer: a share link must not leak who reads what.
    init.set_credentials(RequestCredentials::Omit);
    init.set_referrer_policy(ReferrerPolicy::NoReferrer);
    // Bypass the HTTP cache: it may answer a range from bytes cached for another version of
    // the file (same URL, other ETag), which would mix two versions in one matrix.
    init.set_cache(RequestCache::NoStore);
    if let Some(range) = range {
        let headers = Headers::new().map_err(browser)?;
        headers
            .set("Range", &hub::range_header_value(range))
            .map_err(browser)?;
        init.set_headers(&headers);
    }
    let promise = global_fetch(url, &init).map_err(browser)?;
    let err = match JsFuture::from(promise).await {
        Ok(value) => return value.dyn_into::<Response>().map_err(browser),
        Err(err) => err,
    };
    if signal.aborted() {
        return Err(Cancelled.into());
    }
    // No answer the page may read: either nothing answered (offline, no server at this
    // address), or the server answered without CORS headers for this page. The browser says
    // the same for both; an opaque request tells them apart.
    if !server_answers(url).await {
        return Err(if signal.aborted() {
            Cancelled.into()
        } else {
            hub::describe_network_failure(url, &js_error_text(&err)).into()
        });
    }
    // The server is there. Ask once more, in case the first failure was a passing one.
    let promise = global_fetch(url, &init).map_err(browser)?;
    match JsFuture::from(promise).await {
        Ok(value) => value.dyn_into::<Response>().map_err(browser),
        Err(_) if signal.aborted() => Err(Cancelled.into()),
        Err(_) => Err(hub::describe_cors_refusal(url).into()),
    }
}

/// How long [`server_answers`] waits for an answer, in milliseconds.
const PROBE_TIMEOUT_MS: i32 = 10_000;

/// Whether any server answers `url`: a `mode: 'no-cors'` GET, whose answer the page cannot
/// read (it is opaque) but which resolves when a server answered, and fails when nothing did.
/// Like every request, it carries no credentials and no referrer. The body is not wanted: the
/// request is aborted as soon as the answer's headers arrive (or after [`PROBE_TIMEOUT_MS`]).
async fn server_answers(url: &str) -> bool {
    let Ok(controller) = web_sys::AbortController::new() else {
        return false;
    };
    let init = RequestInit::new();
    init.set_method("GET");
    init.set_mode(RequestMode::NoCors);
    init.set_credentials(RequestCredentials::Omit);
    init.set_referrer_policy(ReferrerPolicy::NoReferrer);
    init.set_cache(RequestCache::NoStore);
    init.set_signal(Some(&controller.signal()));
    let Ok(answer) = global_fetch(url, &init) else {
        return false;
    };
    let timeout = js_sys::Promise::new(&mut |resolve, _reject| {
        set_timeout(&resolve, PROBE_TIMEOUT_MS);
    });
    let outcome = JsFuture::from(js_sys::Promise::race(&js_sys::Array::of2(
        &answer, &timeout,
    )))
    .await;
    controller.abort();
    // The timer resolves with `undefined`; an answer is a `Response`.
    outcome.is_ok_and(|value| value.is_instance_of::<Response>())
}

/// Calls `fetch` on whichever global this code runs in (window or worker).
fn global_fetch(url: &str, init: &RequestInit) -> Result<js_sys::Promise, JsValue> {
    let global = js_sys::global();
    if let Some(window) = global.dyn_ref::<web_sys::Window>() {
        return Ok(window.fetch_with_str_and_init(url, init));
    }
    if let Some(scope) = global.dyn_ref::<web_sys::WorkerGlobalScope>() {
        return Ok(scope.fetch_with_str_and_init(url, init));
    }
    Err(JsValue::from_str("no fetch function in this context"))
}

/// Schedules `callback` after `delay_ms` on whichever global this code runs in.
fn set_timeout(callback: &js_sys::Function, delay_ms: i32) {
    let global = js_sys::global();
    if let Some(window) = global.dyn_ref::<web_sys::Window>() {
        let _ignored =
            window.set_timeout_with_callback_and_timeout_and_arguments_0(callback, delay_ms);
    } else if let Some(scope) = global.dyn_ref::<web_sys::WorkerGlobalScope>() {
        let _ignored =
            scope.set_timeout_with_callback_and_timeout_and_arguments_0(callback, delay_ms);
    }
}

/// Reads a response header as text, if present and exposed under CORS.
fn header_text(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .ok()
        .flatten()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// Reads a numeric response header.
fn header_u64(response: &Response, name: &str) -> Option<u64> {
    header_text(response, name).and_then(|value| value.parse().ok())
}

/// Why reading a body stopped before the wanted bytes arrived.
enum ReadFailure {
    /// The user cancelled.
    Cancelled,
    /// The connection dropped or stalled.
    Dropped,
    /// A browser API misbehaved.
    Browser(String),
}

/// A response body being read, positioned at a file offset.
struct Body {
    /// The open stream.
    stream: WholeStream,
    /// Whether this body is the whole file from byte 0 (the server ignored `Range`).
    is_whole_file: bool,
    /// Bytes received over the network by the current read.
    network_bytes: u64,
}

impl std::ops::Deref for Body {
    type Target = WholeStream;
    fn deref(&self) -> &WholeStream {
        &self.stream
    }
}

impl std::ops::DerefMut for Body {
    fn deref_mut(&mut self) -> &mut WholeStream {
        &mut self.stream
    }
}

/// Opens a response's body for reading; its first byte is the file's byte `start_byte`.
fn open_body(response: &Response, url: &str, start_byte: u64) -> Result<Body, FetchError> {
    let stream = response.body();
    let finished = stream.is_none();
    let reader: ReadableStreamDefaultReader = match stream {
        Some(stream) => stream.get_reader().unchecked_into(),
        None => {
            // An empty body: a reader over an empty stream keeps the types simple.
            let empty = web_sys::ReadableStream::new().map_err(|err| FetchError::Browser {
                url: url.to_owned(),
                detail: js_error_text(&err),
            })?;
            empty.get_reader().unchecked_into()
        }
    };
    Ok(Body {
        stream: WholeStream {
            url: url.to_owned(),
            reader,
            position_byte: start_byte,
            leftover: Vec::new(),
            identity: FileIdentity::default(),
            repo_commit: None,
            finished,
        },
        is_whole_file: start_byte == 0 && response.status() == 200,
        network_bytes: 0,
    })
}

impl From<WholeStream> for Body {
    fn from(stream: WholeStream) -> Self {
        Body {
            stream,
            is_whole_file: true,
            network_bytes: 0,
        }
    }
}

impl Body {
    /// Reads until the file offset `end_byte`, appending the bytes at or after `keep_from_byte`
    /// to `bytes`. Bytes read past `end_byte` stay in `leftover` for the next read.
    async fn read_into(
        &mut self,
        keep_from_byte: u64,
        end_byte: u64,
        bytes: &mut Vec<u8>,
        policy: &RetryPolicy,
        ctx: &RequestContext<'_>,
    ) -> Result<(), ReadFailure> {
        let leftover = std::mem::take(&mut self.stream.leftover);
        self.take_chunk(&leftover, keep_from_byte, end_byte, bytes);
        // Chunks the browser already holds resolve at once, so a fast body could be read in
        // one long task: hand the page back to the browser every few milliseconds.
        let mut task_started_ms = now_ms();
        while self.stream.position_byte < end_byte && !self.stream.finished {
            if now_ms() - task_started_ms > READ_BUDGET_MS {
                yield_to_browser().await;
                task_started_ms = now_ms();
            }
            let Some(chunk) = self.next_chunk(policy, ctx).await? else {
                self.stream.finished = true;
                break;
            };
            self.network_bytes = self.network_bytes.saturating_add(len_u64(&chunk));
            self.take_chunk(&chunk, keep_from_byte, end_byte, bytes);
            (ctx.on_progress)(len_u64(bytes));
            (ctx.on_bytes)(bytes);
        }
        Ok(())
    }

    /// Consumes `chunk` (whose first byte is at `position_byte`): keeps its part inside
    /// `keep_from_byte..end_byte`, and leaves what lies past `end_byte` in `leftover`.
    fn take_chunk(
        &mut self,
        chunk: &[u8],
        keep_from_byte: u64,
        end_byte: u64,
        bytes: &mut Vec<u8>,
    ) {
        if chunk.is_empty() {
            return;
        }
        let start = self.stream.position_byte;
        let to_index = |offset: u64| {
            usize::try_from(offset.saturating_sub(start))
                .unwrap_or(usize::MAX)
                .min(chunk.len())
        };
        let keep_from = to_index(keep_from_byte);
        let consume_to = to_index(end_byte);
        if let Some(kept) = chunk.get(keep_from..consume_to.max(keep_from)) {
            bytes.extend_from_slice(kept);
        }
        self.stream.position_byte =
            start.saturating_add(len_u64(chunk.get(..consume_to).unwrap_or(chunk)));
        if let Some(rest) = chunk.get(consume_to..) {
            self.stream.leftover = rest.to_vec();
        }
    }

    /// Reads one chunk; `None` at the end of the body. A chunk that does not arrive within
    /// the stall timeout counts as a dropped connection (and the reader is cancelled).
    async fn next_chunk(
        &mut self,
        policy: &RetryPolicy,
        ctx: &RequestContext<'_>,
    ) -> Result<Option<Vec<u8>>, ReadFailure> {
        let browser = |err: JsValue| ReadFailure::Browser(js_error_text(&err));
        let stall_ms = i32::try_from(policy.stall_timeout_ms).unwrap_or(i32::MAX);
        let timeout = js_sys::Promise::new(&mut |resolve, _reject| {
            set_timeout(&resolve, stall_ms);
        });
        let read = self.stream.reader.read();
        let race = js_sys::Promise::race(&js_sys::Array::of2(&read, &timeout));
        let chunk = match JsFuture::from(race).await {
            Ok(chunk) => chunk,
            Err(_dropped) => {
                self.stream.finished = true;
                return Err(if ctx.signal.aborted() {
                    ReadFailure::Cancelled
                } else {
                    ReadFailure::Dropped
                });
            }
        };
        if ctx.signal.aborted() {
            return Err(ReadFailure::Cancelled);
        }
        if chunk.is_undefined() {
            // The timer won: no byte for the whole stall timeout.
            let _ignored_promise = self.stream.reader.cancel();
            self.stream.finished = true;
            return Err(ReadFailure::Dropped);
        }
        let done = Reflect::get(&chunk, &JsValue::from_str("done"))
            .map_err(browser)?
            .as_bool()
            .unwrap_or(true);
        if done {
            return Ok(None);
        }
        let value = Reflect::get(&chunk, &JsValue::from_str("value")).map_err(browser)?;
        let Some(array) = value.dyn_ref::<Uint8Array>() else {
            return Ok(None);
        };
        Ok(Some(array.to_vec()))
    }
}
