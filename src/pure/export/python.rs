//! "Copy as Python": a short script that loads the same tensor from the same commit with
//! `huggingface_hub` and `safetensors`, applies the same settings, and prints the same rank and
//! top singular values as the page.

use std::fmt::Write as _;

use crate::pure::analysis::{AnalysisOptions, DropAxis};

/// Where the snippet reads the weights file from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnippetSource<'a> {
    /// A file in a Hub repository, downloaded with `hf_hub_download`.
    Hub {
        /// The Hub endpoint (`https://huggingface.co`, a mirror, or a local stand-in); the
        /// snippet's `ENDPOINT` setting.
        endpoint: &'a str,
        /// The repository id.
        repo: &'a str,
        /// The revision; the page passes the commit it analysed, so the snippet reads the
        /// same bytes.
        revision: &'a str,
        /// The weights file's path in the repository.
        file: &'a str,
    },
    /// A file on the user's disk (a local file or the built-in sample), by name.
    Local {
        /// The file's name; the snippet's `PATH` setting.
        path: &'a str,
    },
}

/// What the snippet reproduces.
#[derive(Debug, Clone, PartialEq)]
pub struct SnippetSpec<'a> {
    /// Where the weights file comes from.
    pub source: SnippetSource<'a>,
    /// The tensor's name.
    pub tensor: &'a str,
    /// The stored element type (`F32`, `F16`, `BF16`, `F64`); BF16 is read through PyTorch,
    /// because numpy has no bfloat16.
    pub dtype: &'a str,
    /// Rows of the matrix as the page saw it (leading singleton dimensions squeezed).
    pub n_rows: usize,
    /// Columns of the matrix.
    pub n_cols: usize,
    /// The analysis settings.
    pub options: &'a AnalysisOptions,
    /// How many of the largest singular values to print.
    pub n_top: usize,
}

/// Quotes text as a Python string literal (JSON strings are valid Python literals).
fn py_str(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}

/// Writes the settings every snippet shares.
fn write_constants(out: &mut String, spec: &SnippetSpec<'_>) {
    let _ = writeln!(out, "THRESHOLD = {:?}", spec.options.threshold_rel);
    let _ = writeln!(out, "N_TOP = {}", spec.n_top);
    let _ = writeln!(out);
}

