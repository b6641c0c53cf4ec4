//! `hookgate stats` and `hookgate audit`: the operator's view, i.e. is delivery healthy, and
//! who changed what through the API.

use clap::Args;
use serde_json::Value;

use super::client::Api;
use super::table::{age, cell, emit, emit_page, fields, next_cursor_line, percent, trunc, Table};
use super::{ApiArgs, PageArgs};

/// `hookgate audit`
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Page size and cursor.
    #[command(flatten)]
    pub page: PageArgs,
    /// Which gateway, which key, table or JSON.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `hookgate stats`
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Endpoint rows to show (1-1000; the server's default is 1,000). The totals always
    /// cover every endpoint.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: Option<u32>,
    /// Continue the endpoint rows from the `next cursor:` the previous page printed.
    #[arg(long)]
    pub cursor: Option<String>,
    /// Which gateway, which key, table or JSON.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Runs `hookgate audit`: one line per change; `--json` has the before/after objects.
pub async fn audit(args: AuditArgs) -> anyhow::Result<()> {
    let v = Api::new(&args.api)?
        .get(&["v1", "audit"], &args.page.query())
        .await?;
    emit_page(args.api.json, &v, "audit entries", audit_table);
    Ok(())
}

/// Runs `hookgate stats`.
pub async fn stats(args: StatsArgs) -> anyhow::Result<()> {
    let v = Api::new(&args.api)?
        .get(
            &["v1", "stats"],
            &[
                ("limit", args.limit.map(|n| n.to_string())),
                ("cursor", args.cursor.clone()),
            ],
        )
        .await?;
    emit(args.api.json, &v, stats_text);
    Ok(())
}

fn audit_table(items: &[Value]) -> Table {
    let mut t = Table::new(&["AT", "ACTOR", "ACTION", "TARGET", "TENANT"]);
    for e in items {
        t.row(vec![
            cell(e, "at"),
            cell(e, "actor"),
            cell(e, "action"),
            trunc(&cell(e, "target"), 48),
            cell(e, "tenant"),
        ]);
    }
    t
}

/// `succeeded/failed` from an `{succeeded, failed|dead}` counter object.
fn pair(v: &Value, obj: &str, bad: &str) -> String {
    format!(
        "{}/{}",
        cell(v, &format!("/{obj}/succeeded")),
        cell(v, &format!("/{obj}/{bad}"))
    )
}

/// The summary a person checks first, then one row per endpoint.
fn stats_text(v: &Value) -> String {
    let disabled = cell(v, "disabled_endpoints");
    let mut out = fields(&[
        ("window", cell(v, "window")),
        ("success rate", percent(&v["success_rate"])),
        (
            "attempts",
            format!(
                "{} succeeded, {} failed",
                cell(v, "/attempts/succeeded"),
                cell(v, "/attempts/failed")
            ),
        ),
        (
            "deliveries",
            format!(
                "{} succeeded, {} dead",
                cell(v, "/deliveries/succeeded"),
                cell(v, "/deliveries/dead")
            ),
        ),
        ("pending", cell(v, "pending")),
        ("oldest pending", age(&v["oldest_pending_age_seconds"])),
        (
            "disabled endpoints",
            if disabled.is_empty() {
                "none".into()
            } else {
                disabled.replace(',', ", ")
            },
        ),
    ]);
    let endpoints = v["endpoints"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if !endpoints.is_empty() {
        let mut t = Table::new(&[
            "ENDPOINT",
            "TENANT",
            "STATUS",
            "SUCCESS",
            "ATTEMPTS OK/FAIL",
            "DELIVERED/DEAD",
            "PENDING",
            "OLDEST",
        ]);
        for e in endpoints {
            t.row(vec![
                cell(e, "id"),
                cell(e, "tenant"),
                cell(e, "status"),
                percent(&e["success_rate"]),
                pair(e, "attempts", "failed"),
                pair(e, "deliveries", "dead"),
                cell(e, "pending"),
                age(&e["oldest_pending_age_seconds"]),
            ]);
        }
        out.push('\n');
        out.push_str(&t.render());
    }
    if let Some(line) = next_cursor_line(v) {
        let total = v["endpoint_count"].as_u64().unwrap_or_default();
        out.push_str(&format!(
            "{} of {total} endpoints shown; {line}\n",
            endpoints.len()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stats_summary_and_endpoint_table() {
        let v = json!({"window": "24h", "success_rate": 0.995,
            "attempts": {"succeeded": 199, "failed": 1}, "deliveries": {"succeeded": 199, "dead": 0},
            "pending": 3, "oldest_pending_age_seconds": 75, "disabled_endpoints": ["old"],
            "endpoints": [{"id": "billing", "tenant": "acme", "status": "active", "success_rate": null,
                "attempts": {"succeeded": 0, "failed": 0}, "deliveries": {"succeeded": 0, "dead": 0},
                "pending": 3, "oldest_pending_age_seconds": 75}]});
        assert_eq!(
            stats_text(&v),
            "window              24h\n\
             success rate        99.5%\n\
             attempts            199 succeeded, 1 failed\n\
             deliveries          199 succeeded, 0 dead\n\
             pending             3\n\
             oldest pending      1m15s\n\
             disabled endpoints  old\n\
             \n\
             ENDPOINT  TENANT  STATUS  SUCCESS  ATTEMPTS OK/FAIL  DELIVERED/DEAD  PENDING  OLDEST\n\
             billing   acme    active  -        0/0               0/0             3        1m15s\n"
        );
        let empty = json!({"window": "24h", "success_rate": null, "disabled_endpoints": [],
            "endpoints": []});
        assert!(stats_text(&empty).contains("disabled endpoints  none\n"));
        let mut paged = v.clone();
        paged["endpoint_count"] = json!(2500);
        paged["next_cursor"] = json!("billing");
        assert!(
            stats_text(&paged).ends_with("1 of 2500 endpoints shown; next cursor: billing\n"),
            "{}",
            stats_text(&paged)
        );
    }

    #[test]
    fn audit_rows() {
        let t = audit_table(&[
            json!({"id": "a1", "at": "t", "actor": "key_1", "action": "endpoint.create",
            "target": "billing", "tenant": "acme", "before": null, "after": {}}),
        ]);
        assert_eq!(
            t.render(),
            "AT  ACTOR  ACTION           TARGET   TENANT\nt   key_1  endpoint.create  billing  acme\n"
        );
    }
}
