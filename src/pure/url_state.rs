//! The share-link codec: view settings to a query string and back.
//!
//! The parameter names are a public interface; links made today must open the same view
//! later. Decoding never fails: every unknown parameter, invalid value and duplicate
//! produces a visible note, and an invalid value falls back to its default.
//!
//! | parameter     | meaning                                   | default                  |
//! |---------------|-------------------------------------------|--------------------------|
//! | `hub`         | Hub address, `http(s)://host[/path]`      | `https://huggingface.co` |
//! | `repo`        | repository, `name` or `owner/name`        | `gpt2`                   |
//! | `rev`         | branch, tag, `refs/pr/N` or commit SHA    | `main`                   |
//! | `file`        | `.safetensors` file or `*.index.json`     | chosen automatically     |
//! | `tensor`      | tensor name                               | detected automatically   |
//! | `threshold`   | relative rank threshold, `0 < t < 1`      | `0.01`                   |
//! | `drop`        | leading rows/columns to drop, `0..=4096`  | `5`                      |
//! | `drop_axis`   | `cols` or `rows`                          | `cols`                   |
//! | `center`      | subtract each row's mean first            | `false`                  |
//! | `k`           | singular vectors to keep, `1..=1024`      | `50`                     |
//! | `skip_offset` | remove non-position rows (OPT, RoBERTa…)  | `false`                  |
//! | `clip`        | heatmap colour quantile, `0.5 ≤ q < 1`    | full range (max abs(v))  |
//! | `compare`     | models to compare, `repo[@rev],…` (≤ 4)    | none                     |

pub use crate::pure::analysis::{DEFAULT_DROP_COUNT, DEFAULT_K_VECTORS, DEFAULT_THRESHOLD_REL};

use crate::pure::analysis::{AnalysisOptions, DropAxis};
use crate::pure::common::shorten;
use crate::pure::source::hub::{self, DEFAULT_HUB, DEFAULT_REPO, DEFAULT_REVISION};

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
/// The most notes one decode reports; the rest are counted in a final note.
pub const MAX_NOTES: usize = 20;

/// The most models a link may add for comparison.
pub const MAX_COMPARE_ENTRIES: usize = 4;

/// One model to compare with the main one: a Hub repository, optionally at a revision.
///
/// In a link it is spelt `repo` or `repo@rev` (for example `gpt2-medium@main`); entries are
/// separated by commas.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CompareEntry {
    /// The repository id, `name` or `owner/name`.
    pub repo: String,
    /// The revision; `None` means the Hub's default branch (`main`).
    pub rev: Option<String>,
}

impl CompareEntry {
    /// Returns the link spelling: `repo` or `repo@rev`.
    pub fn spelling(&self) -> String {
        match &self.rev {
            Some(rev) => format!("{}@{rev}", self.repo),
            None => self.repo.clone(),
        }
    }

    /// Returns the revision to fetch: the given one or `main`.
    pub fn rev_or_default(&self) -> &str {
        self.rev.as_deref().unwrap_or(DEFAULT_REVISION)
    }
}

/// Parses one compare entry, `repo` or `repo@rev`, resolving repository aliases.
pub fn parse_compare_entry(value: &str) -> Result<CompareEntry, ParamError> {
    let value = value.trim();
    let (repo, rev) = match value.split_once('@') {
        Some((repo, rev)) => {
            validate_rev(rev)?;
            (repo, Some(rev.to_owned()))
        }
        None => (value, None),
    };
    let (repo, _aliased) = validate_repo(repo)?;
    Ok(CompareEntry { repo, rev })
}

/// Parses the `compare` list: comma-separated entries, each checked on its own.
///
/// Returns the accepted entries (duplicates dropped, at most [`MAX_COMPARE_ENTRIES`]) and one
/// note per rejected or dropped entry; one bad entry never loses the others.
pub fn parse_compare_list(value: &str) -> (Vec<CompareEntry>, Vec<String>) {
    let mut entries: Vec<CompareEntry> = Vec::new();
    let mut notes = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match parse_compare_entry(part) {
            Ok(entry) if entries.contains(&entry) => {}
            Ok(_) if entries.len() >= MAX_COMPARE_ENTRIES => notes.push(format!(
                "Ignored compare entry {} because at most {MAX_COMPARE_ENTRIES} models can be compared.",
                quote(part)
            )),
            Ok(entry) => entries.push(entry),
            Err(why) => notes.push(format!(
                "Ignored compare entry {} because {why}; the other entries are kept.",
                quote(part)
            )),
        }
    }
    (entries, notes)
}

