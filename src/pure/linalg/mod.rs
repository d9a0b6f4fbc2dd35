//! Linear algebra for the analysis: singular value decompositions, each result verified
//! before it is returned. Everything is used through [`svd`], which drives the steps (its
//! documentation describes the route) and re-exports what callers need. The steps, one
//! concern a file:
//!
//! - `window`: the block of a matrix a decomposition reads in place (`MatrixWindow`);
//! - `gram`: Gram sums, whole or one half at a time, in one go or as samples arrive;
//! - `shared`: Gram matrices shared by two workers (halves swapped, each part's Gram matrix
//!   taken from the shared one);
//! - `tridiagonal`: the blocked Householder reduction to tridiagonal form;
//! - `ql`: the eigenvalues of the tridiagonal matrix by implicit-shift QL iterations;
//! - `inverse_iteration`: the leading eigenvectors of the tridiagonal matrix;
//! - `checks`: the checks every result passes;
//! - `fallback`: nalgebra's SVD and one-sided Jacobi rotations, when the Gram route fails;
//! - `results`: the results and errors of the decompositions.

pub mod svd;

mod checks;
mod fallback;
mod gram;
mod inverse_iteration;
mod ql;
mod results;
mod shared;
mod tridiagonal;
mod window;
