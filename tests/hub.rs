// These are native tests of the pure core; the wasm32 build only lints the app.
#![cfg(not(target_arch = "wasm32"))]
//! Tests for Hub URL building and response interpretation.

use poslens::pure::source::hub::*;

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn resolve_url_plain() {
    assert_eq!(
        resolve_url(DEFAULT_HUB, "gpt2", "main", "model.safetensors"),
        "https://huggingface.co/gpt2/resolve/main/model.safetensors"
    );
}

#[test]
fn resolve_url_encodes_revision_but_keeps_path_slashes() {
    assert_eq!(
        resolve_url(
            "https://huggingface.co/",
            "facebook/opt-125m",
            "refs/pr/35",
            "sub dir/model.safetensors"
        ),
        "https://huggingface.co/facebook/opt-125m/resolve/refs%2Fpr%2F35/sub%20dir/model.safetensors"
    );
}

#[test]
fn resolve_url_encodes_odd_characters() {
    let url = resolve_url("http://localhost:8080", "a/b", "v1.0+x", "é#?.safetensors");
    assert_eq!(
        url,
        "http://localhost:8080/a/b/resolve/v1.0%2Bx/%C3%A9%23%3F.safetensors"
    );
}

#[test]
fn revision_api_url_shape() {
    assert_eq!(
        revision_api_url(DEFAULT_HUB, "EleutherAI/gpt-neo-125m", "refs/pr/1"),
        "https://huggingface.co/api/models/EleutherAI/gpt-neo-125m/revision/refs%2Fpr%2F1"
    );
}

#[test]
fn parses_revision_info() {
    let json = br#"{"_id":"x","id":"gpt2","sha":"607A30D783DFA663CAF39E06633721C8D4CFCD7E",
        "siblings":[{"rfilename":"config.json"},{"rfilename":"model.safetensors"}],"private":false}"#;
    let info = parse_revision_info(json).unwrap();
    assert_eq!(info.sha, "607a30d783dfa663caf39e06633721c8d4cfcd7e");
    assert_eq!(info.files, names(&["config.json", "model.safetensors"]));
}

#[test]
fn revision_info_without_siblings_is_empty_listing() {
    let json = br#"{"sha":"0123456789abcdef0123456789abcdef01234567"}"#;
    assert!(parse_revision_info(json).unwrap().files.is_empty());
}

#[test]
fn revision_info_rejects_bad_input() {
    // Not the revision JSON at all: no `sha`.
    for body in [&b"<html>nope</html>"[..], br#"{"siblings":[]}"#] {
        let result = parse_revision_info(body);
        assert!(
            matches!(result, Err(HubError::BadRevisionInfo { .. })),
            "{result:?}"
        );
    }
    // A `sha` that is not a 40-digit hex commit.
    for body in [
        &br#"{"sha":"main","siblings":[]}"#[..],
        br#"{"sha":"0123456789abcdef0123456789abcdef0123456g"}"#,
    ] {
        let result = parse_revision_info(body);
        assert!(
            matches!(result, Err(HubError::BadCommitSha { .. })),
            "{result:?}"
        );
    }
}

#[test]
fn commit_sha_check() {
    assert!(is_commit_sha("0123456789abcdef0123456789abcdef01234567"));
    assert!(is_commit_sha("0123456789ABCDEF0123456789abcdef01234567"));
    assert!(!is_commit_sha("0123456789abcdef0123456789abcdef0123456"));
    assert!(!is_commit_sha("0123456789abcdef0123456789abcdef012345678"));
    assert!(!is_commit_sha("main"));
    assert!(!is_commit_sha(""));
}

#[test]
fn chooses_single_file_first() {
    let files = names(&[
        "config.json",
        "model.safetensors.index.json",
        "model.safetensors",
    ]);
    assert_eq!(
        choose_weights_file(&files, None).unwrap(),
        WeightsChoice::Single("model.safetensors".into())
    );
}

#[test]
fn chooses_index_when_sharded() {
    let files = names(&[
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
        "model.safetensors.index.json",
    ]);
    let choice = choose_weights_file(&files, None).unwrap();
    assert_eq!(
        choice,
        WeightsChoice::Sharded {
            index_file: "model.safetensors.index.json".into()
        }
    );
    assert_eq!(choice.path(), "model.safetensors.index.json");
}

