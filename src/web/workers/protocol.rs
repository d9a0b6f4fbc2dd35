//! The envelope of the page↔worker messages, whose types live in the core
//! ([`crate::pure::protocol`]).
//!
//! Page → worker: a JavaScript object `{ message, bytes?, port? }`. `message` is the JSON text of
//! one [`ToWorker`]; beside it travel what serde cannot carry: the tensor bytes as a transferred
//! `ArrayBuffer` (a [`ToWorker::Job`] whose bytes were not streamed, or a [`ToWorker::Chunk`])
//! and one end of a `MessageChannel` (a [`ToWorker::Job`] with two parts).
//! Worker → page: the JSON text of one [`FromWorker`].
//!
//! This module and `web::platform::js` are all the worker side ([`super::worker`],
//! [`super::stream`]) uses of the shell, and only [`super::bridge`] posts to the workers
//! (`scripts/check_layers.py` checks both).

use js_sys::{Array, ArrayBuffer, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::MessagePort;

pub use crate::pure::protocol::{
    admit, Admission, FromWorker, JobFailure, JobId, JobOwner, JobSpec, PartJob, ToWorker,
};

/// The property of the envelope that holds the JSON text of the [`ToWorker`] message.
const MESSAGE_KEY: &str = "message";

/// The property of the envelope that holds the tensor bytes, an `ArrayBuffer`.
const BYTES_KEY: &str = "bytes";

/// The property of the envelope that holds one end of the job's `MessageChannel`.
const PORT_KEY: &str = "port";

/// One page → worker message with what travels beside it.
pub struct Envelope {
    /// The typed message.
    pub message: ToWorker,
    /// Tensor bytes, transferred.
    pub bytes: Option<ArrayBuffer>,
    /// One end of the job's channel between its two workers, transferred.
    pub port: Option<MessagePort>,
}

impl Envelope {
    /// A message with nothing beside it.
    pub fn new(message: ToWorker) -> Self {
        Self {
            message,
            bytes: None,
            port: None,
        }
    }

    /// The JavaScript object to post and its transfer list.
    ///
    /// # Errors
    /// What went wrong, for a message that cannot be encoded or an object the browser refused.
    pub fn to_js(&self) -> Result<(Object, Array), String> {
        let text = self
            .message
            .to_json()
            .map_err(|err| format!("the message could not be encoded ({err})"))?;
        let object = Object::new();
        let transfer = Array::new();
        let set = |key: &str, value: &JsValue| {
            Reflect::set(&object, &JsValue::from_str(key), value)
                .map(|_| ())
                .map_err(|_| "the browser refused to build the message".to_owned())
        };
        set(MESSAGE_KEY, &JsValue::from_str(&text))?;
        if let Some(bytes) = &self.bytes {
            set(BYTES_KEY, bytes)?;
            transfer.push(bytes);
        }
        if let Some(port) = &self.port {
            set(PORT_KEY, port)?;
            transfer.push(port);
        }
        Ok((object, transfer))
    }

    /// Reads a posted envelope.
    ///
    /// # Errors
    /// What is wrong with it.
    pub fn from_js(data: &JsValue) -> Result<Self, String> {
        let get = |key: &str| Reflect::get(data, &JsValue::from_str(key)).ok();
        let text = get(MESSAGE_KEY)
            .and_then(|value| value.as_string())
            .ok_or_else(|| "the message holds no text".to_owned())?;
        let message = serde_json::from_str(&text).map_err(|err| err.to_string())?;
        Ok(Self {
            message,
            bytes: get(BYTES_KEY).and_then(|value| value.dyn_into::<ArrayBuffer>().ok()),
            port: get(PORT_KEY).and_then(|value| value.dyn_into::<MessagePort>().ok()),
        })
    }
}

/// The value a worker posts for `message`.
pub fn reply_to_js(message: &FromWorker) -> JsValue {
    JsValue::from_str(&message.to_json())
}

/// Reads a worker's posted reply; `None` for anything else.
pub fn reply_from_js(data: &JsValue) -> Option<FromWorker> {
    serde_json::from_str(&data.as_string()?).ok()
}
