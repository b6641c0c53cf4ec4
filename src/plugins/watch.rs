//! Hot reload of plugin files.
//!
//! `reload(name)` recompiles one plugin from its configured path on the blocking pool and swaps
//! it in; `reload_if_changed()` checks every plugin file's (mtime, length) and reloads those
//! whose content digest changed. The gateway's existing `notify` watcher (config/) calls
//! `reload_if_changed()` after debouncing, so this module needs no watcher of its own and
//! editors that replace files (rename over) are handled like in-place writes. A broken file
//! keeps the last good version in service and records the error in `status()`.

use std::sync::Arc;
use std::time::SystemTime;

use super::error::PluginError;
use super::runtime::{LoadedPlugin, PluginHost};

/// What `reload_if_changed` did for one plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// File untouched, or touched with identical content.
    Unchanged,
    /// New content now in service.
    Reloaded {
        /// Digest of the new version.
        sha256: String,
    },
    /// New content rejected; the previous version stays in service.
    Failed(PluginError),
}

impl PluginHost {
    /// Recompiles `name` from its configured path and swaps it in atomically.
    pub async fn reload(&self, name: &str) -> Result<Arc<LoadedPlugin>, PluginError> {
        let _guard = self.lock_loads_of(name).await;
        let spec = self
            .records()
            .get(name)
            .map(|r| r.spec.clone())
            .ok_or_else(|| PluginError::NotLoaded {
                plugin: name.to_string(),
            })?;
        match self.load_locked(name, spec, None).await? {
            Some(loaded) => Ok(loaded),
            None => self.get(name).ok_or_else(|| PluginError::NotLoaded {
                plugin: name.to_string(),
            }),
        }
    }

    /// Reloads every plugin whose file changed since it was last read; one entry per plugin.
    /// Each plugin is checked under its own load lock, so a concurrent `load` of it (an API or
    /// config change) is never overtaken with a stale spec.
    pub async fn reload_if_changed(&self) -> Vec<(String, ReloadOutcome)> {
        let names: Vec<String> = self.records().keys().cloned().collect();
        let mut outcomes = Vec::with_capacity(names.len());
        for name in names {
            let _guard = self.lock_loads_of(&name).await;
            let Some((spec, stamp, sha)) = (self.records().get(&name))
                .map(|r| (r.spec.clone(), r.stamp, r.status.sha256.clone()))
            else {
                continue; // unloaded meanwhile
            };
            // Built-ins live in the binary: they change only with it.
            let Some(path) = spec.source.path().map(|p| p.to_path_buf()) else {
                continue;
            };
            if stamp.is_some() && stamp == file_stamp(&path) {
                outcomes.push((name, ReloadOutcome::Unchanged));
                continue;
            }
            let outcome = match self.load_locked(&name, spec, sha).await {
                Ok(Some(loaded)) => ReloadOutcome::Reloaded {
                    sha256: loaded.sha256.clone(),
                },
                Ok(None) => ReloadOutcome::Unchanged,
                Err(e) => {
                    // Remember the broken file's stamp: retry only when it changes again.
                    if let Some(r) = self.records().get_mut(&name) {
                        r.stamp = file_stamp(&path);
                    }
                    ReloadOutcome::Failed(e)
                }
            };
            outcomes.push((name, outcome));
        }
        outcomes
    }
}

fn file_stamp(path: &std::path::Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}
