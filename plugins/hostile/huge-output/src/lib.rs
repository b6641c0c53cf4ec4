//! Hostile: returns a 64 MiB body. The host must enforce its output size limit (or memory
//! limit) instead of sending or buffering it further. Config `{"mib": N}` changes the size.

use hookgate_plugin_sdk::{config, Decision, Delivery, Plugin};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(default)]
struct Config {
    mib: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config { mib: 64 }
    }
}

/// Delivers an oversized body.
pub struct HostileHugeOutput;

impl Plugin for HostileHugeOutput {
    fn handle(delivery: Delivery) -> Result<Decision, String> {
        let cfg: Config = config()?;
        let (_, headers) = delivery.into_body_and_headers();
        Ok(Decision::deliver(vec![b'x'; cfg.mib << 20], headers))
    }
}

hookgate_plugin_sdk::export_plugin!(HostileHugeOutput);
