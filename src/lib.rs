//! poslens: study the learned positional embeddings (W_pos) of transformer models.
//!
//! The crate has two halves with one seam between them:
//! - [`pure`] is the core: safetensors range planning, tensor decoding, the SVD analysis,
//!   the share-link codec and chart geometry. It has no browser imports and is tested natively.
//! - `web` (wasm32 only) is the thin browser shell: fetching by byte ranges, the worker
//!   bridge, and the Leptos components that draw what the core computed.

pub mod pure;

#[cfg(target_arch = "wasm32")]
pub mod web;
