//! A run's life cycle ([`actions`]) and the page's state ([`state`]).

pub mod actions;
pub mod state;
