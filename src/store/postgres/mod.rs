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
mod events;
mod queue;
mod rows;
mod schema;

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

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// A libpq connection string or `postgres://` URL.
    pub url: String,
    /// Most connections this node opens.
    pub pool_size: usize,
}

/// The PostgreSQL-backed [`Store`].
pub struct PgStore {
    pool: Pool,
    key: MasterKey,
    health: Arc<Health>,
    probe: tokio::task::JoinHandle<()>,
}

/// Whether the last operations reached the database.
#[derive(Default)]
struct Health {
    down: AtomicBool,
}

impl PgStore {
    /// Connects, applies the embedded migrations (see `schema`) and starts the health probe.
    pub async fn open(opts: &PgOptions, key: MasterKey) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = opts.url.parse().map_err(|e| StoreError::Open {
            path: redacted(&opts.url),
            source: Box::new(e),
        })?;
        let mgr = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(mgr)
            .max_size(opts.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(POOL_WAIT))
            .build()
            .map_err(|e| StoreError::Open {
                path: redacted(&opts.url),
                source: Box::new(e),
            })?;
        let mut client = pool.get().await.map_err(|e| StoreError::Open {
            path: redacted(&opts.url),
            source: Box::new(e),
        })?;
        schema::migrate(&mut client).await?;
        drop(client);
        let health = Arc::new(Health::default());
        let probe = tokio::spawn(probe(pool.clone(), health.clone()));
        Ok(PgStore {
            pool,
            key,
            health,
            probe,
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

    async fn close(&self) {
        self.probe.abort();
        self.pool.close();
    }
}
