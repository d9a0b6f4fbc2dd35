//! The page's components. Each draws values the core computed; geometry comes from
//! `pure::chart`.

pub mod app;
pub mod chart_frame;
pub mod compare_view;
pub mod cosine_view;
pub mod download;
pub mod errors;
pub mod export_panel;
pub mod export_toolbar;
pub mod first_chart;
pub mod frequency_view;
pub mod heatmap;
pub mod histogram;
pub mod hub_confirm;
pub mod line_plot;
pub mod norms_view;
pub mod offline;
pub mod progress;
pub mod projection_view;
pub mod rank;
pub mod right_vectors_view;
pub mod source_panel;
pub mod spectrum_view;
pub mod stages;
pub mod sv_table;
pub mod tooltip;
pub mod view_data;
pub mod views;
