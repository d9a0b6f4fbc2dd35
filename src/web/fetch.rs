//! One HTTP GET, optionally for a single byte range, with progress and cancellation.
//!
//! Requests carry at most one custom header, `Range: bytes=a-b`, so that browsers send them
//! as simple CORS requests without a preflight. No credentials are sent. The body is read
//! chunk by chunk from its `ReadableStream`, so progress is real and a server that ignores
//! the range (answering 200 with the whole file) is read only until the needed bytes arrived.

use std::ops::Range;

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortSignal, Headers, ReadableStreamDefaultReader, RequestCredentials, RequestInit, Response,
};

use crate::pure::hub::{self, HubError};
use crate::web::js::js_error_text;

/// The largest answer read whole (the revision JSON, a shard index): 32 MiB. Real ones are a
/// few hundred kilobytes; the cap keeps a hostile or mistaken URL from filling memory.
pub const MAX_WHOLE_RESPONSE_BYTES: u64 = 32 * 1024 * 1024;

/// Everything that can go wrong with one request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    /// The server answered, but not with the requested bytes, or did not answer at all.
    #[error("{0}")]
    Hub(#[from] HubError),
    /// The user pressed Cancel.
    #[error("The download was cancelled. Press Analyse to start again.")]
    Cancelled,
    /// The body ended before all requested bytes arrived.
    #[error("The connection to {url} closed after {received_bytes} of {expected_bytes} bytes. Check your connection and press Analyse to retry.")]
    ShortBody {
        /// The URL that was read.
        url: String,
        /// How many bytes arrived.
        received_bytes: u64,
        /// How many bytes were needed.
        expected_bytes: u64,
    },
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

/// The bytes of one answer and what its headers said.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    /// The body bytes: exactly the requested range when one was asked for.
    pub bytes: Vec<u8>,
    /// The whole file's length, from `Content-Range` (206) or `Content-Length` (200).
    pub file_len_bytes: Option<u64>,
    /// The commit the Hub served the file from (`X-Repo-Commit`), when exposed.
    pub repo_commit: Option<String>,
    /// How many body bytes crossed the network for this request (may exceed `bytes.len()`
    /// when a server ignored the range and the stream was cancelled midway).
    pub received_bytes: u64,
}

/// What a request needs besides its URL: the abort signal, the repo for error messages,
/// and a progress callback receiving the bytes received so far in this request.
pub struct RequestContext<'a> {
    /// Aborts the request when the user presses Cancel.
    pub signal: &'a AbortSignal,
    /// The repository being read, named in error messages.
    pub repo: &'a str,
    /// Called after each chunk with this request's received byte count.
    pub on_progress: &'a dyn Fn(u64),
}

/// Fetches `url` whole (no `Range` header), for small JSON documents and the built-in sample.
///
/// # Errors
/// HTTP failures are described by [`hub::describe_http_status`]; an unreachable server by
/// [`hub::describe_network_failure`].
pub async fn fetch_whole(url: &str, ctx: &RequestContext<'_>) -> Result<Fetched, FetchError> {
    let response = send(url, None, ctx.signal).await?;
    let status = response.status();
    if status != 200 {
        return Err(hub::describe_http_status(status, url, ctx.repo).into());
    }
    let file_len_bytes = header_u64(&response, "Content-Length");
    let too_large = |len_bytes: u64| FetchError::TooLarge {
        url: url.to_owned(),
        len_bytes,
    };
    if let Some(len_bytes) = file_len_bytes.filter(|&len| len > MAX_WHOLE_RESPONSE_BYTES) {
        return Err(too_large(len_bytes));
    }
    // Read at most one byte past the cap, so an oversized body is noticed without keeping it.
    let (bytes, received_bytes) =
        read_body(&response, url, 0, Some(MAX_WHOLE_RESPONSE_BYTES + 1), ctx).await?;
    if received_bytes > MAX_WHOLE_RESPONSE_BYTES {
        return Err(too_large(received_bytes));
    }
    Ok(Fetched {
        file_len_bytes: file_len_bytes.or(Some(bytes.len() as u64)),
        repo_commit: header_text(&response, "X-Repo-Commit"),
        bytes,
        received_bytes,
    })
}

