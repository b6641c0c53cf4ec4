//! `POST /v1/events`, `POST /v1/events/batch`, `GET /v1/events[/{id}]`, and the one-endpoint
//! `webhook.test` event.
//!
//! Publishing validates everything first, decides the fan-out, then hands the whole request to
//! the store in one call: the 2xx is sent only after the events and their deliveries are durable.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::auth::Caller;
use super::body::Params;
use super::error::ApiError;
use super::paging::{self, list_json};
use super::ApiState;
use crate::config::{is_valid_event_type, is_valid_id};
use crate::dispatch::fanout;
use crate::store::{
    envelope, new_delivery_id, new_event_id, now_ms, rfc3339, DeliveryRef, EventFilter,
    EventRecord, Ingested, NewEvent,
};

/// Largest accepted `data` of one event (SPEC §3), and the body limit of `POST /v1/events`.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;
/// Most events in one batch.
pub const MAX_BATCH: usize = 1_000;
/// Body limit of `POST /v1/events/batch`.
pub const MAX_BATCH_BYTES: usize = 32 * 1024 * 1024;

/// One event as a publisher sends it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishRequest {
    #[serde(rename = "type")]
    event_type: String,
    data: Box<RawValue>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    tenant: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRequest {
    events: Vec<PublishRequest>,
}

fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        None => Ok(()),
        Some(ct)
            if ct
                .split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")) =>
        {
            Ok(())
        }
        Some(ct) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("Content-Type must be application/json, got {ct:?}"),
        )),
    }
}

fn body_or_413(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ApiError> {
    body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("request body exceeds {limit} bytes"),
            )
        } else {
            ApiError::bad_request("invalid_body", r.body_text())
        }
    })
}

fn parse_json<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::bad_request("invalid_json", format!("body is not valid JSON: {e}"))
            }
            Category::Data => ApiError::bad_request("invalid_body", e.to_string()),
        }
    })
}

/// Validates one request and builds its record with fan-out. `at` prefixes messages in batches.
fn build(
    state: &ApiState,
    caller: &Caller,
    req: PublishRequest,
    at: &str,
) -> Result<NewEvent, ApiError> {
    if !is_valid_event_type(&req.event_type) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_event_type",
            format!(
                "{at}type {:?} must match [A-Za-z0-9_.-]{{1,128}}",
                req.event_type
            ),
        ));
    }
    if let Some(id) = &req.id {
        if !is_valid_id(id) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_id",
                format!("{at}id {id:?} must match [A-Za-z0-9_.:-]{{1,128}}"),
            ));
        }
    }
    if let Some(t) = &req.tenant {
        if !is_valid_id(t) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_tenant",
                format!("{at}tenant {t:?} must match [A-Za-z0-9_.:-]{{1,128}}"),
            ));
        }
    }
    if req.data.get().len() > MAX_EVENT_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("{at}data exceeds {MAX_EVENT_BYTES} bytes"),
        ));
    }
    let tenant = caller.publish_tenant(req.tenant.as_deref())?;
    let id = req.id.unwrap_or_else(new_event_id);
    let ts = now_ms();
    let stamp = rfc3339(ts);
    let body = envelope(&id, &req.event_type, &stamp, &req.data);
    let deliveries = fanout::plan(&state.registry, &tenant, &req.event_type);
    let event = EventRecord {
        id,
        event_type: req.event_type,
        tenant,
        timestamp_ms: ts,
        body,
        fanout: 0,
    };
    Ok(NewEvent::new(event, deliveries))
}

/// One event as publish answers it, serialized straight from the store's refs. Building a
/// `serde_json::Value` per delivery cost ~700 bytes each: 140 MB of heap for the 6 MB answer
/// to an event fanned out to 100,000 endpoints (heaptrack). Fields in the order the `json!`
/// maps printed them (sorted), so the bytes are what they were.
#[derive(Serialize)]
struct Published<'a> {
    deliveries: Refs<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duplicate: Option<bool>,
    id: &'a str,
}

impl<'a> Published<'a> {
    fn new(e: &'a NewEvent, duplicate: Option<bool>) -> Self {
        Published {
            deliveries: Refs(&e.deliveries),
            duplicate,
            id: &e.event.id,
        }
    }
}

/// An event's deliveries as `[{"endpoint_id", "id"}, …]`.
struct Refs<'a>(&'a [DeliveryRef]);

impl Serialize for Refs<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Ref<'a> {
            endpoint_id: &'a str,
            id: &'a str,
        }
        s.collect_seq(self.0.iter().map(|d| Ref {
            endpoint_id: &d.endpoint_id,
            id: &d.id,
        }))
    }
}

/// Wakes the scheduler for every delivery that was just made durable.
fn announce(state: &ApiState, results: &[Ingested]) {
    for r in results {
        if let Ingested::Created(e) = r {
            crate::metrics::global().published.inc();
            for d in &e.deliveries {
                state.signal.mark(&d.endpoint_id, 0);
            }
        }
    }
}

/// `POST /v1/events`
/// Refuses new work while the disk is below its reserve (attempts are still recorded).
fn refuse_when_full(state: &ApiState) -> Result<(), ApiError> {
    if state.headroom.is_low() {
        return Err(ApiError::store_full());
    }
    Ok(())
}