/// The smallest accepted `clip` quantile; the largest is just below 1 (1 is the full range).
pub const MIN_COLOR_CLIP_QUANTILE: f64 = 0.5;

/// The longest excerpt of a rejected value quoted in a note, in characters.
const MAX_QUOTED_CHARS: usize = 80;

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

/// Everything a share link carries: where the weights are and how to analyse them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ViewSettings {
    /// The Hub address, without a trailing slash.
    pub hub: String,
    /// The repository id, `name` or `owner/name`.
    pub repo: String,
    /// The revision: branch, tag, `refs/pr/N` or a 40-digit commit SHA.
    pub rev: String,
    /// The weights file; `None` chooses `model.safetensors` or the shard index.
    pub file: Option<String>,
    /// The tensor to analyse; `None` detects the positional embedding.
    pub tensor: Option<String>,
    /// The relative threshold for the approximate rank, `0 < threshold_rel < 1`.
    pub threshold_rel: f64,
    /// How many leading rows or columns to drop for the second analysis (`0` skips it).
    pub drop_count: usize,
    /// Which axis `drop_count` applies to.
    pub drop_axis: DropAxis,
    /// Whether to subtract each row's mean over d_model before the SVD.
    pub center_rows: bool,
    /// How many singular vectors to keep for the charts.
    pub k_vectors: usize,
    /// Whether to remove rows that are not positions (OPT and RoBERTa offsets, ViT's CLS row).
    pub skip_offset: bool,
    /// The heatmaps' colour limit as a quantile of |value| (`0.5 ≤ q < 1`), or `None` for the
    /// full range (±max |value|, as the notebook drew them). A view setting: changing it
    /// never re-runs the analysis.
    #[serde(default)]
    pub color_clip: Option<f64>,
    /// Models to compare with this one (each fetched and analysed the same way, without
    /// dropping). Empty when nothing is compared.
    #[serde(default)]
    pub compare: Vec<CompareEntry>,
}

impl Default for ViewSettings {
    /// The seed notebook's analysis: GPT-2 small on `main`, threshold 0.01, drop 5 columns,
    /// no centring, 50 singular vectors, heatmap colours over the full range.
    fn default() -> Self {
        ViewSettings {
            hub: DEFAULT_HUB.to_owned(),
            repo: DEFAULT_REPO.to_owned(),
            rev: DEFAULT_REVISION.to_owned(),
            file: None,
            tensor: None,
            threshold_rel: DEFAULT_THRESHOLD_REL,
            drop_count: DEFAULT_DROP_COUNT,
            drop_axis: DropAxis::Cols,
            center_rows: false,
            k_vectors: DEFAULT_K_VECTORS,
            skip_offset: false,
            color_clip: None,
            compare: Vec::new(),
        }
    }
}

/// The result of decoding a query string: usable settings plus notes to show the user.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Decoded {
    /// The settings, with defaults wherever a value was missing or rejected.
    pub settings: ViewSettings,
    /// One sentence per ignored parameter, rejected value or duplicate, in query order.
    pub notes: Vec<String>,
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
const COLOR_CLIP_ALLOWED: &str = "a number from 0.5 up to (not including) 1, such as 0.99";

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

/// Every parameter this codec knows, in the order [`encode_query`] writes them.
pub const PARAM_NAMES: &[&str] = &[
    "hub",
    "repo",
    "rev",
    "file",
    "tensor",
    "threshold",
    "drop",
    "drop_axis",
    "center",
    "k",
    "skip_offset",
    "clip",
    "compare",
];

/// Collects notes, keeping at most [`MAX_NOTES`] and counting the rest.
struct Notes {
    /// The notes kept so far.
    kept: Vec<String>,
    /// How many notes were dropped after the cap.
    dropped: usize,
}

impl Notes {
    /// Adds one note, or counts it when the cap is reached.
    fn push(&mut self, note: String) {
        if self.kept.len() < MAX_NOTES {
            self.kept.push(note);
        } else {
            self.dropped = self.dropped.saturating_add(1);
        }
    }

