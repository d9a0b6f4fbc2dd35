//! Picking the learned absolute positional embedding (W_pos) out of a header, by the tensor
//! names the Hugging Face Hub uses, and turning any chosen tensor into a 2-D matrix view.
//!
//! Recognised names, best first:
//! - `wpe.weight` with any prefix (GPT-2, DistilGPT2, GPT-Neo);
//! - `*.embed_positions.weight` (OPT, BART, the Whisper decoder; a decoder is preferred over an
//!   encoder because Whisper's encoder positions are fixed sinusoids);
//! - `*.position_embeddings.weight` (BERT, RoBERTa, DistilBERT, MiniLM);
//! - `*.position_embeddings` without `.weight` (ViT, shape `[1, 1 + p², d]`);
//! - `*.position_embedding.weight` (CLIP) and `pos_embed` / `positional_embedding` parameters.
//!
//! Integer buffers such as `position_ids`, and `token_type_embeddings` / `word_embeddings`,
//! are never picked.

use std::ops::Range;

use crate::pure::source::format::{is_float_dtype, shape_label, Dtype, Header, TensorEntry};

/// How many candidate tensors the "no positional embedding" message lists.
const MAX_CANDIDATES_IN_MESSAGE: usize = 20;

/// How many tensor names the "not found" message lists.
const MAX_NAMES_IN_MESSAGE: usize = 10;

/// A tensor seen as an `n_rows × n_cols` matrix (positions × d_model).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MatrixView {
    /// The tensor's name in the file.
    pub tensor_name: String,
    /// The element type.
    pub dtype: Dtype,
    /// Rows (positions for W_pos), after squeezing leading singleton dimensions.
    pub n_rows: usize,
    /// Columns (d_model for W_pos).
    pub n_cols: usize,
    /// The shape as stored in the file, before squeezing.
    pub original_shape: Vec<u64>,
    /// The tensor's ABSOLUTE byte range in the file.
    pub byte_range: Range<u64>,
    /// How many leading rows are not positions (0 when every row is a position).
    pub row_offset: usize,
    /// Why `row_offset` is non-zero, in words for the user.
    pub row_offset_reason: Option<String>,
}

impl MatrixView {
    /// Returns a label such as `wpe.weight [1024 × 768] F32`.
    pub fn label(&self) -> String {
        format!(
            "{} [{} × {}] {}",
            self.tensor_name, self.n_rows, self.n_cols, self.dtype
        )
    }

    /// Returns the number of rows that are real positions (`n_rows − row_offset`).
    pub fn n_positions(&self) -> usize {
        self.n_rows.saturating_sub(self.row_offset)
    }
}

/// Everything that can go wrong when picking or viewing a tensor.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum DetectError {
    /// No tensor has a known learned-positional-embedding name.
    #[error("{}", no_positional_message(candidates))]
    NoPositionalEmbedding {
        /// Every 2-D float tensor, as `name [rows × cols] DTYPE`, in file order.
        candidates: Vec<String>,
    },
    /// The requested tensor does not exist.
    #[error(
        "The file has no tensor named `{name}`. {}",
        crate::pure::source::format::list_available(available)
    )]
    NotFound {
        /// The requested name.
        name: String,
        /// A few names that do exist.
        available: Vec<String>,
    },
    /// The tensor is not floating point.
    #[error("Tensor `{name}` holds {dtype} values, not floating-point weights (it is probably an index buffer such as position_ids). Pick an F32, F16, BF16 or F64 tensor.")]
    NotFloat {
        /// The tensor's name.
        name: String,
        /// Its dtype.
        dtype: Dtype,
    },
    /// The tensor is not 2-D after squeezing leading singleton dimensions.
    #[error("Tensor `{name}` has shape [{}], which is not a matrix even after dropping leading 1-sized dimensions. Pick a 2-D tensor of positions × model width.", shape_label(shape))]
    NotMatrix {
        /// The tensor's name.
        name: String,
        /// Its shape.
        shape: Vec<u64>,
    },
    /// The matrix has no rows or no columns.
    #[error("Tensor `{name}` has shape [{}], so the matrix is empty. Pick a tensor with at least one row and one column.", shape_label(shape))]
    EmptyMatrix {
        /// The tensor's name.
        name: String,
        /// Its shape.
        shape: Vec<u64>,
    },
    /// A dimension does not fit in this platform's `usize`.
    #[error("Tensor `{name}` has shape [{}], too large to index on this platform. Pick a smaller tensor.", shape_label(shape))]
    DimensionTooLarge {
        /// The tensor's name.
        name: String,
        /// Its shape.
        shape: Vec<u64>,
    },
}

