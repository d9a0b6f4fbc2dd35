// These are native tests of the pure core; the wasm32 build only lints the app.
#![cfg(not(target_arch = "wasm32"))]
//! Tests for the share-link codec: defaults, round trips, rejected values and hostile input.

use poslens::pure::analysis::{AnalysisOptions, DropAxis};
use poslens::pure::url_state::*;
use proptest::prelude::*;

#[test]
fn defaults_match_the_notebook() {
    let s = ViewSettings::default();
    assert_eq!(s.hub, "https://huggingface.co");
    assert_eq!(s.repo, "gpt2");
    assert_eq!(s.rev, "main");
    assert_eq!(s.file, None);
    assert_eq!(s.tensor, None);
    assert_eq!(s.threshold_rel, 0.01);
    assert_eq!(s.drop_count, 5);
    assert_eq!(s.drop_axis, DropAxis::Cols);
    assert!(!s.center_rows);
    assert_eq!(s.k_vectors, 50);
    assert!(!s.skip_offset);
    assert_eq!(s.color_clip, None);
    assert!(s.validate().is_ok());
}

#[test]
fn defaults_agree_with_analysis_options() {
    let settings = ViewSettings::default();
    assert_eq!(settings.analysis_options(2), AnalysisOptions::default());
    let with_skip = ViewSettings {
        skip_offset: true,
        ..ViewSettings::default()
    };
    assert_eq!(with_skip.analysis_options(2).skip_offset_rows, 2);
    let mut round = ViewSettings::default();
    round.set_analysis_options(&with_skip.analysis_options(2));
    assert_eq!(round, with_skip);
}

#[test]
fn drop_axis_spelling_is_strict() {
    assert_eq!(parse_drop_axis("rows").unwrap(), DropAxis::Rows);
    assert!(parse_drop_axis("ROWS").is_err());
    assert!(parse_drop_axis("columns").is_err());
}

#[test]
fn empty_query_gives_defaults_without_notes() {
    for query in ["", "?", "&", "?&&"] {
        let decoded = decode_query(query);
        assert_eq!(decoded.settings, ViewSettings::default(), "{query:?}");
        assert!(decoded.notes.is_empty(), "{query:?}: {:?}", decoded.notes);
    }
}

#[test]
fn encode_default_is_short() {
    assert_eq!(encode_query(&ViewSettings::default()), "repo=gpt2&rev=main");
}

#[test]
fn encode_order_and_readability() {
    let settings = ViewSettings {
        hub: "http://localhost:8080/mirror".into(),
        repo: "facebook/opt-125m".into(),
        rev: "refs/pr/35".into(),
        file: Some("model.safetensors".into()),
        tensor: Some("model.decoder.embed_positions.weight".into()),
        threshold_rel: 0.05,
        drop_count: 0,
        drop_axis: DropAxis::Rows,
        center_rows: true,
        k_vectors: 20,
        skip_offset: true,
        color_clip: Some(0.99),
        compare: Vec::new(),
    };
    let query = encode_query(&settings);
    assert_eq!(
        query,
        "hub=http://localhost:8080/mirror&repo=facebook/opt-125m&rev=refs/pr/35\
         &file=model.safetensors&tensor=model.decoder.embed_positions.weight\
         &threshold=0.05&drop=0&drop_axis=rows&center=true&k=20&skip_offset=true&clip=0.99"
    );
    let decoded = decode_query(&format!("?{query}"));
    assert_eq!(decoded.settings, settings);
    assert!(decoded.notes.is_empty(), "{:?}", decoded.notes);
}

#[test]
fn decodes_a_hand_written_link() {
    let decoded = decode_query(
        "?repo=EleutherAI%2Fgpt-neo-125m&rev=0123456789abcdef0123456789abcdef01234567\
         &threshold=1e-3&drop=0&center=1&k=10&skip_offset=0&hub=https://HF.example.org///",
    );
    assert!(decoded.notes.is_empty(), "{:?}", decoded.notes);
    let s = decoded.settings;
    assert_eq!(s.repo, "EleutherAI/gpt-neo-125m");
    assert_eq!(s.rev, "0123456789abcdef0123456789abcdef01234567");
    assert_eq!(s.threshold_rel, 0.001);
    assert_eq!(s.drop_count, 0);
    assert!(s.center_rows);
    assert_eq!(s.k_vectors, 10);
    assert!(!s.skip_offset);
    assert_eq!(s.hub, "https://HF.example.org");
}

