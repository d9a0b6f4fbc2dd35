//! The transfer decisions: retryable statuses, backoff with jitter, `Retry-After`, resume
//! planning, file-version checks, the tensor size cap, and error kinds.

use poslens::pure::source::format::{self, FormatError, TensorEntry};
use poslens::pure::source::hub::{self, HubError};
use poslens::pure::source::shards::ShardError;
use poslens::pure::source::transfer::{
    backoff_delay_ms, check_same_file, decide_resume, decide_retry, is_retryable_status,
    parse_retry_after_ms, resume_note, retry_note, size_label, whole_stream_note, ErrorKind,
    FileIdentity, ResumeDecision, RetryDecision, RetryPolicy, TransferError, MAX_TENSOR_BYTES,
};

/// 2015-10-21T07:28:00Z in milliseconds since the Unix epoch.
const OCT_21_2015_07_28_UNIX_MS: u64 = 1_445_412_480_000;

#[test]
fn only_429_and_5xx_are_retried() {
    for status in [429, 500, 502, 503, 504, 599] {
        assert!(is_retryable_status(status), "{status}");
    }
    for status in [200, 206, 301, 400, 401, 403, 404, 416, 428, 430, 600] {
        assert!(!is_retryable_status(status), "{status}");
    }
}

#[test]
fn backoff_doubles_is_capped_and_jitter_spans_the_upper_half() {
    let policy = RetryPolicy {
        base_delay_ms: 500,
        max_delay_ms: 8_000,
        ..RetryPolicy::default()
    };
    // No jitter: the fixed lower half of 500, 1000, 2000, 4000, 8000, 8000 ms.
    let low: Vec<u64> = (1..=6).map(|n| backoff_delay_ms(&policy, n, 0.0)).collect();
    assert_eq!(low, vec![250, 500, 1000, 2000, 4000, 4000]);
    // Full jitter: the whole capped wait.
    let high: Vec<u64> = (1..=6).map(|n| backoff_delay_ms(&policy, n, 1.0)).collect();
    assert_eq!(high, vec![500, 1000, 2000, 4000, 8000, 8000]);
    assert_eq!(backoff_delay_ms(&policy, 3, 0.5), 1500);
    // Out-of-range jitter is clamped; huge retry numbers do not overflow.
    assert_eq!(backoff_delay_ms(&policy, 1, 7.0), 500);
    assert_eq!(backoff_delay_ms(&policy, 1, -1.0), 250);
    assert_eq!(backoff_delay_ms(&policy, 1, f64::NAN), 250);
    assert_eq!(backoff_delay_ms(&policy, u32::MAX, 1.0), 8_000);
    assert_eq!(backoff_delay_ms(&policy, 0, 1.0), 500);
}

#[test]
fn retry_after_in_seconds_and_as_an_http_date() {
    let now = OCT_21_2015_07_28_UNIX_MS;
    assert_eq!(parse_retry_after_ms("0", now), Some(0));
    assert_eq!(parse_retry_after_ms(" 3 ", now), Some(3_000));
    assert_eq!(parse_retry_after_ms("120", now), Some(120_000));
    // IMF-fixdate, 90 s after `now`; and the two obsolete forms RFC 9110 still accepts.
    assert_eq!(
        parse_retry_after_ms("Wed, 21 Oct 2015 07:29:30 GMT", now),
        Some(90_000)
    );
    assert_eq!(
        parse_retry_after_ms("Wednesday, 21-Oct-15 07:29:30 GMT", now),
        Some(90_000)
    );
    assert_eq!(
        parse_retry_after_ms("Wed Oct 21 07:29:30 2015", now),
        Some(90_000)
    );
    // A date in the past: no wait.
    assert_eq!(
        parse_retry_after_ms("Wed, 21 Oct 2015 07:00:00 GMT", now),
        Some(0)
    );
    for bad in [
        "",
        "-1",
        "1.5",
        "soon",
        "Wed, 32 Oct 2015 07:29:30 GMT",
        "99999999999999999999999",
    ] {
        assert_eq!(parse_retry_after_ms(bad, now), None, "{bad:?}");
    }
}

