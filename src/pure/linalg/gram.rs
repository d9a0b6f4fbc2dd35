//! Gram sums: the lower triangle of `G = Σ_k x_k·x_kᵀ` over the samples of a
//! [`MatrixWindow`], in `GRAM_PANEL × GRAM_PANEL` tiles summed from packed chunks of samples,
//! whole or one [`GramHalf`] at a time, in one go or as the samples arrive ([`GramSum`]). The
//! tile loop also serves the reduction's rank-`2k` updates.

use std::ops::ControlFlow;

use nalgebra::DMatrix;

use super::window::MatrixWindow;

/// Entries of each sample summed together into one tile of the Gram matrix: a tile is
/// `GRAM_PANEL × GRAM_PANEL`.
pub(super) const GRAM_PANEL: usize = 4;
/// Samples copied into the panels at a time (a few hundred kilobytes to a few megabytes).
const GRAM_CHUNK_SAMPLES: usize = 256;

/// One of the two halves of a Gram matrix that two workers form at the same time, each from
/// the same samples: the first half forms the even columns of tiles (of four
/// columns each), the second half the odd ones, so that each does about half of the
/// multiply-adds. Each then sends the other its columns
/// ([`crate::pure::linalg::svd::export_gram_half`],
/// [`crate::pure::linalg::svd::import_gram_half`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GramHalf {
    /// The even columns of tiles.
    First,
    /// The odd columns of tiles.
    Second,
}

impl GramHalf {
    /// The half the other worker forms.
    pub fn other(self) -> Self {
        match self {
            GramHalf::First => GramHalf::Second,
            GramHalf::Second => GramHalf::First,
        }
    }

    /// Whether this half forms the tiles of tile column `q`.
    fn owns_tile_column(self, q: usize) -> bool {
        q.is_multiple_of(2) == (self == GramHalf::First)
    }

    /// The columns of a `side × side` Gram matrix this half forms, in order.
    fn columns(self, side: usize) -> impl Iterator<Item = usize> {
        (0..side).filter(move |&col| self.owns_tile_column(col / GRAM_PANEL))
    }

    /// The number of values [`crate::pure::linalg::svd::export_gram_half`] gives for a
    /// `side × side` Gram matrix: each of this half's columns from its diagonal down.
    pub fn exported_len(self, side: usize) -> usize {
        self.columns(side).map(|col| side - col).sum()
    }

    /// Where this half's columns lie in the column-major storage of a `side × side` Gram
    /// matrix, each from its diagonal down, in the order of an export.
    pub fn column_ranges(self, side: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
        self.columns(side)
            .map(move |col| col * side + col..(col + 1) * side)
    }
}

/// Forms `half` of the lower triangle of the Gram matrix of `window`, tile by tile;
/// the other half's columns stay zero. `None` when `on_progress` (told the share of samples
/// summed after each chunk) stops it.
pub fn gram_lower_half(
    window: &MatrixWindow<'_>,
    half: GramHalf,
    on_progress: &mut dyn FnMut(f64) -> ControlFlow<()>,
) -> Option<DMatrix<f64>> {
    gram_lower(window, Some(half), on_progress)
}

/// Adds the products `x_k·x_kᵀ` of the first `count` samples of `window` (its rows when it is
/// tall, its columns when it is wide) to the lower triangle of `gram`: the Gram matrix of
/// `window` from that of `window` without those samples.
pub fn add_leading_samples(gram: &mut DMatrix<f64>, window: &MatrixWindow<'_>, count: usize) {
    let is_tall = window.n_rows() >= window.n_cols();
    let size = window.gram_side();
    if gram.nrows() != size || gram.ncols() != size {
        return;
    }
    let panel_len = GRAM_CHUNK_SAMPLES * GRAM_PANEL;
    let mut panels = vec![0.0_f64; size.div_ceil(GRAM_PANEL) * panel_len];
    let count = count.min(window.n_samples());
    let mut first = 0;
    while first < count {
        let n_chunk = GRAM_CHUNK_SAMPLES.min(count - first);
        pack_samples(window, is_tall, first, n_chunk, &mut panels);
        add_chunk_products(gram, &panels, n_chunk, None);
        first += n_chunk;
    }
}

/// The two buffers the Gram route allocates for a Gram matrix of `side × side`, in bytes and
/// in that order: the matrix itself, then the panels its samples are packed into.
pub fn gram_buffer_bytes(side: u64) -> (u64, u64) {
    let f64_bytes = std::mem::size_of::<f64>() as u64;
    let panel = GRAM_PANEL as u64;
    let matrix = f64_bytes.saturating_mul(side).saturating_mul(side);
    let panels = f64_bytes
        .saturating_mul(GRAM_CHUNK_SAMPLES as u64)
        .saturating_mul(panel)
        .saturating_mul(side.div_ceil(panel));
    (matrix, panels)
}