    /// Returns the notes, with a summary line when some were dropped.
    fn finish(mut self) -> Vec<String> {
        if self.dropped > 0 {
            self.kept.push(format!(
                "{} more notes about this link were not shown.",
                self.dropped
            ));
        }
        self.kept
    }
}

/// Quotes a value for a note: shortened, control characters escaped.
fn quote(value: &str) -> String {
    format!("`{}`", shorten(value, MAX_QUOTED_CHARS))
}

/// Builds the note for a rejected value.
fn rejected(name: &str, value: &str, why: &ParamError, default: &str) -> String {
    format!(
        "Ignored {name}={} because {why}; using the default ({default}).",
        quote(value)
    )
}

/// Decodes a query string (with or without the leading `?`) into settings and notes.
///
/// Never fails and never panics: unknown parameters are ignored, invalid values fall
/// back to their defaults, and for repeated parameters the last one wins; each case
/// adds a note saying what was ignored, why, and what was used instead.
pub fn decode_query(query: &str) -> Decoded {
    let query = query.strip_prefix('?').unwrap_or(query);
    let mut settings = ViewSettings::default();
    let mut notes = Notes {
        kept: Vec::new(),
        dropped: 0,
    };
    // The last value of each known parameter, and how often each appeared.
    let mut last_values: Vec<Option<String>> = vec![None; PARAM_NAMES.len()];
    let mut counts: Vec<usize> = vec![0; PARAM_NAMES.len()];

    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match PARAM_NAMES.iter().position(|name| *name == key) {
            Some(index) => {
                if let Some(slot) = last_values.get_mut(index) {
                    *slot = Some(value.into_owned());
                }
                if let Some(count) = counts.get_mut(index) {
                    *count = count.saturating_add(1);
                }
            }
            None => {
                if key.is_empty() && value.is_empty() {
                    // A stray `&` (as in `a=1&&b=2`) is harmless and not worth a note.
                    continue;
                }
                notes.push(format!(
                    "Ignored the unknown parameter {}; known parameters are {}.",
                    quote(&key),
                    PARAM_NAMES.join(", ")
                ));
            }
        }
    }

    for ((name, value), count) in PARAM_NAMES.iter().zip(last_values).zip(counts) {
        if count > 1 {
            notes.push(format!(
                "The parameter `{name}` appeared {count} times; the last one was used."
            ));
        }
        if let Some(value) = value {
            apply_param(&mut settings, &mut notes, name, &value);
        }
    }

    Decoded {
        settings,
        notes: notes.finish(),
    }
}

/// Applies one known parameter's value to the settings, adding a note when it is rejected.
fn apply_param(settings: &mut ViewSettings, notes: &mut Notes, name: &str, value: &str) {
    let mut reject = |why: ParamError, default: &str| {
        notes.push(rejected(name, value, &why, default));
    };
    match name {
        "hub" => match validate_hub(value) {
            Ok(hub) => settings.hub = hub,
            Err(why) => reject(why, DEFAULT_HUB),
        },
        "repo" => match validate_repo(value) {
            Ok((repo, aliased)) => {
                if aliased {
                    notes.push(format!(
                        "The repository {} is called `{repo}` on the Hub; opened `{repo}`.",
                        quote(value)
                    ));
                }
                settings.repo = repo;
            }
            Err(why) => reject(why, DEFAULT_REPO),
        },
        "rev" => match validate_rev(value) {
            Ok(()) => settings.rev = value.to_owned(),
            Err(why) => reject(why, DEFAULT_REVISION),
        },
        "file" => match validate_file(value) {
            Ok(()) => settings.file = Some(value.to_owned()),
            Err(why) => reject(why, "choose the weights file automatically"),
        },
        "tensor" => match validate_tensor(value) {
            Ok(()) => settings.tensor = Some(value.to_owned()),
            Err(why) => reject(why, "detect the positional embedding automatically"),
        },
        "threshold" => match parse_threshold(value) {
            Ok(threshold_rel) => settings.threshold_rel = threshold_rel,
            Err(why) => reject(why, "0.01"),
        },
        "drop" => match parse_drop_count(value) {
            Ok(drop_count) => settings.drop_count = drop_count,
            Err(why) => reject(why, "5"),
        },
        "drop_axis" => match parse_drop_axis(value) {
            Ok(axis) => settings.drop_axis = axis,
            Err(why) => reject(why, "cols"),
        },
        "center" => match parse_flag(value) {
            Ok(flag) => settings.center_rows = flag,
            Err(why) => reject(why, "false"),
        },
        "k" => match parse_k_vectors(value) {
            Ok(k_vectors) => settings.k_vectors = k_vectors,
            Err(why) => reject(why, "50"),
        },
        "skip_offset" => match parse_flag(value) {
            Ok(flag) => settings.skip_offset = flag,
            Err(why) => reject(why, "false"),
        },
        "clip" => match parse_color_clip(value) {
            Ok(quantile) => settings.color_clip = Some(quantile),
            Err(why) => reject(why, "the full range, max |value|"),
        },
        "compare" => {
            let (entries, entry_notes) = parse_compare_list(value);
            settings.compare = entries;
            for note in entry_notes {
                notes.push(note);
            }
        }
        _ => {}
    }
}

