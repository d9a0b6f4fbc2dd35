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

mod change;
mod params;

pub use change::SettingsChange;
use params::COLOR_CLIP_ALLOWED;
pub use params::*;

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

/// The longest excerpt of a rejected value quoted in a note, in characters.
const MAX_QUOTED_CHARS: usize = 80;

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