#[test]
fn retry_decisions_follow_the_policy() {
    let policy = RetryPolicy::default();
    let now = OCT_21_2015_07_28_UNIX_MS;
    assert_eq!(
        decide_retry(&policy, 404, 1, None, now, 0.5),
        RetryDecision::Fail
    );
    assert_eq!(
        decide_retry(&policy, 503, 1, None, now, 1.0),
        RetryDecision::Retry {
            retry_number: 1,
            max_retries: 4,
            delay_ms: 500,
            from_retry_after: false
        }
    );
    assert_eq!(
        decide_retry(&policy, 503, 4, None, now, 0.0),
        RetryDecision::Retry {
            retry_number: 4,
            max_retries: 4,
            delay_ms: 2_000,
            from_retry_after: false
        }
    );
    assert_eq!(
        decide_retry(&policy, 503, 5, None, now, 0.0),
        RetryDecision::GiveUp { attempts: 5 }
    );
    // Retry-After wins over the backoff, in both spellings, and is capped.
    assert_eq!(
        decide_retry(&policy, 429, 1, Some("2"), now, 0.0),
        RetryDecision::Retry {
            retry_number: 1,
            max_retries: 4,
            delay_ms: 2_000,
            from_retry_after: true
        }
    );
    assert!(matches!(
        decide_retry(
            &policy,
            429,
            2,
            Some("Wed, 21 Oct 2015 07:28:05 GMT"),
            now,
            0.0
        ),
        RetryDecision::Retry {
            delay_ms: 5_000,
            from_retry_after: true,
            ..
        }
    ));
    assert!(matches!(
        decide_retry(&policy, 503, 1, Some("86400"), now, 0.0),
        RetryDecision::Retry {
            delay_ms: 60_000,
            ..
        }
    ));
    // An unreadable Retry-After falls back to the backoff.
    assert!(matches!(
        decide_retry(&policy, 503, 1, Some("later"), now, 0.0),
        RetryDecision::Retry {
            delay_ms: 250,
            from_retry_after: false,
            ..
        }
    ));
}

#[test]
fn a_short_body_resumes_from_the_next_byte_a_bounded_number_of_times() {
    let policy = RetryPolicy::default();
    let requested = 1000..5000;
    assert_eq!(
        decide_resume(&policy, &requested, 4000, 0, 0.5),
        ResumeDecision::Complete
    );
    assert_eq!(
        decide_resume(&policy, &requested, 4001, 3, 0.5),
        ResumeDecision::Complete
    );
    let mut received = 0_u64;
    let mut ranges = Vec::new();
    for resumes in 0..policy.max_resumes {
        received += 700;
        match decide_resume(&policy, &requested, received, resumes, 0.0) {
            ResumeDecision::Resume {
                range,
                resume_number,
                max_resumes,
                delay_ms,
            } => {
                assert_eq!(resume_number, resumes + 1);
                assert_eq!(max_resumes, 5);
                assert_eq!(range.end, 5000);
                assert_eq!(range.start, 1000 + received);
                let expected_delay = if resumes == 0 {
                    0
                } else {
                    backoff_delay_ms(&policy, resumes, 0.0)
                };
                assert_eq!(delay_ms, expected_delay);
                ranges.push(hub::range_header_value(&range));
            }
            other => panic!("expected a resume, got {other:?}"),
        }
    }
    assert_eq!(
        ranges,
        vec![
            "bytes=1700-4999",
            "bytes=2400-4999",
            "bytes=3100-4999",
            "bytes=3800-4999",
            "bytes=4500-4999"
        ]
    );
    assert_eq!(
        decide_resume(&policy, &requested, 3900, 5, 0.0),
        ResumeDecision::GiveUp { resumes: 5 }
    );
}

#[test]
fn a_changed_etag_or_size_is_a_change_and_missing_values_are_not() {
    let first = FileIdentity::new(Some("\"abc\""), Some(100));
    assert_eq!(
        check_same_file(
            "u",
            &first,
            &FileIdentity::new(Some("W/\"abc\""), Some(100))
        ),
        Ok(())
    );
    assert_eq!(
        check_same_file("u", &first, &FileIdentity::new(None, None)),
        Ok(())
    );
    assert_eq!(
        check_same_file("u", &first, &FileIdentity::new(Some("  "), Some(100))),
        Ok(())
    );
    let etag = check_same_file(
        "https://x/f",
        &first,
        &FileIdentity::new(Some("\"def\""), Some(100)),
    )
    .unwrap_err();
    assert_eq!(etag.kind(), ErrorKind::Changed);
    let message = etag.to_string();
    assert!(
        message.contains("the file changed while reading"),
        "{message}"
    );
    assert!(
        message.contains("\"abc\"") && message.contains("\"def\""),
        "{message}"
    );
    let size =
        check_same_file("u", &first, &FileIdentity::new(Some("\"abc\""), Some(99))).unwrap_err();
    assert!(size.to_string().contains("from 100 to 99 bytes"), "{size}");
    let merged =
        FileIdentity::new(None, Some(5)).merged_with(&FileIdentity::new(Some("e"), Some(6)));
    assert_eq!(merged, FileIdentity::new(Some("e"), Some(5)));
}

