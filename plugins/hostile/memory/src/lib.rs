//! Hostile: allocates 1 MiB at a time, touching every page, until the allocation fails. The
//! host's memory limit must turn that into a trap for this delivery only.

use hookgate_plugin_sdk::{Decision, Delivery, Plugin};

/// Grows a vector of 1 MiB blocks forever.
pub struct HostileMemory;

impl Plugin for HostileMemory {
    fn handle(_delivery: Delivery) -> Result<Decision, String> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            // Non-zero fill so the pages are really written, not just reserved.
            hoard.push(std::hint::black_box(vec![0xA5u8; 1 << 20]));
        }
    }
}

hookgate_plugin_sdk::export_plugin!(HostileMemory);
