//! `limit` and `cursor` query parameters, shared by every listing.

use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

/// Page size when `limit` is absent.
pub const DEFAULT_LIMIT: usize = 50;
/// Largest page.
pub const MAX_LIMIT: usize = 1_000;

/// `?limit=&cursor=`.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    /// Items per page (default 50, at most 1,000).
    #[serde(default)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The effective page size.
    pub fn limit(&self) -> usize {
        limit(self.limit)
    }
}

/// The page size for a requested `limit` (queries that carry their own fields use this too).
pub fn limit(requested: Option<usize>) -> usize {
    requested.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
}

/// The page size for a listing whose default is its largest page, so that a small answer
/// (an event's deliveries, the per-endpoint rows of `/v1/stats`) comes back whole as it did
/// before it was paged.
pub fn limit_or_largest(requested: Option<usize>) -> usize {
    limit(requested.or(Some(MAX_LIMIT)))
}

/// The shape of every listing: `{"data": [...], "next_cursor": ...}`.
pub fn list_json(data: Vec<Value>, next_cursor: Option<String>) -> Json<Value> {
    Json(json!({"data": data, "next_cursor": next_cursor}))
}
