//! The share-link decoder: any query string a link can carry.
//!
//! Oracle: no panic; the decoded settings are valid, the Hub address is `http:` or `https:`,
//! and encoding them gives a link that decodes to the same settings without notes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poslens::pure::url_state::{decode_query, encode_query};

fuzz_target!(|data: &[u8]| {
    let query = String::from_utf8_lossy(data);
    let decoded = decode_query(&query);
    let settings = decoded.settings;
    assert!(
        settings.hub.starts_with("https://") || settings.hub.starts_with("http://"),
        "{:?}",
        settings.hub
    );
    assert_eq!(settings.validate(), Ok(()));
    let again = decode_query(&encode_query(&settings));
    assert!(again.notes.is_empty(), "{:?}", again.notes);
    assert_eq!(again.settings, settings);
});
