//! File names that say what they hold: `{repo}@{commit7}_{tensor}_{what}.{ext}`, for example
//! `gpt2@abc1234_wpe_U5_heatmap.png`.

/// What an exported file is about: where the tensor came from and which tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSubject {
    /// The repository id (`gpt2`, `sentence-transformers/all-MiniLM-L6-v2`), or the local
    /// file's name for local files and the sample.
    pub source: String,
    /// The commit analysed, when known (Hub sources); its first 7 characters are used.
    pub commit: Option<String>,
    /// The tensor's name (`wpe.weight`); a trailing `.weight` is left out of names.
    pub tensor: String,
}

/// The number of commit characters in a file name (git's short sha).
const SHORT_SHA_LEN: usize = 7;

/// Builds a file name from the subject, a description of the content (`U5_heatmap`,
/// `singular_values`, `svd`) and an extension (`png`, `svg`, `csv`, `npy`, `npz`).
///
/// Every part is reduced to letters, digits, `.`, `-` and `_` (a `/` in a repository id becomes
/// `--`, as in the Hub's cache folders), so the name is safe on every file system; a local
/// file's `.safetensors` extension is dropped.
pub fn export_file_name(subject: &ExportSubject, what: &str, extension: &str) -> String {
    let source = subject.source.trim();
    let source = source.strip_suffix(".safetensors").unwrap_or(source);
    let mut name = sanitise(&source.replace('/', "--"));
    if name.is_empty() {
        name.push_str("poslens");
    }
    if let Some(commit) = subject.commit.as_deref() {
        let short: String = commit.chars().take(SHORT_SHA_LEN).collect();
        let short = sanitise(&short);
        if !short.is_empty() {
            name.push('@');
            name.push_str(&short);
        }
    }
    let tensor = subject.tensor.trim();
    let tensor = sanitise(tensor.strip_suffix(".weight").unwrap_or(tensor));
    if !tensor.is_empty() {
        name.push('_');
        name.push_str(&tensor);
    }
    let what = sanitise(what);
    if !what.is_empty() {
        name.push('_');
        name.push_str(&what);
    }
    let extension = sanitise(extension);
    if !extension.is_empty() {
        name.push('.');
        name.push_str(&extension);
    }
    name
}

/// Keeps ASCII letters, digits, `.`, `-` and `_`; every other character becomes `-`, and
/// leading dots are removed (no hidden files, no `..`).
fn sanitise(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect();
    mapped.trim_start_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_say_repo_commit_tensor_and_content() {
        let subject = ExportSubject {
            source: "gpt2".to_owned(),
            commit: Some("abc1234def5678".to_owned()),
            tensor: "wpe.weight".to_owned(),
        };
        assert_eq!(
            export_file_name(&subject, "U5_heatmap", "png"),
            "gpt2@abc1234_wpe_U5_heatmap.png"
        );
        let nested = ExportSubject {
            source: "sentence-transformers/all-MiniLM-L6-v2".to_owned(),
            commit: Some("c9745ed1d9f207416be6d2e6f8de32d1f16199bf".to_owned()),
            tensor: "embeddings.position_embeddings.weight".to_owned(),
        };
        assert_eq!(
            export_file_name(&nested, "svd", "npz"),
            "sentence-transformers--all-MiniLM-L6-v2@c9745ed_embeddings.position_embeddings_svd.npz"
        );
    }

    #[test]
    fn local_files_and_hostile_text_give_safe_names() {
        let subject = ExportSubject {
            source: "../my model.safetensors".to_owned(),
            commit: None,
            tensor: "a/b c".to_owned(),
        };
        let name = export_file_name(&subject, "S_histogram", "svg");
        assert_eq!(name, "--my-model_a-b-c_S_histogram.svg");
        assert!(!name.contains('/'));
    }
}
