//! The typed configuration that the rest of Hookgate reads, and its defaults.
//!
//! Owns: [`Config`] and every section struct, the small enums ([`Scope`],
//! [`OnError`], [`Ordering`]), [`Rate`], and the documented defaults. Values
//! here are already validated, so consumers never re-check them. `config`
//! imports nothing from api/store/dispatch/delivery/plugins; the only other
//! crate module used is `crate::signing` for the endpoint signature types.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::signing::{Secret, SignatureSpec};

use super::pattern::EventPattern;
use super::template::HeaderTemplate;

/// The whole gateway configuration, as loaded from one YAML file. Cloned into
/// each reload so readers hold a consistent snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// API listen address; changing it needs a restart.
    pub listen: SocketAddr,
    /// Directory for the database and caches; changing it needs a restart.
    pub data_dir: PathBuf,
    /// Where state is kept (`storage:`): the embedded redb file or a shared PostgreSQL;
    /// changing it needs a restart.
    pub storage: StorageConfig,
    /// `storage.min_free`: free bytes the data dir's filesystem must keep; below it publishes
    /// are refused (503 `store_full`) while attempts are still recorded, so the disk never
    /// fills to where commits fail. 0 turns the check off; a shared PostgreSQL's disk is the
    /// database's to watch, so only the redb backend checks it.
    pub min_free: u64,
    /// How the API server treats client connections; changing it needs a restart.
    pub server: ServerConfig,
    /// API keys for the HTTP API.
    pub auth: AuthConfig,
    /// Gateway-wide delivery behaviour (timeouts, retries, limits).
    pub delivery: DeliveryConfig,
    /// How long finished deliveries, their events and the audit log are kept (`retention:`).
    pub retention: RetentionConfig,
    /// Outbound network policy (SSRF guard).
    pub network: NetworkConfig,
    /// WebAssembly plugins by name, referenced from endpoints.
    pub plugins: BTreeMap<String, PluginConfig>,
    /// Endpoints defined in the file, in file order.
    pub endpoints: Vec<EndpointConfig>,
}

impl Config {
    /// What `hookgate serve` runs with when no file is given: API on loopback
    /// `127.0.0.1:8080`, data in `./hookgate-data`, no keys, no endpoints.
    pub fn embedded_default() -> Config {
        Config {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            data_dir: PathBuf::from("./hookgate-data"),
            storage: StorageConfig::Redb,
            min_free: Config::DEFAULT_MIN_FREE,
            server: ServerConfig::default(),
            auth: AuthConfig::default(),
            delivery: DeliveryConfig::default(),
            retention: RetentionConfig::default(),
            network: NetworkConfig::default(),
            plugins: BTreeMap::new(),
            endpoints: Vec::new(),
        }
    }
}

impl Config {
    /// `storage.min_free` when not given: room for the commits that record attempts and prune
    /// (a few MiB each at most) long after publishes stop.
    pub const DEFAULT_MIN_FREE: u64 = 64 * 1024 * 1024;
}

impl Default for Config {
    /// Same as [`Config::embedded_default`].
    fn default() -> Self {
        Config::embedded_default()
    }
}

/// The API server's connection limits (`server:`). Every idle client connection holds a file
/// descriptor, so a client that opens connections and sends nothing (or half a request) must
/// not be able to hold them forever: these bound how long and how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerConfig {
    /// How long a client may take to send a complete request header: from accept for a
    /// connection's first request, from the first byte for later ones (Go's
    /// `ReadHeaderTimeout`). Bounds slowloris clients that send half a header and stop.
    pub header_read_timeout: Duration,
    /// A keep-alive connection with no request in flight and no byte of the next one for this
    /// long is closed. Longer than the header timeout because clients park pooled connections.
    pub idle_timeout: Duration,
    /// Client connections held at once. At the cap the connections idle the longest are closed
    /// to admit new ones; with none idle, new ones wait in the listen backlog. `None`: half the
    /// open-file limit, at most [`ServerConfig::MAX_CONNECTIONS_CEILING`], leaving the other half
    /// for delivery sockets, plugin HTTP and the database.
    pub max_connections: Option<usize>,
}

impl ServerConfig {
    /// `header_read_timeout` when not given.
    pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
    /// `idle_timeout` when not given.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
    /// The most connections the derived default allows, however high the open-file limit.
    pub const MAX_CONNECTIONS_CEILING: usize = 10_000;

