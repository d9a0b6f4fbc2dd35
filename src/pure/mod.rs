//! The pure core, in pipeline order: plan the byte ranges of a safetensors file
//! ([`format`](mod@format), [`shards`], [`hub`]), pick the positional embedding ([`detect`]),
//! decode it ([`decode`]), analyse it ([`analysis`], with the decompositions in [`svd`]),
//! and lay out charts ([`chart`]).
//! Views beyond the notebook (cosine similarity, projections, right singular vectors,
//! frequencies, subspace angles) live in [`views`].
//! Settings travel in share links through [`url_state`]; results leave as text and files through
//! [`export`].
//! Saved entries for offline use are keyed and looked up by [`offline`].
//! Retry, resume and consistency decisions for the network live in [`transfer`].
//!
//! Shared vocabulary (error kinds, the tensor size cap, byte and text formatting) sits in the
//! leaf module [`common`].
//!
//! Nothing here imports web-sys, wasm-bindgen or leptos.

pub mod analysis;
pub mod chart;
pub mod common;
pub mod decode;
pub mod detect;
pub mod export;
pub mod format;
pub mod hub;
pub mod offline;
pub mod shards;
pub mod svd;
pub mod transfer;
pub mod url_state;
pub mod views;
