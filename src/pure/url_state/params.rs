//! The rules each share-link value must follow: the limits, the parsers of the numbers and
//! flags, and the checks of the names (Hub address, repository, revision, file, tensor).

use crate::pure::analysis::DropAxis;
use crate::pure::source::hub;

/// The largest accepted `drop` value.
pub const MAX_DROP_COUNT: usize = 4096;
/// The largest accepted `k` value.
pub const MAX_K_VECTORS: usize = 1024;
/// The longest accepted repository name part (owner or name), in characters.
pub const MAX_REPO_PART_CHARS: usize = 96;
/// The longest accepted revision, in characters.
pub const MAX_REV_CHARS: usize = 256;
/// The longest accepted file path, in characters.
pub const MAX_FILE_CHARS: usize = 512;
/// The longest accepted tensor name, in characters.
pub const MAX_TENSOR_CHARS: usize = 512;
/// The longest accepted Hub address, in characters.
pub const MAX_HUB_CHARS: usize = 2048;

/// The smallest accepted `clip` quantile; the largest is just below 1 (1 is the full range).
pub const MIN_COLOR_CLIP_QUANTILE: f64 = 0.5;

/// Parses the share-link spelling of the drop axis: exactly `cols` or `rows`.
///
/// This is stricter than `DropAxis::from_str`, so every accepted link is already canonical.
pub fn parse_drop_axis(value: &str) -> Result<DropAxis, ParamError> {
    match value {
        "cols" => Ok(DropAxis::Cols),
        "rows" => Ok(DropAxis::Rows),
        _ => Err(ParamError::NotOneOf {
            allowed: "`cols` or `rows`",
        }),
    }
}

/// Why a parameter value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// The value is empty.
    #[error("it is empty")]
    Empty,
    /// The value is longer than allowed.
    #[error("it is longer than {max_chars} characters")]
    TooLong {
        /// The limit, in characters.
        max_chars: usize,
    },
    /// The value contains a control character (such as `%00`).
    #[error("it contains a control character")]
    ControlChar,
    /// The value is not one of a fixed set of words.
    #[error("it must be {allowed}")]
    NotOneOf {
        /// The allowed spellings.
        allowed: &'static str,
    },
    /// The value is not a number of the expected kind.
    #[error("it is not {expected}")]
    NotANumber {
        /// What kind of number was expected.
        expected: &'static str,
    },
    /// The number lies outside the allowed range.
    #[error("it must be {allowed}")]
    OutOfRange {
        /// The allowed range, in words.
        allowed: &'static str,
    },
    /// The value breaks a format rule.
    #[error("{rule}")]
    Format {
        /// The rule that was broken, as a clause.
        rule: &'static str,
    },
}

/// Rejects empty values, values longer than `max_chars`, and control characters.
fn check_text(value: &str, max_chars: usize) -> Result<(), ParamError> {
    if value.is_empty() {
        return Err(ParamError::Empty);
    }
    if value.chars().nth(max_chars).is_some() {
        return Err(ParamError::TooLong { max_chars });
    }
    if value.chars().any(char::is_control) {
        return Err(ParamError::ControlChar);
    }
    Ok(())
}

/// Validates a Hub address and returns it without trailing slashes.
///
/// It must start with `http://` or `https://`, name a host, and have no query, fragment,
/// credentials, spaces or backslashes. A path after the host is allowed (for mirrors).
pub fn validate_hub(value: &str) -> Result<String, ParamError> {
    check_text(value, MAX_HUB_CHARS)?;
    let lower = value.to_ascii_lowercase();
    let rest_start = if lower.starts_with("https://") {
        8
    } else if lower.starts_with("http://") {
        7
    } else {
        return Err(ParamError::Format {
            rule: "it must start with http:// or https://",
        });
    };
    if value.contains(['?', '#']) {
        return Err(ParamError::Format {
            rule: "it must not contain a query (`?`) or fragment (`#`)",
        });
    }
    if value.contains(char::is_whitespace) || value.contains('\\') {
        return Err(ParamError::Format {
            rule: "it must not contain spaces or backslashes",
        });
    }
    let trimmed = value.trim_end_matches('/');
    let rest = trimmed.get(rest_start..).unwrap_or("");
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() {
        return Err(ParamError::Format {
            rule: "it must name a host after the scheme",
        });
    }
    if host.contains('@') {
        return Err(ParamError::Format {
            rule: "it must not contain credentials (`user@`)",
        });
    }
    // The scheme is normalised to lower case; the rest is kept as written.
    let scheme = lower.get(..rest_start).unwrap_or("https://");
    Ok(format!("{scheme}{rest}"))
}

