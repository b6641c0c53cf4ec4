//! Hostile: unbounded recursion. By default the frames are small, so it exhausts the
//! engine's native wasm stack (wasmtime `max_wasm_stack`); with config
//! `{"frame_bytes": 4096}` each frame also holds a buffer in linear memory, so it overflows
//! the guest's shadow stack instead. Both must trap without harming the host.

use hookgate_plugin_sdk::{config, Decision, Delivery, Plugin};
use serde::Deserialize;
use std::hint::black_box;

#[derive(Deserialize, Default)]
#[serde(default)]
struct Config {
    frame_bytes: usize,
}

/// Recurses until the stack runs out.
pub struct HostileRecursion;

/// Not a tail call (the result is used after the call), so it cannot become a loop.
// Endless by design: that is the test.
#[allow(unconditional_recursion)]
#[inline(never)]
fn small(depth: u64) -> u64 {
    black_box(small(black_box(depth + 1))).wrapping_add(depth)
}

#[allow(unconditional_recursion)]
#[inline(never)]
fn big(depth: u64) -> u64 {
    let buf = black_box([depth as u8; 4096]);
    black_box(big(black_box(depth + 1))).wrapping_add(u64::from(buf[depth as usize % 4096]))
}

impl Plugin for HostileRecursion {
    fn handle(_delivery: Delivery) -> Result<Decision, String> {
        let cfg: Config = config()?;
        let n = if cfg.frame_bytes > 0 {
            big(0)
        } else {
            small(0)
        };
        Err(format!("unreachable: recursion returned {n}"))
    }
}

hookgate_plugin_sdk::export_plugin!(HostileRecursion);
