//! One contract, two backends: every scenario here runs against a real redb file and a real
//! PostgreSQL (started by the test itself, see `util::pg`), so the backends cannot drift apart.

mod util;

use std::sync::Arc;

use hookgate::config::{Keep, RetentionConfig};
use hookgate::store::*;
use util::records::{event, key};

/// A store of each kind; the temp dir lives as long as the redb one.
async fn redb() -> (Option<tempfile::TempDir>, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let s = RedbStore::open(dir.path(), key()).unwrap();
    (Some(dir), Arc::new(s))
}

async fn postgres() -> (Option<tempfile::TempDir>, Arc<dyn Store>) {
    let url = util::pg::database().await;
    let mut opts = PgOptions::new(url);
    opts.pool_size = 4;
    (None, Arc::new(PgStore::open(&opts, key()).await.unwrap()))
}

/// Runs each scenario on both backends, as `<scenario>::redb` and `<scenario>::postgres`.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn redb() {
                let (_dir, s) = super::redb().await;
                super::$name(&*s).await;
                s.close().await;
            }
            #[tokio::test]
            async fn postgres() {
                let (_dir, s) = super::postgres().await;
                super::$name(&*s).await;
                s.close().await;
            }
        }
    )*};
}

conformance!(
    ingest_is_durable_and_idempotent,
    one_id_twice_in_a_batch_is_stored_once,
    due_is_oldest_first_within_limits,
    a_success_finishes_the_delivery_and_counts,
    a_retry_waits_by_time_or_keeps_its_place,
    failures_from_every_attempt_disable_the_endpoint,
    a_cancelled_delivery_stays_cancelled,
    dead_deliveries_recover_with_an_audit_entry,
    managed_endpoints_are_unique_sealed_and_paged,
    kv_keeps_its_quota_per_namespace,
    listings_page_newest_first,
    retention_prunes_what_finished_and_never_what_is_pending,
    changed_rules_reach_what_finished_before,
);

async fn due(s: &dyn Store, ep: &str, now: Millis, limit: usize) -> DueScan {
    s.claim(now, &[DueWant::new(ep, limit)])
        .await
        .unwrap()
        .remove(0)
}

fn attempt(n: u32, code: u16) -> AttemptRecord {
    AttemptRecord {
        n,
        started_ms: 1,
        status_code: Some(code),
        latency_ms: 2,
        response_body: "ok".into(),
        error: (code >= 300).then(|| format!("HTTP {code}")),
        next_attempt_ms: None,
        url: "https://r.example.com/h".into(),
        request_headers: vec![("content-type".into(), "application/json".into())],
    }
}

fn outcome(d: &DeliveryRecord, code: u16, status: DeliveryStatus) -> AttemptOutcome {
    AttemptOutcome {
        delivery: d.clone(),
        attempt: Some(attempt(d.attempts + 1, code)),
        payload: None,
        status,
        next_attempt_ms: None,
        place: QueuePlace::ByNextAttempt,
        endpoint_effect: if code < 300 {
            EndpointEffect::Success
        } else {
            EndpointEffect::Failure {
                auto_disable_after: 3,
            }
        },
        reason: None,
        claim: NO_CLAIM,
    }
}

fn audit(action: &str, target: &str) -> AuditEntry {
    AuditEntry::new("test", action, target, Some("acme"))
}

