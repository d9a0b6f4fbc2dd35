//! The address bar: the current query, links to this page and writing the settings into the URL.

use crate::pure::url_state::{self, ViewSettings};

/// Returns the current URL's query string (with `?`), or an empty string.
pub fn current_query() -> String {
    web_sys::window()
        .and_then(|window| window.location().search().ok())
        .unwrap_or_default()
}

/// Builds an absolute link to this page for the given settings.
pub fn page_link(settings: &ViewSettings) -> String {
    let location = web_sys::window().map(|window| window.location());
    let origin = location
        .as_ref()
        .and_then(|location| location.origin().ok())
        .unwrap_or_default();
    let path = location
        .as_ref()
        .and_then(|location| location.pathname().ok())
        .unwrap_or_else(|| "/".to_owned());
    let query = url_state::encode_query(settings);
    if query.is_empty() {
        format!("{origin}{path}")
    } else {
        format!("{origin}{path}?{query}")
    }
}

/// Writes the settings into the address bar: a new history entry (`push`) or in place.
pub fn write_url(settings: &ViewSettings, push: bool) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let Ok(history) = window.history() else {
        return;
    };
    let link = page_link(settings);
    let current = window.location().href().unwrap_or_default();
    if current == link {
        return;
    }
    let _ignored = if push {
        history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&link))
    } else {
        history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&link))
    };
}
