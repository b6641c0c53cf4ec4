//! `ApiError`: every failure the API reports, as RFC 9457 problem+json with a stable `code`.
//!
//! Only this type knows HTTP status codes. Module errors convert into it explicitly, never by
//! matching message strings.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

/// An API failure. `code` is stable (clients may branch on it); `detail` is for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code, e.g. `invalid_event_type`.
    pub code: &'static str,
    /// Human explanation naming the field or value at fault.
    pub detail: String,
    /// Seconds for a `Retry-After` header, when waiting is the cure.
    pub retry_after: Option<u32>,
}

impl ApiError {
    /// Builds an error.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// Adds `Retry-After: secs`.
    pub fn retry_after(mut self, secs: u32) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// 400 with a code.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 404 `not_found` (also what a caller gets for another tenant's objects).
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} {id} not found"),
        )
    }

    fn title(&self) -> &'static str {
        self.status.canonical_reason().unwrap_or("Error")
    }
}

/// `Retry-After` of a 503 `store_unavailable`: a redb reopen takes well under a second once
/// the cause is gone; a client retrying sooner would only be refused again.
const STORE_RETRY_AFTER_S: u32 = 1;

impl ApiError {
    /// 503 `store_full`: free disk space is below `storage.min_free`. Nothing was accepted;
    /// space comes back as the pruner (or the operator) frees it.
    pub fn store_full() -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_full",
            "free disk space is below storage.min_free; nothing was accepted, retry later",
        )
        .retry_after(STORE_FULL_RETRY_AFTER_S)
    }
}

/// `Retry-After` of a 503 `store_full`: space returns by pruning or by an operator, not in
/// milliseconds.
const STORE_FULL_RETRY_AFTER_S: u32 = 5;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_transient() {
            // Expected while a disk is full; the store logs the cause once, not per request.
            tracing::debug!(error = %e, "store unavailable answering a request");
        } else {
            tracing::error!(error = %e, "store failure answering a request");
        }
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the event store is unavailable; nothing was accepted, retry later",
        )
        .retry_after(STORE_RETRY_AFTER_S)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "type": format!("urn:hookgate:problem:{}", self.code),
            "title": self.title(),
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
        });
        let mut resp = (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, secs.into());
        }
        resp
    }
}