async fn ingest_is_durable_and_idempotent(s: &dyn Store) {
    let first = s.ingest(vec![event("evt_1", 10, &["a", "b", "c"])]).await;
    assert!(matches!(first.unwrap()[0], Ingested::Created(_)));
    let again = s.ingest(vec![event("evt_1", 99, &["z"])]).await.unwrap();
    let Ingested::Duplicate(original) = &again[0] else {
        panic!("a known id is a duplicate: {again:?}");
    };
    assert_eq!(original.event.timestamp_ms, 10, "the original is answered");
    assert_eq!(original.deliveries.len(), 3);
    let e = s.event("evt_1").await.unwrap().unwrap();
    assert_eq!((e.fanout, e.body.as_str()), (3, r#"{"id":"evt_1"}"#));
    let page = s.event_deliveries("evt_1", None, 2).await.unwrap();
    let ids: Vec<_> = page.items.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["del_evt_1_a", "del_evt_1_b"]);
    let rest = s.event_deliveries("evt_1", page.next_cursor.as_deref(), 2);
    let rest = rest.await.unwrap();
    assert_eq!(rest.items[0].id, "del_evt_1_c");
    assert!(rest.next_cursor.is_none());
    assert_eq!(
        s.pending_count().await.unwrap(),
        3,
        "the duplicate added nothing"
    );
}

async fn one_id_twice_in_a_batch_is_stored_once(s: &dyn Store) {
    let both = vec![event("evt_2", 10, &["a"]), event("evt_2", 20, &["b"])];
    let out = s.ingest(both).await.unwrap();
    assert!(matches!(out[0], Ingested::Created(_)), "{out:?}");
    let Ingested::Duplicate(original) = &out[1] else {
        panic!("the second is a duplicate of the first: {out:?}");
    };
    assert_eq!(original.event.timestamp_ms, 10);
    assert_eq!(original.deliveries[0].endpoint_id, "a");
    assert_eq!(s.pending_count().await.unwrap(), 1, "one fan-out stored");
}

async fn due_is_oldest_first_within_limits(s: &dyn Store) {
    for (i, ts) in [30, 10, 20].iter().enumerate() {
        s.ingest(vec![event(&format!("evt_{i}"), *ts, &["a"])])
            .await
            .unwrap();
    }
    let scan = due(s, "a", 25, 10).await;
    let times: Vec<_> = scan.items.iter().map(|d| d.delivery.due_key_ms).collect();
    assert_eq!(times, [10, 20], "only what is due, oldest first");
    assert_eq!(scan.next_due_ms, Some(30), "when to look again");
    assert_eq!(scan.items[0].event.id, "evt_1", "with its event");
    let wants = [DueWant::new("a", 10), DueWant::new("nobody", 10)];
    let scans = s.claim(100, &wants).await.unwrap();
    let ids: Vec<_> = scans[0].items.iter().map(|d| &d.delivery.id).collect();
    assert_eq!(ids, ["del_evt_0_a"], "what is claimed is not claimed again");
    assert!(scans[1].items.is_empty() && scans[1].next_due_ms.is_none());
    let first = &scan.items[0];
    s.release(&[(first.delivery.id.clone(), first.claim)])
        .await
        .unwrap();
    let again = due(s, "a", 100, 10).await;
    let ids: Vec<_> = again.items.iter().map(|d| &d.delivery.id).collect();
    assert_eq!(
        ids,
        ["del_evt_1_a"],
        "a released claim can be claimed again"
    );
    let pending = s.pending_endpoints().await.unwrap();
    assert_eq!(pending, [("a".to_string(), 10)]);
}

async fn a_success_finishes_the_delivery_and_counts(s: &dyn Store) {
    s.ingest(vec![event("evt_ok", 10, &["a"])]).await.unwrap();
    let d = due(s, "a", 10, 1).await.items.remove(0).delivery;
    let rec = s.record(vec![outcome(&d, 200, DeliveryStatus::Succeeded)]);
    let rec = rec.await.unwrap();
    assert_eq!(rec[0].status, Some(DeliveryStatus::Succeeded));
    let (d, attempts) = s.delivery(&d.id).await.unwrap().unwrap();
    assert_eq!(
        (d.status, d.attempts, d.last_status_code),
        (DeliveryStatus::Succeeded, 1, Some(200))
    );
    assert_eq!(attempts, [attempt(1, 200)]);
    assert!(due(s, "a", 1000, 10).await.items.is_empty());
    assert_eq!(s.pending_count().await.unwrap(), 0);
    let counters = s.counters(0).await.unwrap();
    assert_eq!(counters.len(), 1);
    assert_eq!((counters[0].1.attempts_ok, counters[0].1.delivered), (1, 1));
}

async fn a_retry_waits_by_time_or_keeps_its_place(s: &dyn Store) {
    s.ingest(vec![event("evt_r", 10, &["a", "f"])])
        .await
        .unwrap();
    for (ep, place, key) in [
        ("a", QueuePlace::ByNextAttempt, 500),
        ("f", QueuePlace::Keep, 10),
    ] {
        let d = due(s, ep, 10, 1).await.items.remove(0).delivery;
        let mut o = outcome(&d, 500, DeliveryStatus::Pending);
        o.next_attempt_ms = Some(500);
        o.place = place;
        s.record(vec![o]).await.unwrap();
        // A FIFO retry keeps its key, so it stays the head, and nothing behind it goes first;
        // neither is claimed before its next attempt.
        let want = DueWant {
            fifo: place == QueuePlace::Keep,
            ..DueWant::new(ep, 10)
        };
        let scan = s.claim(100, &[want]).await.unwrap().remove(0);
        assert!(scan.items.is_empty(), "{ep}: claimed before its time");
        assert_eq!(scan.next_due_ms, Some(500), "{ep}: when to look again");
        let scan = s.claim(500, &[want]).await.unwrap().remove(0);
        assert_eq!(scan.items[0].delivery.due_key_ms, key, "{ep}");
        assert_eq!(scan.items[0].delivery.attempts, 1);
    }
}

async fn failures_from_every_attempt_disable_the_endpoint(s: &dyn Store) {
    s.ingest(vec![event("evt_f", 10, &["a"])]).await.unwrap();
    let mut states = Vec::new();
    for _ in 0..3 {
        let d = due(s, "a", 10_000, 1).await.items.remove(0).delivery;
        let mut o = outcome(&d, 500, DeliveryStatus::Pending);
        o.next_attempt_ms = Some(20);
        states.push(s.record(vec![o]).await.unwrap().remove(0).endpoint_state);
    }
    let last = states
        .pop()
        .unwrap()
        .expect("the third failure changes the state");
    assert!(last.disabled, "{last:?}");
    assert_eq!(last.consecutive_failures, 3);
    let stored = s.endpoint_states().await.unwrap();
    assert_eq!(stored, [("a".to_string(), last)]);
}

async fn a_cancelled_delivery_stays_cancelled(s: &dyn Store) {
    s.ingest(vec![event("evt_c", 10, &["gone"])]).await.unwrap();
    let d = due(s, "gone", 10, 1).await.items.remove(0).delivery;
    assert_eq!(s.cancel_endpoint("gone").await.unwrap(), 1);
    let rec = s.record(vec![outcome(&d, 200, DeliveryStatus::Succeeded)]);
    assert_eq!(
        rec.await.unwrap()[0].status,
        Some(DeliveryStatus::Cancelled)
    );
    let (d, attempts) = s.delivery(&d.id).await.unwrap().unwrap();
    assert_eq!((d.status, attempts.len()), (DeliveryStatus::Cancelled, 1));
    assert_eq!(s.pending_count().await.unwrap(), 0);
}

async fn dead_deliveries_recover_with_an_audit_entry(s: &dyn Store) {
    s.ingest(vec![event("evt_d", 10, &["a"])]).await.unwrap();
    let d = due(s, "a", 10, 1).await.items.remove(0).delivery;
    s.record(vec![outcome(&d, 500, DeliveryStatus::Dead)])
        .await
        .unwrap();
    let n = s
        .recover("a", 0, audit("endpoint.recover", "a"))
        .await
        .unwrap();
    assert_eq!(n, 1);
    let (d, _) = s.delivery(&d.id).await.unwrap().unwrap();
    assert_eq!((d.status, d.retry_base), (DeliveryStatus::Pending, 1));
    assert_eq!(due(s, "a", now_ms() + 1, 10).await.items.len(), 1);
    let log = s.audit_log(None, 10).await.unwrap();
    assert_eq!(log.items[0].after.as_ref().unwrap()["requeued"], 1);
    let again = s
        .requeue(&d.id, audit("delivery.retry", &d.id))
        .await
        .unwrap();
    assert_eq!(again.unwrap().status, DeliveryStatus::Pending);
    assert_eq!(s.pending_count().await.unwrap(), 1, "still one due entry");
}

fn managed(id: &str) -> ManagedEndpoint {
    ManagedEndpoint {
        id: id.into(),
        tenant: "acme".into(),
        spec: serde_json::json!({"url": "https://r.example.com/h"}),
        secrets: vec![SigningSecret {
            secret: format!("whsec_{id}"),
            expires_ms: None,
        }],
        description: None,
        created_ms: 1,
        updated_ms: 1,
    }
}

async fn managed_endpoints_are_unique_sealed_and_paged(s: &dyn Store) {
    for id in ["c", "a", "b"] {
        let made = s.create_managed_endpoint(managed(id), audit("endpoint.create", id));
        assert!(made.await.unwrap(), "{id} is new");
    }
    let twice = s.create_managed_endpoint(managed("a"), audit("endpoint.create", "a"));
    assert!(!twice.await.unwrap(), "an id is created once");
    let page = s.managed_endpoints(None, 2).await.unwrap();
    let ids: Vec<_> = page.items.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
    let rest = s
        .managed_endpoints(page.next_cursor.as_deref(), 2)
        .await
        .unwrap();
    assert_eq!(rest.items[0].secrets[0].secret, "whsec_c", "opened");
    assert!(rest.next_cursor.is_none());
    s.ingest(vec![event("evt_m", 10, &["b"])]).await.unwrap();
    let gone = s.delete_managed_endpoint("b", audit("endpoint.delete", "b"));
    assert_eq!(
        gone.await.unwrap(),
        Some(1),
        "its pending delivery is cancelled"
    );
    assert!(s.managed_endpoint("b").await.unwrap().is_none());
    let secret = s
        .generated_secret("cfg", &|| "whsec_one".into())
        .await
        .unwrap();
    let again = s
        .generated_secret("cfg", &|| "whsec_two".into())
        .await
        .unwrap();
    assert_eq!(
        (secret.as_str(), again.as_str()),
        ("whsec_one", "whsec_one")
    );
}

async fn kv_keeps_its_quota_per_namespace(s: &dyn Store) {
    s.kv_set("enrich", "k", b"gold").await.unwrap();
    assert_eq!(
        s.kv_get("enrich", "k").await.unwrap().as_deref(),
        Some(&b"gold"[..])
    );
    assert_eq!(s.kv_get("other", "k").await.unwrap(), None);
    let big = vec![0u8; (KV_QUOTA_BYTES / 2) as usize];
    s.kv_set("q", "a", &big).await.unwrap();
    s.kv_set("q", "a", &big).await.unwrap();
    assert!(matches!(
        s.kv_set("q", "b", &big).await,
        Err(KvError::Quota { .. })
    ));
    s.kv_delete("q", "a").await.unwrap();
    s.kv_set("q", "b", &big).await.unwrap();
}

async fn listings_page_newest_first(s: &dyn Store) {
    for i in 0..5u64 {
        s.ingest(vec![event(&format!("evt_{i}"), 100 + i, &["a"])])
            .await
            .unwrap();
    }
    let filter = EventFilter::default();
    let page = s.events(&filter, None, 3).await.unwrap();
    let ids: Vec<_> = page.items.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["evt_4", "evt_3", "evt_2"]);
    let rest = s
        .events(&filter, page.next_cursor.as_deref(), 3)
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 2);
    assert!(rest.next_cursor.is_none());
    let d = due(s, "a", 102, 1).await.items.remove(0).delivery;
    s.record(vec![outcome(&d, 200, DeliveryStatus::Succeeded)])
        .await
        .unwrap();
    let ok = s.endpoint_deliveries("a", Some(DeliveryStatus::Succeeded), None, 10);
    assert_eq!(ok.await.unwrap().items.len(), 1);
    let page = s.endpoint_deliveries("a", None, None, 2).await.unwrap();
    assert_eq!(page.items[0].id, "del_evt_4_a", "newest first");
    let rest = s.endpoint_deliveries("a", None, page.next_cursor.as_deref(), 10);
    assert_eq!(rest.await.unwrap().items.len(), 3);
    let summary = s.pending_summary(2).await.unwrap();
    assert_eq!((summary[0].count, summary[0].truncated), (2, true));
}

