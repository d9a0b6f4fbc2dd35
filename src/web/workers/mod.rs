//! The analysis workers: the messages ([`protocol`]), the page side ([`bridge`]) and the worker
//! side ([`worker`], [`stream`]).

pub mod bridge;
pub mod protocol;
pub mod stream;
pub mod worker;
