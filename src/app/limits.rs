//! The process and connection limits the gateway starts with: the open-file limit raised to
//! the hard one, and the accept loop's limits derived from it and `server:`.

use crate::config::Config;
use crate::server::{self, open_files};

/// Raises the soft open-file limit to the hard one (each client connection, delivery socket
/// and database file is a descriptor) and returns the limit in force. A failure is logged and
/// the old limit kept.
pub(super) fn raise_open_files_limit() -> u64 {
    match open_files::raise_to_hard() {
        Ok(o) => {
            if let Some(from) = o.raised_from {
                tracing::debug!(from, to = o.limit, "raised the open-file limit");
            }
            o.limit
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open-file limit; keeping it");
            open_files::soft_limit().unwrap_or(u64::MAX)
        }
    }
}

/// Descriptors counted for everything but connections and delivery sockets: the database,
/// the listener, the runtime, the config watcher, plugin files, logs.
const FD_RESERVE: u64 = 64;

/// The accept loop's limits under an open-file limit of `open_files`; warns when connections
/// plus delivery sockets could exceed it.
pub(super) fn connection_limits(cfg: &Config, open_files: u64) -> server::Limits {
    let limits = server::Limits {
        header_read_timeout: cfg.server.header_read_timeout,
        idle_timeout: cfg.server.idle_timeout,
        max_connections: cfg.server.max_connections_for(open_files),
        drain_grace: cfg.delivery.shutdown_grace,
    };
    let wanted = (limits.max_connections as u64)
        .saturating_add(cfg.delivery.max_in_flight as u64)
        .saturating_add(FD_RESERVE);
    if wanted > open_files {
        tracing::warn!(
            open_files_limit = open_files,
            max_connections = limits.max_connections,
            delivery_max_in_flight = cfg.delivery.max_in_flight,
            "the open-file limit is below what connections, delivery sockets and the database \
             may use at once; raise the hard limit (ulimit -Hn, systemd LimitNOFILE=) or lower \
             server.max_connections or delivery.max_in_flight"
        );
    }
    limits
}