/// Forms the lower triangle (with the diagonal) of the Gram matrix of the smaller side:
/// `WᵀW` for a tall block, `W·Wᵀ` for a wide one. The strict upper triangle stays zero.
///
/// Both are `G = Σ_k x_k·x_kᵀ` over the samples `x_k` of the larger side (the rows of a tall
/// block, the columns of a wide one). The samples are copied a chunk at a time into panels
/// of [`GRAM_PANEL`] entries, so that each `GRAM_PANEL × GRAM_PANEL` tile of `G` is summed
/// from two short contiguous runs; only the tiles on or below the diagonal are formed.
///
/// `None` when `on_progress` (told the share of samples summed after each chunk) stops it.
///
/// With `half`, only that half's columns of tiles are formed (see [`GramHalf`]).
#[inline(never)]
pub(super) fn gram_lower(
    window: &MatrixWindow<'_>,
    half: Option<GramHalf>,
    on_progress: &mut dyn FnMut(f64) -> ControlFlow<()>,
) -> Option<DMatrix<f64>> {
    let mut sum = GramSum::new(window, half);
    sum.add_available(window, window.n_samples(), &mut |done| on_progress(done))
        .is_continue()
        .then(|| sum.into_gram())
}

/// The lower triangle of the Gram matrix of a window (or one half of it, see [`GramHalf`]),
/// summed a chunk of 256 samples at a time as the samples become available: a tall window's
/// leading rows can be summed while its later rows are still downloading. The chunks are the
/// same whenever the samples arrive, so the sum is exactly the one formed in one go
/// ([`gram_lower_half`]).
#[derive(Debug, Clone)]
pub struct GramSum {
    /// With `Some`, only that half's columns of tiles (see [`GramHalf`]).
    half: Option<GramHalf>,
    /// The window's shape, `(n_rows, n_cols)`: every call must pass a window of this shape.
    shape: (usize, usize),
    /// The sum so far, lower triangle only.
    gram: DMatrix<f64>,
    /// `panels[p][k][c] = x_(first + k)[GRAM_PANEL·p + c]`, zero past the last entry.
    panels: Vec<f64>,
    /// Samples summed so far.
    samples_done: usize,
}

impl GramSum {
    /// An empty sum for `window`'s Gram matrix (or `half` of it).
    pub fn new(window: &MatrixWindow<'_>, half: Option<GramHalf>) -> Self {
        let size = window.gram_side();
        Self {
            half,
            shape: (window.n_rows(), window.n_cols()),
            gram: DMatrix::<f64>::zeros(size, size),
            panels: vec![0.0_f64; size.div_ceil(GRAM_PANEL) * GRAM_CHUNK_SAMPLES * GRAM_PANEL],
            samples_done: 0,
        }
    }

    /// The number of samples summed so far.
    pub fn samples_done(&self) -> usize {
        self.samples_done
    }

    /// Sums every chunk whose samples are all among `window`'s first `available` samples (the
    /// last, shorter chunk once all are). `window` must have the shape this sum was made for
    /// (another shape adds nothing). Breaks when `on_progress` (told the share of samples
    /// summed after each chunk) does. Generic, not `dyn`: a call while the bytes arrive and
    /// the job's call each get their own code, with no indirect call for the browser to
    /// specialise on the first callee it sees.
    #[inline(never)]
    pub fn add_available(
        &mut self,
        window: &MatrixWindow<'_>,
        available: usize,
        on_progress: &mut impl FnMut(f64) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        if (window.n_rows(), window.n_cols()) != self.shape {
            return ControlFlow::Continue(());
        }
        let is_tall = window.n_rows() >= window.n_cols();
        let n_samples = window.n_samples();
        let available = available.min(n_samples);
        while self.samples_done < n_samples {
            let first = self.samples_done;
            let n_chunk = GRAM_CHUNK_SAMPLES.min(n_samples - first);
            if first + n_chunk > available {
                break;
            }
            pack_samples(window, is_tall, first, n_chunk, &mut self.panels);
            add_chunk_products(&mut self.gram, &self.panels, n_chunk, self.half);
            self.samples_done += n_chunk;
            on_progress(self.samples_done as f64 / n_samples as f64)?;
        }
        ControlFlow::Continue(())
    }

    /// The sum: the Gram matrix once every sample was added.
    pub fn into_gram(self) -> DMatrix<f64> {
        self.gram
    }
}

/// Adds the products of one chunk of `n_chunk` packed samples (see [`gram_lower`]) to the lower
/// triangle of `gram`; with `half`, only that half's tiles.
fn add_chunk_products(
    gram: &mut DMatrix<f64>,
    panels: &[f64],
    n_chunk: usize,
    half: Option<GramHalf>,
) {
    let panel_len = GRAM_CHUNK_SAMPLES * GRAM_PANEL;
    add_tile_products(gram, 0, panels, panels, panel_len, n_chunk, 1.0, half);
}

