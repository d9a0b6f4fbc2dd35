//! The browser shell (wasm32 only), in pipeline order: [`fetch`] one byte range,
//! [`source`] opens a Hub file, local file or the sample and reads one tensor,
//! [`worker_bridge`] hands it to the analysis [`worker`], and [`app`] with its
//! [`components`] draws what the core computed. [`actions`] and [`state`] tie them together.
//! [`saved`] keeps analysed tensors for offline use, and [`offline`] runs the app shell's
//! service worker.

pub mod actions;
pub mod app;
pub mod components;
pub mod fetch;
pub mod js;
pub mod offline;
pub mod perf;
pub mod protocol;
pub mod saved;
pub mod source;
pub mod state;
pub mod worker;
pub mod worker_bridge;
pub mod worker_stream;

pub use app::start_app;
pub use worker::run_worker;
