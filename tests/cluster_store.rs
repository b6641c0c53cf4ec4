//! Two nodes' stores on one real PostgreSQL (started by the test, see `util::pg`): the claim
//! rules that let N gateway nodes share the work — a claim is exclusive, an endpoint's cap, order
//! and rate hold across nodes, a lease that runs out passes the delivery on and fences the old
//! claim's outcome out — and the notices each node gets of the others' changes.

mod util;

use std::time::Duration;

use hookgate::store::*;
use util::records::{event, key};

/// Two nodes on one fresh database, with leases of `lease`.
async fn two_nodes(lease: Duration) -> (PgStore, PgStore) {
    let url = util::pg::database().await;
    (node(&url, "n1", lease).await, node(&url, "n2", lease).await)
}

async fn node(url: &str, name: &str, lease: Duration) -> PgStore {
    let mut o = PgOptions::new(url);
    o.pool_size = 4;
    o.lease = lease;
    o.node = name.into();
    PgStore::open(&o, key()).await.unwrap()
}

async fn publish(s: &PgStore, n: usize, ep: &str) {
    let events = (0..n)
        .map(|i| event(&format!("evt_{i:03}"), 10 + i as Millis, &[ep]))
        .collect();
    s.ingest(events).await.unwrap();
}

fn succeeded(item: &DueDelivery) -> AttemptOutcome {
    AttemptOutcome {
        delivery: item.delivery.clone(),
        attempt: None,
        payload: None,
        status: DeliveryStatus::Succeeded,
        next_attempt_ms: None,
        place: QueuePlace::ByNextAttempt,
        endpoint_effect: EndpointEffect::Success,
        reason: None,
        claim: item.claim,
    }
}

async fn claim(s: &PgStore, want: DueWant<'_>) -> DueScan {
    s.claim(now_ms(), &[want]).await.unwrap().remove(0)
}

fn ids(scan: &DueScan) -> Vec<&str> {
    scan.items.iter().map(|d| d.delivery.id.as_str()).collect()
}

#[tokio::test]
async fn a_delivery_is_claimed_by_one_node_at_a_time() {
    let (n1, n2) = two_nodes(Duration::from_secs(30)).await;
    publish(&n1, 4, "a").await;
    let first = claim(&n1, DueWant::new("a", 3)).await;
    let second = claim(&n2, DueWant::new("a", 3)).await;
    assert_eq!(
        ids(&first),
        ["del_evt_000_a", "del_evt_001_a", "del_evt_002_a"]
    );
    assert_eq!(ids(&second), ["del_evt_003_a"], "the rest, nothing twice");
    assert!(first.items.iter().all(|d| d.claim != NO_CLAIM));
}

#[tokio::test]
async fn an_endpoints_in_flight_cap_holds_across_nodes() {
    let (n1, n2) = two_nodes(Duration::from_secs(30)).await;
    publish(&n1, 5, "a").await;
    let capped = |limit| DueWant {
        cap: 2,
        ..DueWant::new("a", limit)
    };
    assert_eq!(claim(&n1, capped(10)).await.items.len(), 2);
    let other = claim(&n2, capped(10)).await;
    assert!(other.items.is_empty() && other.full, "{other:?}");
    let done = claim(&n1, capped(10)).await;
    assert!(done.full, "the cap counts this node's own claims too");
}

#[tokio::test]
async fn a_fifo_endpoint_goes_one_at_a_time_in_order_across_nodes() {
    let (n1, n2) = two_nodes(Duration::from_secs(30)).await;
    publish(&n1, 3, "f").await;
    let fifo = || DueWant {
        cap: 1,
        fifo: true,
        ..DueWant::new("f", 10)
    };
    let head = claim(&n1, fifo()).await;
    assert_eq!(ids(&head), ["del_evt_000_f"]);
    assert!(
        claim(&n2, fifo()).await.full,
        "nothing passes a head in flight"
    );
    n1.record(vec![succeeded(&head.items[0])]).await.unwrap();
    let next = claim(&n2, fifo()).await;
    assert_eq!(ids(&next), ["del_evt_001_f"], "the next in publish order");
}

#[tokio::test]
async fn an_endpoints_rate_holds_across_nodes() {
    let (n1, n2) = two_nodes(Duration::from_secs(30)).await;
    publish(&n1, 20, "r").await;
    let rated = || DueWant {
        rate: Some(5.0),
        ..DueWant::new("r", 20)
    };
    let now = now_ms();
    let first = n1.claim(now, &[rated()]).await.unwrap().remove(0);
    assert_eq!(first.items.len(), 5, "a second's worth");
    let second = n2.claim(now, &[rated()]).await.unwrap().remove(0);
    assert!(second.items.is_empty(), "the bucket is the cluster's");
    assert_eq!(second.next_due_ms, Some(now + 200), "one token per 200 ms");
    let later = n2.claim(now + 400, &[rated()]).await.unwrap().remove(0);
    assert_eq!(later.items.len(), 2);
}

