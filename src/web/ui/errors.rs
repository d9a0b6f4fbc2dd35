//! Messages in the page: the last error with its ways out, notes about the URL, and the
//! row-offset note for models whose first rows are not positions.

use leptos::prelude::*;

use crate::web::run::state::{AppState, Status};
use crate::web::run::{self as actions, RunSource};

/// The error card, shown when the state is `error`.
#[component]
pub fn ErrorPanel() -> impl IntoView {
    let state = expect_context::<AppState>();
    let error = move || {
        state.status.with(|status| match status {
            Status::Error(info) => Some(info.clone()),
            _ => None,
        })
    };
    view! {
        {move || {
            error()
                .map(|info| {
                    view! {
                        <section class="card error-card" role="alert">
                            <h2>{info.title.clone()}</h2>
                            <p data-testid="error" data-kind=info.kind.as_str()>{info.message.clone()}</p>
                            <div class="error-actions">
                                {info.offer_picker.then(|| view! {
                                    <span class="hint">"Choose a tensor in the picker above to analyse it instead."</span>
                                })}
                                {info.offer_sample.then(|| view! {
                                    <button type="button" data-testid="error-use-sample" on:click=move |_| {
                                        state.settings.update(|s| s.tensor = None);
                                        actions::start_run(state, RunSource::Sample);
                                    }>"Use the built-in sample instead"</button>
                                })}
                                <button type="button" on:click=move |_| actions::retry(state)>"Retry"</button>
                            </div>
                        </section>
                    }
                })
        }}
    }
}

/// Notes from decoding the URL: values that were rejected and what was used instead.
#[component]
pub fn UrlNotes() -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
        <Show when=move || state.url_notes.with(|notes| !notes.is_empty())>
            <section class="card notes" data-testid="url-notes">
                <h2>"About this link"</h2>
                <ul>
                    {move || state.url_notes.get().into_iter().map(|note| view! { <li>{note}</li> }).collect_view()}
                </ul>
                <button type="button" on:click=move |_| state.url_notes.set(Vec::new())>"Dismiss"</button>
            </section>
        </Show>
    }
}

/// Explains rows that are not positions (OPT, RoBERTa, ViT) and offers to skip them.
#[component]
pub fn OffsetNote() -> impl IntoView {
    let state = expect_context::<AppState>();
    let offset = move || {
        state.result.with(|r| {
            r.as_ref().and_then(|r| {
                (r.view.row_offset > 0).then(|| {
                    (
                        r.view.row_offset,
                        r.view.row_offset_reason.clone().unwrap_or_default(),
                    )
                })
            })
        })
    };
    view! {
        {move || {
            offset()
                .map(|(rows, reason)| {
                    let skipping = state.settings.with(|s| s.skip_offset);
                    view! {
                        <section class="card offset-note" data-testid="offset-note">
                            <p>
                                <strong>{format!("The first {rows} row(s) are not positions. ")}</strong>
                                {reason}
                            </p>
                            <label class="check">
                                <input
                                    data-testid="skip-offset"
                                    type="checkbox"
                                    prop:checked=skipping
                                    on:change=move |ev| {
                                        let checked = event_target_checked(&ev);
                                        let previous = state.settings.get_untracked();
                                        let mut next = previous.clone();
                                        next.skip_offset = checked;
                                        actions::write_url(&next, true);
                                        actions::apply_settings(state, next, &previous);
                                    }
                                />
                                <span>{format!("Skip these {rows} row(s) before the analysis")}</span>
                            </label>
                        </section>
                    }
                })
        }}
    }
}