/// Asserts one note per entry of `expected`, in order, each holding every part of its entry.
fn assert_notes(notes: &[String], expected: &[&[&str]]) {
    assert_eq!(notes.len(), expected.len(), "{notes:?}");
    for (note, parts) in notes.iter().zip(expected) {
        for part in *parts {
            assert!(note.contains(part), "{part:?} is not in {note:?}");
        }
    }
}

#[test]
fn alias_is_resolved_with_a_note() {
    let decoded = decode_query("repo=gpt2-small");
    assert_eq!(decoded.settings.repo, "gpt2");
    assert_notes(&decoded.notes, &[&["gpt2-small", "`gpt2`"]]);
}

#[test]
fn tensor_with_spaces_and_unicode_round_trips() {
    let settings = ViewSettings {
        tensor: Some("weird name/with+plus & amp=é ✓".into()),
        ..ViewSettings::default()
    };
    let decoded = decode_query(&encode_query(&settings));
    assert_eq!(decoded.settings, settings);
    assert!(decoded.notes.is_empty());
}

/// Each case: a query with one bad value, the parameter name, and a check on the settings.
#[test]
fn every_invalid_value_falls_back_with_a_note() {
    let defaults = ViewSettings::default();
    let cases: Vec<(&str, &str)> = vec![
        ("hub=ftp://example.org", "hub"),
        ("hub=huggingface.co", "hub"),
        ("hub=https://", "hub"),
        ("hub=https://example.org/?x=1", "hub"),
        ("hub=https://example.org/#frag", "hub"),
        ("hub=https://user:pw@example.org", "hub"),
        ("hub=https://exa mple.org", "hub"),
        ("hub=", "hub"),
        ("repo=", "repo"),
        ("repo=a/b/c", "repo"),
        ("repo=../etc", "repo"),
        ("repo=a..b", "repo"),
        ("repo=a--b", "repo"),
        ("repo=-abc", "repo"),
        ("repo=abc.", "repo"),
        ("repo=/gpt2", "repo"),
        ("repo=gpt2/", "repo"),
        ("repo=gpt%202", "repo"),
        ("repo=gpt2.git", "repo"),
        ("repo=caf%C3%A9", "repo"),
        ("rev=", "rev"),
        ("rev=..", "rev"),
        ("rev=a..b", "rev"),
        ("rev=my branch", "rev"),
        ("rev=main%00", "rev"),
        ("rev=/main", "rev"),
        ("rev=refs//pr", "rev"),
        ("rev=main~1", "rev"),
        ("rev=a:b", "rev"),
        ("file=", "file"),
        ("file=/model.safetensors", "file"),
        ("file=../model.safetensors", "file"),
        ("file=a/../model.safetensors", "file"),
        ("file=https://evil.example/model.safetensors", "file"),
        ("file=model.bin", "file"),
        ("file=a//model.safetensors", "file"),
        ("file=a%5Cb.safetensors", "file"),
        ("tensor=", "tensor"),
        ("tensor=wpe%00", "tensor"),
        ("tensor=a%0Ab", "tensor"),
        ("threshold=0", "threshold"),
        ("threshold=1", "threshold"),
        ("threshold=-0.5", "threshold"),
        ("threshold=NaN", "threshold"),
        ("threshold=inf", "threshold"),
        ("threshold=abc", "threshold"),
        ("threshold=", "threshold"),
        ("drop=-1", "drop"),
        ("drop=4097", "drop"),
        ("drop=1.5", "drop"),
        ("drop=99999999999999999999999", "drop"),
        ("drop=", "drop"),
        ("drop_axis=columns", "drop_axis"),
        ("drop_axis=", "drop_axis"),
        ("center=yes", "center"),
        ("center=", "center"),
        ("k=0", "k"),
        ("k=1025", "k"),
        ("k=ten", "k"),
        ("skip_offset=2", "skip_offset"),
        ("clip=0.3", "clip"),
        ("clip=0.49", "clip"),
        ("clip=1", "clip"),
        ("clip=1.5", "clip"),
        ("clip=-0.99", "clip"),
        ("clip=nan", "clip"),
        ("clip=inf", "clip"),
        ("clip=text", "clip"),
        ("clip=99%25", "clip"),
        ("clip=", "clip"),
    ];
    for (query, name) in cases {
        let decoded = decode_query(query);
        assert_eq!(
            decoded.settings, defaults,
            "{query}: an invalid value must leave the default"
        );
        assert_eq!(decoded.notes.len(), 1, "{query}: {:?}", decoded.notes);
        let note = &decoded.notes[0];
        assert!(
            note.contains(&format!("Ignored {name}=")),
            "{query}: {note}"
        );
        assert!(note.contains("because"), "{query}: {note}");
        assert!(note.contains("using the default"), "{query}: {note}");
        assert!(!note.chars().any(char::is_control), "{query}: {note:?}");
    }
}

