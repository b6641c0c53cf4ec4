//! Config checks at load time: `PluginHost::check_config` asks a plugin (its WIT 0.1.1
//! `validate` export) what is wrong with one chain entry's `config`, so `serve`, hot reload, the
//! endpoint API and `hookgate config check` refuse a bad config with its position instead of
//! the first delivery failing. The caller maps each problem's JSON pointer to a position.

use std::sync::Arc;

use super::call;
use super::error::PluginError;
use super::runtime::{LoadedPlugin, PluginHost};

/// One problem a plugin found in a chain entry's config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// JSON Pointer (RFC 6901) into the config; empty for the config as a whole.
    pub pointer: String,
    /// What is wrong and what is expected.
    pub message: String,
}

impl LoadedPlugin {
    /// Whether this component can check configs (built against WIT 0.1.1 or later).
    pub fn checks_config(&self) -> bool {
        self.validate.is_some()
    }
}

impl PluginHost {
    /// Every problem plugin `name` finds in `config` (empty: accepted, also for plugins that
    /// cannot check). A built-in loads on first use; a plugin that is not loaded, or whose check
    /// traps or runs past its deadline, is an error (the config cannot be judged).
    pub async fn check_config(
        &self,
        name: &str,
        config: &serde_json::Value,
    ) -> Result<Vec<ConfigProblem>, PluginError> {
        let plugin: Arc<LoadedPlugin> = match self.get(name) {
            Some(p) => p,
            None => self.builtin_on_first_use(name).await?,
        };
        let _running = self.inner.ticker.running();
        let problems =
            call::check_config(&plugin, &self.inner.services, &config.to_string()).await?;
        Ok(problems
            .into_iter()
            .map(|p| ConfigProblem {
                pointer: p.pointer,
                message: p.message,
            })
            .collect())
    }
}
