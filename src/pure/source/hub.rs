//! Talking to a Hugging Face Hub, as pure string logic: building file and API URLs,
//! reading the revision listing, choosing the weights file, reading `Content-Range`
//! headers, and turning HTTP failures into messages that say what to do next.
//!
//! The browser shell does the fetching; everything here is testable natively.

use std::ops::Range;

use serde::Deserialize;

use crate::pure::common::{shorten, ErrorKind};

/// The public Hugging Face Hub endpoint, used when a share link names no other.
pub const DEFAULT_HUB: &str = "https://huggingface.co";

/// The repository opened when nothing else is asked for (GPT-2 small, as in the seed notebook).
pub const DEFAULT_REPO: &str = "gpt2";

/// The revision used when nothing else is asked for.
pub const DEFAULT_REVISION: &str = "main";

/// The single-file weights name the Hub uses for most models.
pub const SINGLE_WEIGHTS_FILE: &str = "model.safetensors";

/// The index file the Hub uses for models whose weights are split over several shards.
pub const SHARDED_INDEX_FILE: &str = "model.safetensors.index.json";

/// Repositories offered in the picker: all have learned absolute positional embeddings
/// stored as `model.safetensors` on `main`.
pub const PRESET_REPOS: &[&str] = &[
    "gpt2",
    "gpt2-medium",
    "gpt2-large",
    "gpt2-xl",
    "distilgpt2",
    "EleutherAI/gpt-neo-125m",
    "bert-base-uncased",
];

/// Names other tools use for a repository, mapped to the Hub's own name.
///
/// TransformerLens calls GPT-2 small `gpt2-small`; on the Hub it is `gpt2`.
const REPO_ALIASES: &[(&str, &str)] = &[("gpt2-small", "gpt2")];

/// How many file names an error message lists before summarising the rest.
const MAX_LISTED_FILES: usize = 12;

