//! `hookgate keys create|list|revoke`: API keys managed through the API (admin scope).
//! Keys from the config file are listed too but can only be revoked by editing the file.

use clap::builder::PossibleValuesParser;
use clap::Subcommand;
use serde_json::{json, Value};

use super::client::Api;
use super::input::parse_rate_text;
use super::table::{cell, emit, emit_page, Table};
use super::{ApiArgs, PageArgs};
use crate::config::Scope;

/// The scope names the API accepts, taken from [`Scope`] so help and completion never drift.
fn scopes() -> PossibleValuesParser {
    PossibleValuesParser::new(Scope::ALL.map(|s| s.as_str()))
}

/// `hookgate keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key; prints it once.
    Create {
        /// A name for people (who or what uses the key).
        #[arg(long)]
        name: String,
        /// What the key may do: repeat the flag or give a comma list.
        #[arg(long = "scope", required = true, value_delimiter = ',', value_parser = scopes())]
        scopes: Vec<String>,
        /// Bind the key to one tenant (default: all tenants).
        #[arg(long)]
        tenant: Option<String>,
        /// Request rate limit for the key: N/s, N/m or N/h, e.g. 100/s.
        #[arg(long, value_parser = parse_rate_text)]
        rate: Option<String>,
        /// Which gateway, which key, table or JSON.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// List keys (never the secret part; the prefix identifies them).
    List {
        /// Page size and cursor.
        #[command(flatten)]
        page: PageArgs,
        /// Which gateway, which key, table or JSON.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Revoke a key: requests with it fail from now on.
    Revoke {
        /// Key id.
        id: String,
        /// Which gateway, which key, table or JSON.
        #[command(flatten)]
        api: ApiArgs,
    },
}

/// The `POST /v1/keys` body; optional fields are left out, not sent as null.
pub fn create_body(
    name: &str,
    scopes: &[String],
    tenant: Option<&str>,
    rate: Option<&str>,
) -> Value {
    let mut b = json!({"name": name, "scopes": scopes});
    if let Some(t) = tenant {
        b["tenant"] = json!(t);
    }
    if let Some(r) = rate {
        b["rate"] = json!(r);
    }
    b
}

/// Runs a `keys` subcommand.
pub async fn run(cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Create {
            name,
            scopes,
            tenant,
            rate,
            api,
        } => {
            let body = create_body(&name, &scopes, tenant.as_deref(), rate.as_deref());
            let v = Api::new(&api)?.post(&["v1", "keys"], &body).await?;
            emit(api.json, &v, created);
            if api.json {
                eprintln!("{STORE_IT_NOW}");
            }
        }
        KeysCommand::List { page, api } => {
            let v = Api::new(&api)?.get(&["v1", "keys"], &page.query()).await?;
            emit_page(api.json, &v, "keys", list_table);
        }
        KeysCommand::Revoke { id, api } => {
            let v = Api::new(&api)?.delete(&["v1", "keys", &id]).await?;
            emit(api.json, &v, |v| format!("revoked key {}\n", cell(v, "id")));
        }
    }
    Ok(())
}

const STORE_IT_NOW: &str =
    "store it now: the key is not shown again (only its SHA-256 is kept); a lost key is revoked and replaced";

fn created(v: &Value) -> String {
    format!(
        "created key {} ({}), scopes {}, tenant {}\nkey: {}\n{STORE_IT_NOW}\n",
        cell(v, "id"),
        cell(v, "name"),
        cell(v, "scopes"),
        cell(v, "tenant"),
        cell(v, "key")
    )
}

fn list_table(items: &[Value]) -> Table {
    let mut t = Table::new(&[
        "ID", "NAME", "PREFIX", "SCOPES", "TENANT", "RATE", "SOURCE", "CREATED",
    ]);
    for k in items {
        t.row(vec![
            cell(k, "id"),
            cell(k, "name"),
            cell(k, "prefix"),
            cell(k, "scopes"),
            cell(k, "tenant"),
            cell(k, "rate"),
            cell(k, "source"),
            cell(k, "created_at"),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn the_created_key_note_ends_its_line() {
        let out = created(&serde_json::json!({"id": "key_1", "name": "ci", "key": "hg_x"}));
        assert!(out.ends_with(&format!("\n{STORE_IT_NOW}\n")), "{out:?}");
    }

    #[test]
    fn create_takes_repeated_or_comma_scopes_and_checks_them() {
        let argv = [
            "hookgate",
            "keys",
            "create",
            "--name",
            "ci",
            "--scope",
            "events:publish,events:read",
            "--scope",
            "admin",
            "--rate",
            "100/s",
        ];
        let Command::Keys(KeysCommand::Create {
            name,
            scopes,
            tenant,
            rate,
            ..
        }) = Cli::try_parse_from(argv).unwrap().command
        else {
            panic!("not keys create")
        };
        assert_eq!(
            create_body(&name, &scopes, tenant.as_deref(), rate.as_deref()),
            json!({"name": "ci", "scopes": ["events:publish", "events:read", "admin"], "rate": "100/s"})
        );
        let bad = [
            "hookgate", "keys", "create", "--name", "x", "--scope", "root",
        ];
        assert!(Cli::try_parse_from(bad).is_err());
        let none = ["hookgate", "keys", "create", "--name", "x"];
        assert!(Cli::try_parse_from(none).is_err());
    }

    #[test]
    fn created_key_is_shown_once_with_the_hint() {
        let out = created(&json!({"id": "key_1", "name": "ci", "key": "hg_secret",
            "prefix": "hg_sec", "scopes": ["admin"], "tenant": null}));
        assert!(out.contains("\nkey: hg_secret\nstore it now"), "{out}");
    }
}