/// Percent-encodes a query value the `application/x-www-form-urlencoded` way, then keeps
/// `/` and `:` readable (both are legal in a query), so links read `repo=owner/name`.
fn encode_value(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace("%2F", "/")
        .replace("%3A", ":")
}

/// Encodes settings as a query string, without the leading `?`.
///
/// The order is stable: `hub` (only when not the default), `repo`, `rev`, `file` and
/// `tensor` (when set), then the analysis parameters that differ from their defaults, then
/// `clip` (when set).
/// Decoding the result with [`decode_query`] gives the same settings and no notes,
/// provided the settings are valid.
pub fn encode_query(settings: &ViewSettings) -> String {
    let defaults = ViewSettings::default();
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if settings.hub != defaults.hub {
        pairs.push(("hub", settings.hub.clone()));
    }
    pairs.push(("repo", settings.repo.clone()));
    pairs.push(("rev", settings.rev.clone()));
    if let Some(file) = &settings.file {
        pairs.push(("file", file.clone()));
    }
    if let Some(tensor) = &settings.tensor {
        pairs.push(("tensor", tensor.clone()));
    }
    if settings.threshold_rel.to_bits() != defaults.threshold_rel.to_bits() {
        // Debug formatting is the shortest text that parses back to the same f64, and it
        // switches to exponent notation for extreme values, keeping the value short.
        pairs.push(("threshold", format!("{:?}", settings.threshold_rel)));
    }
    if settings.drop_count != defaults.drop_count {
        pairs.push(("drop", settings.drop_count.to_string()));
    }
    if settings.drop_axis != defaults.drop_axis {
        pairs.push(("drop_axis", settings.drop_axis.as_str().to_owned()));
    }
    if settings.center_rows != defaults.center_rows {
        pairs.push(("center", settings.center_rows.to_string()));
    }
    if settings.k_vectors != defaults.k_vectors {
        pairs.push(("k", settings.k_vectors.to_string()));
    }
    if settings.skip_offset != defaults.skip_offset {
        pairs.push(("skip_offset", settings.skip_offset.to_string()));
    }
    if let Some(quantile) = settings.color_clip {
        // The same shortest round-trip text as the threshold.
        pairs.push(("clip", format!("{quantile:?}")));
    }
    let mut encoded: Vec<String> = pairs
        .iter()
        .map(|(name, value)| format!("{name}={}", encode_value(value)))
        .collect();
    if !settings.compare.is_empty() {
        // Each entry is encoded on its own, so the separating commas and the `@` stay readable.
        let list: Vec<String> = settings
            .compare
            .iter()
            .map(|entry| encode_value(&entry.spelling()).replace("%40", "@"))
            .collect();
        encoded.push(format!("compare={}", list.join(",")));
    }
    encoded.join("&")
}