#[tokio::test]
async fn an_expired_lease_passes_the_delivery_on_and_fences_the_late_outcome() {
    let (n1, n2) = two_nodes(Duration::from_secs(1)).await;
    publish(&n1, 1, "a").await;
    let held = claim(&n1, DueWant::new("a", 1)).await.items.remove(0);
    // n1 stops (a dead node renews nothing): its lease runs out.
    n1.close().await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let taken = claim(&n2, DueWant::new("a", 1)).await.items.remove(0);
    assert_eq!(taken.delivery.id, held.delivery.id);
    assert_ne!(taken.claim, held.claim, "a new fencing token");
    let late = n2.record(vec![succeeded(&held)]).await.unwrap().remove(0);
    assert!(late.stale, "the old claim's outcome is refused: {late:?}");
    let (d, _) = n2.delivery(&held.delivery.id).await.unwrap().unwrap();
    assert_eq!(d.status, DeliveryStatus::Pending, "nothing recorded");
    let own = n2.record(vec![succeeded(&taken)]).await.unwrap().remove(0);
    assert_eq!(
        (own.stale, own.status),
        (false, Some(DeliveryStatus::Succeeded))
    );
}

#[tokio::test]
async fn a_live_nodes_leases_are_renewed() {
    let (n1, n2) = two_nodes(Duration::from_secs(1)).await;
    publish(&n1, 1, "a").await;
    let held = claim(&n1, DueWant::new("a", 1)).await.items.remove(0);
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    assert!(
        claim(&n2, DueWant::new("a", 1)).await.items.is_empty(),
        "a slow attempt keeps its delivery while its node lives"
    );
    let rec = n1.record(vec![succeeded(&held)]).await.unwrap().remove(0);
    assert!(!rec.stale);
}

#[tokio::test]
async fn every_node_hears_of_the_others_changes() {
    let (n1, n2) = two_nodes(Duration::from_secs(30)).await;
    let mut notices = n2.notices().expect("a shared store sends notices");
    // The listener connects in the background; give it a moment before the changes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    publish(&n1, 2, "a").await;
    let audit = |a: &str| AuditEntry::new("test", a, "x", Some("acme"));
    let ep = ManagedEndpoint {
        id: "m".into(),
        tenant: "acme".into(),
        spec: serde_json::json!({"url": "https://r.example.com/h"}),
        secrets: vec![],
        description: None,
        created_ms: 1,
        updated_ms: 1,
    };
    n1.create_managed_endpoint(ep, audit("endpoint.create"))
        .await
        .unwrap();
    n1.put_endpoint_state("m", EndpointState::default())
        .await
        .unwrap();
    let mut got = Vec::new();
    while got.len() < 3 {
        let n = tokio::time::timeout(Duration::from_secs(2), notices.recv()).await;
        got.push(n.expect("a notice within a second").unwrap());
    }
    assert_eq!(
        got,
        [
            Notice::Due(vec!["a".into()]),
            Notice::Endpoint("m".into()),
            Notice::State("m".into())
        ]
    );
}

#[tokio::test]
async fn a_node_with_another_master_key_is_refused() {
    let url = util::pg::database().await;
    let _first = node(&url, "n1", Duration::from_secs(30)).await;
    let other = MasterKey::parse(&"cd".repeat(32), "test").unwrap();
    let mut o = PgOptions::new(url);
    o.node = "n2".into();
    let refused = PgStore::open(&o, other).await.err().expect("refused");
    assert!(
        refused.to_string().contains("same HOOKGATE_MASTER_KEY"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_node_whose_clock_runs_ahead_cannot_take_a_live_claim() {
    let (n1, n2) = two_nodes(Duration::from_secs(30)).await;
    publish(&n1, 1, "a").await;
    assert_eq!(claim(&n1, DueWant::new("a", 1)).await.items.len(), 1);
    // n2's clock is two minutes ahead: by its clock n1's 30 s lease ran out long ago.
    let want = [DueWant::new("a", 1)];
    let ahead = n2.claim(now_ms() + 120_000, &want).await.unwrap().remove(0);
    assert!(
        ahead.items.is_empty(),
        "leases are judged by the database's clock: {ahead:?}"
    );
}