/// Everything that can go wrong when talking to a Hub, each with advice on what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubError {
    /// The Hub answered 401 or 403: the repository is gated, private, or (for 401) unknown.
    #[error(
        "the Hub refused access to `{repo}` (HTTP {status}) at {url}: the repository is gated or private, \
         or it does not exist (the Hub answers 401 for unknown repositories to visitors who are not logged in). \
         Check the spelling of the repository; if it is gated, accept its licence on the Hub and open a \
         downloaded copy as a local file, since this app sends no credentials; or pick a public repository"
    )]
    Gated {
        /// The HTTP status code (401 or 403).
        status: u16,
        /// The URL that was refused.
        url: String,
        /// The repository that was asked for.
        repo: String,
    },
    /// The Hub answered 404: the repository, revision or file does not exist.
    #[error(
        "not found (HTTP 404) at {url}: the repository `{repo}`, its revision, or the file does not exist. \
         Check the spelling of the repository (owner/name) and the revision (branch, tag or commit)"
    )]
    NotFound {
        /// The URL that was not found.
        url: String,
        /// The repository that was asked for.
        repo: String,
    },
    /// The revision API answered 401 or 404 for the repository itself: no public repository
    /// has that name (the Hub answers 401 to visitors who are not logged in when a repository
    /// does not exist or is private).
    #[error(
        "there is no public repository `{repo}` on this Hub (HTTP {status} at {url}). \
         Check the spelling of the repository id (owner/name, for example `openai-community/gpt2`); \
         a private repository cannot be read by this app, which sends no credentials"
    )]
    RepoNotFound {
        /// The HTTP status code (401, 403 or 404).
        status: u16,
        /// The URL that answered.
        url: String,
        /// The repository that was asked for.
        repo: String,
    },
    /// The Hub answered 429: too many requests.
    #[error("the Hub is rate limiting requests (HTTP 429) at {url}: wait a minute and retry")]
    RateLimited {
        /// The URL that was rate limited.
        url: String,
    },
    /// The Hub answered 416: the requested bytes lie beyond the end of the file.
    #[error(
        "the server could not serve the requested bytes (HTTP 416) at {url}: the file is shorter than its header says \
         or changed while reading. Reload to read it again, or pin the revision to a commit"
    )]
    RangeNotSatisfiable {
        /// The URL whose range was refused.
        url: String,
    },
    /// The Hub answered with a 5xx server error.
    #[error("the Hub had a server error (HTTP {status}) at {url}: retry later")]
    ServerError {
        /// The HTTP status code (500 to 599).
        status: u16,
        /// The URL that failed.
        url: String,
    },
    /// The Hub answered with a status this app does not expect.
    #[error(
        "unexpected HTTP status {status} at {url}: check the Hub address and repository, then retry"
    )]
    UnexpectedStatus {
        /// The HTTP status code.
        status: u16,
        /// The URL that answered.
        url: String,
    },
    /// The request never got an answer: the browser is offline, or no server answers at that
    /// address (a request that web pages may not read, but that reached its server, is
    /// [`HubError::CorsRefused`]).
    #[error(
        "could not reach {url} ({detail}): the browser is offline, or no server answers at this address. \
         Check your connection and the Hub address, or try the built-in sample"
    )]
    Network {
        /// The URL that could not be reached.
        url: String,
        /// What the browser reported.
        detail: String,
    },
    /// The server answered, but without the CORS headers that let a web page read its answer
    /// (a mirror or self-hosted hub set up for download tools, not for browsers).
    #[error(
        "the server at {origin} answered, but it does not let web pages read its files: its answer to {url} \
         has no CORS header allowing this page (`Access-Control-Allow-Origin`). Use a Hub or mirror that sends \
         `Access-Control-Allow-Origin` and exposes the `Content-Range`, `ETag` and `X-Repo-Commit` headers, \
         or download the file and open it here as a local file"
    )]
    CorsRefused {
        /// The URL whose answer the browser would not let the page read.
        url: String,
        /// The URL's scheme, host and port, as the message names the server.
        origin: String,
    },
    /// The server answered 206 but with different bytes from those asked for.
    #[error(
        "the server at {url} sent bytes {got_first}-{got_last} but {want_first}-{want_last} were asked for: \
         reload and retry, or open a local copy of the file"
    )]
    RangeMismatch {
        /// The URL that answered.
        url: String,
        /// The first byte asked for.
        want_first: u64,
        /// The last byte asked for (inclusive).
        want_last: u64,
        /// The first byte received.
        got_first: u64,
        /// The last byte received (inclusive).
        got_last: u64,
    },
    /// A `Content-Range` header could not be read.
    #[error("could not read the Content-Range header `{value}`: {detail}. Retry, or use another Hub or mirror")]
    BadContentRange {
        /// The header value (shortened if long).
        value: String,
        /// What was wrong with it.
        detail: String,
    },
    /// The revision listing was not the JSON this app expects.
    #[error(
        "the Hub's revision listing could not be read ({detail}). Check the Hub address, or name the file directly"
    )]
    BadRevisionInfo {
        /// What was wrong with it.
        detail: String,
    },
    /// The revision listing named a commit that is not 40 hexadecimal digits.
    #[error(
        "the Hub's revision listing gave `{sha}` as the commit, which is not a 40-digit hexadecimal SHA. \
         Check the Hub address, or name the file directly"
    )]
    BadCommitSha {
        /// The value given (shortened if long).
        sha: String,
    },
    /// A file was asked for by name but the repository listing does not contain it.
    #[error(
        "the file `{requested}` is not in this revision of the repository. Safetensors files found: {available}. \
         Pick one of those, or clear the file field to choose automatically"
    )]
    RequestedFileMissing {
        /// The file that was asked for.
        requested: String,
        /// The safetensors files in the listing, or "none".
        available: String,
    },
    /// A file was asked for that is neither a `.safetensors` file nor a `*.index.json` index.
    #[error(
        "the file `{requested}` is not a safetensors weights file: name a `.safetensors` file \
         or a `.safetensors.index.json` shard index"
    )]
    NotWeightsFile {
        /// The file that was asked for.
        requested: String,
    },
    /// The repository holds safetensors files, but neither of the standard names.
    #[error(
        "this revision has no `model.safetensors` or `model.safetensors.index.json`, but it has these safetensors files: \
         {available}. Put one of them in the file field"
    )]
    NoStandardWeightsFile {
        /// The safetensors files in the listing.
        available: String,
    },
    /// The repository holds no safetensors weights at all.
    #[error(
        "this revision has no safetensors weights{other}. This app reads only safetensors: \
         try another revision (for some models a `refs/pr/N` conversion pull request has them), \
         another repository, or convert the weights and open the file locally"
    )]
    NoSafetensors {
        /// A note on the other weight formats found, such as " (only pytorch_model.bin)", or "".
        other: String,
    },
}

