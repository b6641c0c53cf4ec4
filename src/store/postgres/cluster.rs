//! What makes several nodes on one database a cluster rather than a race: the claims this node
//! holds and their lease renewal, the node's row (its config hash, compared with the others'),
//! and `LISTEN/NOTIFY`, which tells every node at once of another's change.
//!
//! A claim is a lease on one delivery (`deliveries.lease_*`), taken by `hookgate_claim` (see
//! `schema`) with a fencing token. This node renews the leases of the claims it holds every
//! third of the lease, so a slow attempt keeps its delivery; a node that dies stops renewing, its
//! leases run out, and the other nodes' rescans find the deliveries claimable again. An outcome
//! is recorded only under the token it was claimed with: a node that comes back after its lease
//! ran out learns that its attempt was a duplicate instead of overwriting the newer claim's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{GenericClient, Pool};
use futures_util::StreamExt;
use tokio::sync::mpsc::UnboundedSender;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{AsyncMessage, Socket};

use super::sql::Cached;
use super::{pg, Tls};
use crate::store::{now_ms, Claim, MasterKey, Notice, StoreError};

/// The one channel every node listens on.
pub const CHANNEL: &str = "hookgate";
/// The longest payload `pg_notify` takes is 8,000 bytes; a fan-out naming more endpoints than
/// fit says "anywhere" instead.
const MAX_PAYLOAD: usize = 7_900;
/// A node whose row was not renewed for this long is gone (for the config comparison).
const NODE_GONE_MS: u64 = 60_000;

/// The claims this node holds: delivery id → fencing token.
#[derive(Default)]
pub struct Claims(Mutex<HashMap<String, Claim>>);

impl Claims {
    /// Remembers claims just taken.
    pub fn hold(&self, claims: impl IntoIterator<Item = (String, Claim)>) {
        self.0.lock().unwrap().extend(claims);
    }

    /// Forgets a claim (recorded, stale or released).
    pub fn drop_claim(&self, id: &str, token: Claim) {
        let mut held = self.0.lock().unwrap();
        if held.get(id) == Some(&token) {
            held.remove(id);
        }
    }

    fn snapshot(&self) -> (Vec<String>, Vec<i64>) {
        let held = self.0.lock().unwrap();
        held.iter().map(|(id, t)| (id.clone(), *t as i64)).unzip()
    }
}

/// Sends a notice to every node, inside the caller's transaction (it goes out at commit, and
/// not at all if the transaction rolls back).
pub async fn notify(c: &impl GenericClient, notice: &Notice) -> Result<(), StoreError> {
    let payload = encode(notice);
    c.run("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])
        .await
        .map_err(pg)?;
    Ok(())
}

/// Due work on `endpoints`, as one notice.
pub fn due_notice<'a>(endpoints: impl IntoIterator<Item = &'a str>) -> Notice {
    let mut list: Vec<String> = Vec::new();
    let mut len = 0;
    for ep in endpoints {
        if list.iter().any(|e| e == ep) {
            continue;
        }
        len += ep.len() + 1;
        if len > MAX_PAYLOAD {
            return Notice::DueAnywhere;
        }
        list.push(ep.to_string());
    }
    Notice::Due(list)
}

fn encode(n: &Notice) -> String {
    match n {
        Notice::Due(eps) => format!("due:{}", eps.join(",")),
        Notice::DueAnywhere => "due:*".into(),
        Notice::Endpoint(id) => format!("endpoint:{id}"),
        Notice::State(id) => format!("state:{id}"),
        Notice::Keys => "keys".into(),
        Notice::Everything => "all".into(),
    }
}

/// The notice in a payload; `None` for one this version does not know (a newer node's).
pub fn decode(payload: &str) -> Option<Notice> {
    let (kind, arg) = payload.split_once(':').unwrap_or((payload, ""));
    Some(match kind {
        "due" if arg == "*" => Notice::DueAnywhere,
        "due" => Notice::Due(
            arg.split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
        ),
        "endpoint" => Notice::Endpoint(arg.to_string()),
        "state" => Notice::State(arg.to_string()),
        "keys" => Notice::Keys,
        "all" => Notice::Everything,
        _ => return None,
    })
}

/// Refuses a master key other than the one the database's secrets are sealed with (the first
/// node to start records its fingerprint).
pub async fn check_master_key(c: &impl GenericClient, key: &MasterKey) -> Result<(), StoreError> {
    let ours = key.fingerprint();
    c.run(
        "INSERT INTO settings (name, value) VALUES ('master_key', $1) ON CONFLICT DO NOTHING",
        &[&ours],
    )
    .await
    .map_err(pg)?;
    let row = c
        .row("SELECT value FROM settings WHERE name = 'master_key'", &[])
        .await
        .map_err(pg)?;
    let theirs: String = row.get(0);
    if theirs != ours {
        return Err(StoreError::Storage(
            "this node's master key is not the one the database's secrets are sealed with: \
             give every node the same HOOKGATE_MASTER_KEY"
                .into(),
        ));
    }
    Ok(())
}