    /// The connection cap in force under an open-file limit of `open_files`: the configured one,
    /// else half the limit (at least 1, at most [`Self::MAX_CONNECTIONS_CEILING`]).
    pub fn max_connections_for(&self, open_files: u64) -> usize {
        self.max_connections.unwrap_or_else(|| {
            let half = usize::try_from(open_files / 2).unwrap_or(usize::MAX);
            half.clamp(1, Self::MAX_CONNECTIONS_CEILING)
        })
    }
}

impl Default for ServerConfig {
    /// 10 s to send a header, 60 s idle, cap derived from the open-file limit.
    fn default() -> Self {
        ServerConfig {
            header_read_timeout: Self::DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            max_connections: None,
        }
    }
}

/// API authentication. No keys here and none minted means bootstrap mode: only the one-time
/// token the server prints at start gets in (see `api::bootstrap`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuthConfig {
    /// Configured keys, in file order; names are unique.
    pub api_keys: Vec<ApiKeyConfig>,
}

/// One API key. Only the SHA-256 of the key is kept, so a config snapshot
/// (or a log of it) never holds a usable credential.
#[derive(Clone, PartialEq)]
pub struct ApiKeyConfig {
    /// Unique, human-readable key name (for logs and audit).
    pub name: String,
    /// SHA-256 of the key bytes; compare against the hash of a presented key.
    pub key_sha256: [u8; 32],
    /// What the key may do; never empty.
    pub scopes: Vec<Scope>,
    /// When set, the key only sees this tenant's events and endpoints.
    pub tenant: Option<String>,
    /// Requests per second this key may make (`100/s`); none = unlimited.
    pub rate: Option<Rate>,
}

impl fmt::Debug for ApiKeyConfig {
    /// Omits the key hash: even a hash of a weak key is worth hiding.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyConfig")
            .field("name", &self.name)
            .field("key_sha256", &"<redacted>")
            .field("scopes", &self.scopes)
            .field("tenant", &self.tenant)
            .field("rate", &self.rate)
            .finish()
    }
}

/// A permission an API key can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// `events:publish`: submit events.
    EventsPublish,
    /// `events:read`: read events and deliveries.
    EventsRead,
    /// `endpoints:read`: list and read endpoints.
    EndpointsRead,
    /// `endpoints:manage`: create, change and delete endpoints.
    EndpointsManage,
    /// `admin`: everything.
    Admin,
}

impl Scope {
    /// Every scope, for help texts and "admin implies all" checks.
    pub const ALL: [Scope; 5] = [
        Scope::EventsPublish,
        Scope::EventsRead,
        Scope::EndpointsRead,
        Scope::EndpointsManage,
        Scope::Admin,
    ];

    /// The spelling used in the config file and the API (`events:publish`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Scope::EventsPublish => "events:publish",
            Scope::EventsRead => "events:read",
            Scope::EndpointsRead => "endpoints:read",
            Scope::EndpointsManage => "endpoints:manage",
            Scope::Admin => "admin",
        }
    }
}

impl FromStr for Scope {
    type Err = String;

    /// Parses the config/API spelling, so the API can reuse it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| {
                let all: Vec<&str> = Scope::ALL.iter().map(Scope::as_str).collect();
                format!("unknown scope {s:?} (expected one of: {})", all.join(", "))
            })
    }
}

impl fmt::Display for Scope {
    /// Same as [`Scope::as_str`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Gateway-wide delivery settings.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryConfig {
    /// Timeout of one delivery attempt.
    pub timeout: Duration,
    /// Delay before attempt 2, 3, ...; after the last one the delivery is dead. Never empty.
    pub retry_schedule: Vec<Duration>,
    /// Random spread applied to each delay, as a fraction in `[0, 1]`.
    pub jitter: f64,
    /// Disable an endpoint after this many consecutive failed attempts; 0 = never.
    pub auto_disable_after: u32,
    /// Attempts in flight across the whole gateway; at least 1.
    pub max_in_flight: usize,
    /// Bytes of a response body kept for inspection.
    pub response_body_limit: usize,
    /// Treat 4xx (other than 408/410/429) as final at once.
    pub fail_fast_4xx: bool,
    /// Upper bound applied to a receiver's `Retry-After`.
    pub retry_after_cap: Duration,
    /// On SIGTERM, how long API requests in flight may finish, then how long attempts in
    /// flight may.
    pub shutdown_grace: Duration,
}