/// Writes the message for [`DetectError::NoPositionalEmbedding`].
fn no_positional_message(candidates: &[String]) -> String {
    let mut message = String::from(
        "No learned absolute positional embedding was found (no tensor named like `wpe.weight`, \
         `position_embeddings.weight` or `embed_positions.weight`). The model probably uses \
         rotary (RoPE), ALiBi or sinusoidal positions, which have no W_pos matrix to analyse.",
    );
    if candidates.is_empty() {
        message.push_str(" The file has no 2-D floating-point tensors to pick instead.");
        return message;
    }
    message.push_str(" You can still pick one of its 2-D floating-point tensors by name: ");
    let shown: Vec<&str> = candidates
        .iter()
        .take(MAX_CANDIDATES_IN_MESSAGE)
        .map(String::as_str)
        .collect();
    message.push_str(&shown.join("; "));
    let n_more = candidates.len().saturating_sub(shown.len());
    if n_more > 0 {
        message.push_str(&format!("; and {n_more} more."));
    } else {
        message.push('.');
    }
    message
}

/// The naming convention a tensor matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameKind {
    /// GPT-2 family `wpe.weight`.
    Wpe,
    /// OPT / BART / Whisper `embed_positions.weight`.
    EmbedPositions,
    /// BERT-like `position_embeddings.weight`.
    PositionEmbeddingsWeight,
    /// ViT-like `position_embeddings` parameter (no `.weight`).
    PositionEmbeddingsParam,
    /// CLIP-like `position_embedding.weight`.
    PositionEmbeddingWeight,
    /// timm / open_clip `pos_embed`, `pos_embedding`, `positional_embedding` parameters.
    OtherParam,
}

/// Classifies a tensor name, or returns `None` when it is not a positional embedding name.
fn name_kind(name: &str) -> Option<NameKind> {
    let mut segments = name.rsplit('.');
    let last = segments.next()?;
    let second_last = segments.next();
    if name.contains("position_ids")
        || name.contains("token_type_embeddings")
        || name.contains("word_embeddings")
    {
        return None;
    }
    match (second_last, last) {
        (Some("wpe"), "weight") => Some(NameKind::Wpe),
        (Some("embed_positions"), "weight") => Some(NameKind::EmbedPositions),
        (Some("position_embeddings"), "weight") => Some(NameKind::PositionEmbeddingsWeight),
        (Some("position_embedding"), "weight") => Some(NameKind::PositionEmbeddingWeight),
        (_, "position_embeddings") => Some(NameKind::PositionEmbeddingsParam),
        (_, "pos_embed" | "pos_embedding" | "positional_embedding") => Some(NameKind::OtherParam),
        _ => None,
    }
}

/// Scores a name; a higher score is a better W_pos guess, `None` is not a guess at all.
fn name_score(name: &str) -> Option<u32> {
    let base: u32 = match name_kind(name)? {
        NameKind::Wpe => 100,
        NameKind::EmbedPositions => 90,
        NameKind::PositionEmbeddingsWeight => 90,
        NameKind::PositionEmbeddingsParam => 85,
        NameKind::PositionEmbeddingWeight => 80,
        NameKind::OtherParam => 75,
    };
    // Whisper's encoder positions are fixed sinusoids stored as a tensor, so a decoder's
    // learned table beats an encoder's; a vision tower's table is a fallback for CLIP-likes.
    let has_segment = |word: &str| {
        name.split('.')
            .any(|segment| segment == word || segment.ends_with(&format!("_{word}")))
    };
    let adjusted = if has_segment("decoder") {
        base + 5
    } else if has_segment("encoder") {
        base.saturating_sub(20)
    } else if has_segment("vision_model") {
        base.saturating_sub(1)
    } else {
        base
    };
    Some(adjusted)
}

/// Returns true when `(score, name)` beats `(best_score, best_name)`: a higher score wins,
/// then a shorter name, then the alphabetically first name (so the choice is deterministic).
fn beats(score: u32, name: &str, best_score: u32, best_name: &str) -> bool {
    score > best_score || (score == best_score && (name.len(), name) < (best_name.len(), best_name))
}

