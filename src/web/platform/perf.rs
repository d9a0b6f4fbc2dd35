//! Watches the main thread for long tasks (PerformanceObserver "longtask"), so the page can
//! prove it never froze while the analysis ran.

use std::cell::Cell;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{PerformanceEntry, PerformanceObserver, PerformanceObserverEntryList};

thread_local! {
    /// The longest main-thread task seen since the last reset, in milliseconds.
    static LONGEST_TASK_MS: Cell<f64> = const { Cell::new(0.0) };
}

/// Starts observing long tasks for the rest of the page's life. Browsers without
/// "longtask" support simply report 0.
pub fn start_longtask_observer() {
    let callback = Closure::<dyn FnMut(PerformanceObserverEntryList)>::new(
        |list: PerformanceObserverEntryList| {
            for entry in list.get_entries().iter() {
                if let Some(entry) = entry.dyn_ref::<PerformanceEntry>() {
                    let duration_ms = entry.duration();
                    LONGEST_TASK_MS.with(|longest| {
                        if duration_ms > longest.get() {
                            longest.set(duration_ms);
                        }
                    });
                }
            }
        },
    );
    let Ok(observer) = PerformanceObserver::new(callback.as_ref().unchecked_ref()) else {
        return;
    };
    let init =
        web_sys::PerformanceObserverInit::new(&js_sys::Array::of1(&JsValue::from_str("longtask")));
    observer.observe(&init);
    // The observer lives as long as the page.
    callback.forget();
}

/// Forgets long tasks seen so far; call when an analysis starts.
pub fn reset_longest_task() {
    LONGEST_TASK_MS.with(|longest| longest.set(0.0));
}

/// Returns the longest main-thread task since the last reset, in milliseconds.
pub fn longest_task_ms() -> f64 {
    LONGEST_TASK_MS.with(Cell::get)
}