/// Validates one part (owner or name) of a repository id.
fn validate_repo_part(part: &str) -> Result<(), ParamError> {
    if part.is_empty() {
        return Err(ParamError::Format {
            rule: "it must be `name` or `owner/name` with non-empty parts",
        });
    }
    if part.chars().nth(MAX_REPO_PART_CHARS).is_some() {
        return Err(ParamError::TooLong {
            max_chars: MAX_REPO_PART_CHARS,
        });
    }
    if !part
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(ParamError::Format {
            rule: "it may contain only letters, digits, `.`, `_` and `-`",
        });
    }
    if part.contains("..") || part.contains("--") {
        return Err(ParamError::Format {
            rule: "it must not contain `..` or `--`",
        });
    }
    let edge_ok = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !edge_ok(part.bytes().next()) || !edge_ok(part.bytes().last()) {
        return Err(ParamError::Format {
            rule: "each part must start and end with a letter, digit or `_`",
        });
    }
    Ok(())
}

/// Validates a repository id (`name` or `owner/name`) and resolves known aliases.
///
/// Returns the canonical id and whether an alias was resolved (`gpt2-small` → `gpt2`).
pub fn validate_repo(value: &str) -> Result<(String, bool), ParamError> {
    check_text(value, 2 * MAX_REPO_PART_CHARS + 1)?;
    let canonical = hub::canonical_repo(value);
    let mut parts = canonical.split('/');
    let first = parts.next().unwrap_or("");
    let second = parts.next();
    if parts.next().is_some() {
        return Err(ParamError::Format {
            rule: "it must be `name` or `owner/name` (at most one `/`)",
        });
    }
    validate_repo_part(first)?;
    if let Some(name) = second {
        validate_repo_part(name)?;
    }
    if canonical.ends_with(".git") {
        return Err(ParamError::Format {
            rule: "it must not end with `.git`",
        });
    }
    Ok((canonical.to_owned(), canonical != value))
}

/// Validates a revision: a branch, tag, `refs/pr/N` or 40-digit commit SHA.
///
/// Rejects `..`, spaces, control characters, the git-special characters `~^:?*[\`,
/// `@{`, leading or trailing `/`, and empty path parts.
pub fn validate_rev(value: &str) -> Result<(), ParamError> {
    check_text(value, MAX_REV_CHARS)?;
    if value.contains("..") {
        return Err(ParamError::Format {
            rule: "it must not contain `..`",
        });
    }
    if value.contains(char::is_whitespace) {
        return Err(ParamError::Format {
            rule: "it must not contain spaces",
        });
    }
    if value.contains(['~', '^', ':', '?', '*', '[', '\\']) || value.contains("@{") {
        return Err(ParamError::Format {
            rule: "it must not contain `~ ^ : ? * [ \\` or `@{`",
        });
    }
    if value.split('/').any(str::is_empty) {
        return Err(ParamError::Format {
            rule: "it must not start or end with `/` or contain `//`",
        });
    }
    if value.ends_with('.') || value.ends_with(".lock") {
        return Err(ParamError::Format {
            rule: "it must not end with `.` or `.lock`",
        });
    }
    Ok(())
}