/// Writes the Python script for `spec`.
///
/// It prints, for the full matrix and (when something is dropped) the dropped one:
/// `full: rank R of N at threshold T` and `full: top singular values s0 s1 …`, with each value
/// as Python's `repr(float)` (shortest round trip), so the output can be compared with the
/// page's numbers.
pub fn python_snippet(spec: &SnippetSpec<'_>) -> String {
    let options = spec.options;
    let mut out = String::new();
    match &spec.source {
        SnippetSource::Hub {
            endpoint,
            repo,
            revision,
            file,
        } => {
            let _ = writeln!(
                out,
                "# Reproduces poslens's SVD of {} in {repo} @ {revision}.",
                spec.tensor
            );
            let _ = writeln!(out, "# pip install numpy huggingface_hub safetensors");
            let _ = writeln!(out, "import numpy as np");
            let _ = writeln!(out, "from huggingface_hub import hf_hub_download");
            let _ = writeln!(out, "from safetensors import safe_open");
            let _ = writeln!(out);
            let _ = writeln!(out, "ENDPOINT = {}", py_str(endpoint));
            write_constants(&mut out, spec);
            let _ = writeln!(
                out,
                "path = hf_hub_download({}, {}, revision={}, endpoint=ENDPOINT)",
                py_str(repo),
                py_str(file),
                py_str(revision)
            );
        }
        SnippetSource::Local { path } => {
            let _ = writeln!(
                out,
                "# Reproduces poslens's SVD of {} in the local file {path}.",
                spec.tensor
            );
            let _ = writeln!(out, "# pip install numpy safetensors");
            let _ = writeln!(out, "import numpy as np");
            let _ = writeln!(out, "from safetensors import safe_open");
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "PATH = {}  # where the file is on your disk",
                py_str(path)
            );
            write_constants(&mut out, spec);
            let _ = writeln!(out, "path = PATH");
        }
    }
    if spec.dtype.eq_ignore_ascii_case("BF16") {
        let _ = writeln!(
            out,
            "# numpy has no bfloat16, so this tensor is read with PyTorch."
        );
        let _ = writeln!(out, "with safe_open(path, framework=\"pt\") as f:");
        let _ = writeln!(
            out,
            "    w = f.get_tensor({}).double().numpy()",
            py_str(spec.tensor)
        );
    } else {
        let _ = writeln!(out, "with safe_open(path, framework=\"numpy\") as f:");
        let _ = writeln!(
            out,
            "    w = f.get_tensor({}).astype(np.float64)",
            py_str(spec.tensor)
        );
    }
    let _ = writeln!(
        out,
        "w = w.reshape({}, {})  # positions x d_model",
        spec.n_rows, spec.n_cols
    );
    if options.skip_offset_rows > 0 {
        let _ = writeln!(
            out,
            "w = w[{}:]  # skip the rows that are not positions",
            options.skip_offset_rows
        );
    }
    if options.center_rows {
        let _ = writeln!(
            out,
            "w = w - w.mean(axis=1, keepdims=True)  # centre each row over d_model"
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "def report(label, m):");
    let _ = writeln!(out, "    s = np.linalg.svd(m, compute_uv=False)");
    let _ = writeln!(out, "    rank = int((s > THRESHOLD * s.max()).sum())");
    let _ = writeln!(
        out,
        "    print(f\"{{label}}: rank {{rank}} of {{len(s)}} at threshold {{THRESHOLD}}\")"
    );
    let _ = writeln!(
        out,
        "    print(f\"{{label}}: top singular values\", \" \".join(repr(float(x)) for x in s[:N_TOP]))"
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "report(\"full\", w)");
    if options.drop_count > 0 {
        let slice = match options.drop_axis {
            DropAxis::Cols => format!("w[:, {}:]", options.drop_count),
            DropAxis::Rows => format!("w[{}:, :]", options.drop_count),
        };
        let _ = writeln!(
            out,
            "report(\"dropped\", {slice})  # without the first {} {}",
            options.drop_count, options.drop_axis
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(options: &AnalysisOptions, dtype: &'static str) -> String {
        python_snippet(&SnippetSpec {
            source: SnippetSource::Hub {
                endpoint: "https://huggingface.co",
                repo: "gpt2",
                revision: "607a30d783dfa663caf39e06633721c8d4cfcd7e",
                file: "model.safetensors",
            },
            tensor: "wpe.weight",
            dtype,
            n_rows: 1024,
            n_cols: 768,
            options,
            n_top: 10,
        })
    }

    #[test]
    fn the_default_snippet_reads_the_commit_and_drops_five_columns() {
        let text = spec(&AnalysisOptions::default(), "F32");
        assert!(text.contains(
            "hf_hub_download(\"gpt2\", \"model.safetensors\", revision=\"607a30d783dfa663caf39e06633721c8d4cfcd7e\", endpoint=ENDPOINT)"
        ));
        assert!(text.contains("THRESHOLD = 0.01\n"));
        assert!(text.contains("report(\"dropped\", w[:, 5:])"));
        assert!(!text.contains("w.mean"));
        assert!(text.contains("framework=\"numpy\""));
    }

    #[test]
    fn every_setting_shows_up_in_the_snippet() {
        let options = AnalysisOptions {
            threshold_rel: 0.05,
            drop_count: 3,
            drop_axis: DropAxis::Rows,
            center_rows: true,
            skip_offset_rows: 2,
            ..AnalysisOptions::default()
        };
        let text = spec(&options, "BF16");
        assert!(text.contains("THRESHOLD = 0.05\n"));
        assert!(text.contains("w = w[2:]"));
        assert!(text.contains("w = w - w.mean(axis=1, keepdims=True)"));
        assert!(text.contains("report(\"dropped\", w[3:, :])"));
        assert!(text.contains("framework=\"pt\""));
        let none = AnalysisOptions {
            drop_count: 0,
            ..AnalysisOptions::default()
        };
        assert!(!spec(&none, "F16").contains("\"dropped\""));
    }

    #[test]
    fn names_are_quoted_as_python_literals() {
        let options = AnalysisOptions::default();
        let text = python_snippet(&SnippetSpec {
            source: SnippetSource::Hub {
                endpoint: "http://127.0.0.1:8765",
                repo: "a\"b",
                revision: "main",
                file: "x\\y.safetensors",
            },
            tensor: "t",
            dtype: "F32",
            n_rows: 2,
            n_cols: 2,
            options: &options,
            n_top: 2,
        });
        assert!(text.contains(r#"hf_hub_download("a\"b", "x\\y.safetensors""#));
    }

    #[test]
    fn a_local_file_is_read_from_a_path_setting() {
        let options = AnalysisOptions::default();
        let text = python_snippet(&SnippetSpec {
            source: SnippetSource::Local {
                path: "my model.safetensors",
            },
            tensor: "wpe.weight",
            dtype: "F16",
            n_rows: 4,
            n_cols: 3,
            options: &options,
            n_top: 3,
        });
        assert!(text.contains("PATH = \"my model.safetensors\""));
        assert!(!text.contains("hf_hub_download"));
        assert!(text.contains("report(\"full\", w)"));
    }
}