#[test]
fn the_size_cap_is_at_most_one_gib_and_refuses_before_fetching_with_the_size() {
    const { assert!(MAX_TENSOR_BYTES <= 1024 * 1024 * 1024) };
    let len_bytes = MAX_TENSOR_BYTES + 4;
    let big = TensorEntry {
        name: "h.0.mlp.c_fc.weight".to_owned(),
        dtype: format::Dtype::F32,
        shape: vec![len_bytes / 4],
        byte_range: 1000..1000 + len_bytes,
    };
    let refused = format::plan_tensor_read(&big, MAX_TENSOR_BYTES).unwrap_err();
    assert!(matches!(refused, FormatError::TensorTooLarge { .. }));
    assert_eq!(refused.kind(), ErrorKind::TooLarge);
    let message = refused.to_string();
    assert!(message.contains("536.87 MB"), "{message}");
    assert!(message.contains(&len_bytes.to_string()), "{message}");
    assert!(
        message.contains("none of its bytes were downloaded"),
        "{message}"
    );
    let fits = TensorEntry {
        byte_range: 1000..1000 + MAX_TENSOR_BYTES,
        ..big
    };
    assert_eq!(
        format::plan_tensor_read(&fits, MAX_TENSOR_BYTES),
        Ok(1000..1000 + MAX_TENSOR_BYTES)
    );
}

#[test]
fn notes_and_sizes_read_well() {
    assert_eq!(resume_note(2, 5), "connection dropped, resuming (2/5)");
    assert_eq!(
        retry_note(503, 1250, 1, 4),
        "the server is busy (HTTP 503), retrying in 1.2 s (1/4)"
    );
    assert!(
        retry_note(429, 2000, 2, 4).contains("rate limiting (HTTP 429), retrying in 2.0 s (2/4)")
    );
    assert_eq!(size_label(999), "999 B");
    assert_eq!(size_label(3_145_728), "3.15 MB");
    assert_eq!(size_label(1_073_741_824), "1.07 GB");
    let note = whole_stream_note(90_000_000, 14_000);
    assert!(note.contains("89.99 MB must be downloaded"), "{note}");
}

#[test]
fn every_error_has_a_kind_the_page_can_show() {
    let url = "https://hub/x";
    let cases: Vec<(ErrorKind, &str)> = vec![
        (hub::describe_http_status(404, url, "r").kind(), "not-found"),
        (hub::describe_http_status(401, url, "r").kind(), "gated"),
        (hub::describe_api_status(401, url, "r").kind(), "not-found"),
        (hub::describe_api_status(404, url, "r").kind(), "not-found"),
        (
            hub::describe_http_status(429, url, "r").kind(),
            "rate-limited",
        ),
        (hub::describe_http_status(503, url, "r").kind(), "server"),
        (hub::describe_http_status(416, url, "r").kind(), "changed"),
        (
            hub::describe_http_status(418, url, "r").kind(),
            "bad-answer",
        ),
        (
            hub::describe_network_failure(url, "Failed to fetch").kind(),
            "network",
        ),
        (hub::describe_cors_refusal(url).kind(), "cors"),
        (FormatError::LooksLikeHtml.kind(), "not-safetensors"),
        (FormatError::Empty.kind(), "not-safetensors"),
        (
            FormatError::MissingTensor {
                name: "x".into(),
                available: vec![],
            }
            .kind(),
            "missing-tensor",
        ),
        (ShardError::EmptyWeightMap.kind(), "bad-index"),
        (ShardError::LooksLikeHtml.kind(), "not-safetensors"),
        (
            TransferError::GaveUp {
                cause: HubError::ServerError {
                    status: 503,
                    url: url.into(),
                },
                attempts: 5,
            }
            .kind(),
            "server",
        ),
        (
            TransferError::KeptDropping {
                url: url.into(),
                resumes: 5,
                received_bytes: 1,
                expected_bytes: 2,
            }
            .kind(),
            "dropped",
        ),
    ];
    for (kind, expected) in cases {
        assert_eq!(kind.as_str(), expected);
    }
    let gave_up = TransferError::GaveUp {
        cause: HubError::RateLimited { url: url.into() },
        attempts: 5,
    }
    .to_string();
    assert!(gave_up.contains("tried 5 times"), "{gave_up}");
    assert!(gave_up.contains("HTTP 429"), "{gave_up}");
}

#[test]
fn an_unknown_repository_reads_as_a_typo_not_as_gated() {
    let message = hub::describe_api_status(
        401,
        "https://huggingface.co/api/models/openai-comunity/gpt2/revision/main",
        "openai-comunity/gpt2",
    )
    .to_string();
    assert!(
        message.contains("no public repository `openai-comunity/gpt2`"),
        "{message}"
    );
    assert!(message.contains("Check the spelling"), "{message}");
    assert!(!message.contains("gated"), "{message}");
}