/// Picks the most likely learned-positional-embedding name from bare names (for example the
/// keys of a shard index's `weight_map`).
pub fn detect_positional_name<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    names
        .into_iter()
        .filter_map(|name| name_score(name).map(|score| (score, name)))
        .fold(
            None,
            |best: Option<(u32, &'a str)>, (score, name)| match best {
                Some((best_score, best_name)) if !beats(score, name, best_score, best_name) => best,
                _ => Some((score, name)),
            },
        )
        .map(|(_, name)| name)
}

/// Returns true when `n_rows` is a power of two plus two (514, 1026, 2050, …).
fn is_power_of_two_plus_two(n_rows: usize) -> bool {
    n_rows
        .checked_sub(2)
        .is_some_and(|rest| rest >= 16 && rest.is_power_of_two())
}

/// Returns true when `value` is a perfect square of at least 4.
fn is_square_grid(value: usize) -> bool {
    if value < 4 {
        return false;
    }
    let mut side: usize = 1;
    while let Some(square) = side.checked_mul(side) {
        if square == value {
            return true;
        }
        if square > value {
            return false;
        }
        side += 1;
    }
    false
}

/// Decides how many leading rows are not positions, and why.
fn row_offset_for(name: &str, original_shape: &[u64], n_rows: usize) -> (usize, Option<String>) {
    match name_kind(name) {
        Some(NameKind::EmbedPositions) if is_power_of_two_plus_two(n_rows) => (
            2,
            Some(format!(
                "OPT/BART-style tables store position p at row p + 2 ({n_rows} rows = {} positions + 2), so rows 0 and 1 are not positions.",
                n_rows - 2
            )),
        ),
        Some(NameKind::PositionEmbeddingsWeight) if is_power_of_two_plus_two(n_rows) => (
            2,
            Some(format!(
                "RoBERTa-style tables start counting positions after the padding index, so position p is row p + 2 ({n_rows} rows = {} positions + 2) and rows 0 and 1 are not positions.",
                n_rows - 2
            )),
        ),
        Some(NameKind::PositionEmbeddingsParam | NameKind::OtherParam)
            if original_shape.len() == 3 =>
        {
            if n_rows.checked_sub(1).is_some_and(is_square_grid) {
                (
                    1,
                    Some(
                        "Row 0 belongs to the [CLS] token; rows 1 onwards are the image patches of a square grid."
                            .to_owned(),
                    ),
                )
            } else if n_rows.checked_sub(2).is_some_and(is_square_grid) {
                (
                    2,
                    Some(
                        "Rows 0 and 1 belong to the [CLS] and distillation tokens; rows 2 onwards are the image patches of a square grid."
                            .to_owned(),
                    ),
                )
            } else {
                (0, None)
            }
        }
        _ => (0, None),
    }
}

/// Builds a matrix view of one entry, or says why it cannot be one.
fn view_of(entry: &TensorEntry) -> Result<MatrixView, DetectError> {
    if !is_float_dtype(entry.dtype) {
        return Err(DetectError::NotFloat {
            name: entry.name.clone(),
            dtype: entry.dtype,
        });
    }
    // Drop leading 1-sized dimensions while more than two remain ([1, 197, 768] → [197, 768]).
    let mut squeezed: &[u64] = &entry.shape;
    while squeezed.len() > 2 {
        match squeezed.split_first() {
            Some((1, rest)) => squeezed = rest,
            _ => break,
        }
    }
    let [rows, cols] = squeezed else {
        return Err(DetectError::NotMatrix {
            name: entry.name.clone(),
            shape: entry.shape.clone(),
        });
    };
    if *rows == 0 || *cols == 0 {
        return Err(DetectError::EmptyMatrix {
            name: entry.name.clone(),
            shape: entry.shape.clone(),
        });
    }
    let dims = usize::try_from(*rows)
        .ok()
        .zip(usize::try_from(*cols).ok())
        .filter(|(n_rows, n_cols)| n_rows.checked_mul(*n_cols).is_some());
    let Some((n_rows, n_cols)) = dims else {
        return Err(DetectError::DimensionTooLarge {
            name: entry.name.clone(),
            shape: entry.shape.clone(),
        });
    };
    let (row_offset, row_offset_reason) = row_offset_for(&entry.name, &entry.shape, n_rows);
    Ok(MatrixView {
        tensor_name: entry.name.clone(),
        dtype: entry.dtype,
        n_rows,
        n_cols,
        original_shape: entry.shape.clone(),
        byte_range: entry.byte_range.clone(),
        row_offset,
        row_offset_reason,
    })
}