impl ViewSettings {
    /// Checks every field against the same rules [`decode_query`] applies, naming the first
    /// field that fails. Settings that pass survive an encode/decode round trip unchanged.
    pub fn validate(&self) -> Result<(), (String, ParamError)> {
        fn field(name: &'static str) -> impl Fn(ParamError) -> (String, ParamError) {
            move |why| (name.to_owned(), why)
        }
        if validate_hub(&self.hub).map_err(field("hub"))? != self.hub {
            return Err((
                "hub".to_owned(),
                ParamError::Format {
                    rule: "it must have a lower-case scheme and no trailing `/`",
                },
            ));
        }
        let (repo, aliased) = validate_repo(&self.repo).map_err(field("repo"))?;
        if aliased || repo != self.repo {
            return Err((
                "repo".to_owned(),
                ParamError::Format {
                    rule: "it must be the Hub's own name, not an alias",
                },
            ));
        }
        validate_rev(&self.rev).map_err(field("rev"))?;
        if let Some(file) = &self.file {
            validate_file(file).map_err(field("file"))?;
        }
        if let Some(tensor) = &self.tensor {
            validate_tensor(tensor).map_err(field("tensor"))?;
        }
        if !(self.threshold_rel.is_finite() && self.threshold_rel > 0.0 && self.threshold_rel < 1.0)
        {
            return Err((
                "threshold".to_owned(),
                ParamError::OutOfRange {
                    allowed: "strictly between 0 and 1",
                },
            ));
        }
        if self.drop_count > MAX_DROP_COUNT {
            return Err((
                "drop".to_owned(),
                ParamError::OutOfRange {
                    allowed: "a whole number from 0 to 4096",
                },
            ));
        }
        if !(1..=MAX_K_VECTORS).contains(&self.k_vectors) {
            return Err((
                "k".to_owned(),
                ParamError::OutOfRange {
                    allowed: "a whole number from 1 to 1024",
                },
            ));
        }
        if let Some(quantile) = self.color_clip {
            if !is_valid_color_clip(quantile) {
                return Err((
                    "clip".to_owned(),
                    ParamError::OutOfRange {
                        allowed: COLOR_CLIP_ALLOWED,
                    },
                ));
            }
        }
        if self.compare.len() > MAX_COMPARE_ENTRIES {
            return Err((
                "compare".to_owned(),
                ParamError::OutOfRange {
                    allowed: "at most 4 models",
                },
            ));
        }
        for (index, entry) in self.compare.iter().enumerate() {
            let parsed = parse_compare_entry(&entry.spelling()).map_err(field("compare"))?;
            if parsed != *entry || self.compare.iter().take(index).any(|e| e == entry) {
                return Err((
                    "compare".to_owned(),
                    ParamError::Format {
                        rule: "each entry must be the Hub's own name, listed once",
                    },
                ));
            }
        }
        Ok(())
    }

    /// Returns a copy whose compared models are pinned to the commits given, one per entry in
    /// order (`None` leaves an entry as it is; a value that is not a 40-digit SHA too).
    pub fn compare_pinned_to(&self, commit_shas: &[Option<String>]) -> ViewSettings {
        let mut pinned = self.clone();
        for (entry, sha) in pinned.compare.iter_mut().zip(commit_shas) {
            if let Some(sha) = sha.as_deref().filter(|sha| hub::is_commit_sha(sha)) {
                entry.rev = Some(sha.to_ascii_lowercase());
            }
        }
        pinned
    }

    /// Returns a copy pinned to a commit, so a share link keeps showing the same weights
    /// after the branch moves. A value that is not a 40-digit SHA leaves the revision as it is.
    pub fn pinned_to(&self, commit_sha: &str) -> ViewSettings {
        let mut pinned = self.clone();
        if hub::is_commit_sha(commit_sha) {
            pinned.rev = commit_sha.to_ascii_lowercase();
        }
        pinned
    }

    /// Returns the analysis options these settings ask for.
    ///
    /// `detected_row_offset` is how many leading rows of the chosen tensor are not positions
    /// (from detection: 2 for OPT and RoBERTa, 1 for ViT's CLS row, else 0); it is skipped
    /// only when `skip_offset` is set.
    pub fn analysis_options(&self, detected_row_offset: usize) -> AnalysisOptions {
        AnalysisOptions {
            threshold_rel: self.threshold_rel,
            drop_count: self.drop_count,
            drop_axis: self.drop_axis,
            center_rows: self.center_rows,
            k_vectors: self.k_vectors,
            skip_offset_rows: if self.skip_offset {
                detected_row_offset
            } else {
                0
            },
        }
    }

    /// Copies the analysis options into these settings (for example after the user changes
    /// them in the form); `skip_offset` becomes true when any offset rows are skipped.
    pub fn set_analysis_options(&mut self, options: &AnalysisOptions) {
        self.threshold_rel = options.threshold_rel;
        self.drop_count = options.drop_count;
        self.drop_axis = options.drop_axis;
        self.center_rows = options.center_rows;
        self.k_vectors = options.k_vectors;
        self.skip_offset = options.skip_offset_rows > 0;
    }
}