#[test]
fn threshold_note_quotes_value_reason_and_default() {
    let notes = decode_query("threshold=2").notes;
    assert_eq!(
        notes,
        vec!["Ignored threshold=`2` because it must be strictly between 0 and 1; using the default (0.01).".to_owned()]
    );
}

#[test]
fn clip_decodes_and_encodes_last() {
    for (text, quantile) in [
        ("0.99", 0.99),
        ("0.995", 0.995),
        ("0.5", 0.5),
        ("0.999", 0.999),
    ] {
        let decoded = decode_query(&format!("?repo=gpt2&clip={text}"));
        assert!(decoded.notes.is_empty(), "{text}: {:?}", decoded.notes);
        assert_eq!(decoded.settings.color_clip, Some(quantile));
        assert_eq!(
            encode_query(&decoded.settings),
            format!("repo=gpt2&rev=main&clip={text}")
        );
    }
    // No clip writes nothing.
    assert!(!encode_query(&ViewSettings::default()).contains("clip"));
    let bad = ViewSettings {
        color_clip: Some(1.0),
        ..ViewSettings::default()
    };
    assert_eq!(bad.validate().unwrap_err().0, "clip");
}

#[test]
fn clip_note_quotes_value_reason_and_default() {
    let notes = decode_query("clip=2").notes;
    assert_eq!(
        notes,
        vec!["Ignored clip=`2` because it must be a number from 0.5 up to (not including) 1, such as 0.99; using the default (the full range, max |value|).".to_owned()]
    );
}

#[test]
fn unknown_parameters_are_noted() {
    let decoded = decode_query("?repo=bert-base-uncased&foo=1&utm_source=x");
    assert_eq!(decoded.settings.repo, "bert-base-uncased");
    assert_notes(&decoded.notes, &[&["`foo`"], &["`utm_source`"]]);
}

#[test]
fn duplicates_last_wins_with_note() {
    let decoded = decode_query("k=10&k=20&k=30");
    assert_eq!(decoded.settings.k_vectors, 30);
    assert_notes(&decoded.notes, &[&["`k` appeared 3 times"]]);

    // When the last value is invalid, it still wins and falls back to the default.
    let decoded = decode_query("k=10&k=0");
    assert_eq!(decoded.settings.k_vectors, 50);
    assert_eq!(decoded.notes.len(), 2);
}

#[test]
fn notes_are_capped() {
    let query: String = (0..500).map(|i| format!("x{i}=1&")).collect();
    let notes = decode_query(&query).notes;
    assert_eq!(notes.len(), MAX_NOTES + 1);
    assert!(notes.last().unwrap().contains("480 more notes"));
}

#[test]
fn huge_values_are_rejected_and_shortened_in_notes() {
    let huge = "a".repeat(100_000);
    let decoded = decode_query(&format!("tensor={huge}&repo={huge}&{huge}=1"));
    assert_eq!(decoded.settings, ViewSettings::default());
    assert_eq!(decoded.notes.len(), 3);
    for note in &decoded.notes {
        assert!(note.chars().count() < 400, "{}", note.len());
    }
}

#[test]
fn pinning_to_a_commit() {
    let settings = ViewSettings::default();
    let pinned = settings.pinned_to("0123456789ABCDEF0123456789abcdef01234567");
    assert_eq!(pinned.rev, "0123456789abcdef0123456789abcdef01234567");
    assert_eq!(settings.pinned_to("not-a-sha").rev, "main");
}

#[test]
fn validate_names_the_bad_field() {
    let bad = ViewSettings {
        k_vectors: 0,
        ..ViewSettings::default()
    };
    assert_eq!(bad.validate().unwrap_err().0, "k");
    let alias = ViewSettings {
        repo: "gpt2-small".into(),
        ..ViewSettings::default()
    };
    assert_eq!(alias.validate().unwrap_err().0, "repo");
}

fn repo_part() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_]([A-Za-z0-9._-]{0,20}[A-Za-z0-9_])?"
        .prop_filter("no .. or --", |s| !s.contains("..") && !s.contains("--"))
}

