//! What one endpoint costs in memory, counted by the allocator (deterministic, not timed): the
//! live endpoint with its parsed config and secrets, and its entries in every index of the
//! registry. A gateway is meant to hold 100,000 endpoints in well under 150 MiB; this fails
//! when the per-endpoint cost grows past its budget.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use hookgate::config::NetworkConfig;
use hookgate::dispatch::{LiveEndpoint, Registry};
use hookgate::store::{ManagedEndpoint, SigningSecret};

/// Counts bytes live on the heap (requested sizes; the allocator adds its own overhead).
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Budget per endpoint, in bytes requested from the allocator. Measured 2026-12-02: 891 (707
/// the live endpoint with its config and secret, 184 its registry entries), down from 1,151
/// before the indexes became B-trees of pointers (a hash trie's sparse nodes cost ~400 bytes
/// per route at 100,000 routes) and from 1,871 before small groups became slices.
const BUDGET: isize = 1_000;
const N: usize = 10_000;

fn record(i: usize) -> ManagedEndpoint {
    ManagedEndpoint {
        id: format!("ep{i}"),
        tenant: format!("customer{}", i % 1000),
        spec: serde_json::json!({
            "url": format!("https://hooks.customer{i}.example.com/webhooks/hookgate"),
            "events": [format!("invoice.e{i}"), "invoice.*"],
        }),
        secrets: vec![SigningSecret {
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            expires_ms: None,
        }],
        description: None,
        created_ms: 1,
        updated_ms: 1,
    }
}

#[test]
fn an_endpoint_costs_a_small_fixed_number_of_bytes() {
    let net = NetworkConfig::default();
    let registry = Registry::new();
    let records: Vec<ManagedEndpoint> = (0..N).map(record).collect();
    let before = LIVE.load(Ordering::Relaxed);
    let lives: Vec<LiveEndpoint> = records
        .iter()
        .map(|rec| LiveEndpoint::from_managed(rec, &net, &[]).expect("valid endpoint"))
        .collect();
    let parsed = LIVE.load(Ordering::Relaxed);
    for live in lives {
        registry.upsert_managed(live);
    }
    let after = LIVE.load(Ordering::Relaxed);
    let per_endpoint = (after - before) / N as isize;
    eprintln!(
        "one endpoint: {per_endpoint} bytes (budget {BUDGET}): live endpoint {}, registry {}",
        (parsed - before) / N as isize,
        (after - parsed) / N as isize
    );
    assert!(
        per_endpoint <= BUDGET,
        "one endpoint costs {per_endpoint} bytes, over its budget of {BUDGET}"
    );
    assert_eq!(registry.snapshot().len(), N);
}
