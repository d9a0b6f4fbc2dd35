//! The card shown when a link names a Hub other than the default: it shows the address and
//! waits for one click before the app sends any request there.

use leptos::prelude::*;

use crate::pure::source::hub::DEFAULT_HUB;
use crate::web::run::state::AppState;
use crate::web::run::{self as actions, RunSource};

/// Asks before the first request to a Hub address that came from a link.
#[component]
pub fn HubConfirm() -> impl IntoView {
    let state = expect_context::<AppState>();
    let pending = move || state.hub_to_confirm.get();
    view! {
        {move || {
            pending()
                .map(|hub| {
                    let repo = state.settings.with_untracked(|s| s.repo.clone());
                    view! {
                        <section class="card hub-confirm" role="alertdialog" aria-labelledby="hub-confirm-title" data-testid="hub-confirm-card">
                            <h2 id="hub-confirm-title">"This link reads from another Hub"</h2>
                            <p>
                                "The link asks to download "
                                <code>{repo}</code>
                                " from"
                            </p>
                            <p class="hub-endpoint mono" data-testid="hub-endpoint">{hub.clone()}</p>
                            <p class="hint">
                                {format!("instead of {DEFAULT_HUB}. Nothing has been requested from it yet. Continue only if you trust this address: the files it sends are read as data and shown as text, and no cookies or credentials are sent.")}
                            </p>
                            <div class="error-actions">
                                <button type="button" data-testid="hub-confirm" on:click=move |_| {
                                    actions::start_run(state, RunSource::Hub);
                                }>{format!("Connect to {hub}")}</button>
                                <button type="button" data-testid="hub-use-default" on:click=move |_| {
                                    let previous = state.settings.get_untracked();
                                    let mut next = previous.clone();
                                    next.hub = DEFAULT_HUB.to_owned();
                                    actions::write_url(&next, true);
                                    state.hub_to_confirm.set(None);
                                    actions::apply_settings(state, next, &previous);
                                }>"Use the Hugging Face Hub instead"</button>
                            </div>
                        </section>
                    }
                })
        }}
    }
}