/// Lists every 2-D float tensor a user may choose (after squeezing leading 1-sized dims),
/// in file order.
pub fn matrix_candidates(header: &Header) -> Vec<MatrixView> {
    header
        .tensors
        .iter()
        .filter_map(|entry| view_of(entry).ok())
        .collect()
}

/// Auto-detects the learned absolute positional embedding by Hub tensor names.
///
/// Among tensors with a positional name, the best usable one (float, 2-D after squeezing)
/// wins. If names match but none is usable, the reason for the best-named one is returned.
///
/// # Errors
/// [`DetectError::NoPositionalEmbedding`] listing the 2-D float candidates when no name
/// matches, or [`DetectError::NotFloat`] / [`DetectError::NotMatrix`] / … for a matching
/// tensor that cannot be a matrix.
pub fn detect_positional_embedding(header: &Header) -> Result<MatrixView, DetectError> {
    let pick = |want_usable: bool| {
        header
            .tensors
            .iter()
            .filter_map(|entry| name_score(&entry.name).map(|score| (score, entry)))
            .filter(|(_, entry)| view_of(entry).is_ok() == want_usable)
            .fold(
                None,
                |best: Option<(u32, &TensorEntry)>, (score, entry)| match best {
                    Some((best_score, best_entry))
                        if !beats(score, &entry.name, best_score, &best_entry.name) =>
                    {
                        best
                    }
                    _ => Some((score, entry)),
                },
            )
    };
    let best_usable = pick(true);
    let best_unusable = pick(false);
    if let Some((_, entry)) = best_usable.or(best_unusable) {
        return view_of(entry);
    }
    Err(DetectError::NoPositionalEmbedding {
        candidates: matrix_candidates(header)
            .iter()
            .map(MatrixView::label)
            .collect(),
    })
}

/// Views a user-chosen tensor as a matrix: it must exist, be float, and be 2-D after squeezing
/// leading 1-sized dimensions. Row offsets follow the same naming rules as detection.
///
/// # Errors
/// [`DetectError::NotFound`], [`DetectError::NotFloat`], [`DetectError::NotMatrix`],
/// [`DetectError::EmptyMatrix`] or [`DetectError::DimensionTooLarge`].
pub fn matrix_view(header: &Header, tensor_name: &str) -> Result<MatrixView, DetectError> {
    let entry = header
        .tensors
        .iter()
        .find(|entry| entry.name == tensor_name)
        .ok_or_else(|| DetectError::NotFound {
            name: tensor_name.to_owned(),
            available: header
                .tensors
                .iter()
                .take(MAX_NAMES_IN_MESSAGE)
                .map(|entry| entry.name.clone())
                .collect(),
        })?;
    view_of(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_pick_the_decoder_and_skip_position_ids() {
        let names = [
            "model.encoder.embed_positions.weight",
            "model.decoder.embed_positions.weight",
            "embeddings.position_ids",
        ];
        assert_eq!(
            detect_positional_name(names),
            Some("model.decoder.embed_positions.weight")
        );
        assert_eq!(detect_positional_name(["embeddings.position_ids"]), None);
        assert_eq!(
            detect_positional_name(["h.0.attn.c_attn.weight", "transformer.wpe.weight"]),
            Some("transformer.wpe.weight")
        );
        assert_eq!(detect_positional_name(["xwpe.weight"]), None);
    }

    #[test]
    fn offsets_follow_the_row_count_rules() {
        assert!(is_power_of_two_plus_two(514));
        assert!(is_power_of_two_plus_two(2050));
        assert!(!is_power_of_two_plus_two(512));
        assert!(!is_power_of_two_plus_two(448));
        assert!(is_square_grid(196));
        assert!(!is_square_grid(197));
        assert_eq!(
            row_offset_for("vit.embeddings.position_embeddings", &[1, 197, 768], 197).0,
            1
        );
        assert_eq!(
            row_offset_for("deit.embeddings.position_embeddings", &[1, 198, 768], 198).0,
            2
        );
        assert_eq!(
            row_offset_for(
                "bert.embeddings.position_embeddings.weight",
                &[512, 768],
                512
            )
            .0,
            0
        );
    }
}
