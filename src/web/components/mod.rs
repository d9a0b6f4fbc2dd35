//! The page's components. Each draws values the core computed; geometry comes from
//! `pure::chart`.

pub mod download;
pub mod errors;
pub mod export_panel;
pub mod export_toolbar;
pub mod heatmap;
pub mod histogram;
pub mod hub_confirm;
pub mod line_plot;
pub mod offline;
pub mod progress;
pub mod rank;
pub mod source_panel;
pub mod sv_table;
pub mod tooltip;