fn rules(dead: Keep) -> Arc<RetentionConfig> {
    let second = Keep::For(std::time::Duration::from_secs(1));
    Arc::new(RetentionConfig {
        succeeded: second,
        dead,
        filtered: second,
        cancelled: second,
        audit: second,
    })
}

/// Claims `ep`'s one due delivery and records it as `status`.
async fn finish(s: &dyn Store, ep: &str, status: DeliveryStatus) -> DeliveryRecord {
    let d = due(s, ep, now_ms(), 1).await.items.remove(0).delivery;
    let code = if status == DeliveryStatus::Succeeded {
        200
    } else {
        500
    };
    s.record(vec![outcome(&d, code, status)]).await.unwrap();
    d
}

async fn retention_prunes_what_finished_and_never_what_is_pending(s: &dyn Store) {
    s.set_retention(rules(Keep::Forever));
    let now = now_ms();
    s.ingest(vec![
        event("evt_p", now, &["a", "b"]),
        event("evt_none", now, &[]),
    ])
    .await
    .unwrap();
    s.append_audit(audit("endpoint.create", "a")).await.unwrap();
    let a = finish(s, "a", DeliveryStatus::Succeeded).await;
    let (stamped, _) = s.delivery(&a.id).await.unwrap().unwrap();
    assert!(
        stamped.expires_ms.is_some_and(|t| t >= now + 1000),
        "{stamped:?}"
    );

    let later = now_ms() + 10_000;
    let p = s.prune(later, 100).await.unwrap();
    assert_eq!((p.deliveries, p.attempts, p.audit), (1, 1, 1), "{p:?}");
    assert_eq!(
        p.events, 1,
        "the event nobody subscribed to; evt_p still has b: {p:?}"
    );
    assert!(s.delivery(&a.id).await.unwrap().is_none());
    assert!(s.event("evt_none").await.unwrap().is_none());
    assert!(
        s.event("evt_p").await.unwrap().is_some(),
        "b is pending and needs it"
    );
    assert!(s.audit_log(None, 10).await.unwrap().items.is_empty());
    let ids = s.event_deliveries("evt_p", None, 10).await.unwrap().items;
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(
        s.endpoint_deliveries("a", None, None, 10)
            .await
            .unwrap()
            .items
            .len(),
        0
    );

    // Dead deliveries are kept forever by these rules; a requeued one is pending again.
    finish(s, "b", DeliveryStatus::Dead).await;
    let b = s
        .requeue("del_evt_p_b", audit("delivery.retry", "b"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.expires_ms, None);
    let p = s.prune(later, 100).await.unwrap();
    assert_eq!((p.deliveries, p.events, p.more), (0, 0, false), "{p:?}");
    assert_eq!(
        s.delivery(&b.id).await.unwrap().unwrap().0.status,
        DeliveryStatus::Pending
    );
    assert!(s.usage().await.unwrap().bytes > 0);
}

async fn changed_rules_reach_what_finished_before(s: &dyn Store) {
    s.set_retention(rules(Keep::Forever));
    let now = now_ms();
    let ids: Vec<String> = (0..5).map(|i| format!("evt_c{i}")).collect();
    for id in &ids {
        s.ingest(vec![event(id, now, &["d"])]).await.unwrap();
        finish(s, "d", DeliveryStatus::Dead).await;
    }
    let later = now_ms() + 10_000;
    assert_eq!(
        s.prune(later, 100).await.unwrap().deliveries,
        0,
        "kept forever"
    );

    s.set_retention(rules(Keep::For(std::time::Duration::from_secs(1))));
    let mut cursor = None;
    let mut steps = 0;
    loop {
        steps += 1;
        match s.restamp(cursor.as_deref(), 2).await.unwrap() {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert!(steps >= 3, "five deliveries, two a step: {steps} steps");
    let p = s.prune(later, 3).await.unwrap();
    assert_eq!(
        (p.deliveries, p.more),
        (3, true),
        "a step stops at its limit: {p:?}"
    );
    let p = s.prune(later, 3).await.unwrap();
    assert_eq!((p.deliveries, p.events, p.more), (2, 2, false), "{p:?}");
    for id in &ids {
        assert!(s.event(id).await.unwrap().is_none(), "{id}");
    }
    s.set_pruner_setting("x", "1").await.unwrap();
    s.set_pruner_setting("x", "2").await.unwrap();
    assert_eq!(s.pruner_setting("x").await.unwrap().as_deref(), Some("2"));
    assert_eq!(s.pruner_setting("y").await.unwrap(), None);
}