#[test]
fn lists_nonstandard_safetensors_files() {
    let files = names(&["config.json", "weights/fp32.safetensors", "a.safetensors"]);
    let err = choose_weights_file(&files, None).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, HubError::NoStandardWeightsFile { .. }));
    assert!(
        message.contains("`a.safetensors`, `weights/fp32.safetensors`"),
        "{message}"
    );
    assert!(message.contains("file field"), "{message}");
}

#[test]
fn says_when_only_pytorch_bin() {
    let files = names(&["config.json", "pytorch_model.bin"]);
    let err = choose_weights_file(&files, None).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("no safetensors weights"), "{message}");
    assert!(message.contains("only pytorch_model.bin"), "{message}");
    assert!(message.contains("refs/pr/N"), "{message}");
    assert!(choose_weights_file(&[], None)
        .unwrap_err()
        .to_string()
        .contains("no safetensors weights."));
}

#[test]
fn honours_requested_file() {
    let files = names(&[
        "model.safetensors",
        "other.safetensors",
        "x.safetensors.index.json",
    ]);
    assert_eq!(
        choose_weights_file(&files, Some("other.safetensors")).unwrap(),
        WeightsChoice::Single("other.safetensors".into())
    );
    assert_eq!(
        choose_weights_file(&files, Some("x.safetensors.index.json")).unwrap(),
        WeightsChoice::Sharded {
            index_file: "x.safetensors.index.json".into()
        }
    );
    let err = choose_weights_file(&files, Some("missing.safetensors")).unwrap_err();
    assert!(matches!(err, HubError::RequestedFileMissing { .. }));
    assert!(err.to_string().contains("`model.safetensors`"));
    assert!(matches!(
        choose_weights_file(&files, Some("config.json")),
        Err(HubError::NotWeightsFile { .. })
    ));
}

#[test]
fn long_listings_are_shortened() {
    let files: Vec<String> = (0..40).map(|i| format!("s{i:02}.safetensors")).collect();
    let message = choose_weights_file(&files, None).unwrap_err().to_string();
    assert!(message.contains("and 28 more"), "{message}");
}

#[test]
fn content_range_parsing() {
    let range = parse_content_range("bytes 0-7/548105171").unwrap();
    assert_eq!(
        range,
        ContentRange {
            first_byte: 0,
            last_byte: 7,
            total_len_bytes: Some(548_105_171)
        }
    );
    assert_eq!(range.len_bytes(), 8);
    assert_eq!(range.byte_range(), 0..8);
    assert_eq!(
        parse_content_range("Bytes 10-19/*")
            .unwrap()
            .total_len_bytes,
        None
    );
    let big = parse_content_range("bytes 5000000000-5000000099/6000000000").unwrap();
    assert_eq!(big.first_byte, 5_000_000_000);
    for bad in [
        "",
        "bytes",
        "bytes */100",
        "bytes 7-0/100",
        "bytes 0-100/100",
        "bytes -1-5/100",
        "bytes 0-5",
        "items 0-5/10",
        "bytes a-b/c",
        "bytes 0-99999999999999999999999/1",
        "bytes ∂-1/2",
    ] {
        assert!(
            matches!(
                parse_content_range(bad),
                Err(HubError::BadContentRange { .. })
            ),
            "{bad:?} should be rejected"
        );
    }
}

#[test]
fn range_header_is_inclusive() {
    assert_eq!(range_header_value(&(0..8)), "bytes=0-7");
    assert_eq!(range_header_value(&(14_291..14_292)), "bytes=14291-14291");
    assert_eq!(range_header_value(&(5..5)), "bytes=5-5");
    assert_eq!(
        range_header_value(&(4_294_967_296..4_294_967_300)),
        "bytes=4294967296-4294967299"
    );
}

