//! The core's shared vocabulary, used by every other module and using none: the kinds of
//! failure the page shows, the size cap on a tensor read, and the formatting of byte counts and
//! quoted text in messages.

/// The largest tensor the app reads, in bytes: 512 MiB.
///
/// A browser tab holds the raw bytes, a copy for each of the two analysis workers, and the
/// matrix as `f64` (twice the bytes of an F32 tensor) in each worker, so 512 MiB of tensor
/// already needs a few GiB. Positional embeddings are a few MB (gpt2-xl's is 6.6 MB).
pub const MAX_TENSOR_BYTES: u64 = 512 * 1024 * 1024;

/// Bytes in one megabyte, for messages (decimal, as download sizes are usually shown).
const BYTES_PER_MB: f64 = 1_000_000.0;

/// Work stopped because the user cancelled it or a newer run replaced it: not a failure, so it
/// has no [`ErrorKind`] and the page shows no error for it. Every layer's error type carries
/// this one value (`#[from] Cancelled`) instead of a variant of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

/// The kind of a failure, as the page's `[data-testid=error]` `data-kind` attribute shows it.
///
/// Tests and scripts read the kind instead of matching words in the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ErrorKind {
    /// A repository, revision or file that does not exist (404, or 401 for an unknown repository).
    NotFound,
    /// A gated or private repository (401/403 for a file of a listed repository).
    Gated,
    /// The bytes are not a safetensors file (HTML, JSON, zip, LFS pointer, corrupt header),
    /// or the revision has no safetensors weights.
    NotSafetensors,
    /// No answer at all: offline, DNS, nothing listening at the address.
    Network,
    /// The server answered, but sends no CORS headers that let this page read its files.
    Cors,
    /// HTTP 429, after every retry.
    RateLimited,
    /// HTTP 5xx, after every retry.
    Server,
    /// The file's ETag or size changed between requests (or a range beyond its end).
    Changed,
    /// The tensor or an answer is larger than the app reads.
    TooLarge,
    /// The connection kept dropping, beyond the resume limit.
    Dropped,
    /// The server's answer could not be used (wrong bytes, bad headers, odd status).
    BadAnswer,
    /// The shard index is malformed or names unsafe files.
    BadIndex,
    /// No learned positional embedding was found.
    NoEmbedding,
    /// The chosen tensor cannot be analysed as a matrix.
    BadTensor,
    /// No tensor has the requested name.
    MissingTensor,
    /// A local file could not be read.
    LocalRead,
    /// The analysis itself failed.
    Analysis,
    /// The browser refused an API call.
    Browser,
    /// Offline, and the model asked for is not saved for offline use.
    NotOffline,
    /// An analysis worker ended (crashed, ran out of memory, or was closed) before it answered.
    WorkerDied,
}

impl ErrorKind {
    /// The attribute value, e.g. `not-found`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not-found",
            ErrorKind::Gated => "gated",
            ErrorKind::NotSafetensors => "not-safetensors",
            ErrorKind::Network => "network",
            ErrorKind::Cors => "cors",
            ErrorKind::RateLimited => "rate-limited",
            ErrorKind::Server => "server",
            ErrorKind::Changed => "changed",
            ErrorKind::TooLarge => "too-large",
            ErrorKind::Dropped => "dropped",
            ErrorKind::BadAnswer => "bad-answer",
            ErrorKind::BadIndex => "bad-index",
            ErrorKind::NoEmbedding => "no-embedding",
            ErrorKind::BadTensor => "bad-tensor",
            ErrorKind::MissingTensor => "missing-tensor",
            ErrorKind::LocalRead => "local-read",
            ErrorKind::Analysis => "analysis",
            ErrorKind::Browser => "browser",
            ErrorKind::NotOffline => "not-offline",
            ErrorKind::WorkerDied => "worker-died",
        }
    }
}

/// How precisely [`format_bytes`] shows a byte count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteUnits {
    /// For a size or a limit in a message: bytes below 1 kB, then MB or GB with two decimals
    /// (`812 B`, `0.79 MB`, `3.15 MB`, `1.07 GB`).
    Precise,
    /// For panels and progress: whole KB, MB with one decimal, GB with two (`812 B`, `787 KB`,
    /// `3.1 MB`, `6.40 GB`).
    Brief,
}

/// Formats a byte count for people, in decimal units (as download sizes are usually shown):
/// the app's one byte formatter.
pub fn format_bytes(len_bytes: u64, units: ByteUnits) -> String {
    // Display only: f64 is exact far beyond any file size shown.
    #[allow(clippy::cast_precision_loss)]
    let mb = len_bytes as f64 / BYTES_PER_MB;
    if len_bytes < 1000 {
        format!("{len_bytes} B")
    } else if mb >= 1000.0 {
        format!("{:.2} GB", mb / 1000.0)
    } else {
        match units {
            ByteUnits::Precise => format!("{mb:.2} MB"),
            ByteUnits::Brief if mb < 1.0 => format!("{:.0} KB", mb * 1000.0),
            ByteUnits::Brief => format!("{mb:.1} MB"),
        }
    }
}

/// A byte count in a message, [`ByteUnits::Precise`]: `812 B`, `3.15 MB`, `1.07 GB`.
pub fn size_label(len_bytes: u64) -> String {
    format_bytes(len_bytes, ByteUnits::Precise)
}

/// Shortens text for a message to at most `max_chars` characters, marking the cut with `…`,
/// and escapes control characters so they cannot disturb the page.
pub fn shorten(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for (count, ch) in text.chars().enumerate() {
        if count >= max_chars {
            out.push('…');
            break;
        }
        if ch.is_control() {
            out.extend(ch.escape_default());
        } else {
            out.push(ch);
        }
    }
    out
}
