//! The browser shell (wasm32 only). Placeholder: being written.
