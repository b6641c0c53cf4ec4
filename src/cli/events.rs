//! `hookgate events publish|get|list`: send an event the way an application would, and look
//! at what came in and where it went.

use clap::Subcommand;
use serde_json::{json, Value};

use super::client::Api;
use super::input::json_arg;
use super::table::{cell, emit, emit_page, trunc, Table};
use super::{ApiArgs, PageArgs};

/// `hookgate events …`
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Publish one event.
    Publish {
        /// Event type, e.g. invoice.paid.
        #[arg(value_name = "TYPE")]
        event_type: String,
        /// Event data: inline JSON, or @file to read it from a file (@- for stdin).
        #[arg(long, default_value = "{}")]
        data: String,
        /// Idempotency key (default: generated).
        #[arg(long)]
        id: Option<String>,
        /// Tenant (default: the key's, or `default`).
        #[arg(long)]
        tenant: Option<String>,
        /// Which gateway, which key, table or JSON.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Show one event and its deliveries.
    Get {
        /// Event id.
        id: String,
        /// Which gateway, which key, table or JSON.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// List events, newest first.
    List {
        /// Only this event type, e.g. invoice.paid.
        #[arg(long = "type", value_name = "TYPE")]
        event_type: Option<String>,
        /// Only this tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// Page size and cursor.
        #[command(flatten)]
        page: PageArgs,
        /// Which gateway, which key, table or JSON.
        #[command(flatten)]
        api: ApiArgs,
    },
}

/// Runs an `events` subcommand.
pub async fn run(cmd: EventsCommand) -> anyhow::Result<()> {
    match cmd {
        EventsCommand::Publish {
            event_type,
            data,
            id,
            tenant,
            api,
        } => {
            let mut body = json!({"type": event_type, "data": json_arg("--data", &data)?});
            if let Some(id) = id {
                body["id"] = json!(id);
            }
            if let Some(t) = tenant {
                body["tenant"] = json!(t);
            }
            let v = Api::new(&api)?.post(&["v1", "events"], &body).await?;
            emit(api.json, &v, published);
        }
        EventsCommand::Get { id, api } => {
            let v = Api::new(&api)?.get(&["v1", "events", &id], &[]).await?;
            emit(api.json, &v, event);
        }
        EventsCommand::List {
            event_type,
            tenant,
            page,
            api,
        } => {
            let [limit, cursor] = page.query();
            let query = [("type", event_type), ("tenant", tenant), limit, cursor];
            let v = Api::new(&api)?.get(&["v1", "events"], &query).await?;
            emit_page(api.json, &v, "events", list_table);
        }
    }
    Ok(())
}

fn published(v: &Value) -> String {
    let deliveries = v["deliveries"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut out = format!(
        "event {} accepted, {} deliveries\n",
        cell(v, "id"),
        deliveries.len()
    );
    for d in deliveries {
        out.push_str(&format!(
            "  {}  → {}\n",
            cell(d, "id"),
            cell(d, "endpoint_id")
        ));
    }
    out
}

/// One event: its header line, then its deliveries. Status and attempts are shown when the
/// server includes them (the contract promises only id and endpoint).
fn event(v: &Value) -> String {
    let mut out = format!(
        "{}  {}  tenant={}  {}\n",
        cell(v, "id"),
        cell(v, "type"),
        cell(v, "tenant"),
        cell(v, "timestamp")
    );
    let mut t = Table::new(&["DELIVERY", "ENDPOINT", "STATUS", "ATTEMPTS"]);
    for d in v["deliveries"].as_array().into_iter().flatten() {
        t.row(vec![
            cell(d, "id"),
            cell(d, "endpoint_id"),
            cell(d, "status"),
            cell(d, "attempts"),
        ]);
    }
    out.push_str(&t.render());
    out
}

fn list_table(items: &[Value]) -> Table {
    let mut t = Table::new(&["EVENT", "TYPE", "TENANT", "TIMESTAMP", "DELIVERIES"]);
    for e in items {
        t.row(vec![
            cell(e, "id"),
            trunc(&cell(e, "type"), 40),
            cell(e, "tenant"),
            cell(e, "timestamp"),
            cell(e, "deliveries"),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_and_publish_render() {
        let t = list_table(&[
            json!({"id": "evt_1", "type": "invoice.paid", "tenant": "acme",
            "timestamp": "2024-05-01T00:00:00Z", "deliveries": 2}),
        ]);
        assert_eq!(
            t.render(),
            "EVENT  TYPE          TENANT  TIMESTAMP             DELIVERIES\n\
             evt_1  invoice.paid  acme    2024-05-01T00:00:00Z  2\n"
        );
        let out = published(
            &json!({"id": "evt_1", "deliveries": [{"id": "del_1", "endpoint_id": "ep"}]}),
        );
        assert_eq!(out, "event evt_1 accepted, 1 deliveries\n  del_1  → ep\n");
    }
}