pub async fn publish(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    check_content_type(&headers)?;
    refuse_when_full(&state)?;
    let body = body_or_413(body, MAX_EVENT_BYTES + 4096)?;
    let req: PublishRequest = parse_json(&body)?;
    let record = build(&state, &caller, req, "")?;
    let mut results = state.store.ingest(vec![record]).await?;
    announce(&state, &results);
    let (status, ev) = match results.pop() {
        Some(Ingested::Created(e)) => (StatusCode::ACCEPTED, e),
        Some(Ingested::Duplicate(e)) => (StatusCode::OK, e),
        None => return Err(ApiError::from(crate::store::StoreError::Closed)),
    };
    Ok((status, Json(Published::new(&ev, None))).into_response())
}

/// `POST /v1/events/batch`: all or nothing.
pub async fn publish_batch(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    check_content_type(&headers)?;
    refuse_when_full(&state)?;
    let body = body_or_413(body, MAX_BATCH_BYTES)?;
    let req: BatchRequest = parse_json(&body)?;
    if req.events.is_empty() {
        return Err(ApiError::bad_request(
            "empty_batch",
            "events must not be empty",
        ));
    }
    if req.events.len() > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!("{} events; at most {MAX_BATCH} per batch", req.events.len()),
        ));
    }
    let mut records = Vec::with_capacity(req.events.len());
    for (i, r) in req.events.into_iter().enumerate() {
        records.push(
            build(&state, &caller, r, &format!("events[{i}].")).map_err(|mut e| {
                if !e.detail.starts_with("events[") {
                    e.detail = format!("events[{i}]: {}", e.detail);
                }
                e
            })?,
        );
    }
    let results = state.store.ingest(records).await?;
    announce(&state, &results);
    let events: Vec<Published<'_>> = results
        .iter()
        .map(|r| match r {
            Ingested::Created(e) => Published::new(e, Some(false)),
            Ingested::Duplicate(e) => Published::new(e, Some(true)),
        })
        .collect();
    /// The batch answer, typed for the same reason as [`Published`].
    #[derive(Serialize)]
    struct Batch<'a> {
        events: Vec<Published<'a>>,
    }
    Ok((StatusCode::ACCEPTED, Json(Batch { events })).into_response())
}

/// The event `id` if the caller may see it; 404 otherwise (also for other tenants' ids).
pub async fn find(state: &ApiState, caller: &Caller, id: &str) -> Result<EventRecord, ApiError> {
    state
        .store
        .event(id)
        .await?
        .filter(|e| caller.sees(&e.tenant))
        .ok_or_else(|| ApiError::not_found("event", id))
}

/// `GET /v1/events/{id}`
pub async fn get_event(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let ev = find(&state, &caller, &id).await?;
    let body: Value = serde_json::from_str(&ev.body).unwrap_or(Value::Null);
    // The first page of the fan-out (an event may go to every endpoint: the whole list is
    // `GET /v1/events/{id}/deliveries`, paged).
    let page = state
        .store
        .event_deliveries(&ev.id, None, paging::MAX_LIMIT)
        .await?;
    let mut deliveries = Vec::with_capacity(page.items.len());
    for d in &page.items {
        let rec = state.store.delivery(&d.id).await?;
        deliveries.push(match rec {
            Some((r, _)) => json!({"id": r.id, "endpoint_id": r.endpoint_id, "status": r.status, "attempts": r.attempts}),
            None => json!({"id": d.id, "endpoint_id": d.endpoint_id}),
        });
    }
    Ok(Json(json!({
        "id": ev.id,
        "type": ev.event_type,
        "tenant": ev.tenant,
        "timestamp": rfc3339(ev.timestamp_ms),
        "data": body.get("data").cloned().unwrap_or(Value::Null),
        "deliveries": deliveries,
        "delivery_count": ev.fanout,
    })))
}

/// Event type of [`test_event`].
pub const TEST_EVENT_TYPE: &str = "webhook.test";

/// A `webhook.test` event addressed to one endpoint only, whatever its event filter says.
pub fn test_event(endpoint_id: &str, tenant: &str, data: &RawValue) -> NewEvent {
    let id = new_event_id();
    let ts = now_ms();
    let body = envelope(&id, TEST_EVENT_TYPE, &rfc3339(ts), data);
    let event = EventRecord {
        id,
        event_type: TEST_EVENT_TYPE.to_string(),
        tenant: tenant.to_string(),
        timestamp_ms: ts,
        body,
        fanout: 0,
    };
    let delivery = DeliveryRef {
        id: new_delivery_id(),
        endpoint_id: endpoint_id.to_string(),
    };
    NewEvent::new(event, vec![delivery])
}

/// Query of the event listing.
#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    /// Exact event type.
    #[serde(rename = "type")]
    event_type: Option<String>,
    /// Tenant (a tenant-bound key always sees its own only).
    tenant: Option<String>,
    /// Items per page.
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// `GET /v1/events?type=&tenant=&limit=&cursor=`, newest first.
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    Params(q): Params<EventsQuery>,
) -> Result<Json<Value>, ApiError> {
    let tenant = match (&caller.tenant, q.tenant) {
        (Some(own), Some(t)) if *own != t => return Ok(list_json(Vec::new(), None)),
        (Some(own), _) => Some(own.clone()),
        (None, t) => t,
    };
    let filter = EventFilter {
        event_type: q.event_type,
        tenant,
    };
    let page = state
        .store
        .events(&filter, q.cursor.as_deref(), paging::limit(q.limit))
        .await?;
    let data: Vec<Value> = page
        .items
        .iter()
        .map(|e| {
            json!({
                "id": e.id,
                "type": e.event_type,
                "tenant": e.tenant,
                "timestamp": rfc3339(e.timestamp_ms),
                "deliveries": e.fanout,
            })
        })
        .collect();
    Ok(list_json(data, page.next_cursor))
}
