//! A run: its life cycle ([`lifecycle`]), its pipeline ([`pipeline`]), saving ([`save`]), the
//! compared models ([`compare`]), the address bar ([`url`]), error wording ([`errors`]) and the
//! page's state ([`state`]).

pub mod compare;
pub mod errors;
pub mod handle;
pub mod lifecycle;
pub mod offline;
pub mod pipeline;
pub mod save;
pub mod state;
pub mod url;

pub use compare::{compare_analysis_key, sync_compare};
pub use handle::RunSource;
pub use lifecycle::{
    apply_settings, cancel_run, open_saved_entry, retry, start_first_run, start_run,
};
pub use save::{keep_for_offline, make_room_and_save};
pub use url::{current_query, page_link, write_url};
