//! Hostile: panics, which with `panic = "abort"` is a wasm trap. The host must report it as
//! a plugin error (the endpoint's `on_error` policy), not crash.

use hookgate_plugin_sdk::{Decision, Delivery, Plugin};

/// Panics on every delivery.
pub struct HostilePanic;

impl Plugin for HostilePanic {
    fn handle(delivery: Delivery) -> Result<Decision, String> {
        panic!(
            "hostile-panic: deliberate panic for delivery {}",
            delivery.id()
        );
    }
}

hookgate_plugin_sdk::export_plugin!(HostilePanic);
