//! The command line: clap types (what the user typed) and the commands they run.
//!
//! `serve` hands over to [`crate::app::run`]; client commands talk to a running gateway's API
//! with their own small HTTP client. Nothing here imports the store, the dispatcher or plugins.

pub mod bench;
pub mod client;
pub mod plugin;
pub mod verify;

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
    /// Publish and inspect events (talks to a running gateway).
    #[command(subcommand)]
    Events(EventsCommand),
    /// Inspect deliveries (talks to a running gateway).
    #[command(subcommand)]
    Deliveries(DeliveriesCommand),
    /// Check the signature of a received webhook request.
    Verify(VerifyArgs),
    /// Write, build, check and test WebAssembly plugins offline.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Measure throughput and latency of this machine (gateway in a separate process).
    Bench(bench::BenchArgs),
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

/// Where the API is and which key to use.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Base URL of the gateway API.
    #[arg(long, env = "HOOKGATE_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// API key (Bearer).
    #[arg(long, env = "HOOKGATE_API_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Print the raw JSON answer instead of a summary.
    #[arg(long)]
    pub json: bool,
}

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
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Show one event and its deliveries.
    Get {
        /// Event id.
        id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

/// `hookgate deliveries …`
#[derive(Debug, Subcommand)]
pub enum DeliveriesCommand {
    /// Show one delivery with its attempts.
    Get {
        /// Delivery id.
        id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// List an endpoint's deliveries, newest first.
    List {
        /// Endpoint id.
        #[arg(long)]
        endpoint: String,
        /// Only this status (pending, succeeded, dead, filtered, cancelled).
        #[arg(long)]
        status: Option<String>,
        /// Page size.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[command(flatten)]
        api: ApiArgs,
    },
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