fn valid_settings() -> impl Strategy<Value = ViewSettings> {
    let hub = prop_oneof![
        Just("https://huggingface.co".to_owned()),
        "https?://[a-z0-9.-]{1,20}(:[0-9]{2,5})?(/[a-z0-9_.-]{1,10}){0,2}"
            .prop_filter("ends without slash", |s| !s.ends_with('/')),
    ];
    let repo = (proptest::option::of(repo_part()), repo_part())
        .prop_map(|(owner, name)| match owner {
            Some(owner) => format!("{owner}/{name}"),
            None => name,
        })
        .prop_filter("not an alias or .git", |r| {
            validate_repo(r)
                .map(|(c, aliased)| !aliased && &c == r)
                .unwrap_or(false)
        });
    let rev = prop_oneof![
        Just("main".to_owned()),
        "[0-9a-f]{40}",
        "refs/pr/[0-9]{1,4}",
        "v[0-9]\\.[0-9]{1,2}(-rc[0-9])?",
        "[A-Za-z0-9_+@!$&'()=,;é-]{1,30}"
    ]
    .prop_filter("valid rev", |r| validate_rev(r).is_ok());
    let file = proptest::option::of(
        "([a-z0-9 _+&=é-]{1,12}/){0,2}[a-zA-Z0-9 _+&=%#é-]{1,20}(\\.safetensors|\\.safetensors\\.index\\.json)",
    );
    let tensor = proptest::option::of("[^\\p{Cc}]{1,60}");
    let analysis = (
        prop_oneof![Just(0.01), 1e-12..0.999_999f64, Just(0.5), Just(1e-300)],
        0usize..=4096,
        prop_oneof![Just(DropAxis::Cols), Just(DropAxis::Rows)],
        any::<bool>(),
        1usize..=1024,
        any::<bool>(),
        prop_oneof![
            Just(None),
            Just(Some(0.99)),
            Just(Some(0.5)),
            (0.5f64..1.0).prop_map(Some),
        ],
    );
    (hub, repo, rev, file, tensor, analysis).prop_map(
        |(
            hub,
            repo,
            rev,
            file,
            tensor,
            (threshold_rel, drop_count, drop_axis, center_rows, k_vectors, skip_offset, color_clip),
        )| {
            ViewSettings {
                hub,
                repo,
                rev,
                file,
                tensor,
                threshold_rel,
                drop_count,
                drop_axis,
                center_rows,
                k_vectors,
                skip_offset,
                color_clip,
                compare: Vec::new(),
            }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn round_trip_is_identity(settings in valid_settings()) {
        prop_assert!(settings.validate().is_ok(), "{:?}", settings.validate());
        let query = encode_query(&settings);
        let decoded = decode_query(&query);
        prop_assert!(decoded.notes.is_empty(), "{query}: {:?}", decoded.notes);
        prop_assert_eq!(&decoded.settings, &settings);
        // With a leading '?', too, and re-encoding is stable.
        let decoded_q = decode_query(&format!("?{query}"));
        prop_assert_eq!(&decoded_q.settings, &settings);
        prop_assert_eq!(encode_query(&decoded.settings), query);
    }

    #[test]
    fn arbitrary_queries_never_panic(query in any::<String>()) {
        let decoded = decode_query(&query);
        prop_assert!(decoded.notes.len() <= MAX_NOTES + 1);
        prop_assert!(decoded.settings.validate().is_ok());
    }

    #[test]
    fn structured_hostile_queries_never_panic(
        pairs in proptest::collection::vec(
            (
                prop_oneof![
                    Just("hub".to_owned()), Just("repo".to_owned()), Just("rev".to_owned()),
                    Just("file".to_owned()), Just("tensor".to_owned()), Just("threshold".to_owned()),
                    Just("drop".to_owned()), Just("drop_axis".to_owned()), Just("center".to_owned()),
                    Just("k".to_owned()), Just("skip_offset".to_owned()), Just("clip".to_owned()),
                    any::<String>()
                ],
                prop_oneof![
                    any::<String>(),
                    Just("%00".to_owned()),
                    Just("%FF%FE".to_owned()),
                    Just("%".to_owned()),
                    "[0-9.eE+-]{0,30}",
                    Just("x".repeat(5000)),
                ],
            ),
            0..40,
        )
    ) {
        let query: String = pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let decoded = decode_query(&query);
        prop_assert!(decoded.settings.validate().is_ok());
        // Whatever came in, the settings re-encode to a clean link.
        let again = decode_query(&encode_query(&decoded.settings));
        prop_assert!(again.notes.is_empty(), "{:?}", again.notes);
        prop_assert_eq!(again.settings, decoded.settings);
    }
}

#[test]
fn compare_list_round_trips_and_keeps_good_entries() {
    let decoded = decode_query(
        "repo=gpt2&compare=gpt2-medium,distilgpt2@abc,gpt2-small,bad%20repo,gpt2-medium",
    );
    let spellings: Vec<String> = decoded
        .settings
        .compare
        .iter()
        .map(poslens::pure::url_state::CompareEntry::spelling)
        .collect();
    // The alias resolves, the duplicate is dropped, and the bad entry leaves the others.
    assert_eq!(spellings, vec!["gpt2-medium", "distilgpt2@abc", "gpt2"]);
    assert_eq!(decoded.notes.len(), 1, "{:?}", decoded.notes);
    assert!(decoded.notes[0].contains("bad repo"));
    let query = encode_query(&decoded.settings);
    assert!(
        query.ends_with("&compare=gpt2-medium,distilgpt2@abc,gpt2"),
        "{query}"
    );
    let again = decode_query(&query);
    assert_eq!(again.settings, decoded.settings);
    assert!(again.notes.is_empty());
    assert!(decoded.settings.validate().is_ok());
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let pinned = decoded.settings.compare_pinned_to(&[
        Some(sha.to_owned()),
        None,
        Some("not-a-sha".to_owned()),
    ]);
    assert_eq!(pinned.compare[0].spelling(), format!("gpt2-medium@{sha}"));
    assert_eq!(pinned.compare[1].spelling(), "distilgpt2@abc");
    assert_eq!(pinned.compare[2].spelling(), "gpt2");
    let too_many = decode_query("compare=a,b,c,d,e");
    assert_eq!(too_many.settings.compare.len(), 4);
    assert_eq!(too_many.notes.len(), 1);
}

/// Each setting, changed alone, re-runs exactly what it needs; several at once re-run the most
/// any of them needs.
#[test]
fn a_settings_change_reruns_what_it_needs() {
    let old = ViewSettings::default();
    let changed = |edit: &dyn Fn(&mut ViewSettings)| {
        let mut new = old.clone();
        edit(&mut new);
        assert_ne!(new, old, "the edit must change something");
        SettingsChange::between(&old, &new)
    };
    assert_eq!(
        SettingsChange::between(&old, &old.clone()),
        SettingsChange::ViewOnly
    );
    let new_source: [&dyn Fn(&mut ViewSettings); 4] = [
        &|s| s.hub = "http://127.0.0.1:9".to_owned(),
        &|s| s.repo = "gpt2-medium".to_owned(),
        &|s| s.rev = "refs/pr/1".to_owned(),
        &|s| s.file = Some("model.safetensors".to_owned()),
    ];
    for edit in new_source {
        assert_eq!(changed(edit), SettingsChange::NewSource);
    }
    assert_eq!(
        changed(&|s| s.tensor = Some("wpe.weight".to_owned())),
        SettingsChange::NewTensor
    );
    let new_options: [&dyn Fn(&mut ViewSettings); 5] = [
        &|s| s.drop_count = 0,
        &|s| s.drop_axis = DropAxis::Rows,
        &|s| s.center_rows = true,
        &|s| s.k_vectors = 10,
        &|s| s.skip_offset = true,
    ];
    for edit in new_options {
        assert_eq!(changed(edit), SettingsChange::NewOptions);
    }
    let view_only: [&dyn Fn(&mut ViewSettings); 3] = [
        &|s| s.threshold_rel = 0.05,
        &|s| s.color_clip = Some(0.99),
        &|s| s.compare = vec![parse_compare_entry("gpt2-medium").unwrap()],
    ];
    for edit in view_only {
        assert_eq!(changed(edit), SettingsChange::ViewOnly);
    }
    assert_eq!(
        changed(&|s| {
            s.color_clip = Some(0.9);
            s.k_vectors = 3;
            s.tensor = Some("wpe.weight".to_owned());
        }),
        SettingsChange::NewTensor
    );
    assert_eq!(
        changed(&|s| {
            s.center_rows = true;
            s.repo = "distilgpt2".to_owned();
        }),
        SettingsChange::NewSource
    );
}
