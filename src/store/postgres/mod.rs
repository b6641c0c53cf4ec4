//! [`PgStore`]: the store on PostgreSQL, for several gateway nodes sharing one database.
//!
//! Every operation takes a pooled connection for one statement or one short transaction and
//! gives it back: nothing is held across an HTTP request. Durability is PostgreSQL's own
//! (`synchronous_commit`), and concurrent publishes commit on separate connections, so the
//! server's WAL flush groups them as the redb writer's group commit does.
//!
//! What a row means is decided outside this module (`store::outcome`, `EndpointState::apply`):
//! this backend reads and writes rows, with the same semantics as [`super::RedbStore`], checked
//! by the conformance suite run against both (`tests/store_conformance.rs`).

mod admin;
mod batch;
pub mod cluster;
mod events;
mod prune;
mod queue;
mod record;
mod rows;
mod schema;
mod sql;
mod tls;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::error::SqlState;

use crate::store::*;

pub use schema::VERSION as SCHEMA_VERSION;

/// How long an operation waits for a pooled connection (or to open one) before it fails as
/// [`StoreError::Unavailable`]: a publish answers 503 rather than hang on a dead server.
const POOL_WAIT: Duration = Duration::from_secs(5);
/// How often a node that lost its database checks whether it is back (for `/readyz`).
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// How to reach the database, and this node's part in the cluster.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// A libpq connection string or `postgres://` URL.
    pub url: String,
    /// Most connections this node opens.
    pub pool_size: usize,
    /// Whether to speak TLS to the server.
    pub tls: PgTls,
    /// How long a claim holds a delivery without being renewed: how long the deliveries a
    /// dead node held wait before another node takes them over.
    pub lease: Duration,
    /// This node's name in the `nodes` table and in leases.
    pub node: String,
    /// A digest of this node's config file, compared with the other live nodes' at start.
    pub config_hash: String,
}

impl PgOptions {
    /// Options for `url` with the defaults: 16 connections, no TLS, 30 s leases, a random
    /// node name.
    pub fn new(url: impl Into<String>) -> Self {
        PgOptions {
            url: url.into(),
            pool_size: 16,
            tls: PgTls::Disable,
            lease: Duration::from_secs(30),
            node: format!("node_{}", ulid::Ulid::new().to_string().to_lowercase()),
            config_hash: String::new(),
        }
    }
}

/// TLS to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgTls {
    /// Plain TCP or a unix socket (a server on the same host or a private network).
    Disable,
    /// TLS, the server's certificate checked against the system's roots and, if given, the
    /// PEM file's, and its name against the host.
    VerifyFull {
        /// Extra trusted roots (a private CA).
        ca_file: Option<std::path::PathBuf>,
    },
}

/// The connector the pool and the notice connection both use.
#[derive(Clone)]
pub enum Tls {
    /// No TLS.
    Off,
    /// rustls.
    Rustls(tokio_postgres_rustls::MakeRustlsConnect),
}

/// The PostgreSQL-backed [`Store`].
pub struct PgStore {
    pool: Pool,
    key: MasterKey,
    health: Arc<Health>,
    claims: Arc<cluster::Claims>,
    /// Outcomes to the recorder task, which writes them a batch per transaction.
    recorder: tokio::sync::mpsc::Sender<record::Offer>,
    /// Publishes to the ingester task, which stores them a batch per transaction.
    ingester: tokio::sync::mpsc::Sender<events::Offer>,
    node: String,
    lease: Duration,
    /// What the notice connection needs, until [`Store::notices`] starts it.
    listen: std::sync::Mutex<Option<(tokio_postgres::Config, Tls)>>,
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// The retention rules finishing deliveries are stamped with.
    rules: Arc<crate::store::RulesSlot>,
}

/// Whether the last operations reached the database.
#[derive(Default)]
struct Health {
    down: AtomicBool,
}