/// Returns the Hub's name for a repository, resolving known aliases (`gpt2-small` → `gpt2`).
///
/// The alias lookup ignores ASCII case; any other name is returned unchanged.
pub fn canonical_repo(repo: &str) -> &str {
    REPO_ALIASES
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(repo))
        .map_or(repo, |(_, canonical)| canonical)
}

/// Returns true when `value` is a full git commit SHA: exactly 40 hexadecimal digits.
pub fn is_commit_sha(value: &str) -> bool {
    value.len() == 40 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Percent-encodes one URL component, keeping only RFC 3986 unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`) as they are; `/` becomes `%2F`.
pub fn percent_encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(hex_digit(byte >> 4));
            out.push(hex_digit(byte & 0x0f));
        }
    }
    out
}

/// Percent-encodes a path, segment by segment, keeping the `/` separators.
pub fn percent_encode_path(path: &str) -> String {
    path.split('/')
        .map(percent_encode_component)
        .collect::<Vec<_>>()
        .join("/")
}

/// Returns the upper-case hexadecimal digit for a nibble (0 to 15).
fn hex_digit(nibble: u8) -> char {
    char::from_digit(u32::from(nibble & 0x0f), 16).map_or('0', |c| c.to_ascii_uppercase())
}

/// Removes trailing slashes from a Hub address so paths can be appended with one `/`.
fn trim_hub(hub: &str) -> &str {
    hub.trim_end_matches('/')
}

/// Builds the download URL of a file: `{hub}/{repo}/resolve/{rev}/{path}`.
///
/// The revision is encoded as one component (`refs/pr/35` → `refs%2Fpr%2F35`); the path
/// keeps its `/` separators and each segment is encoded. The repository's `/` is kept.
pub fn resolve_url(hub: &str, repo: &str, rev: &str, path: &str) -> String {
    format!(
        "{}/{}/resolve/{}/{}",
        trim_hub(hub),
        percent_encode_path(repo),
        percent_encode_component(rev),
        percent_encode_path(path.trim_start_matches('/'))
    )
}

/// Builds the URL of the revision listing: `{hub}/api/models/{repo}/revision/{rev}`.
///
/// The answer is JSON `{sha, siblings: [{rfilename}]}`, read by [`parse_revision_info`].
pub fn revision_api_url(hub: &str, repo: &str, rev: &str) -> String {
    format!(
        "{}/api/models/{}/revision/{}",
        trim_hub(hub),
        percent_encode_path(repo),
        percent_encode_component(rev)
    )
}

/// Builds the web page URL of a repository at a revision (for "open on the Hub" links).
pub fn repo_page_url(hub: &str, repo: &str, rev: &str) -> String {
    format!(
        "{}/{}/tree/{}",
        trim_hub(hub),
        percent_encode_path(repo),
        percent_encode_component(rev)
    )
}

/// What the revision listing says: the commit the revision points to and the files in it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RevisionInfo {
    /// The commit SHA (40 lower-case hexadecimal digits).
    pub sha: String,
    /// Every file path in the repository at that commit, in the Hub's order.
    pub files: Vec<String>,
}

/// The raw JSON shape of the revision listing.
#[derive(Deserialize)]
struct RawRevisionInfo {
    /// The commit SHA.
    sha: String,
    /// The files; absent for some restricted answers.
    #[serde(default)]
    siblings: Vec<RawSibling>,
}

/// One entry of the `siblings` list.
#[derive(Deserialize)]
struct RawSibling {
    /// The file path relative to the repository root.
    rfilename: String,
}

/// Reads the revision listing JSON (`{sha, siblings: [{rfilename}]}`); other fields are ignored.
///
/// The SHA must be 40 hexadecimal digits; it is returned in lower case.
pub fn parse_revision_info(json: &[u8]) -> Result<RevisionInfo, HubError> {
    let raw: RawRevisionInfo =
        serde_json::from_slice(json).map_err(|err| HubError::BadRevisionInfo {
            detail: shorten(&err.to_string(), 200),
        })?;
    if !is_commit_sha(&raw.sha) {
        return Err(HubError::BadCommitSha {
            sha: shorten(&raw.sha, 60),
        });
    }
    Ok(RevisionInfo {
        sha: raw.sha.to_ascii_lowercase(),
        files: raw.siblings.into_iter().map(|s| s.rfilename).collect(),
    })
}

/// Which weights file to read from a repository.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum WeightsChoice {
    /// One safetensors file holds every tensor.
    Single(String),
    /// The weights are sharded; this index maps tensor names to shard files.
    Sharded {
        /// The path of the `*.index.json` file.
        index_file: String,
    },
}

impl WeightsChoice {
    /// Returns the path of the file to fetch first (the weights file or the index).
    pub fn path(&self) -> &str {
        match self {
            WeightsChoice::Single(path) => path,
            WeightsChoice::Sharded { index_file } => index_file,
        }
    }
}

/// Returns true for a path naming a safetensors shard index.
fn is_index_file(path: &str) -> bool {
    path.ends_with(".index.json")
}

/// Returns true for a path naming a safetensors weights file.
fn is_safetensors_file(path: &str) -> bool {
    path.ends_with(".safetensors")
}

/// Lists file names for an error message, shortening long lists; "none" when empty.
fn list_for_message(names: &[&str]) -> String {
    if names.is_empty() {
        return "none".to_owned();
    }
    let shown: Vec<String> = names
        .iter()
        .take(MAX_LISTED_FILES)
        .map(|name| format!("`{}`", shorten(name, 120)))
        .collect();
    let hidden = names.len().saturating_sub(MAX_LISTED_FILES);
    if hidden > 0 {
        format!("{} and {hidden} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// Chooses the weights file from a revision's file list.
///
/// With `requested`, that file must be in the list and be a `.safetensors` file or a
/// `*.index.json` index. Without it, `model.safetensors` wins, then
/// `model.safetensors.index.json`; otherwise the error lists the safetensors files
/// found, or says the revision has none (and which other formats it has).
pub fn choose_weights_file(
    files: &[String],
    requested: Option<&str>,
) -> Result<WeightsChoice, HubError> {
    let mut weights: Vec<&str> = files
        .iter()
        .map(String::as_str)
        .filter(|f| is_safetensors_file(f) || (is_index_file(f) && f.contains(".safetensors")))
        .collect();
    weights.sort_unstable();
    weights.dedup();

    if let Some(requested) = requested {
        let requested = requested.trim_start_matches('/');
        if !is_safetensors_file(requested) && !is_index_file(requested) {
            return Err(HubError::NotWeightsFile {
                requested: shorten(requested, 200),
            });
        }
        if !files.iter().any(|f| f == requested) {
            return Err(HubError::RequestedFileMissing {
                requested: shorten(requested, 200),
                available: list_for_message(&weights),
            });
        }
        return Ok(if is_index_file(requested) {
            WeightsChoice::Sharded {
                index_file: requested.to_owned(),
            }
        } else {
            WeightsChoice::Single(requested.to_owned())
        });
    }

    if files.iter().any(|f| f == SINGLE_WEIGHTS_FILE) {
        return Ok(WeightsChoice::Single(SINGLE_WEIGHTS_FILE.to_owned()));
    }
    if files.iter().any(|f| f == SHARDED_INDEX_FILE) {
        return Ok(WeightsChoice::Sharded {
            index_file: SHARDED_INDEX_FILE.to_owned(),
        });
    }
    if !weights.is_empty() {
        return Err(HubError::NoStandardWeightsFile {
            available: list_for_message(&weights),
        });
    }

    let other_formats: Vec<&str> = [
        ("pytorch_model.bin", ".bin"),
        ("tf_model.h5", ".h5"),
        ("flax_model.msgpack", ".msgpack"),
        ("model.onnx", ".onnx"),
        ("model.gguf", ".gguf"),
    ]
    .iter()
    .filter(|(_, ext)| files.iter().any(|f| f.ends_with(ext)))
    .map(|(label, _)| *label)
    .collect();
    let other = if other_formats.is_empty() {
        String::new()
    } else {
        format!(" (only {})", other_formats.join(", "))
    };
    Err(HubError::NoSafetensors { other })
}

/// A parsed `Content-Range: bytes first-last/total` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ContentRange {
    /// The first byte sent (inclusive).
    pub first_byte: u64,
    /// The last byte sent (inclusive).
    pub last_byte: u64,
    /// The whole file's length, or `None` when the server sent `*`.
    pub total_len_bytes: Option<u64>,
}

impl ContentRange {
    /// Returns how many bytes the response carries.
    pub fn len_bytes(&self) -> u64 {
        self.last_byte
            .saturating_sub(self.first_byte)
            .saturating_add(1)
    }

    /// Returns the bytes sent as a half-open range `first..last+1`.
    pub fn byte_range(&self) -> Range<u64> {
        self.first_byte..self.last_byte.saturating_add(1)
    }
}

/// Reads a `Content-Range` header such as `bytes 0-7/548105171` (or `bytes 0-7/*`).
///
/// The unit is matched without regard to case; `first <= last < total` is checked.
pub fn parse_content_range(value: &str) -> Result<ContentRange, HubError> {
    let bad = |detail: &str| HubError::BadContentRange {
        value: shorten(value, 80),
        detail: detail.to_owned(),
    };
    let trimmed = value.trim();
    let rest = trimmed
        .get(..6)
        .filter(|unit| unit.eq_ignore_ascii_case("bytes "))
        .and_then(|_| trimmed.get(6..))
        .ok_or_else(|| bad("it does not start with `bytes `"))?;
    let (span, total) = rest
        .split_once('/')
        .ok_or_else(|| bad("it has no `/total` part"))?;
    let (first, last) = span
        .split_once('-')
        .ok_or_else(|| bad("it has no `first-last` byte span (an unsatisfied range?)"))?;
    let first_byte = parse_u64(first).ok_or_else(|| bad("the first byte is not a number"))?;
    let last_byte = parse_u64(last).ok_or_else(|| bad("the last byte is not a number"))?;
    let total_len_bytes = if total.trim() == "*" {
        None
    } else {
        Some(parse_u64(total).ok_or_else(|| bad("the total length is not a number"))?)
    };
    if first_byte > last_byte {
        return Err(bad("the first byte comes after the last byte"));
    }
    if let Some(total) = total_len_bytes {
        if last_byte >= total {
            return Err(bad("the last byte lies beyond the file length"));
        }
    }
    Ok(ContentRange {
        first_byte,
        last_byte,
        total_len_bytes,
    })
}

/// Parses a decimal `u64` made only of ASCII digits (no sign, no spaces inside).
fn parse_u64(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Formats the `Range` request header for a half-open byte range: `a..b` → `bytes=a-(b-1)`.
///
/// An empty range cannot be expressed in HTTP; callers must not request one. If they do,
/// this asks for the single byte at `a` rather than producing an invalid header.
pub fn range_header_value(range: &Range<u64>) -> String {
    let last = range.end.saturating_sub(1).max(range.start);
    format!("bytes={}-{}", range.start, last)
}

/// Checks the answer to a ranged GET for `requested` bytes.
///
/// A 206 whose `Content-Range` covers exactly the requested bytes (clipped to the file's
/// end) passes and yields the file length, if the server gave it. Any other status is
/// described by [`describe_http_status`] (the browser shell handles a 200, a server that
/// ignored the range, before calling this).
pub fn check_range_response(
    status: u16,
    content_range: Option<&str>,
    requested: &Range<u64>,
    url: &str,
    repo: &str,
) -> Result<Option<u64>, HubError> {
    match status {
        206 => {}
        other => return Err(describe_http_status(other, url, repo)),
    }
    let header = content_range.ok_or_else(|| HubError::BadContentRange {
        value: String::new(),
        detail: "the 206 answer has no Content-Range header (is it exposed under CORS?)".to_owned(),
    })?;
    let got = parse_content_range(header)?;
    let want_last = requested.end.saturating_sub(1).max(requested.start);
    // The server may clip the last byte to the file's end; that is still a correct answer.
    let clipped_last = got
        .total_len_bytes
        .map_or(want_last, |total| want_last.min(total.saturating_sub(1)));
    if got.first_byte != requested.start || got.last_byte != clipped_last {
        return Err(HubError::RangeMismatch {
            url: url.to_owned(),
            want_first: requested.start,
            want_last,
            got_first: got.first_byte,
            got_last: got.last_byte,
        });
    }
    Ok(got.total_len_bytes)
}

/// Turns an unsuccessful HTTP status into an error that says what happened and what to do.
///
/// 401/403 → [`HubError::Gated`], 404 → [`HubError::NotFound`], 416 →
/// [`HubError::RangeNotSatisfiable`], 429 → [`HubError::RateLimited`], 5xx →
/// [`HubError::ServerError`], anything else → [`HubError::UnexpectedStatus`].
pub fn describe_http_status(status: u16, url: &str, repo: &str) -> HubError {
    let url = url.to_owned();
    match status {
        401 | 403 => HubError::Gated {
            status,
            url,
            repo: repo.to_owned(),
        },
        404 => HubError::NotFound {
            url,
            repo: repo.to_owned(),
        },
        416 => HubError::RangeNotSatisfiable { url },
        429 => HubError::RateLimited { url },
        500..=599 => HubError::ServerError { status, url },
        _ => HubError::UnexpectedStatus { status, url },
    }
}

/// Describes a request that got no HTTP answer at all (offline, DNS failure, nothing
/// listening at the address).
pub fn describe_network_failure(url: &str, detail: &str) -> HubError {
    HubError::Network {
        url: url.to_owned(),
        detail: shorten(detail, 200),
    }
}

/// Describes a request that the browser refused to hand to the page although its server
/// answered (the server sends no CORS headers for this page). The browser shell tells the two
/// apart with a second, opaque request (`mode: 'no-cors'`), which succeeds when the server is
/// reachable.
pub fn describe_cors_refusal(url: &str) -> HubError {
    HubError::CorsRefused {
        url: shorten(url, 300),
        origin: url_origin(url),
    }
}

/// The scheme, host and port of a URL (`https://hf-mirror.example:8443`), or the URL itself
/// (shortened) when it has no `scheme://` part.
fn url_origin(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return shorten(url, 120);
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    // Drop any `user:password@` part; the host and port are what name the server.
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    shorten(&format!("{scheme}://{host}"), 120)
}

/// Describes an unsuccessful answer from the revision API (`/api/models/{repo}/revision/{rev}`).
///
/// The Hub answers 401 to anonymous visitors for a repository that does not exist or is
/// private, so a 401 or 403 here means "no such public repository" ([`HubError::RepoNotFound`]).
/// Other statuses read as for any URL ([`describe_http_status`]).
pub fn describe_api_status(status: u16, url: &str, repo: &str) -> HubError {
    match status {
        401 | 403 => HubError::RepoNotFound {
            status,
            url: url.to_owned(),
            repo: repo.to_owned(),
        },
        other => describe_http_status(other, url, repo),
    }
}

impl HubError {
    /// The kind the page shows for this failure (`[data-testid=error]`'s `data-kind`).
    pub fn kind(&self) -> ErrorKind {
        match self {
            HubError::Gated { .. } => ErrorKind::Gated,
            HubError::NotFound { .. }
            | HubError::RepoNotFound { .. }
            | HubError::RequestedFileMissing { .. } => ErrorKind::NotFound,
            HubError::RateLimited { .. } => ErrorKind::RateLimited,
            HubError::ServerError { .. } => ErrorKind::Server,
            HubError::RangeNotSatisfiable { .. } => ErrorKind::Changed,
            HubError::Network { .. } => ErrorKind::Network,
            HubError::CorsRefused { .. } => ErrorKind::Cors,
            HubError::NotWeightsFile { .. }
            | HubError::NoStandardWeightsFile { .. }
            | HubError::NoSafetensors { .. } => ErrorKind::NotSafetensors,
            HubError::UnexpectedStatus { .. }
            | HubError::RangeMismatch { .. }
            | HubError::BadContentRange { .. }
            | HubError::BadRevisionInfo { .. }
            | HubError::BadCommitSha { .. } => ErrorKind::BadAnswer,
        }
    }
}
