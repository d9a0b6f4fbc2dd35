//! Reading one tensor's bytes, in pipeline order: the Hub's URLs and revisions ([`hub`]), the
//! weights file's header ([`format`](mod@format)) or shard index ([`shards`]), which tensor is
//! W_pos ([`detect`]), retries and consistency ([`transfer`]), decoding ([`decode`]), and where a
//! run's bytes come from offline ([`offline`]).

pub mod decode;
pub mod detect;
pub mod format;
pub mod hub;
pub mod offline;
pub mod shards;
pub mod torch;
pub mod transfer;
