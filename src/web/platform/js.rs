//! Small helpers around JavaScript values and timers.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
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

/// Bytes copied out of WebAssembly memory into JavaScript per browser task when a large
/// buffer is handed over (to a worker, to storage): a few milliseconds of copying.
pub const COPY_BYTES_PER_TASK: usize = 4 << 20;

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

/// Whether every one of `selectors` matches an element of the page's document (true outside
/// a window, where there is nothing to wait for).
fn document_has_all(selectors: &[&str]) -> bool {
    let Some(document) = web_sys::window().and_then(|window| window.document()) else {
        return true;
    };
    selectors
        .iter()
        .all(|selector| matches!(document.query_selector(selector), Ok(Some(_))))
}

/// Waits until every one of `selectors` matches an element of the document, watching the
/// document's changes (no polling), or until `timeout_ms` have passed.
pub async fn wait_for_elements(selectors: &'static [&'static str], timeout_ms: i32) {
    if document_has_all(selectors) {
        return;
    }
    let Some(document) = web_sys::window().and_then(|window| window.document()) else {
        return;
    };
    let mut observer_slot: Option<web_sys::MutationObserver> = None;
    let mut callback_slot: Option<Closure<dyn FnMut()>> = None;
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let resolve_on_change = resolve.clone();
        let callback = Closure::<dyn FnMut()>::new(move || {
            if document_has_all(selectors) {
                let _ignored = resolve_on_change.call0(&JsValue::NULL);
            }
        });
        if let Ok(observer) = web_sys::MutationObserver::new(callback.as_ref().unchecked_ref()) {
            let options = web_sys::MutationObserverInit::new();
            options.set_child_list(true);
            options.set_subtree(true);
            if observer.observe_with_options(&document, &options).is_ok() {
                observer_slot = Some(observer);
            }
        }
        callback_slot = Some(callback);
        let timed = web_sys::window().is_some_and(|window| {
            window
                .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, timeout_ms)
                .is_ok()
        });
        if observer_slot.is_none() && !timed {
            let _ignored = resolve.call0(&JsValue::NULL);
        }
    });
    let _ignored = JsFuture::from(promise).await;
    if let Some(observer) = observer_slot {
        observer.disconnect();
    }
    drop(callback_slot);
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

#[wasm_bindgen]
extern "C" {
    /// The browser's `MessageChannel`.
    type MessageChannel;

    #[wasm_bindgen(constructor, catch)]
    fn new() -> Result<MessageChannel, JsValue>;

    #[wasm_bindgen(method, getter)]
    fn port1(this: &MessageChannel) -> MessagePort;

    #[wasm_bindgen(method, getter)]
    fn port2(this: &MessageChannel) -> MessagePort;

    /// One end of a `MessageChannel`.
    type MessagePort;

    #[wasm_bindgen(method, setter)]
    fn set_onmessage(this: &MessagePort, handler: &js_sys::Function);

    #[wasm_bindgen(method, catch, js_name = postMessage)]
    fn post_message(this: &MessagePort, message: &JsValue) -> Result<(), JsValue>;
}

/// Ends the current browser task and continues in a new one, so the browser can run other
/// tasks (input, rendering) in between. Falls back to a zero-delay timer without
/// `MessageChannel`.
pub async fn yield_to_browser() {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        if let Ok(channel) = MessageChannel::new() {
            let (receiver, sender) = (channel.port1(), channel.port2());
            receiver.set_onmessage(&resolve);
            if sender.post_message(&JsValue::UNDEFINED).is_ok() {
                return;
            }
        }
        if let Some(window) = web_sys::window() {
            if window
                .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0)
                .is_ok()
            {
                return;
            }
        }
        let _ignored = resolve.call0(&JsValue::NULL);
    });
    let _ignored = JsFuture::from(promise).await;
}

#[wasm_bindgen]
extern "C" {
    /// `navigator.locks`, the Web Locks API (web-sys has it only behind an unstable cfg).
    pub type LockManager;

    /// `request(name, callback)`: calls `callback` once the lock `name` is granted, and holds
    /// the lock until the promise the callback returns settles. The returned promise settles
    /// with it, and rejects when the request fails.
    #[wasm_bindgen(method, catch)]
    pub fn request(
        this: &LockManager,
        name: &str,
        callback: &js_sys::Function,
    ) -> Result<js_sys::Promise, JsValue>;
}

/// `navigator.locks` of the global scope this code runs in (a page or a worker), when the
/// browser has Web Locks (every current browser, in a secure context).
pub fn lock_manager() -> Option<LockManager> {
    let navigator =
        js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("navigator")).ok()?;
    let locks = js_sys::Reflect::get(&navigator, &JsValue::from_str("locks")).ok()?;
    locks.is_object().then(|| locks.unchecked_into())
}
