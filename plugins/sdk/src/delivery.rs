//! The typed input and output of [`Plugin::handle`](crate::Plugin::handle).

use crate::bindings::hookgate::plugin::types as wit;
use crate::{Endpoint, Event, Header};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// One delivery: the event, the endpoint and the body and headers about to be sent.
///
/// The body is usually Hookgate's JSON envelope `{id, type, timestamp, data}`, or the previous
/// plugin's output when plugins are chained, so read it with [`Delivery::json`] rather than
/// assuming a shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    inner: wit::Delivery,
}

impl Delivery {
    /// Builds a delivery by hand, for tests and tools (the host builds the real ones).
    pub fn new(
        id: impl Into<String>,
        event: Event,
        endpoint: Endpoint,
        body: impl Into<Vec<u8>>,
        headers: Vec<Header>,
    ) -> Self {
        Self {
            inner: wit::Delivery {
                id: id.into(),
                event,
                endpoint,
                body: body.into(),
                headers,
            },
        }
    }

    /// Delivery id (`del_…`), stable across retries of the same delivery.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The event being delivered (id, type, tenant, timestamp).
    pub fn event(&self) -> &Event {
        &self.inner.event
    }

    /// Shorthand for `self.event().event_type`, e.g. `invoice.paid`.
    pub fn event_type(&self) -> &str {
        &self.inner.event.event_type
    }

    /// The endpoint the delivery goes to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    /// The raw body about to be sent.
    pub fn body(&self) -> &[u8] {
        &self.inner.body
    }

    /// The custom headers about to be sent (signature headers are added later by the host).
    pub fn headers(&self) -> &[Header] {
        &self.inner.headers
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::headers::get(&self.inner.headers, name)
    }

    /// Parses the body as JSON. The error says why, ready to return from `handle`.
    pub fn json(&self) -> Result<Value, String> {
        self.json_as()
    }

    /// Parses the body as JSON into `T`.
    pub fn json_as<T: DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_slice(&self.inner.body).map_err(|e| format!("body is not valid JSON: {e}"))
    }

    /// Sends the body and headers as they are.
    pub fn deliver_unchanged(self) -> Decision {
        let (body, headers) = self.into_body_and_headers();
        Decision::deliver(body, headers)
    }

    /// Takes the body and headers, e.g. to edit the headers and pass them on.
    pub fn into_body_and_headers(self) -> (Vec<u8>, Vec<Header>) {
        (self.inner.body, self.inner.headers)
    }
}

impl From<wit::Delivery> for Delivery {
    fn from(inner: wit::Delivery) -> Self {
        Self { inner }
    }
}

/// What to do with a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send this body with these custom headers (the next plugin in a chain gets it as input).
    Deliver {
        /// The body to send.
        body: Vec<u8>,
        /// The custom headers to send. The host rejects invalid names or values (CR/LF) and
        /// headers it owns, such as `Host` or the signature headers.
        headers: Vec<Header>,
    },
    /// Do not send: the delivery becomes `filtered`, with this reason.
    Drop(String),
}

impl Decision {
    /// Send `body` with `headers`.
    pub fn deliver(body: impl Into<Vec<u8>>, headers: Vec<Header>) -> Self {
        Decision::Deliver {
            body: body.into(),
            headers,
        }
    }

    /// Send `value` serialized as compact JSON, with `headers`.
    pub fn deliver_json(value: &Value, headers: Vec<Header>) -> Self {
        // `Value`'s Display is serde_json's infallible compact serializer (keys are strings).
        Self::deliver(value.to_string(), headers)
    }

    /// Do not send; `reason` is recorded on the delivery, so say which rule decided.
    pub fn drop(reason: impl Into<String>) -> Self {
        Decision::Drop(reason.into())
    }

    /// Whether this is a [`Decision::Drop`].
    pub fn is_drop(&self) -> bool {
        matches!(self, Decision::Drop(_))
    }

    /// The body to send, or `None` for a drop.
    pub fn body(&self) -> Option<&[u8]> {
        match self {
            Decision::Deliver { body, .. } => Some(body),
            Decision::Drop(_) => None,
        }
    }

    /// The body to send parsed as JSON (`None` for a drop or a non-JSON body); handy in tests.
    pub fn json(&self) -> Option<Value> {
        self.body().and_then(|b| serde_json::from_slice(b).ok())
    }

    /// The headers to send (empty for a drop).
    pub fn headers(&self) -> &[Header] {
        match self {
            Decision::Deliver { headers, .. } => headers,
            Decision::Drop(_) => &[],
        }
    }
}

impl From<Decision> for wit::Decision {
    fn from(d: Decision) -> Self {
        match d {
            Decision::Deliver { body, headers } => {
                wit::Decision::Deliver(wit::Output { body, headers })
            }
            Decision::Drop(reason) => wit::Decision::Drop(reason),
        }
    }
}
