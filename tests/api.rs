//! The publish API's answers to bad input and bad credentials: a clear problem+json with a
//! stable code, and nothing stored or delivered.

mod util;

use std::time::Duration;

use serde_json::json;
use util::*;

const PUB: &str = "hg_test_publisher_key_0123456789";
const READ: &str = "hg_test_reader_key_0123456789";
const ACME: &str = "hg_test_acme_key_0123456789";

/// A gateway with the three keys (publisher, reader, tenant `acme`) and one endpoint per id,
/// each on the receiver's `/ID`.
fn gateway(t: &TestDir, recv: &Receiver, endpoints: &[&str]) -> Gateway {
    let endpoints: String = endpoints
        .iter()
        .map(|id| format!("  - id: {id}\n    url: \"{{{{RECV}}}}/{id}\"\n"))
        .collect();
    let yaml = base_config(&format!(
        r#"auth:
  api_keys:
    - {{ name: publisher, key: "{PUB}", scopes: [events:publish, events:read] }}
    - {{ name: reader, key: "{READ}", scopes: [events:read] }}
    - {{ name: acme, key: "{ACME}", scopes: [events:publish, events:read], tenant: acme }}
endpoints:
{endpoints}"#
    ));
    Gateway::start(&t.write_config(&yaml, &recv.base))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_clearly_and_stores_nothing() {
    let recv = Receiver::start().await;
    let t = TestDir::new();
    let gw = gateway(&t, &recv, &["a"]);
    let api = Api::new(&gw).with_key(PUB);
    let big = "x".repeat(300 * 1024);
    // (name, body, content type, expected status, expected code)
    type Case<'a> = (&'a str, Vec<u8>, Option<&'a str>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "malformed",
            br#"{"type": "a.b", "id": "bad-1", "data": {"#.to_vec(),
            Some("application/json"),
            400,
            "invalid_json",
        ),
        (
            "not json at all",
            b"hello".to_vec(),
            Some("application/json"),
            400,
            "invalid_json",
        ),
        (
            "type wrong type",
            br#"{"type": 5, "id": "bad-2", "data": {}}"#.to_vec(),
            Some("application/json"),
            400,
            "invalid_body",
        ),
        (
            "data missing",
            br#"{"type": "a.b", "id": "bad-3"}"#.to_vec(),
            Some("application/json"),
            400,
            "invalid_body",
        ),
        (
            "unknown field",
            br#"{"type": "a.b", "id": "bad-4", "data": {}, "extra": 1}"#.to_vec(),
            Some("application/json"),
            400,
            "invalid_body",
        ),
        (
            "bad event type",
            br#"{"type": "a b!", "id": "bad-5", "data": {}}"#.to_vec(),
            Some("application/json"),
            422,
            "invalid_event_type",
        ),
        (
            "empty event type",
            br#"{"type": "", "id": "bad-6", "data": {}}"#.to_vec(),
            Some("application/json"),
            422,
            "invalid_event_type",
        ),
        (
            "bad id",
            br#"{"type": "a.b", "id": "bad id/7", "data": {}}"#.to_vec(),
            Some("application/json"),
            422,
            "invalid_id",
        ),
        (
            "form body",
            b"type=a.b".to_vec(),
            Some("application/x-www-form-urlencoded"),
            415,
            "unsupported_media_type",
        ),
        (
            "oversized",
            format!(r#"{{"type":"a.b","id":"bad-8","data":"{big}"}}"#).into_bytes(),
            Some("application/json"),
            413,
            "payload_too_large",
        ),
    ];
    for (name, body, ct, status, code) in cases {
        let (s, v) = api.post_raw("/v1/events", body, ct).await;
        assert_eq!(s, status, "{name}: {v}");
        assert_eq!(v["code"], code, "{name}: {v}");
        assert_eq!(v["status"], status, "{name}");
        assert!(
            v["detail"].as_str().unwrap().len() > 5,
            "{name}: detail says what is wrong"
        );
    }
    for id in [
        "bad-1", "bad-2", "bad-3", "bad-4", "bad-5", "bad-6", "bad-8",
    ] {
        let (s, _) = api.get(&format!("/v1/events/{id}")).await;
        assert_eq!(s, 404, "{id} must not be stored");
    }

    // Batch: one bad event rejects the whole batch (atomic), naming its index.
    let (s, v) = api
        .post(
            "/v1/events/batch",
            &json!({"events": [
                {"type": "a.b", "id": "batch-ok", "data": {}},
                {"type": "bad type", "id": "batch-bad", "data": {}},
            ]}),
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (422, Some("invalid_event_type")),
        "{v}"
    );
    assert!(v["detail"].as_str().unwrap().contains("events[1]"), "{v}");
    assert_eq!(api.get("/v1/events/batch-ok").await.0, 404);
    let too_many: Vec<_> = (0..1001)
        .map(|i| json!({"type": "a.b", "data": i}))
        .collect();
    let (s, v) = api
        .post("/v1/events/batch", &json!({ "events": too_many }))
        .await;
    assert_eq!((s, v["code"].as_str()), (413, Some("batch_too_large")));

    // Credentials.
    let ok = json!({"type": "a.b", "id": "auth-1", "data": {}});
    let anon = Api::new(&gw);
    let (s, v) = anon.post("/v1/events", &ok).await;
    assert_eq!((s, v["code"].as_str()), (401, Some("unauthorized")));
    let (s, v) = Api::new(&gw)
        .with_key("hg_wrong")
        .post("/v1/events", &ok)
        .await;
    assert_eq!((s, v["code"].as_str()), (401, Some("unauthorized")));
    let (s, v) = Api::new(&gw).with_key(READ).post("/v1/events", &ok).await;
    assert_eq!((s, v["code"].as_str()), (403, Some("forbidden")));
    assert!(v["detail"].as_str().unwrap().contains("events:publish"));
    let (s, v) = Api::new(&gw)
        .with_key(ACME)
        .post(
            "/v1/events",
            &json!({"type": "a.b", "id": "auth-2", "tenant": "other", "data": {}}),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (403, Some("tenant_forbidden")));
    for id in ["auth-1", "auth-2"] {
        assert_eq!(api.get(&format!("/v1/events/{id}")).await.0, 404);
    }

    // Tenant isolation on reads: acme's key cannot see a default-tenant event.
    let (s, _) = api
        .post(
            "/v1/events",
            &json!({"type": "a.b", "id": "default-1", "data": {}}),
        )
        .await;
    assert_eq!(s, 202);
    assert_eq!(
        Api::new(&gw)
            .with_key(ACME)
            .get("/v1/events/default-1")
            .await
            .0,
        404
    );
    assert_eq!(
        Api::new(&gw)
            .with_key(READ)
            .get("/v1/events/default-1")
            .await
            .0,
        200
    );

    // Only the one good event was ever delivered.
    assert!(eventually(Duration::from_secs(5), || recv.count("/a") == 1).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(recv.got().len(), 1);
    assert_eq!(recv.got()[0].json()["id"], "default-1");
}

/// The publish answers, byte for byte: keys in sorted order, each delivery
/// `{"endpoint_id","id"}`, and the batch's `duplicate` flag between `deliveries` and `id`.
#[tokio::test]
async fn publish_answers_keep_their_exact_bytes() {
    let recv = Receiver::start().await;
    let t = TestDir::new();
    let gw = gateway(&t, &recv, &["a", "b"]);
    let api = Api::new(&gw).with_key(PUB);
    let post = |path: &str, body: serde_json::Value| {
        api.http
            .post(format!("{}{path}", api.base))
            .bearer_auth(PUB)
            .json(&body)
            .send()
    };
    let one = post(
        "/v1/events",
        json!({"type": "a.b", "id": "exact-1", "data": {}}),
    )
    .await
    .unwrap();
    assert_eq!(one.status(), 202);
    let text = one.text().await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let del =
        |v: &serde_json::Value, i: usize| v["deliveries"][i]["id"].as_str().unwrap().to_string();
    assert_eq!(
        text,
        format!(
            r#"{{"deliveries":[{{"endpoint_id":"a","id":"{}"}},{{"endpoint_id":"b","id":"{}"}}],"id":"exact-1"}}"#,
            del(&v, 0),
            del(&v, 1)
        )
    );
    let batch = post(
        "/v1/events/batch",
        json!({"events": [{"type": "a.b", "id": "exact-1", "data": {}}]}),
    )
    .await
    .unwrap();
    assert_eq!(batch.status(), 202);
    assert_eq!(
        batch.text().await.unwrap(),
        format!(
            r#"{{"events":[{{"deliveries":[{{"endpoint_id":"a","id":"{}"}},{{"endpoint_id":"b","id":"{}"}}],"duplicate":true,"id":"exact-1"}}]}}"#,
            del(&v, 0),
            del(&v, 1)
        )
    );
}
