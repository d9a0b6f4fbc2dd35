//! The app shell offline: the service worker's registration, "a new version is available",
//! and whether the browser is online.
//!
//! The service worker (`static/sw.js`, sealed by `scripts/postbuild.mjs`) precaches the exact
//! build. A new deploy installs beside the old one and waits; the page then offers a reload,
//! and only after the user accepts does the new build take over, so one page never mixes files
//! of two builds.

use js_sys::{Object, Reflect};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    ServiceWorker, ServiceWorkerContainer, ServiceWorkerRegistration, ServiceWorkerState,
};

use crate::web::io::saved;
use crate::web::run::state::AppState;

/// The service worker script, relative to the page (so it follows the base path).
const SERVICE_WORKER_URL: &str = "./sw.js";

/// The page's service worker container, when the browser offers one (a secure context).
fn container() -> Option<ServiceWorkerContainer> {
    let navigator = web_sys::window()?.navigator();
    let has = Reflect::has(&navigator, &JsValue::from_str("serviceWorker")).unwrap_or(false);
    has.then(|| navigator.service_worker())
}

/// How often the storage estimate is read again, so that the panel follows what other tabs of
/// the site save and delete.
const ESTIMATE_REFRESH_MS: i32 = 5_000;

/// Registers the service worker and watches for updates and for the network going up or down.
pub fn start(state: AppState) {
    watch_online(state);
    refresh_saved(state);
    let on_tick = Closure::<dyn FnMut()>::new(move || {
        spawn_local(async move {
            let estimate = saved::estimate().await;
            if state.storage_estimate.get_untracked() != estimate {
                state.storage_estimate.set(estimate);
            }
        });
    });
    if let Some(window) = web_sys::window() {
        let _ignored = window.set_interval_with_callback_and_timeout_and_arguments_0(
            on_tick.as_ref().unchecked_ref(),
            ESTIMATE_REFRESH_MS,
        );
    }
    on_tick.forget();
    let Some(container) = container() else {
        return;
    };
    spawn_local(async move {
        let Ok(value) = JsFuture::from(container.register(SERVICE_WORKER_URL)).await else {
            return;
        };
        let Ok(registration) = value.dyn_into::<ServiceWorkerRegistration>() else {
            return;
        };
        watch_registration(state, &container, &registration);
    });
}

/// Shows the update banner when a new build is waiting, now or later.
fn watch_registration(
    state: AppState,
    container: &ServiceWorkerContainer,
    registration: &ServiceWorkerRegistration,
) {
    let controlled = container.controller().is_some();
    if controlled && registration.waiting().is_some() {
        state.update_ready.set(true);
    }
    let reg = registration.clone();
    let container = container.clone();
    let on_update_found = Closure::<dyn FnMut()>::new(move || {
        let Some(installing) = reg.installing() else {
            return;
        };
        let worker = installing.clone();
        let container = container.clone();
        let on_state = Closure::<dyn FnMut()>::new(move || {
            // An installed worker beside a controlling one is a new build waiting.
            if worker.state() == ServiceWorkerState::Installed && container.controller().is_some() {
                state.update_ready.set(true);
            }
        });
        installing.set_onstatechange(Some(on_state.as_ref().unchecked_ref()));
        on_state.forget();
    });
    registration.set_onupdatefound(Some(on_update_found.as_ref().unchecked_ref()));
    on_update_found.forget();
}

/// The Reload button: asks the waiting build to take over; the page reloads when it has.
pub fn apply_update() {
    spawn_local(async move {
        let waiting = match container() {
            Some(container) => {
                reload_on_controller_change(&container);
                match JsFuture::from(container.get_registration()).await {
                    Ok(value) => value
                        .dyn_into::<ServiceWorkerRegistration>()
                        .ok()
                        .and_then(|registration| registration.waiting()),
                    Err(_) => None,
                }
            }
            None => None,
        };
        match waiting {
            Some(worker) => post_skip_waiting(&worker),
            None => {
                if let Some(window) = web_sys::window() {
                    let _ignored = window.location().reload();
                }
            }
        }
    });
}

/// Reloads the page once the new build controls it (set only after the user pressed Reload,
/// so that another tab's update never reloads this one unasked).
fn reload_on_controller_change(container: &ServiceWorkerContainer) {
    let on_controller_change = Closure::<dyn FnMut()>::new(move || {
        if let Some(window) = web_sys::window() {
            let _ignored = window.location().reload();
        }
    });
    container.set_oncontrollerchange(Some(on_controller_change.as_ref().unchecked_ref()));
    on_controller_change.forget();
}

/// Tells a waiting service worker to activate.
fn post_skip_waiting(worker: &ServiceWorker) {
    let message = Object::new();
    let _ignored = Reflect::set(
        &message,
        &JsValue::from_str("type"),
        &JsValue::from_str("skip-waiting"),
    );
    let _ignored = worker.post_message(&message);
}

/// Keeps `state.online` equal to `navigator.onLine`.
fn watch_online(state: AppState) {
    state.online.set(saved::is_online());
    let Some(window) = web_sys::window() else {
        return;
    };
    for event in ["online", "offline"] {
        let on_change = Closure::<dyn FnMut()>::new(move || {
            state.online.set(saved::is_online());
        });
        let _ignored =
            window.add_event_listener_with_callback(event, on_change.as_ref().unchecked_ref());
        on_change.forget();
    }
}

/// Re-reads the saved entries, the storage estimate and the persistence state into the page.
pub fn refresh_saved(state: AppState) {
    spawn_local(async move {
        let index = saved::load_index().await;
        state.saved_entries.set(index.entries);
        state.storage_estimate.set(saved::estimate().await);
        state.storage_persisted.set(saved::is_persisted().await);
    });
}
