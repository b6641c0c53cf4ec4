//! Hostile: never returns (a pure CPU loop with no host calls). The host must stop it with
//! its epoch/fuel deadline and carry on with the next delivery.

use hookgate_plugin_sdk::{Decision, Delivery, Plugin};

/// Spins forever.
pub struct HostileLoop;

impl Plugin for HostileLoop {
    fn handle(_delivery: Delivery) -> Result<Decision, String> {
        let mut n: u64 = 0;
        loop {
            // black_box keeps the optimizer from proving the loop useless.
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}

hookgate_plugin_sdk::export_plugin!(HostileLoop);
