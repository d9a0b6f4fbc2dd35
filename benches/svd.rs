//! Native benches of the SVD routes on the shapes of the largest learned positional embeddings
//! on the Hub, for profiling the core (`cargo bench --bench svd`). The browser's own numbers,
//! side by side with numpy, come from `scripts/bench.sh`.

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::time::Duration;

    use criterion::{criterion_group, BenchmarkId, Criterion};
    use nalgebra::DMatrix;
    use poslens::pure::analysis::{analyse_part, thin_svd, AnalysisOptions, AnalysisPart};
    use poslens::pure::linalg::svd::{singular_values_first, svd_top_k, MatrixWindow};

    /// (rows, columns, example model).
    const SHAPES: [(usize, usize, &str); 4] = [
        (1024, 768, "gpt2"),
        (1024, 1600, "gpt2-xl"),
        (2048, 2560, "gpt-neo-2.7B"),
        (2050, 9216, "OPT-66B"),
    ];

    /// A deterministic matrix with a W_pos-like spectrum: smooth waves over the positions
    /// whose strength decays over the model dimensions, plus small noise.
    fn synthetic_w_pos(n_rows: usize, n_cols: usize) -> DMatrix<f64> {
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        DMatrix::from_fn(n_rows, n_cols, |row, col| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let noise = ((state >> 11) as f64) / 9_007_199_254_740_992.0 - 0.5;
            let (row, col) = (row as f64, col as f64);
            0.05 * noise + (row * 0.01 * (1.0 + col * 0.1)).sin() / (1.0 + col * 0.05)
        })
    }

    fn routes(c: &mut Criterion) {
        for (n_rows, n_cols, model) in SHAPES {
            let w_pos = synthetic_w_pos(n_rows, n_cols);
            let mut group = c.benchmark_group(format!("{n_rows}x{n_cols} ({model})"));
            if n_rows * n_cols > 1_000_000 {
                // A few seconds per run: the fewest samples Criterion accepts.
                group
                    .sample_size(10)
                    .measurement_time(Duration::from_secs(60))
                    .warm_up_time(Duration::from_millis(1));
            } else {
                group
                    .sample_size(10)
                    .measurement_time(Duration::from_secs(10));
            }
            let shape = format!("{n_rows}x{n_cols}");
            group.bench_function(BenchmarkId::new("values", &shape), |b| {
                b.iter(|| {
                    singular_values_first(MatrixWindow::whole(&w_pos))
                        .map(|v| v.singular_values().len())
                })
            });
            group.bench_function(BenchmarkId::new("values and 50 vectors", &shape), |b| {
                b.iter(|| svd_top_k(MatrixWindow::whole(&w_pos), 50))
            });
            let options = AnalysisOptions::default();
            group.bench_function(BenchmarkId::new("dropped part", &shape), |b| {
                b.iter(|| analyse_part(&w_pos, &options, AnalysisPart::Dropped, &mut |_| {}))
            });
            if n_rows * n_cols <= 1_000_000 {
                group.bench_function(
                    BenchmarkId::new("nalgebra SVD with all of U", &shape),
                    |b| b.iter(|| thin_svd(&w_pos)),
                );
            }
            group.finish();
        }
    }

    criterion_group!(benches, routes);
}

#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_main!(native::benches);

#[cfg(target_arch = "wasm32")]
fn main() {}