/// Fetches exactly the bytes `range` of `url` with one ranged GET.
///
/// A 206 answer is checked with [`hub::check_range_response`]. A 200 answer (a server
/// that ignores `Range`) is read only up to `range.end` and then cancelled.
///
/// # Errors
/// See [`FetchError`].
pub async fn fetch_range(
    url: &str,
    range: &Range<u64>,
    ctx: &RequestContext<'_>,
) -> Result<Fetched, FetchError> {
    let response = send(url, Some(range), ctx.signal).await?;
    let status = response.status();
    let repo_commit = header_text(&response, "X-Repo-Commit");
    let expected_bytes = range.end.saturating_sub(range.start);
    if status == 200 {
        // The server ignored the range and streams the whole file from byte 0.
        let file_len_bytes = header_u64(&response, "Content-Length");
        // Only the bytes from `range.start` on are kept, so memory holds the range, not the file.
        let (mut bytes, received_bytes) =
            read_body(&response, url, range.start, Some(range.end), ctx).await?;
        if received_bytes < range.end {
            return Err(FetchError::ShortBody {
                url: url.to_owned(),
                received_bytes,
                expected_bytes: range.end,
            });
        }
        bytes.truncate(usize_from(expected_bytes, url)?);
        return Ok(Fetched {
            bytes,
            file_len_bytes,
            repo_commit,
            received_bytes,
        });
    }
    let content_range = header_text(&response, "Content-Range");
    let file_len_bytes =
        hub::check_range_response(status, content_range.as_deref(), range, url, ctx.repo)?;
    // The server may clip the range at the end of the file.
    let clipped_end = file_len_bytes.map_or(range.end, |len| range.end.min(len));
    let wanted_bytes = clipped_end.saturating_sub(range.start);
    let (mut bytes, received_bytes) = read_body(&response, url, 0, Some(wanted_bytes), ctx).await?;
    bytes.truncate(usize_from(wanted_bytes, url)?);
    if (bytes.len() as u64) < wanted_bytes.min(expected_bytes) {
        return Err(FetchError::ShortBody {
            url: url.to_owned(),
            received_bytes: bytes.len() as u64,
            expected_bytes: wanted_bytes,
        });
    }
    Ok(Fetched {
        bytes,
        file_len_bytes,
        repo_commit,
        received_bytes,
    })
}

/// Converts a byte count to `usize`, failing on 32-bit overflow.
fn usize_from(value: u64, url: &str) -> Result<usize, FetchError> {
    usize::try_from(value).map_err(|_| FetchError::TooLarge {
        url: url.to_owned(),
        len_bytes: value,
    })
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
    init.set_credentials(RequestCredentials::Omit);
    if let Some(range) = range {
        let headers = Headers::new().map_err(browser)?;
        headers
            .set("Range", &hub::range_header_value(range))
            .map_err(browser)?;
        init.set_headers(&headers);
    }
    let promise = global_fetch(url, &init).map_err(browser)?;
    match JsFuture::from(promise).await {
        Ok(value) => value.dyn_into::<Response>().map_err(browser),
        Err(err) => {
            if signal.aborted() {
                Err(FetchError::Cancelled)
            } else {
                Err(hub::describe_network_failure(url, &js_error_text(&err)).into())
            }
        }
    }
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

/// Reads the body chunk by chunk, keeping only the bytes from body offset `keep_from_byte` on,
/// and stopping (and cancelling the stream) once `stop_after_bytes` bytes arrived. Returns the
/// bytes kept and the bytes received.
async fn read_body(
    response: &Response,
    url: &str,
    keep_from_byte: u64,
    stop_after_bytes: Option<u64>,
    ctx: &RequestContext<'_>,
) -> Result<(Vec<u8>, u64), FetchError> {
    let browser = |err: JsValue| FetchError::Browser {
        url: url.to_owned(),
        detail: js_error_text(&err),
    };
    let map_read_error = |err: JsValue| {
        if ctx.signal.aborted() {
            FetchError::Cancelled
        } else {
            FetchError::Hub(hub::describe_network_failure(url, &js_error_text(&err)))
        }
    };
    let Some(stream) = response.body() else {
        return Ok((Vec::new(), 0));
    };
    let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let capacity = stop_after_bytes
        .map(|bytes| bytes.saturating_sub(keep_from_byte))
        .and_then(|bytes| usize::try_from(bytes).ok())
        .unwrap_or(0)
        .min(64 * 1024 * 1024);
    let mut bytes: Vec<u8> = Vec::with_capacity(capacity);
    let mut received_bytes: u64 = 0;
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(map_read_error)?;
        let done = Reflect::get(&chunk, &JsValue::from_str("done"))
            .map_err(browser)?
            .as_bool()
            .unwrap_or(true);
        if done {
            break;
        }
        let value = Reflect::get(&chunk, &JsValue::from_str("value")).map_err(browser)?;
        let Some(array) = value.dyn_ref::<Uint8Array>() else {
            break;
        };
        let chunk_len = array.length();
        let chunk_start_byte = received_bytes;
        received_bytes = received_bytes.saturating_add(u64::from(chunk_len));
        if received_bytes > keep_from_byte {
            // Keep the part of this chunk at or after `keep_from_byte`.
            let skip = u32::try_from(keep_from_byte.saturating_sub(chunk_start_byte))
                .unwrap_or(chunk_len)
                .min(chunk_len);
            let kept = array.subarray(skip, chunk_len);
            let old_len = bytes.len();
            bytes.resize(old_len.saturating_add(kept.length() as usize), 0);
            if let Some(tail) = bytes.get_mut(old_len..) {
                kept.copy_to(tail);
            }
        }
        (ctx.on_progress)(received_bytes);
        if let Some(limit) = stop_after_bytes {
            if received_bytes >= limit {
                // Enough bytes: stop the download rather than reading the rest of the file.
                let _ignored_promise = reader.cancel();
                break;
            }
        }
    }
    Ok((bytes, received_bytes))
}
