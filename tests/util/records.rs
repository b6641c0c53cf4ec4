//! Store records for the tests that drive a store directly (conformance, cluster, TLS).

use hookgate::store::{DeliveryRef, EventRecord, MasterKey, Millis, NewEvent};

/// The master key every test store seals with.
pub fn key() -> MasterKey {
    MasterKey::parse(&"ab".repeat(32), "test").unwrap()
}

/// Event `id` at `ts` (body `{"id":"<id>"}`), fanned out to `endpoints` as `del_<id>_<ep>`.
pub fn event(id: &str, ts: Millis, endpoints: &[&str]) -> NewEvent {
    let e = EventRecord {
        id: id.into(),
        event_type: "invoice.paid".into(),
        tenant: "acme".into(),
        timestamp_ms: ts,
        body: format!(r#"{{"id":"{id}"}}"#),
        fanout: 0,
    };
    let refs = (endpoints.iter())
        .map(|ep| DeliveryRef {
            id: format!("del_{id}_{ep}"),
            endpoint_id: ep.to_string(),
        })
        .collect();
    NewEvent::new(e, refs)
}
