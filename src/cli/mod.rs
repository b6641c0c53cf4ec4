//! The command line: clap types (what the user typed) and the commands they run.
//!
//! `serve` hands over to [`crate::app::run`]; client commands talk to a running gateway's API
//! with their own small HTTP client. Nothing here imports the store or the dispatcher, and only
//! [`plugin`] imports `plugins` (the offline `plugin check|test`; those calls are moving behind
//! `app`, see `tests/module_rules.rs`, which checks these rules).
//!
//! Client commands, one module per resource, each holding its clap types and what they run:
//! [`endpoints`] (its delivery-policy flags in [`endpoint_policy`]), [`deliveries`], [`events`], [`keys`], [`ops`] (stats, audit). They share
//! [`client`] (HTTP and problem+json errors), [`input`] (`@file` JSON, value syntaxes checked
//! before sending) and [`table`] (tables for people, `--json` for scripts).

pub mod bench;
pub mod client;
pub mod completions;
pub mod deliveries;
pub mod endpoint_policy;
pub mod endpoints;
pub mod events;
pub mod input;
pub mod keys;
pub mod ops;
pub mod plugin;
pub mod plugin_build;
pub mod plugin_new;
pub mod store;
pub mod table;
pub mod verify;

pub use deliveries::DeliveriesCommand;
pub use events::EventsCommand;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Hookgate: durable, signed, retried webhook delivery in one binary.
#[derive(Debug, Parser)]
#[command(name = "hookgate", version, about, long_about = None)]
pub struct Cli {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "HOOKGATE_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Log filter (tracing EnvFilter syntax), e.g. `info`, `hookgate=debug`.
    #[arg(long, global = true, default_value = "info", env = "HOOKGATE_LOG")]
    pub log: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve {
        /// YAML config file; without it, the embedded default runs (loopback, ./hookgate-data).
        #[arg(long, short, env = "HOOKGATE_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Work with config files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Publish, list and inspect events (talks to a running gateway).
    #[command(subcommand)]
    Events(EventsCommand),
    /// Create, change, test and recover endpoints (talks to a running gateway).
    #[command(subcommand)]
    Endpoints(endpoints::EndpointsCommand),
    /// List, inspect and retry deliveries (talks to a running gateway).
    #[command(subcommand)]
    Deliveries(DeliveriesCommand),
    /// Create, list and revoke API keys (admin; talks to a running gateway).
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Show who changed what through the API, newest first (admin).
    Audit(ops::AuditArgs),
    /// Show delivery health: 24 h success rate, backlog, disabled endpoints, per endpoint too.
    Stats(ops::StatsArgs),
    /// Print a shell completion script, e.g. `hookgate completions bash > /etc/bash_completion.d/hookgate`.
    Completions {
        /// The shell to generate for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Check the signature of a received webhook request.
    Verify(VerifyArgs),
    /// Write, build, check and test WebAssembly plugins offline.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Measure throughput and latency of this machine (gateway in a separate process).
    Bench(bench::BenchArgs),
    /// Maintain the embedded store (the gateway must be stopped).
    #[command(subcommand)]
    Store(StoreCommand),
}

/// `hookgate store …`
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Shrinks the redb file to what it holds, giving freed pages back to the filesystem.
    /// Retention frees pages for reuse while the gateway runs, so the file stops growing; this
    /// returns them to the disk. Offline: the gateway must be stopped (redb compacts only a
    /// database no one else has open).
    Compact {
        /// Config file naming the data dir (`data_dir:`).
        #[arg(long, conflicts_with = "data_dir")]
        config: Option<PathBuf>,
        /// The data dir (default `./hookgate-data`, the embedded default's).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

/// `hookgate config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a config file without starting (exit 1 with every problem found).
    Check {
        /// The YAML file.
        file: PathBuf,
    },
}

/// Where the API is and which key to use: flattened into every client command so they all
/// spell it the same (`--url`/`HOOKGATE_URL`, `--key`/`HOOKGATE_API_KEY`, `--json`).
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Base URL of the gateway API (also accepted as --api-url).
    #[arg(
        long,
        visible_alias = "api-url",
        env = "HOOKGATE_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub url: String,
    /// API key (Bearer).
    #[arg(long, env = "HOOKGATE_API_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Data directory of a gateway on this host. Without a key, a loopback gateway's one-time
    /// bootstrap token is read from `bootstrap.token` in it, while that file exists.
    #[arg(long, env = "HOOKGATE_DATA_DIR", default_value = "./hookgate-data")]
    pub data_dir: PathBuf,
    /// Print the raw JSON answer instead of a summary.
    #[arg(long)]
    pub json: bool,
}

/// [`ApiArgs`] for the commands whose own `--url` is the endpoint's URL (`endpoints create` and
/// `update`): there the gateway is `--api-url` or `HOOKGATE_URL`. Clap cannot have two `--url`
/// flags on one command, and the endpoint's URL is the one people type there.
#[derive(Debug, Clone, Args)]
pub struct ApiArgsNoUrl {
    /// Base URL of the gateway API (`--url` is the endpoint's URL in this command).
    #[arg(long, env = "HOOKGATE_URL", default_value = "http://127.0.0.1:8080")]
    pub api_url: String,
    /// API key (Bearer).
    #[arg(long, env = "HOOKGATE_API_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Data directory of a gateway on this host. Without a key, a loopback gateway's one-time
    /// bootstrap token is read from `bootstrap.token` in it, while that file exists.
    #[arg(long, env = "HOOKGATE_DATA_DIR", default_value = "./hookgate-data")]
    pub data_dir: PathBuf,
    /// Print the raw JSON answer instead of a summary.
    #[arg(long)]
    pub json: bool,
}

impl From<ApiArgsNoUrl> for ApiArgs {
    fn from(a: ApiArgsNoUrl) -> Self {
        ApiArgs {
            url: a.api_url,
            key: a.key,
            data_dir: a.data_dir,
            json: a.json,
        }
    }
}

/// Paging flags shared by every list command, so they read the same everywhere.
#[derive(Debug, Clone, Default, Args)]
pub struct PageArgs {
    /// How many items to fetch (1-1000; the server's default is 50).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: Option<u32>,
    /// Continue from the `next cursor:` that the previous page printed.
    #[arg(long)]
    pub cursor: Option<String>,
}

impl PageArgs {
    /// As query parameters (unset ones are left out by [`client::Api::url`]).
    pub fn query(&self) -> [(&'static str, Option<String>); 2] {
        [
            ("limit", self.limit.map(|n| n.to_string())),
            ("cursor", self.cursor.clone()),
        ]
    }
}

/// `hookgate verify …`
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Signature scheme.
    #[arg(long, default_value = "standard")]
    pub scheme: crate::signing::Scheme,
    /// Signing secret.
    #[arg(long, env = "HOOKGATE_VERIFY_SECRET", hide_env_values = true)]
    pub secret: String,
    /// A received header, as 'Name: value' (repeat for each).
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    /// The received body, as a file (`-` for stdin).
    #[arg(long)]
    pub body: Option<PathBuf>,
    /// Accepted clock difference in seconds.
    #[arg(long, default_value_t = 300)]
    pub tolerance: i64,
    /// Signature header name, when the sender overrides it.
    #[arg(long)]
    pub header_name: Option<String>,
    /// Signature prefix, when the sender overrides it.
    #[arg(long)]
    pub prefix: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn bash_completions_cover_the_client_commands() {
        let mut out = Vec::new();
        completions::write(clap_complete::Shell::Bash, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(!text.is_empty());
        for word in ["endpoints", "rotate-secret", "deliveries", "keys", "stats"] {
            assert!(text.contains(word), "bash completions lack {word}");
        }
    }

    #[test]
    fn every_shell_generates_something() {
        use clap::ValueEnum;
        for shell in clap_complete::Shell::value_variants() {
            let mut out = Vec::new();
            completions::write(*shell, &mut out);
            assert!(!out.is_empty(), "{shell}");
        }
    }

    #[test]
    fn api_url_works_everywhere_and_url_is_the_endpoint_in_create() {
        let cli = Cli::try_parse_from([
            "hookgate",
            "endpoints",
            "create",
            "--url",
            "https://r.example/h",
            "--api-url",
            "http://gw:9000",
        ])
        .unwrap();
        let Command::Endpoints(endpoints::EndpointsCommand::Create(c)) = cli.command else {
            panic!("parsed as something else");
        };
        assert_eq!(c.fields.url.as_deref(), Some("https://r.example/h"));
        assert_eq!(c.api.api_url, "http://gw:9000");
        let cli =
            Cli::try_parse_from(["hookgate", "stats", "--api-url", "http://gw:9000"]).unwrap();
        let Command::Stats(s) = cli.command else {
            panic!("parsed as something else");
        };
        assert_eq!(s.api.url, "http://gw:9000");
    }

    #[test]
    fn deliveries_list_needs_exactly_one_of_endpoint_or_event() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(["hookgate", "deliveries", "list"].iter().chain(args))
        };
        assert!(parse(&[]).is_err());
        assert!(parse(&["--endpoint", "a", "--event", "b"]).is_err());
        assert!(parse(&["--endpoint", "a", "--status", "dead", "--limit", "5"]).is_ok());
        assert!(parse(&["--event", "evt_1"]).is_ok());
        assert!(parse(&["--endpoint", "a", "--status", "bogus"]).is_err());
        assert!(parse(&["--endpoint", "a", "--limit", "0"]).is_err());
    }
}
