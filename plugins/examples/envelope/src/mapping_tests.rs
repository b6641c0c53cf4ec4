use super::*;
use hookgate_plugin_sdk::testing;

fn cfg(v: Value) -> EnvelopeConfig {
    EnvelopeConfig::load(&v).unwrap()
}

/// A delivery of an `event_type` event; `wrap` takes the body separately.
fn event(event_type: &str) -> Delivery {
    testing::delivery(event_type, &json!({}))
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

fn problems(config: Value) -> Vec<Problem> {
    testing::check_config::<crate::Envelope>(config)
}

/// The only problem `config` has; fails the test if it has none or several.
fn problem(config: Value) -> Problem {
    let mut found = problems(config);
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

#[test]
fn good_configs_pass_the_check() {
    for config in [
        json!({"format": "cloudevents"}),
        json!({"format": "cloudevents", "source": "/shop", "subject_pointer": "/data/id"}),
        json!({"format": "lightweight", "resource_pointer": "/data/kind"}),
        json!({"format": "template", "body": {"data": "{{/data}}"}}),
    ] {
        assert_eq!(problems(config.clone()), [], "{config}");
    }
}

#[test]
fn an_unknown_format_points_at_it() {
    assert_eq!(
        problem(json!({"format": "xml"})),
        Problem::new(
            "/format",
            "unknown variant `xml`, expected one of `cloudevents`, `lightweight`, `template`"
        )
    );
}

#[test]
fn a_config_that_is_not_an_object_says_what_is_expected() {
    let p = problem(json!("cloudevents"));
    assert_eq!(p.pointer, "");
    assert!(
        p.message.ends_with("expected an object with a `format`"),
        "{p}"
    );
}

#[test]
fn an_unknown_field_of_a_format_points_at_it() {
    let p = problem(json!({"format": "lightweight", "idpointer": "/id"}));
    assert_eq!(p.pointer, "/idpointer");
    assert!(
        p.message.starts_with("unknown field `idpointer`, expected"),
        "{p}"
    );
}

#[test]
fn a_field_of_the_wrong_type_points_at_it() {
    let p = problem(json!({"format": "cloudevents", "source": 5}));
    assert_eq!(p.pointer, "/source");
    assert!(p.message.contains("expected a string"), "{p}");
}

#[test]
fn an_empty_source_points_at_it() {
    assert_eq!(
        problem(json!({"format": "cloudevents", "source": ""})),
        Problem::new(
            "/source",
            "`source` must not be empty (a URI reference such as `hookgate`)"
        )
    );
}

#[test]
fn a_malformed_pointer_points_at_it() {
    assert_eq!(
        problem(json!({"format": "lightweight", "id_pointer": "id"})),
        Problem::new("/id_pointer", r#"JSON pointer "id" must start with '/'"#)
    );
    let p = problem(json!({"format": "cloudevents", "subject_pointer": "/a~9"}));
    assert_eq!(p.pointer, "/subject_pointer");
}

#[test]
fn pascal_case_segments() {
    assert_eq!(pascal_case("updated"), "Updated");
    assert_eq!(pascal_case("payment_failed"), "PaymentFailed");
    assert_eq!(pascal_case("sub-item"), "SubItem");
    assert_eq!(pascal_case(""), "");
}