impl DeliveryConfig {
    /// The effective policy of an endpoint with overrides `own`: each field it sets, else this
    /// block's. Called per attempt with the live global block, so a reload of the global
    /// block applies to every endpoint that does not override the field.
    pub fn policy<'a>(&'a self, own: Option<&'a DeliveryOverride>) -> DeliveryPolicy<'a> {
        let own = own.unwrap_or(&NO_OVERRIDE);
        DeliveryPolicy {
            timeout: own.timeout.unwrap_or(self.timeout),
            retry_schedule: own
                .retry_schedule
                .as_deref()
                .unwrap_or(&self.retry_schedule),
            jitter: own.jitter.unwrap_or(self.jitter),
            auto_disable_after: own.auto_disable_after.unwrap_or(self.auto_disable_after),
            fail_fast_4xx: own.fail_fast_4xx.unwrap_or(self.fail_fast_4xx),
            retry_after_cap: own.retry_after_cap.unwrap_or(self.retry_after_cap),
        }
    }
}

/// What an endpoint without a `delivery:` key overrides: nothing.
static NO_OVERRIDE: DeliveryOverride = DeliveryOverride {
    timeout: None,
    retry_schedule: None,
    jitter: None,
    auto_disable_after: None,
    fail_fast_4xx: None,
    retry_after_cap: None,
};

impl Default for DeliveryConfig {
    /// The documented defaults (10s timeout, 5s…10h schedule, jitter 0.2, ...).
    fn default() -> Self {
        let secs = Duration::from_secs;
        DeliveryConfig {
            timeout: secs(10),
            retry_schedule: vec![
                secs(5),
                secs(5 * 60),
                secs(30 * 60),
                secs(2 * 3600),
                secs(5 * 3600),
                secs(10 * 3600),
                secs(10 * 3600),
            ],
            jitter: 0.2,
            auto_disable_after: 20,
            max_in_flight: 1024,
            response_body_limit: 2000,
            fail_fast_4xx: false,
            retry_after_cap: secs(3600),
            shutdown_grace: secs(10),
        }
    }
}

/// How long something is kept once it is finished: `forever` (or `0`) keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Never removed.
    Forever,
    /// Removed once this long has passed since it finished.
    For(Duration),
}

impl Keep {
    /// The moment something finished at `finished_ms` may be removed; `None` for never.
    pub fn until(self, finished_ms: u64) -> Option<u64> {
        match self {
            Keep::Forever => None,
            Keep::For(d) => Some(finished_ms.saturating_add(d.as_millis() as u64)),
        }
    }

    /// At `now`, the latest finish time whose things may be removed; `None` for never. The
    /// other side of [`Keep::until`], for rules applied by age at pruning time.
    pub fn cut(self, now: u64) -> Option<u64> {
        match self {
            Keep::Forever => None,
            Keep::For(d) => Some(now.saturating_sub(d.as_millis() as u64)),
        }
    }
}

/// `retention:`: how long the store keeps what is finished, so its size follows the traffic of
/// the last days rather than of the gateway's whole life. Pending deliveries (and the events
/// they need) are never removed, however old. An event goes with its last delivery; an event
/// no endpoint subscribed to is kept as long as a succeeded delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionConfig {
    /// Deliveries that reached their receiver, with their attempts and chain output.
    pub succeeded: Keep,
    /// Deliveries that ran out of attempts: kept longest among deliveries, because they are
    /// what an operator inspects and recovers after an outage.
    pub dead: Keep,
    /// Deliveries a plugin filtered out.
    pub filtered: Keep,
    /// Deliveries cancelled (their endpoint was removed).
    pub cancelled: Keep,
    /// Entries of the audit log (changes made through the API).
    pub audit: Keep,
}

impl RetentionConfig {
    /// The rule for a delivery that finished with `status` (`"succeeded"`, …) at an endpoint
    /// with overrides `own`: its own when it sets one, else this block's.
    pub fn keep(&self, own: Option<&RetentionOverride>, status: FinishedAs) -> Keep {
        let (mine, global) = match status {
            FinishedAs::Succeeded => (own.and_then(|o| o.succeeded), self.succeeded),
            FinishedAs::Dead => (own.and_then(|o| o.dead), self.dead),
            FinishedAs::Filtered => (own.and_then(|o| o.filtered), self.filtered),
            FinishedAs::Cancelled => (own.and_then(|o| o.cancelled), self.cancelled),
        };
        mine.unwrap_or(global)
    }
}

impl Default for RetentionConfig {
    /// A week for what went well (what support looks back at), a month for dead deliveries
    /// (long enough to notice an outage and recover it), a year for the audit log.
    fn default() -> Self {
        let days = |n: u64| Keep::For(Duration::from_secs(n * 86_400));
        RetentionConfig {
            succeeded: days(7),
            dead: days(30),
            filtered: days(7),
            cancelled: days(7),
            audit: days(365),
        }
    }
}