/// This node in the `nodes` table, and a warning for every live node whose config differs.
pub async fn register(
    c: &impl GenericClient,
    node: &str,
    config_hash: &str,
) -> Result<(), StoreError> {
    let now = now_ms() as i64;
    c.run(
        "INSERT INTO nodes (id, config_hash, started_ms, seen_ms) VALUES ($1, $2, $3, $3) \
         ON CONFLICT (id) DO UPDATE SET config_hash = $2, started_ms = $3, seen_ms = $3",
        &[&node, &config_hash, &now],
    )
    .await
    .map_err(pg)?;
    let others = c
        .rows(
            "SELECT id, config_hash FROM nodes WHERE id <> $1 AND seen_ms > $2 \
             AND config_hash <> $3 ORDER BY id",
            &[&node, &(now - NODE_GONE_MS as i64), &config_hash],
        )
        .await
        .map_err(pg)?;
    for row in others {
        let (other, hash): (String, String) = (row.get(0), row.get(1));
        tracing::warn!(node = %node, other_node = %other, config_hash = %config_hash, other_config_hash = %hash, "this node's config file differs from another live node's; nodes of one cluster should read the same config");
    }
    Ok(())
}

/// Every third of `lease`: renews the leases of the claims this node holds and its own row.
pub async fn renew(pool: Pool, claims: Arc<Claims>, node: String, lease: Duration) {
    let every = (lease / 3).max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(every).await;
        let (ids, tokens) = claims.snapshot();
        let lease_ms = lease.as_millis() as i64;
        let Ok(c) = pool.get().await else {
            continue; // the probe reports the outage
        };
        if !ids.is_empty() {
            let renewed = c
                .run(
                    "UPDATE deliveries d SET lease_until_ms = \
                     (extract(epoch FROM clock_timestamp()) * 1000)::bigint + $3 \
                     FROM unnest($1::text[], $2::bigint[]) AS c(id, token) \
                     WHERE d.id = c.id AND d.lease_token = c.token",
                    &[&ids, &tokens, &lease_ms],
                )
                .await;
            if let Err(e) = renewed {
                tracing::warn!(claims = ids.len(), error = %e, "cannot renew leases");
            }
        }
        let _ = c
            .run(
                "UPDATE nodes SET seen_ms = $2 WHERE id = $1",
                &[&node, &(now_ms() as i64)],
            )
            .await;
    }
}

/// Every second: folds the counter deltas every node appended into `counters` (see
/// `admin::add_counters`), a batch at a time until none are left.
pub async fn fold(pool: Pool) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Ok(c) = pool.get().await else {
            continue;
        };
        loop {
            match super::admin::fold_counters(&c, 10_000).await {
                Ok(n) if n > 0 => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::debug!(error = %e, "cannot fold counters now");
                    break;
                }
            }
        }
    }
}

/// Listens for other nodes' notices on a connection of its own (a pooled one would be given
/// to others between statements) and forwards them. After a lost connection it reconnects
/// and sends [`Notice::Everything`] and [`Notice::DueAnywhere`]: notices sent meanwhile are lost.
pub async fn listen(config: tokio_postgres::Config, tls: Tls, tx: UnboundedSender<Notice>) {
    let mut connected_before = false;
    loop {
        let result = match &tls {
            Tls::Off => listen_once(&config, tokio_postgres::NoTls, &tx, connected_before).await,
            Tls::Rustls(t) => listen_once(&config, t.clone(), &tx, connected_before).await,
        };
        match result {
            Ok(()) => return, // nobody takes notices any more
            Err(e) => {
                if connected_before {
                    tracing::warn!(error = %e, "lost the notice connection; reconnecting");
                }
            }
        }
        connected_before = true;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// One connection's life: `Ok` when the receiver is gone, `Err` when the connection is.
async fn listen_once<T>(
    config: &tokio_postgres::Config,
    tls: T,
    tx: &UnboundedSender<Notice>,
    reconnected: bool,
) -> Result<(), tokio_postgres::Error>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    let (client, mut conn) = config.connect(tls).await?;
    let (msg_tx, mut msgs) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut stream = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(m) = stream.next().await {
            match m {
                Ok(AsyncMessage::Notification(n)) => {
                    let _ = msg_tx.send(Ok(n.payload().to_string()));
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = msg_tx.send(Err(e));
                    return;
                }
            }
        }
    });
    let _driver = scopeguard::guard(driver, |d| d.abort());
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    if reconnected {
        tracing::info!("notice connection back; looking at everything again");
        for n in [Notice::Everything, Notice::DueAnywhere] {
            if tx.send(n).is_err() {
                return Ok(());
            }
        }
    }
    loop {
        match msgs.recv().await {
            Some(Ok(payload)) => {
                if let Some(n) = decode(&payload) {
                    if tx.send(n).is_err() {
                        return Ok(());
                    }
                }
            }
            Some(Err(e)) => return Err(e),
            None => {
                // The driver ended without an error: the server closed the connection.
                return client.simple_query("SELECT 1").await.map(|_| ());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_survive_their_payload() {
        for n in [
            Notice::Due(vec!["a".into(), "b".into()]),
            Notice::DueAnywhere,
            Notice::Endpoint("ep_1".into()),
            Notice::State("ep_2".into()),
            Notice::Keys,
            Notice::Everything,
        ] {
            assert_eq!(decode(&encode(&n)), Some(n));
        }
        assert_eq!(decode("newer:thing"), None);
    }

    #[test]
    fn a_fan_out_too_large_to_name_is_due_anywhere() {
        let many: Vec<String> = (0..2_000).map(|i| format!("endpoint_{i}")).collect();
        assert_eq!(
            due_notice(many.iter().map(String::as_str)),
            Notice::DueAnywhere
        );
        assert_eq!(
            due_notice(["a", "b", "a"]),
            Notice::Due(vec!["a".into(), "b".into()])
        );
    }
}
