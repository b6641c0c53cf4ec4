//! Outbound HTTP to allow-listed origins only (`allow: { http: ["https://api.example.com"] }`).
//!
//! Requests go through the gateway's SSRF guard with a timeout; anything not allowed returns
//! the host's error text. Each call adds latency to the delivery, so cache results in [`kv`]
//! when you can.
//!
//! [`kv`]: crate::kv

use crate::Header;
use serde_json::Value;

pub use crate::bindings::hookgate::plugin::http::{Method, Request, Response};

/// Sends `request` as is.
pub fn send(request: &Request) -> Result<Response, String> {
    crate::host::http_send(request)
}

/// `GET url` with `headers`.
pub fn get(url: &str, headers: &[Header]) -> Result<Response, String> {
    send(&Request {
        method: Method::Get,
        url: url.to_owned(),
        headers: headers.to_vec(),
        body: None,
    })
}

/// `POST url` with `headers` and `body`.
pub fn post(url: &str, headers: &[Header], body: impl Into<Vec<u8>>) -> Result<Response, String> {
    send(&Request {
        method: Method::Post,
        url: url.to_owned(),
        headers: headers.to_vec(),
        body: Some(body.into()),
    })
}

/// `POST url` with `value` as a JSON body and `content-type: application/json` added.
pub fn post_json(url: &str, headers: &[Header], value: &Value) -> Result<Response, String> {
    let mut headers = headers.to_vec();
    crate::headers::set(&mut headers, "content-type", "application/json");
    post(url, &headers, value.to_string())
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("response is not valid JSON: {e}"))
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str, String> {
        std::str::from_utf8(&self.body).map_err(|e| format!("response is not UTF-8: {e}"))
    }

    /// The first response header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::headers::get(&self.headers, name)
    }
}