/// How a delivery finished, as far as retention is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishedAs {
    /// Reached its receiver.
    Succeeded,
    /// Ran out of attempts.
    Dead,
    /// Filtered out by a plugin.
    Filtered,
    /// Cancelled.
    Cancelled,
}

/// An endpoint's own `retention:`: each `Some` replaces the global value for its deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetentionOverride {
    /// Succeeded deliveries.
    pub succeeded: Option<Keep>,
    /// Dead deliveries.
    pub dead: Option<Keep>,
    /// Filtered deliveries.
    pub filtered: Option<Keep>,
    /// Cancelled deliveries.
    pub cancelled: Option<Keep>,
}

/// The storage backend (`storage:`).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum StorageConfig {
    /// `backend: redb` (the default): one file in `data_dir`, one node.
    #[default]
    Redb,
    /// `backend: postgres`: a PostgreSQL database that several nodes share.
    Postgres(PostgresConfig),
}

/// `storage:` with `backend: postgres`.
#[derive(Debug, Clone, PartialEq)]
pub struct PostgresConfig {
    /// `url`: a `postgres://user:password@host:port/db` URL or a libpq `key=value` string;
    /// wrapped because it usually holds the password (`${PGPASSWORD}` in the file).
    pub url: Secret,
    /// `pool_size`: most connections this node opens (default 16).
    pub pool_size: usize,
    /// `tls`: `disable` or `verify-full` (default: `verify-full`, except for a unix socket
    /// or a loopback host, where it is `disable`).
    pub tls: PgTlsMode,
    /// `ca_file`: PEM roots trusted besides the system's, for a private CA.
    pub ca_file: Option<PathBuf>,
    /// `lease`: how long a node's claim on a delivery lasts unrenewed, so how long the
    /// deliveries a crashed node held wait before another node takes them (default 30s).
    pub lease: Duration,
}

/// `storage.tls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgTlsMode {
    /// Plain connection.
    Disable,
    /// TLS with the certificate and host name checked.
    VerifyFull,
}

/// Outbound network policy for deliveries and plugin HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkConfig {
    /// Allow `http://` endpoint URLs (default: https only).
    pub allow_http: bool,
    /// Networks exempt from the private-address (SSRF) guard.
    pub allow_private: Vec<ipnet::IpNet>,
}

/// One WebAssembly plugin, shared by the endpoints that `use` it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginConfig {
    /// Where the component comes from: the binary (a built-in name with no `path:`) or a file.
    pub source: PluginSource,
    /// Memory limit in bytes (default 32 MiB).
    pub memory: u64,
    /// Time limit per invocation (default 100 ms).
    pub timeout: Duration,
    /// Host capabilities granted to the plugin (default: none).
    pub allow: PluginAllow,
    /// Calls one instance may serve before it is dropped (default 1: a fresh instance per
    /// call). Above 1 the plugin's globals outlive a call; see `plugins::warm`.
    pub reuse: u32,
}

impl PluginConfig {
    /// Memory limit when `memory` is not given.
    pub const DEFAULT_MEMORY: u64 = 32 * 1024 * 1024;
    /// Time limit when `timeout` is not given.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(100);
    /// Largest `reuse`: an instance's heap and globals are bounded by its memory cap either
    /// way, but a bound keeps a leak in a plugin's own state from living for days.
    pub const MAX_REUSE: u32 = 10_000;

    /// A built-in plugin with the default limits and no grants: what `use: filter` means when
    /// the file has no `plugins: { filter: … }` entry.
    pub fn builtin_default() -> PluginConfig {
        PluginConfig {
            source: PluginSource::Builtin,
            memory: Self::DEFAULT_MEMORY,
            timeout: Self::DEFAULT_TIMEOUT,
            allow: PluginAllow::default(),
            reuse: 1,
        }
    }
}

/// Where a plugin's component comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    /// Compiled into the binary (see [`crate::builtin_plugins`]); the plugin's name picks it.
    Builtin,
    /// A `.wasm` file, already resolved against the config file's directory; watched and
    /// hot-reloaded. For a built-in name it replaces the built-in.
    File(PathBuf),
}

/// Capabilities a plugin may use.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PluginAllow {
    /// Access to the plugin key-value store.
    pub kv: bool,
    /// Hosts the plugin may call over HTTP (empty = none).
    pub http: Vec<String>,
}

