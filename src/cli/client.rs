//! A small client for the gateway's own API, used by the client subcommands.
//!
//! Errors from the server are problem+json: the CLI prints its `detail` and `code` and exits 1.

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};

use super::{ApiArgs, DeliveriesCommand, EventsCommand};

async fn call(
    api: &ApiArgs,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let client = reqwest::Client::builder().no_proxy().build()?;
    let url = format!("{}{}", api.url.trim_end_matches('/'), path);
    let mut req = client.request(method, &url);
    if let Some(k) = &api.key {
        req = req.bearer_auth(k);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = resp.status();
    let text = resp.text().await?;
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if !status.is_success() {
        let detail = v.get("detail").and_then(Value::as_str).unwrap_or("");
        let code = v.get("code").and_then(Value::as_str).unwrap_or("error");
        bail!("{status}: {detail} ({code})");
    }
    Ok(v)
}

fn read_data(arg: &str) -> anyhow::Result<Value> {
    let text = match arg.strip_prefix('@') {
        Some("-") => std::io::read_to_string(std::io::stdin())?,
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
        None => arg.to_string(),
    };
    serde_json::from_str(&text).map_err(|e| anyhow!("--data is not valid JSON: {e}"))
}

fn print(api: &ApiArgs, v: &Value, human: impl FnOnce(&Value)) {
    if api.json {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    } else {
        human(v);
    }
}

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "-".into(),
        Some(o) => o.to_string(),
    }
}

/// Runs an `events` subcommand.
pub async fn events(cmd: EventsCommand) -> anyhow::Result<()> {
    match cmd {
        EventsCommand::Publish {
            event_type,
            data,
            id,
            tenant,
            api,
        } => {
            let mut body = json!({"type": event_type, "data": read_data(&data)?});
            if let Some(id) = id {
                body["id"] = json!(id);
            }
            if let Some(t) = tenant {
                body["tenant"] = json!(t);
            }
            let v = call(&api, reqwest::Method::POST, "/v1/events", Some(body)).await?;
            print(&api, &v, |v| {
                let n = v["deliveries"].as_array().map_or(0, Vec::len);
                println!("event {} accepted, {n} deliveries", s(v, "id"));
                for d in v["deliveries"].as_array().into_iter().flatten() {
                    println!("  {}  → {}", s(d, "id"), s(d, "endpoint_id"));
                }
            });
        }
        EventsCommand::Get { id, api } => {
            let v = call(
                &api,
                reqwest::Method::GET,
                &format!("/v1/events/{id}"),
                None,
            )
            .await?;
            print(&api, &v, |v| {
                println!(
                    "{}  {}  tenant={}  {}",
                    s(v, "id"),
                    s(v, "type"),
                    s(v, "tenant"),
                    s(v, "timestamp")
                );
                println!(
                    "{:<32} {:<20} {:<10} ATTEMPTS",
                    "DELIVERY", "ENDPOINT", "STATUS"
                );
                for d in v["deliveries"].as_array().into_iter().flatten() {
                    println!(
                        "{:<32} {:<20} {:<10} {}",
                        s(d, "id"),
                        s(d, "endpoint_id"),
                        s(d, "status"),
                        s(d, "attempts")
                    );
                }
            });
        }
    }
    Ok(())
}

/// Runs a `deliveries` subcommand.
pub async fn deliveries(cmd: DeliveriesCommand) -> anyhow::Result<()> {
    match cmd {
        DeliveriesCommand::Get { id, api } => {
            let v = call(
                &api,
                reqwest::Method::GET,
                &format!("/v1/deliveries/{id}"),
                None,
            )
            .await?;
            print(&api, &v, |v| {
                println!(
                    "{}  event={}  endpoint={}  status={}",
                    s(v, "id"),
                    s(v, "event_id"),
                    s(v, "endpoint_id"),
                    s(v, "status")
                );
                println!(
                    "{:<4} {:<26} {:<6} {:>8}  ERROR",
                    "N", "STARTED", "CODE", "MS"
                );
                for a in v["attempt_log"].as_array().into_iter().flatten() {
                    println!(
                        "{:<4} {:<26} {:<6} {:>8}  {}",
                        s(a, "n"),
                        s(a, "started_at"),
                        s(a, "status_code"),
                        s(a, "latency_ms"),
                        s(a, "error")
                    );
                }
            });
        }
        DeliveriesCommand::List {
            endpoint,
            status,
            limit,
            api,
        } => {
            let mut path = format!("/v1/endpoints/{endpoint}/deliveries?limit={limit}");
            if let Some(st) = status {
                path.push_str(&format!("&status={st}"));
            }
            let v = call(&api, reqwest::Method::GET, &path, None).await?;
            print(&api, &v, |v| {
                println!(
                    "{:<32} {:<32} {:<10} {:<8} UPDATED",
                    "DELIVERY", "EVENT", "STATUS", "ATTEMPTS"
                );
                for d in v["data"].as_array().into_iter().flatten() {
                    println!(
                        "{:<32} {:<32} {:<10} {:<8} {}",
                        s(d, "id"),
                        s(d, "event_id"),
                        s(d, "status"),
                        s(d, "attempts"),
                        s(d, "updated_at")
                    );
                }
            });
        }
    }
    Ok(())
}