#[test]
fn http_status_descriptions() {
    let url = "https://huggingface.co/meta-llama/x/resolve/main/model.safetensors";
    for status in [401, 403] {
        let err = describe_http_status(status, url, "meta-llama/x");
        assert!(matches!(err, HubError::Gated { .. }));
        let message = err.to_string();
        assert!(message.contains("licence"), "{message}");
        assert!(message.contains("sends no credentials"), "{message}");
        assert!(message.contains("does not exist"), "{message}");
    }
    let not_found = describe_http_status(404, url, "gtp2").to_string();
    assert!(not_found.contains("spelling") && not_found.contains("revision"));
    assert!(describe_http_status(429, url, "r")
        .to_string()
        .contains("wait"));
    for status in [500, 502, 503, 599] {
        let err = describe_http_status(status, url, "r");
        assert!(matches!(err, HubError::ServerError { .. }));
        assert!(err.to_string().contains("retry later"));
    }
    assert!(matches!(
        describe_http_status(416, url, "r"),
        HubError::RangeNotSatisfiable { .. }
    ));
    assert!(matches!(
        describe_http_status(418, url, "r"),
        HubError::UnexpectedStatus { status: 418, .. }
    ));
    let network = describe_network_failure(url, "TypeError: Failed to fetch").to_string();
    assert!(network.contains("offline") && network.contains("built-in sample"));
    // Nothing answered: not a CORS refusal, which has its own error.
    assert!(!network.contains("CORS"), "{network}");
}

#[test]
fn a_server_that_answers_without_cors_headers_is_named_with_what_to_do() {
    let url = "https://user:pw@mirror.example:8443/acme/model/resolve/main/model.safetensors?x=1";
    let err = poslens::pure::source::hub::describe_cors_refusal(url);
    assert_eq!(err.kind().as_str(), "cors");
    let message = err.to_string();
    // Who answered, what it does not allow, the headers a mirror must send, and the way out.
    for part in [
        "the server at https://mirror.example:8443 answered",
        "does not let web pages read its files",
        "Access-Control-Allow-Origin",
        "Content-Range",
        "ETag",
        "X-Repo-Commit",
        "open it here as a local file",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
    assert!(!message.contains("offline"), "{message}");
    // A URL without a scheme is named as it is.
    assert!(
        poslens::pure::source::hub::describe_cors_refusal("mirror/x")
            .to_string()
            .contains("the server at mirror/x answered")
    );
}

#[test]
fn range_response_checks() {
    let url = "https://h/x";
    assert_eq!(
        check_range_response(206, Some("bytes 0-7/100"), &(0..8), url, "r").unwrap(),
        Some(100)
    );
    // A server may clip the range at the end of the file.
    assert_eq!(
        check_range_response(206, Some("bytes 90-99/100"), &(90..200), url, "r").unwrap(),
        Some(100)
    );
    // A 200 (the server ignored Range) is handled by the browser shell before this check,
    // which streams the whole answer; here it is just not a 206.
    let ignored = check_range_response(200, None, &(0..8), url, "r").unwrap_err();
    assert!(matches!(
        ignored,
        HubError::UnexpectedStatus { status: 200, .. }
    ));
    assert!(matches!(
        check_range_response(206, Some("bytes 1-8/100"), &(0..8), url, "r"),
        Err(HubError::RangeMismatch { .. })
    ));
    assert!(matches!(
        check_range_response(206, None, &(0..8), url, "r"),
        Err(HubError::BadContentRange { .. })
    ));
    assert!(matches!(
        check_range_response(404, None, &(0..8), url, "r"),
        Err(HubError::NotFound { .. })
    ));
}

#[test]
fn repo_aliases_and_presets() {
    assert_eq!(canonical_repo("gpt2-small"), "gpt2");
    assert_eq!(canonical_repo("GPT2-Small"), "gpt2");
    assert_eq!(canonical_repo("gpt2-medium"), "gpt2-medium");
    assert_eq!(PRESET_REPOS[0], "gpt2");
    assert!(PRESET_REPOS.contains(&"EleutherAI/gpt-neo-125m"));
    for repo in PRESET_REPOS {
        assert!(
            poslens::pure::url_state::validate_repo(repo).is_ok(),
            "{repo}"
        );
    }
}

#[test]
fn percent_encoding_helpers() {
    assert_eq!(percent_encode_component("a/b c~"), "a%2Fb%20c~");
    assert_eq!(percent_encode_path("a b/c%d"), "a%20b/c%25d");
    assert_eq!(
        repo_page_url(DEFAULT_HUB, "gpt2", "refs/pr/1"),
        "https://huggingface.co/gpt2/tree/refs%2Fpr%2F1"
    );
}
