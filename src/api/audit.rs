//! `GET /v1/audit`: the management actions, newest first (admin keys bound to no tenant).

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::body::Params;
use super::error::ApiError;
use super::paging::{list_json, PageQuery};
use super::ApiState;
use crate::store::rfc3339;

/// `GET /v1/audit?limit=&cursor=`
pub async fn list(
    State(state): State<ApiState>,
    Params(q): Params<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let page = state
        .store
        .audit_log(q.cursor.as_deref(), q.limit())
        .await?;
    let data: Vec<Value> = page
        .items
        .iter()
        .map(|e| {
            json!({
                "id": e.id,
                "at": rfc3339(e.at_ms),
                "actor": e.actor,
                "action": e.action,
                "target": e.target,
                "tenant": e.tenant,
                "before": e.before,
                "after": e.after,
            })
        })
        .collect();
    Ok(list_json(data, page.next_cursor))
}
