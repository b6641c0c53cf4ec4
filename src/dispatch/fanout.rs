//! Fan-out: which endpoints an event goes to.
//!
//! An event goes to every active endpoint of its tenant whose `events` patterns match its type
//! (empty patterns = everything). Disabled endpoints are skipped, as Svix does: an operator who
//! re-enables one can `recover` what it missed.

use super::registry::Registry;
use crate::config::matches_any;
use crate::store::{new_delivery_id, DeliveryRef};

/// The deliveries to create for one event, in endpoint-id order.
pub fn plan(registry: &Registry, tenant: &str, event_type: &str) -> Vec<DeliveryRef> {
    let snap = registry.snapshot();
    let Some(list) = snap.by_tenant.get(tenant) else {
        return Vec::new();
    };
    list.iter()
        .filter(|e| matches_any(&e.config.events, event_type) && registry.is_active(e))
        .map(|e| DeliveryRef {
            id: new_delivery_id(),
            endpoint_id: e.config.id.clone(),
        })
        .collect()
}
