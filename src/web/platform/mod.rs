//! Browser services: [`fetch`] one byte range, [`js`] helpers, and the Long Tasks observer
//! ([`perf`]).

pub mod fetch;
pub mod js;
pub mod perf;
