//! The browser shell (wasm32 only), by layer: [`platform`] (fetch, JavaScript helpers, the
//! service worker, performance observers), [`io`] (byte sources and the saved-entry store),
//! [`workers`] (the page and worker sides of the analysis), [`run`] (a run's life cycle, the
//! page's state) and [`ui`] (the components).

pub mod io;
pub mod platform;
pub mod run;
pub mod ui;
pub mod workers;

pub use ui::app::start_app;
pub use workers::worker::run_worker;
