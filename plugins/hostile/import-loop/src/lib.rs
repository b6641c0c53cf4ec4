//! Hostile: calls host imports (`log`, `kv.get`) in a tight loop forever. Time spent inside
//! the host must still count against the deadline, and log rate-limiting must hold.

use hookgate_plugin_sdk::{kv, log, Decision, Delivery, Plugin};

/// Hammers the host imports.
pub struct HostileImportLoop;

impl Plugin for HostileImportLoop {
    fn handle(_delivery: Delivery) -> Result<Decision, String> {
        loop {
            log::info("hostile-import-loop: spam");
            // Errors (kv not granted) are ignored on purpose: the point is the call rate.
            let _ = std::hint::black_box(kv::get("hostile-import-loop"));
        }
    }
}

hookgate_plugin_sdk::export_plugin!(HostileImportLoop);
