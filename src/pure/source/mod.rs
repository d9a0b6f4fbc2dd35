//! Reading one tensor's bytes, in pipeline order: the Hub's URLs and revisions ([`hub`]), the
//! weights file's header ([`format`](mod@format)) or shard index ([`shards`]), which tensor is
//! W_pos ([`detect`]), retries and consistency ([`transfer`]), decoding ([`decode`]), and where a
//! run's bytes come from offline ([`offline`]); the order of a run's reads ([`plan`]).

pub mod decode;
pub mod detect;
pub mod format;
pub mod hub;
pub mod offline;
pub mod plan;
pub mod shards;
pub mod torch;
pub mod transfer;

/// Where a file's bytes came from: the one answer every layer gives (a saved entry keeps the
/// origin of the bytes it saved; the index stores it as `"hub"`, `"local"` or `"sample"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// A Hub repository (at a commit, once one is known).
    Hub,
    /// A local file the user picked.
    Local,
    /// The built-in sample.
    Sample,
}
