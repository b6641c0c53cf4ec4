//! Statements run prepared and cached per connection. A plain `execute(&str)` has the server
//! parse and plan the text on every call (an extra round trip too); the hot path runs a handful
//! of statements per delivery, so caching them is most of what the database spends per
//! delivery. The methods mirror `GenericClient`'s and return its error, so call sites map it
//! with `pg` as before.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, Row};

/// `execute`, `query`, `query_one` and `query_opt` through the connection's statement cache.
#[async_trait]
pub trait Cached: GenericClient {
    /// `execute`: rows affected.
    async fn run(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error> {
        let st = self.prepare_cached(sql).await?;
        self.execute(&st, params).await
    }

    /// `query`: every row.
    async fn rows(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error> {
        let st = self.prepare_cached(sql).await?;
        self.query(&st, params).await
    }

    /// `query_one`: exactly one row.
    async fn row(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error> {
        let st = self.prepare_cached(sql).await?;
        self.query_one(&st, params).await
    }

    /// `query_opt`: at most one row.
    async fn maybe_row(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, Error> {
        let st = self.prepare_cached(sql).await?;
        self.query_opt(&st, params).await
    }
}

impl<C: GenericClient + ?Sized> Cached for C {}