/// One delivery target.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointConfig {
    /// Unique id (see [`super::is_valid_id`]).
    pub id: String,
    /// Owning tenant (default `"default"`).
    pub tenant: String,
    /// Target URL: http(s) with a host; http only with `network.allow_http`.
    pub url: url::Url,
    /// Event types delivered here; empty = all.
    pub events: Vec<EventPattern>,
    /// Signing secret; `None` means one is generated and stored.
    pub secret: Option<Secret>,
    /// Signature format and header overrides.
    pub signature: SignatureSpec,
    /// Extra request headers in file order; names are valid and not reserved.
    pub headers: Vec<(String, HeaderTemplate)>,
    /// Plugins run on each delivery, in order.
    pub plugins: Vec<PluginRef>,
    /// Optional per-endpoint rate limit.
    pub rate: Option<Rate>,
    /// Optional per-endpoint concurrency limit (at least 1).
    pub max_in_flight: Option<usize>,
    /// Delivery ordering guarantee.
    pub ordering: Ordering,
    /// Disabled endpoints receive nothing (default true).
    pub enabled: bool,
    /// The endpoint's own retention (YAML `retention:` under the endpoint); `None` when it sets
    /// nothing. Boxed for the same reason as `delivery`.
    pub retention: Option<Box<RetentionOverride>>,
    /// The endpoint's own delivery policy (YAML `delivery:` under the endpoint); `None` when it
    /// sets nothing. Kept as an override rather than merged here, so a reload of the global
    /// block reaches every field this endpoint does not set (see [`DeliveryConfig::policy`]).
    /// Boxed: most endpoints set none, and a gateway holds one of these per endpoint.
    pub delivery: Option<Box<DeliveryOverride>>,
}

/// The part of the `delivery:` block an endpoint may set for itself: each `Some` field
/// replaces the global value for this endpoint only. Gateway-wide limits (`max_in_flight`,
/// `response_body_limit`, `shutdown_grace`) are not here because they are shared resources.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeliveryOverride {
    /// Timeout of one attempt.
    pub timeout: Option<Duration>,
    /// Delays before attempt 2, 3, …; never empty when set.
    pub retry_schedule: Option<Vec<Duration>>,
    /// Random spread of each delay, in `[0, 1]`.
    pub jitter: Option<f64>,
    /// Consecutive failed attempts before this endpoint is disabled; 0 = never.
    pub auto_disable_after: Option<u32>,
    /// Treat 4xx (other than 408/410/429) as final at once.
    pub fail_fast_4xx: Option<bool>,
    /// Upper bound applied to a receiver's `Retry-After`.
    pub retry_after_cap: Option<Duration>,
}

impl DeliveryOverride {
    /// True when no field is set, so `delivery: {}` reads the same as no `delivery:` at all.
    pub fn is_empty(&self) -> bool {
        *self == DeliveryOverride::default()
    }
}

/// The delivery policy one attempt runs with: an endpoint's overrides over the global block.
/// Borrows both, so resolving it per attempt is a handful of copies, whatever the number of
/// endpoints or the length of the schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeliveryPolicy<'a> {
    /// Timeout of this attempt.
    pub timeout: Duration,
    /// Delays before attempt 2, 3, …; after the last one the delivery is dead.
    pub retry_schedule: &'a [Duration],
    /// Random spread of each delay.
    pub jitter: f64,
    /// Consecutive failed attempts before the endpoint is disabled; 0 = never.
    pub auto_disable_after: u32,
    /// Treat 4xx (other than 408/410/429) as final at once.
    pub fail_fast_4xx: bool,
    /// Upper bound applied to a receiver's `Retry-After`.
    pub retry_after_cap: Duration,
}

impl DeliveryPolicy<'_> {
    /// How many attempts the schedule allows (the first plus one per delay): the `m` of
    /// "attempt n of m".
    pub fn attempts(&self) -> usize {
        self.retry_schedule.len() + 1
    }
}

/// One use of a plugin by an endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginRef {
    /// Name of a top-level plugin (YAML key `use`).
    pub name: String,
    /// Plugin-specific configuration passed as JSON; `Null` when not given.
    pub config: serde_json::Value,
    /// What to do when the plugin fails.
    pub on_error: OnError,
    /// Where `config`'s values are in the file, to position the problems the plugin's own
    /// check reports (compares equal whatever the positions).
    pub spans: super::spans::ConfigSpans,
}

/// Behaviour when a plugin fails on a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OnError {
    /// Count it as a failed attempt and retry later (default).
    #[default]
    Retry,
    /// Skip this plugin and deliver anyway.
    Skip,
    /// Drop the delivery.
    Drop,
}

/// Ordering guarantee of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Ordering {
    /// Deliveries may overtake each other (default).
    #[default]
    None,
    /// One delivery at a time, in event order.
    Fifo,
}

/// A rate limit, normalised to events per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Allowed deliveries per second (always > 0).
    pub per_second: f64,
}
