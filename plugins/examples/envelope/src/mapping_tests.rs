use super::*;
use hookgate_plugin_sdk::testing;

fn cfg(v: Value) -> EnvelopeConfig {
    let c: EnvelopeConfig = serde::Deserialize::deserialize(v).unwrap();
    c.validate().unwrap();
    c
}

fn event(event_type: &str) -> Event {
    testing::delivery(event_type, &json!({})).event().clone()
}

fn envelope(data: Value) -> Value {
    json!({"id": "evt_test", "type": "invoice.paid", "timestamp": "2024-01-02T03:04:05Z", "data": data})
}

#[test]
fn cloudevents_structured_mode() {
    let c = cfg(json!({"format": "cloudevents", "subject_pointer": "/data/invoice"}));
    let out = c.wrap(
        &event("invoice.paid"),
        envelope(json!({"invoice": "in_1", "amount": 5})),
    );
    assert_eq!(
        out,
        json!({
            "specversion": "1.0", "id": "evt_test", "source": "hookgate", "type": "invoice.paid",
            "time": "2024-01-02T03:04:05Z", "datacontenttype": "application/json",
            "subject": "in_1", "data": {"invoice": "in_1", "amount": 5}
        })
    );
}

#[test]
fn cloudevents_uses_whole_body_without_data() {
    let c = cfg(json!({"format": "cloudevents", "source": "/shop"}));
    let out = c.wrap(&event("x.y"), json!({"text": "hi"}));
    assert_eq!(out["data"], json!({"text": "hi"}));
    assert_eq!(out["source"], "/shop");
    assert!(out.get("subject").is_none());
}

#[test]
fn lightweight_like_mobaro() {
    let c = cfg(json!({"format": "lightweight"}));
    let out = c.wrap(&event("users.updated"), envelope(json!({"id": 42})));
    assert_eq!(
        out,
        json!({"resource": "Users", "event": "Updated", "objectId": 42, "timestamp": "2024-01-02T03:04:05Z"})
    );
    let c = cfg(
        json!({"format": "lightweight", "resource_pointer": "/data/resource", "id_pointer": "/data/uid"}),
    );
    let out = c.wrap(
        &event("invoice.payment_failed"),
        envelope(json!({"resource": "Bill"})),
    );
    assert_eq!(out["resource"], "Bill");
    assert_eq!(out["event"], "PaymentFailed");
    assert_eq!(out["objectId"], Value::Null);
}

#[test]
fn config_errors() {
    let parse = |v: Value| serde_json_from(v).and_then(|c| c.validate().map(|_| c));
    assert!(parse(json!({"format": "xml"}))
        .unwrap_err()
        .contains("unknown variant `xml`"));
    assert!(parse(json!({"format": "cloudevents", "source": ""}))
        .unwrap_err()
        .contains("source"));
    assert!(parse(json!({"format": "lightweight", "id_pointer": "id"})).is_err());
    assert!(parse(json!({"format": "lightweight", "idpointer": "/id"}))
        .unwrap_err()
        .contains("unknown field"));
}

fn serde_json_from(v: Value) -> Result<EnvelopeConfig, String> {
    serde::Deserialize::deserialize(v)
        .map_err(|e: hookgate_plugin_sdk::serde_json::Error| e.to_string())
}

#[test]
fn pascal_case_segments() {
    assert_eq!(pascal_case("updated"), "Updated");
    assert_eq!(pascal_case("payment_failed"), "PaymentFailed");
    assert_eq!(pascal_case("sub-item"), "SubItem");
    assert_eq!(pascal_case(""), "");
}
