//! What changed between two configs, so a hot reload can log it, touch only
//! the affected endpoints and warn about settings that need a restart.
//!
//! Owns: [`ConfigDiff`] and [`diff`] (pure; no I/O). Imports nothing from
//! api/store/dispatch/delivery/plugins.

use std::collections::HashMap;

use super::types::{Config, EndpointConfig};

/// The difference between an old and a new config.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigDiff {
    /// Endpoint ids only in the new config (new-file order).
    pub added: Vec<String>,
    /// Endpoint ids in both whose settings differ in any way (new-file order).
    pub changed: Vec<String>,
    /// Endpoint ids only in the old config (old-file order).
    pub removed: Vec<String>,
    /// Changed settings that only take effect after a restart: `"listen"`, `"data_dir"`,
    /// `"server"` (the accept loop reads its limits once, at start), `"storage"`.
    pub restart_required: Vec<&'static str>,
}

impl ConfigDiff {
    /// True when no endpoint changed and no restart is needed (other sections
    /// such as `delivery` may still differ; compare the configs for those).
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.changed.is_empty()
            && self.removed.is_empty()
            && self.restart_required.is_empty()
    }
}

/// Compares endpoints by id and full value, and the restart-only settings.
pub fn diff(old: &Config, new: &Config) -> ConfigDiff {
    let by_id = |eps: &[EndpointConfig]| -> HashMap<String, usize> {
        eps.iter()
            .enumerate()
            .map(|(i, e)| (e.id.clone(), i))
            .collect()
    };
    let old_ids = by_id(&old.endpoints);
    let new_ids = by_id(&new.endpoints);
    let mut out = ConfigDiff::default();
    for ep in &new.endpoints {
        match old_ids.get(&ep.id) {
            None => out.added.push(ep.id.clone()),
            Some(&i) if old.endpoints[i] != *ep => out.changed.push(ep.id.clone()),
            Some(_) => {}
        }
    }
    out.removed = (old.endpoints.iter())
        .filter(|ep| !new_ids.contains_key(&ep.id))
        .map(|ep| ep.id.clone())
        .collect();
    if old.listen != new.listen {
        out.restart_required.push("listen");
    }
    if old.data_dir != new.data_dir {
        out.restart_required.push("data_dir");
    }
    if old.server != new.server {
        out.restart_required.push("server");
    }
    if old.storage != new.storage {
        out.restart_required.push("storage");
    }
    out
}
