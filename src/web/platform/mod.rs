//! Browser services: [`fetch`] one byte range, [`js`] helpers, the service worker ([`offline`]),
//! and the Long Tasks observer ([`perf`]).

pub mod fetch;
pub mod js;
pub mod offline;
pub mod perf;
