//! Linear algebra for the analysis: the verified singular value decompositions ([`svd`]).

pub mod svd;
