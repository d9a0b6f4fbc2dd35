//! The pure core, in pipeline order: plan the byte ranges of a safetensors file
//! ([`format`](mod@format), [`shards`], [`hub`]), pick the positional embedding ([`detect`]),
//! decode it ([`decode`]), analyse it ([`analysis`], with the decompositions in [`svd`]),
//! and lay out charts ([`chart`]).
//! Settings travel in share links through [`url_state`]; results leave as text through [`export`].
//!
//! Nothing here imports web-sys, wasm-bindgen or leptos.

pub mod analysis;
pub mod chart;
pub mod decode;
pub mod detect;
pub mod export;
pub mod format;
pub mod hub;
pub mod shards;
pub mod svd;
pub mod url_state;
