//! Small helpers around JavaScript values and timers.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Turns a thrown JavaScript value into readable text (`Error.message`, a string, or its
/// debug form).
pub fn js_error_text(value: &JsValue) -> String {
    if let Some(error) = value.dyn_ref::<js_sys::Error>() {
        let name = String::from(error.name());
        let message = String::from(error.message());
        if name.is_empty() || name == "Error" {
            return message;
        }
        return format!("{name}: {message}");
    }
    if let Some(text) = value.as_string() {
        return text;
    }
    format!("{value:?}")
}

/// Returns the high-resolution time in milliseconds, in a window or a worker.
pub fn now_ms() -> f64 {
    let global = js_sys::global();
    if let Some(window) = global.dyn_ref::<web_sys::Window>() {
        if let Some(performance) = window.performance() {
            return performance.now();
        }
    }
    if let Some(scope) = global.dyn_ref::<web_sys::WorkerGlobalScope>() {
        if let Some(performance) = scope.performance() {
            return performance.now();
        }
    }
    js_sys::Date::now()
}

/// Waits for `delay_ms` milliseconds on the event loop, letting the browser render.
pub async fn sleep_ms(delay_ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        if let Some(window) = web_sys::window() {
            let scheduled =
                window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, delay_ms);
            if scheduled.is_ok() {
                return;
            }
        }
        // Without a timer, resolve at once rather than hanging.
        let _ignored = resolve.call0(&JsValue::NULL);
    });
    let _ignored = JsFuture::from(promise).await;
}

/// Waits until the browser has painted the next frame.
pub async fn next_frame() {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        if let Some(window) = web_sys::window() {
            if window.request_animation_frame(&resolve).is_ok() {
                return;
            }
        }
        let _ignored = resolve.call0(&JsValue::NULL);
    });
    let _ignored = JsFuture::from(promise).await;
}
