//! Fan-out: which endpoints an event goes to.
//!
//! An event goes to every active endpoint of its tenant whose `events` patterns match its type
//! (empty patterns = everything), found through the snapshot's pattern index
//! ([`super::snapshot`]) at a cost that does not grow with the tenant's endpoint count. Disabled endpoints are skipped, as Svix does: an operator who
//! re-enables one can `recover` what it missed.

use super::registry::Registry;
use crate::store::{new_delivery_id, DeliveryRef};

/// The deliveries to create for one event, in endpoint-id order.
pub fn plan(registry: &Registry, tenant: &str, event_type: &str) -> Vec<DeliveryRef> {
    registry
        .snapshot()
        .subscribers(tenant, event_type)
        .iter()
        .filter(|e| registry.is_active(e))
        .map(|e| DeliveryRef {
            id: new_delivery_id(),
            endpoint_id: e.config.id.clone(),
        })
        .collect()
}
