//! Byte sources: a Hub file, a local file or the sample ([`source`]), and the saved-entry store
//! ([`saved`]).

pub mod saved;
pub mod source;