impl PgStore {
    /// Connects, applies the embedded migrations (see `schema`), registers this node and
    /// starts the health probe and the lease renewal.
    pub async fn open(opts: &PgOptions, key: MasterKey) -> Result<Self, StoreError> {
        let open_error = |e: BackendError| StoreError::Open {
            path: redacted(&opts.url),
            source: e,
        };
        let mut config: tokio_postgres::Config =
            opts.url.parse().map_err(|e| open_error(Box::new(e)))?;
        // Plans for the parameters of each call: a generic plan made while a table was nearly
        // empty stayed a sequential scan after it grew (measured: claims and records 20 ms each
        // at 30,000 deliveries). Statements stay prepared, so nothing is parsed twice.
        config.options("-c plan_cache_mode=force_custom_plan");
        let tls = match &opts.tls {
            PgTls::Disable => Tls::Off,
            PgTls::VerifyFull { ca_file } => {
                config.ssl_mode(tokio_postgres::config::SslMode::Require);
                Tls::Rustls(tls::connector(ca_file.as_deref()).map_err(open_error)?)
            }
        };
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let mgr = match &tls {
            Tls::Off => Manager::from_config(config.clone(), tokio_postgres::NoTls, manager_config),
            Tls::Rustls(t) => Manager::from_config(config.clone(), t.clone(), manager_config),
        };
        let pool = Pool::builder(mgr)
            .max_size(opts.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(POOL_WAIT))
            .build()
            .map_err(|e| open_error(Box::new(e)))?;
        // With every cause in the message: "error performing TLS handshake" alone does not
        // say that the server's certificate was refused, or why.
        let mut client = pool
            .get()
            .await
            .map_err(|e| open_error(with_causes(&e).into()))?;
        schema::migrate(&mut client).await?;
        cluster::check_master_key(&client, &key).await?;
        cluster::register(&client, &opts.node, &opts.config_hash).await?;
        drop(client);
        let health = Arc::new(Health::default());
        let claims = Arc::new(cluster::Claims::default());
        let rules = Arc::new(crate::store::RulesSlot::default());
        let (recorder, offers) = tokio::sync::mpsc::channel(4 * 1024);
        let (ingester, publishes) = tokio::sync::mpsc::channel(4 * 1024);
        let tasks = vec![
            tokio::spawn(events::run(pool.clone(), publishes)),
            tokio::spawn(record::run(pool.clone(), rules.clone(), offers)),
            tokio::spawn(probe(pool.clone(), health.clone())),
            tokio::spawn(cluster::fold(pool.clone())),
            tokio::spawn(cluster::renew(
                pool.clone(),
                claims.clone(),
                opts.node.clone(),
                opts.lease,
            )),
        ];
        Ok(PgStore {
            pool,
            key,
            health,
            claims,
            recorder,
            ingester,
            node: opts.node.clone(),
            lease: opts.lease,
            listen: std::sync::Mutex::new(Some((config, tls))),
            tasks: std::sync::Mutex::new(tasks),
            rules,
        })
    }

    /// A pooled connection.
    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        let c = self.pool.get().await.map_err(pool_error);
        self.watch(c)
    }

    /// Notes whether the database answered, for [`Store::is_writable`].
    fn watch<T>(&self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        match &r {
            Err(e) if e.is_transient() => {
                if !self.health.down.swap(true, Ordering::AcqRel) {
                    tracing::error!(error = %e, "database unreachable; publishes are refused until it answers");
                }
            }
            Ok(_) => self.health.down.store(false, Ordering::Release),
            Err(_) => {}
        }
        r
    }
}

/// Checks a lost database every [`PROBE_EVERY`], so readiness comes back without traffic.
async fn probe(pool: Pool, health: Arc<Health>) {
    loop {
        tokio::time::sleep(PROBE_EVERY).await;
        if !health.down.load(Ordering::Acquire) {
            continue;
        }
        if let Ok(c) = pool.get().await {
            if c.simple_query("SELECT 1").await.is_ok() {
                health.down.store(false, Ordering::Release);
                tracing::info!("database reachable again");
            }
        }
    }
}

/// An error and its causes, outermost first, as one line.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.ends_with(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    text
}

/// The URL without its password, for messages.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "<connection string>".into(),
    }
}

/// Maps a driver error. The connection failing, the server shutting down or out of resources
/// (disk full included), and a transaction that lost a race (serialization, deadlock) are
/// [`StoreError::Unavailable`]: trying again later can succeed. Anything else is a bug.
pub(crate) fn pg(e: tokio_postgres::Error) -> StoreError {
    let transient = e.is_closed()
        || match e.code() {
            None => std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>()),
            Some(c) => {
                let code = c.code();
                code.starts_with("08")
                    || code.starts_with("53")
                    || code.starts_with("57P")
                    || *c == SqlState::T_R_SERIALIZATION_FAILURE
                    || *c == SqlState::T_R_DEADLOCK_DETECTED
            }
        };
    if transient {
        StoreError::Unavailable(Box::new(e))
    } else {
        StoreError::Storage(Box::new(e))
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Closed => StoreError::Closed,
        deadpool_postgres::PoolError::Backend(e) => pg(e),
        e => StoreError::Unavailable(Box::new(e)),
    }
}

#[async_trait]
impl Store for PgStore {
    fn is_writable(&self) -> bool {
        !self.health.down.load(Ordering::Acquire)
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn notices(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<Notice>> {
        let (config, tls) = self.listen.lock().unwrap().take()?;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(cluster::listen(config, tls, tx));
        self.tasks.lock().unwrap().push(task);
        Some(rx)
    }

    fn rescan_every(&self) -> Option<Duration> {
        Some((self.lease / 2).max(Duration::from_millis(500)))
    }

    async fn close(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
        self.pool.close();
    }
}