/// Adds `scale·Σ_k a_k·b_kᵀ` to the lower triangle of the block of rows and columns `first..`
/// of `matrix`, tile by tile with [`tile_product`], where `left` and `right` hold the samples
/// `a_k` and `b_k` packed into panels of [`GRAM_PANEL`] rows, `panel_len` apart, of which the
/// first `n_samples` samples are used. With `half`, only that half's tile columns.
///
/// The one loop over tiles of both the Gram matrix and the reduction's rank-`2k` updates,
/// called once per chunk or panel, so that the browser can switch it to optimised code between
/// two calls.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
pub(super) fn add_tile_products(
    matrix: &mut DMatrix<f64>,
    first: usize,
    left: &[f64],
    right: &[f64],
    panel_len: usize,
    n_samples: usize,
    scale: f64,
    half: Option<GramHalf>,
) {
    let used_len = n_samples * GRAM_PANEL;
    for (p, left_p) in left.chunks_exact(panel_len).enumerate() {
        let left_p = left_p.get(..used_len).unwrap_or_default();
        for (q, right_q) in right.chunks_exact(panel_len).take(p + 1).enumerate() {
            if half.is_some_and(|half| !half.owns_tile_column(q)) {
                continue;
            }
            let right_q = right_q.get(..used_len).unwrap_or_default();
            let tile = tile_product(left_p, right_q);
            add_lower_tile(matrix, first, p, q, &tile, scale);
        }
    }
}

/// Copies samples `first..first + n_chunk` into the panels (see [`gram_lower`]).
#[inline(never)]
fn pack_samples(
    window: &MatrixWindow<'_>,
    is_tall: bool,
    first: usize,
    n_chunk: usize,
    panels: &mut [f64],
) {
    let panel_len = GRAM_CHUNK_SAMPLES * GRAM_PANEL;
    if is_tall {
        // Sample k is row k: entry i of it is column i's k-th element.
        for (i, column) in window.columns().enumerate() {
            let (p, c) = (i / GRAM_PANEL, i % GRAM_PANEL);
            let Some(panel) = panels.get_mut(p * panel_len..(p + 1) * panel_len) else {
                continue;
            };
            let rows = column.get(first..first + n_chunk).unwrap_or_default();
            for (slot, &value) in panel.iter_mut().skip(c).step_by(GRAM_PANEL).zip(rows) {
                *slot = value;
            }
        }
    } else {
        // Sample k is column k, already contiguous.
        for (k, column) in window.columns().skip(first).take(n_chunk).enumerate() {
            pack_sample(panels, panel_len, k, column);
        }
    }
}

/// Copies the contiguous sample `k` into the panels: entries `GRAM_PANEL·p..` of it go to
/// panel `p` (each `panel_len` long), at offset `k·GRAM_PANEL`.
pub(super) fn pack_sample(panels: &mut [f64], panel_len: usize, k: usize, sample: &[f64]) {
    for (p, entries) in sample.chunks(GRAM_PANEL).enumerate() {
        let start = p * panel_len + k * GRAM_PANEL;
        if let Some(slots) = panels.get_mut(start..start + entries.len()) {
            slots.copy_from_slice(entries);
        }
    }
}

/// `tile[j][i] = Σ_k a_k[i]·b_k[j]` over two panels of interleaved samples.
#[inline(never)]
fn tile_product(panel_a: &[f64], panel_b: &[f64]) -> [[f64; GRAM_PANEL]; GRAM_PANEL] {
    let mut tile = [[0.0_f64; GRAM_PANEL]; GRAM_PANEL];
    for (a, b) in panel_a
        .chunks_exact(GRAM_PANEL)
        .zip(panel_b.chunks_exact(GRAM_PANEL))
    {
        for (tile_column, &b_j) in tile.iter_mut().zip(b) {
            for (entry, &a_i) in tile_column.iter_mut().zip(a) {
                *entry += a_i * b_j;
            }
        }
    }
    tile
}

/// Adds `scale·tile` to tile `(p, q)` of the block of rows and columns `first..` of
/// `matrix`, on and below the diagonal only.
fn add_lower_tile(
    matrix: &mut DMatrix<f64>,
    first: usize,
    p: usize,
    q: usize,
    tile: &[[f64; GRAM_PANEL]; GRAM_PANEL],
    scale: f64,
) {
    let size = matrix.nrows();
    let first_row = first + p * GRAM_PANEL;
    let first_col = first + q * GRAM_PANEL;
    if p > q && first_row + GRAM_PANEL <= size {
        // A whole tile below the diagonal: four runs of four entries.
        let start = first_col * size + first_row;
        let Some(block) = matrix.as_mut_slice().get_mut(start..) else {
            return;
        };
        for (column, tile_column) in block.chunks_mut(size).zip(tile) {
            for (entry, &value) in column.iter_mut().zip(tile_column) {
                *entry += scale * value;
            }
        }
        return;
    }
    let n_tile_rows = GRAM_PANEL.min(size.saturating_sub(first_row));
    for (j, tile_column) in tile.iter().enumerate() {
        let col = first_col + j;
        if col >= size {
            break;
        }
        // Rows from max(first_row, col): on or below the diagonal.
        let skip = col.saturating_sub(first_row);
        let start = col * size + first_row;
        let Some(target) = matrix.as_mut_slice().get_mut(start..start + n_tile_rows) else {
            continue;
        };
        for (entry, &value) in target.iter_mut().zip(tile_column).skip(skip) {
            *entry += scale * value;
        }
    }
}