/// Validates a weights file path: a `.safetensors` file or a `*.index.json` shard index,
/// relative to the repository root, with ordinary path segments.
pub fn validate_file(value: &str) -> Result<(), ParamError> {
    check_text(value, MAX_FILE_CHARS)?;
    if value.starts_with('/') {
        return Err(ParamError::Format {
            rule: "it must be a path inside the repository (no leading `/`)",
        });
    }
    if value.contains("://") || value.contains('\\') {
        return Err(ParamError::Format {
            rule: "it must be a plain path (no `://` or `\\`)",
        });
    }
    if value
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return Err(ParamError::Format {
            rule: "its path segments must not be empty, `.` or `..`",
        });
    }
    if !value.ends_with(".safetensors") && !value.ends_with(".index.json") {
        return Err(ParamError::Format {
            rule: "it must end with `.safetensors` or `.index.json`",
        });
    }
    Ok(())
}

/// Validates a tensor name: any non-empty text without control characters, at most 512 characters.
pub fn validate_tensor(value: &str) -> Result<(), ParamError> {
    check_text(value, MAX_TENSOR_CHARS)
}

/// Parses the relative threshold: a finite decimal with `0 < t < 1`.
pub fn parse_threshold(value: &str) -> Result<f64, ParamError> {
    check_text(value, 64)?;
    let parsed: f64 = value.trim().parse().map_err(|_| ParamError::NotANumber {
        expected: "a decimal number",
    })?;
    if !parsed.is_finite() || parsed <= 0.0 || parsed >= 1.0 {
        return Err(ParamError::OutOfRange {
            allowed: "strictly between 0 and 1",
        });
    }
    Ok(parsed)
}

/// The rule a `clip` quantile must meet, in words, for notes and validation errors.
pub(super) const COLOR_CLIP_ALLOWED: &str =
    "a number from 0.5 up to (not including) 1, such as 0.99";

/// Returns whether `quantile` is an accepted `clip` value: finite with `0.5 ≤ q < 1`.
pub fn is_valid_color_clip(quantile: f64) -> bool {
    quantile.is_finite() && (MIN_COLOR_CLIP_QUANTILE..1.0).contains(&quantile)
}

/// Parses the heatmap colour clip: a decimal quantile with `0.5 ≤ q < 1` (such as `0.99`).
pub fn parse_color_clip(value: &str) -> Result<f64, ParamError> {
    check_text(value, 64)?;
    let parsed: f64 = value.trim().parse().map_err(|_| ParamError::NotANumber {
        expected: "a decimal number",
    })?;
    if !is_valid_color_clip(parsed) {
        return Err(ParamError::OutOfRange {
            allowed: COLOR_CLIP_ALLOWED,
        });
    }
    Ok(parsed)
}

/// Parses a whole number in `min..=max`; `allowed` describes the range for the note.
fn parse_count(
    value: &str,
    min: usize,
    max: usize,
    allowed: &'static str,
) -> Result<usize, ParamError> {
    check_text(value, 64)?;
    let trimmed = value.trim();
    if !trimmed.bytes().all(|b| b.is_ascii_digit()) || trimmed.is_empty() {
        return Err(ParamError::NotANumber {
            expected: "a whole number",
        });
    }
    match trimmed.parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ParamError::OutOfRange { allowed }),
    }
}

/// Parses the `drop` count: a whole number from 0 to 4096.
pub fn parse_drop_count(value: &str) -> Result<usize, ParamError> {
    parse_count(value, 0, MAX_DROP_COUNT, "a whole number from 0 to 4096")
}

/// Parses `k`: a whole number from 1 to 1024.
pub fn parse_k_vectors(value: &str) -> Result<usize, ParamError> {
    parse_count(value, 1, MAX_K_VECTORS, "a whole number from 1 to 1024")
}

/// Parses a flag: `true`, `false`, `1` or `0` (letters in any case).
pub fn parse_flag(value: &str) -> Result<bool, ParamError> {
    let allowed = ParamError::NotOneOf {
        allowed: "`true`, `false`, `1` or `0`",
    };
    if value.eq_ignore_ascii_case("true") || value == "1" {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") || value == "0" {
        Ok(false)
    } else {
        Err(allowed)
    }
}
