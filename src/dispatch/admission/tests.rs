//! The admission rules, each with explicit times.

use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::config::NetworkConfig;
use crate::store::{DeliveryRecord, DeliveryStatus, DueDelivery, EventRecord};

fn endpoint(extra: serde_json::Value) -> LiveEndpoint {
    let mut spec = json!({"id": "ep", "tenant": "acme", "url": "https://r.example.com/h"});
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    let config = crate::config::parse_endpoint(&spec, &NetworkConfig::default(), &[]).unwrap();
    LiveEndpoint::from_config(config, crate::signing::Secret::new("whsec_test"))
}

fn due(id: &str, next_attempt_ms: Option<Millis>) -> DueDelivery {
    let event = EventRecord {
        id: "evt".into(),
        event_type: "t".into(),
        tenant: "acme".into(),
        timestamp_ms: 0,
        body: "{}".into(),
        fanout: 1,
    };
    DueDelivery {
        delivery: DeliveryRecord {
            id: id.into(),
            event_id: "evt".into(),
            endpoint_id: "ep".into(),
            tenant: "acme".into(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            created_ms: 0,
            updated_ms: 0,
            next_attempt_ms,
            due_key_ms: 0,
            last_status_code: None,
            last_error: None,
            payload: None,
            retry_base: 0,
            expires_ms: None,
        },
        event: Arc::new(event),
        payload: None,
        claim: crate::store::NO_CLAIM,
    }
}

fn ids(s: &Sorted) -> Vec<&str> {
    s.start.iter().map(|d| d.delivery.id.as_str()).collect()
}

#[test]
fn a_scan_asks_for_the_least_of_free_slots_global_permits_and_the_batch() {
    let live = endpoint(json!({"max_in_flight": 4}));
    let mut s = EndpointSched::default();
    assert_eq!(s.admit(&live, 0, 100), Admit::Scan(4));
    assert_eq!(s.admit(&live, 0, 3), Admit::Scan(3));
    let wide = endpoint(json!({"max_in_flight": 10_000}));
    assert_eq!(s.admit(&wide, 0, 10_000), Admit::Scan(SCAN_BATCH));
}

#[test]
fn a_full_endpoint_waits_for_an_eighth_of_its_slots() {
    let live = endpoint(json!({"max_in_flight": 16}));
    let mut s = EndpointSched::default();
    s.in_flight.extend((0..16).map(|i| format!("d{i}")));
    assert_eq!(s.admit(&live, 0, 100), Admit::Full);
    assert!(!s.finished("d0", 16), "one free slot of 16 is not enough");
    assert!(s.finished("d1", 16), "two of 16 are");
    assert!(!s.finished("d2", 16), "and it is said once");
}

#[test]
fn a_cluster_wide_full_cap_waits_for_a_quarter_of_this_nodes_attempts() {
    let live = endpoint(json!({"max_in_flight": 64}));
    let mut s = EndpointSched::default();
    s.in_flight.extend((0..8).map(|i| format!("d{i}")));
    s.wait_for_cluster_slot();
    assert_eq!(
        s.admit(&live, 0, 100),
        Admit::Full,
        "a publish does not claim while other nodes hold the cap"
    );
    assert!(
        !s.finished("d0", 64),
        "one of this node's eight is not enough"
    );
    assert!(s.finished("d1", 64), "two of eight are");
    assert_eq!(s.admit(&live, 0, 100), Admit::Scan(58));
}

#[test]
fn a_cluster_wide_full_cap_with_nothing_of_ours_in_flight_still_scans() {
    let live = endpoint(json!({"max_in_flight": 64}));
    let mut s = EndpointSched::default();
    s.wait_for_cluster_slot();
    assert_eq!(
        s.admit(&live, 0, 100),
        Admit::Scan(64),
        "its recheck timer asks"
    );
}

#[test]
fn the_rate_bucket_limits_a_scan_and_says_when_the_next_token_comes() {
    let live = endpoint(json!({"rate": "2/s"}));
    let mut s = EndpointSched::default();
    assert_eq!(s.admit(&live, 1_000, 100), Admit::Scan(2));
    s.spend(2);
    assert_eq!(
        s.admit(&live, 1_000, 100),
        Admit::RateLimited { until: 1_500 }
    );
    assert_eq!(s.admit(&live, 1_500, 100), Admit::Scan(1));
    assert!(!s.is_idle(), "a rate bucket is state worth keeping");
}

#[test]
fn a_fifo_endpoint_has_one_slot_and_stops_at_a_waiting_head() {
    let live = endpoint(json!({"ordering": "fifo", "max_in_flight": 8}));
    let mut s = EndpointSched::default();
    assert_eq!(s.admit(&live, 0, 100), Admit::Scan(1));
    let sorted = sort_scan(vec![due("a", Some(50)), due("b", None)], Some(7), true, 10);
    assert!(
        ids(&sorted).is_empty(),
        "nothing behind a waiting head may go"
    );
    assert_eq!(sorted.next, Some(50), "the head's own time decides");
}

#[test]
fn an_unordered_endpoint_passes_over_deliveries_not_due_yet() {
    let items = vec![due("a", Some(50)), due("b", Some(10)), due("c", Some(30))];
    let sorted = sort_scan(items, Some(40), false, 10);
    assert_eq!(ids(&sorted), ["b"]);
    assert_eq!(
        sorted.next,
        Some(30),
        "the earliest of the scan's next key and the skipped"
    );
}

#[test]
fn a_scan_that_started_nothing_is_not_looked_at_again_in_the_same_millisecond() {
    assert_eq!(next_look(Some(5), 0, 10), Some(11));
    assert_eq!(next_look(Some(5), 1, 10), Some(5));
    assert_eq!(next_look(None, 0, 10), None);
}

#[test]
fn slots_are_kept_while_the_cap_holds_and_replaced_when_it_changes() {
    let mut s = EndpointSched::default();
    let a = s.slots(4);
    assert!(Arc::ptr_eq(&a, &s.slots(4)));
    let b = s.slots(8);
    assert!(!Arc::ptr_eq(&a, &b));
    assert_eq!(b.available_permits(), 8);
}

#[test]
fn an_endpoint_with_nothing_in_flight_and_no_bucket_is_idle() {
    let live = endpoint(json!({}));
    let mut s = EndpointSched::default();
    assert!(s.is_idle());
    assert_eq!(s.admit(&live, 0, 100), Admit::Scan(64));
    s.in_flight.insert("d".into());
    assert!(!s.is_idle());
    s.finished("d", 64);
    assert!(s.is_idle());
}
