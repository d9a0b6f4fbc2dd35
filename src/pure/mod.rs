//! The pure core, by layer: [`common`] (error kinds, limits, formatting; a leaf), [`source`]
//! (reading safetensors from the Hub or a file: format, hub, shards, transfer, detect, decode,
//! offline), [`linalg`] (the verified SVD), [`analysis`] (rank, energies, variants), [`url_state`]
//! (settings and share links), [`chart`] (geometry), [`views`] and [`export`].
//!
//! Nothing here imports web-sys, wasm-bindgen or leptos.

pub mod analysis;
pub mod chart;
pub mod common;
pub mod export;
pub mod linalg;
pub mod protocol;
pub mod source;
pub mod url_state;
pub mod views;
