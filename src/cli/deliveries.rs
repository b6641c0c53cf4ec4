//! `hookgate deliveries list|get|retry`: what was sent where, every attempt's outcome, and a
//! way to send a dead delivery again.

use clap::{ArgGroup, Subcommand};
use serde_json::{json, Value};

use super::client::Api;
use super::table::{cell, emit, emit_page, fields, trunc, Table};
use super::{ApiArgs, PageArgs};

/// The statuses a delivery can have (the API's spelling), offered for `--status`.
pub const STATUSES: [&str; 5] = ["pending", "succeeded", "dead", "filtered", "cancelled"];

/// `hookgate deliveries …`
#[derive(Debug, Subcommand)]
pub enum DeliveriesCommand {
    /// Show one delivery with its attempts.
    Get {
        /// Delivery id.
        id: String,
        /// Which gateway, which key, table or JSON.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// List the deliveries of one endpoint or of one event, newest first.
    #[command(group(ArgGroup::new("of").required(true).args(["endpoint", "event"])))]
    List {
        /// The endpoint whose deliveries to list.
        #[arg(long)]
        endpoint: Option<String>,
        /// The event whose deliveries to list (one per endpoint it went to).
        #[arg(long)]
        event: Option<String>,
        /// Only deliveries with this status.
        #[arg(long, value_parser = STATUSES)]
        status: Option<String>,
        /// Page size and cursor.
        #[command(flatten)]
        page: PageArgs,
        /// Which gateway, which key, table or JSON.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Send a delivery again now (e.g. a dead one after the receiver is fixed).
    Retry {
        /// Delivery id.
        id: String,
        /// Which gateway, which key, table or JSON.
        #[command(flatten)]
        api: ApiArgs,
    },
}

/// Runs a `deliveries` subcommand.
pub async fn run(cmd: DeliveriesCommand) -> anyhow::Result<()> {
    match cmd {
        DeliveriesCommand::Get { id, api } => {
            let v = Api::new(&api)?.get(&["v1", "deliveries", &id], &[]).await?;
            emit(api.json, &v, detail);
        }
        DeliveriesCommand::List {
            endpoint,
            event,
            status,
            page,
            api,
        } => {
            let [limit, cursor] = page.query();
            let path = match (&endpoint, &event) {
                (Some(ep), _) => ["v1", "endpoints", ep.as_str(), "deliveries"],
                (None, Some(ev)) => ["v1", "events", ev.as_str(), "deliveries"],
                (None, None) => unreachable!("clap requires --endpoint or --event"),
            };
            let query = [("status", status.clone()), limit, cursor];
            let mut v = Api::new(&api)?.get(&path, &query).await?;
            if let Some(st) = &status {
                // The contract names `status=` only for an endpoint's list; filter the page here
                // too so `--event X --status dead` is right whether or not the server does it.
                keep_status(&mut v, st);
            }
            let by_event = event.is_some();
            emit_page(api.json, &v, "deliveries", |items| {
                list_table(items, by_event)
            });
        }
        DeliveriesCommand::Retry { id, api } => {
            let v = Api::new(&api)?
                .post(&["v1", "deliveries", &id, "retry"], &json!({}))
                .await?;
            emit(api.json, &v, |v| {
                format!(
                    "delivery {} queued for retry (status {}, {} attempts so far)\n\
                     follow it: hookgate deliveries get {}\n",
                    cell(v, "id"),
                    cell(v, "status"),
                    cell(v, "attempts"),
                    cell(v, "id")
                )
            });
        }
    }
    Ok(())
}

fn keep_status(page: &mut Value, status: &str) {
    if let Some(items) = page.get_mut("data").and_then(Value::as_array_mut) {
        items.retain(|d| d.get("status").and_then(Value::as_str) == Some(status));
    }
}

/// The last outcome in one cell: the HTTP status when there was an answer, else the error.
fn last_result(d: &Value) -> String {
    match d.get("last_status_code") {
        Some(code) if !code.is_null() => code.to_string(),
        _ => trunc(&cell(d, "last_error"), 40),
    }
}

/// Listing one endpoint's deliveries, the other side is the event; one event's, the endpoint.
fn list_table(items: &[Value], by_event: bool) -> Table {
    let (other_head, other_key) = if by_event {
        ("ENDPOINT", "endpoint_id")
    } else {
        ("EVENT", "event_id")
    };
    let mut t = Table::new(&[
        "DELIVERY", other_head, "STATUS", "ATTEMPTS", "LAST", "UPDATED",
    ]);
    for d in items {
        t.row(vec![
            cell(d, "id"),
            cell(d, other_key),
            cell(d, "status"),
            cell(d, "attempts"),
            last_result(d),
            cell(d, "updated_at"),
        ]);
    }
    t
}

/// One delivery: its fields, then one row per attempt. The exact body and request headers are
/// long and byte-exact, so they are left to `--json`.
fn detail(v: &Value) -> String {
    let mut out = fields(&[
        ("delivery", cell(v, "id")),
        (
            "event",
            format!("{}  {}", cell(v, "event_id"), cell(v, "event_type")),
        ),
        ("endpoint", cell(v, "endpoint_id")),
        ("tenant", cell(v, "tenant")),
        ("status", cell(v, "status")),
        ("attempts", cell(v, "attempts")),
        ("next attempt", cell(v, "next_attempt_at")),
        ("last result", last_result(v)),
        ("created", cell(v, "created_at")),
    ]);
    let attempts = v["attempt_log"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if !attempts.is_empty() {
        let mut t = Table::new(&["N", "STARTED", "CODE", "MS", "ERROR"]);
        for a in attempts {
            t.row(vec![
                cell(a, "n"),
                cell(a, "started_at"),
                cell(a, "status_code"),
                cell(a, "latency_ms"),
                trunc(&cell(a, "error"), 60),
            ]);
        }
        out.push('\n');
        out.push_str(&t.render());
    }
    out.push_str("(--json shows the exact body, request headers and response bodies)\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_shows_the_other_side_and_the_last_result() {
        let items = [
            json!({"id": "del_1", "event_id": "evt_1", "endpoint_id": "ep", "status": "dead",
                   "attempts": 8, "last_status_code": 503, "updated_at": "t1"}),
            json!({"id": "del_2", "event_id": "evt_2", "endpoint_id": "ep", "status": "pending",
                   "attempts": 1, "last_status_code": null, "last_error": "connection refused",
                   "updated_at": "t2"}),
        ];
        assert_eq!(
            list_table(&items, false).render(),
            "DELIVERY  EVENT  STATUS   ATTEMPTS  LAST                UPDATED\n\
             del_1     evt_1  dead     8         503                 t1\n\
             del_2     evt_2  pending  1         connection refused  t2\n"
        );
        assert!(list_table(&items, true)
            .render()
            .starts_with("DELIVERY  ENDPOINT"));
    }

    #[test]
    fn status_filter_keeps_only_matching_rows() {
        let mut page =
            json!({"data": [{"status": "dead"}, {"status": "pending"}], "next_cursor": null});
        keep_status(&mut page, "dead");
        assert_eq!(page["data"], json!([{"status": "dead"}]));
    }
}
