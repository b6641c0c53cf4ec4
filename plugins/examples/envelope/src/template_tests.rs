use super::*;
use hookgate_plugin_sdk::{json, testing};

/// Renders `template` for an `invoice.paid` event with `data`, as the plugin would.
fn render(template: Value, data: Value) -> Value {
    let delivery = testing::delivery("invoice.paid", &data);
    let body = delivery.json().unwrap();
    Template::compile(&template)
        .unwrap()
        .render(&delivery, &body)
}

/// What the load-time check says about a template config with this `body`.
fn problems(body: Value) -> Vec<Problem> {
    testing::check_config::<crate::Envelope>(json!({"format": "template", "body": body}))
}

#[test]
fn a_standard_webhooks_shape_is_one_line() {
    let out = render(
        json!({"id": "{{event.id}}", "type": "{{event.type}}", "created_at": "{{event.timestamp}}", "data": "{{/data}}"}),
        json!({"invoice": "in_1", "amount": 5}),
    );
    assert_eq!(
        out,
        json!({"id": "evt_test", "type": "invoice.paid", "created_at": "2024-01-02T03:04:05Z",
               "data": {"invoice": "in_1", "amount": 5}})
    );
}

#[test]
fn an_event_and_timestamp_shape_is_one_line() {
    let out = render(
        json!({"event": "{{event.type}}", "timestamp": "{{event.timestamp}}", "data": "{{/data}}"}),
        json!([1, 2]),
    );
    assert_eq!(
        out,
        json!({"event": "invoice.paid", "timestamp": "2024-01-02T03:04:05Z", "data": [1, 2]})
    );
}

#[test]
fn a_lone_pointer_keeps_the_type_of_its_value() {
    let out = render(
        json!({"n": "{{/data/n}}", "ok": "{{/data/ok}}", "tags": "{{/data/tags}}"}),
        json!({"n": 4.5, "ok": false, "tags": ["a"]}),
    );
    assert_eq!(out, json!({"n": 4.5, "ok": false, "tags": ["a"]}));
}

#[test]
fn a_lone_pointer_to_nothing_is_null() {
    assert_eq!(
        render(json!({"x": "{{/data/nope}}"}), json!({})),
        json!({"x": null})
    );
}

#[test]
fn a_pointer_inside_text_inserts_the_value_as_text() {
    let out = render(
        json!("{{/data/invoice}} paid {{/data/amount}} {{/data/meta}} [{{/data/nope}}]"),
        json!({"invoice": "in_1", "amount": 5, "meta": {"k": 1}}),
    );
    assert_eq!(out, json!(r#"in_1 paid 5 {"k":1} []"#));
}

#[test]
fn every_name_is_replaced_inside_any_string() {
    let out = render(
        json!([
            "{{event.id}}/{{event.type}}/{{event.timestamp}}",
            "{{event.tenant}} {{delivery.id}} {{endpoint.id}}"
        ]),
        json!({}),
    );
    assert_eq!(
        out,
        json!([
            "evt_test/invoice.paid/2024-01-02T03:04:05Z",
            "acme del_test ep_test"
        ])
    );
}

#[test]
fn spaces_inside_the_braces_are_allowed() {
    let out = render(
        json!({"id": "{{ event.id }}", "d": "{{ /data }}"}),
        json!(1),
    );
    assert_eq!(out, json!({"id": "evt_test", "d": 1}));
}

#[test]
fn the_empty_pointer_is_the_whole_incoming_body() {
    let out = render(json!({"original": "{{}}"}), json!({"a": 1}));
    assert_eq!(out["original"]["data"], json!({"a": 1}));
    assert_eq!(out["original"]["type"], "invoice.paid");
}

#[test]
fn values_without_placeholders_and_keys_are_copied() {
    let template = json!({"v": 2, "on": true, "none": null, "note": "a {b} }}", "list": [[1]]});
    assert_eq!(render(template.clone(), json!({})), template);
}

#[test]
fn a_template_without_problems_passes_the_check() {
    assert_eq!(
        problems(json!({"id": "{{event.id}}", "data": "{{/data}}"})),
        []
    );
}

#[test]
fn a_missing_body_points_where_it_belongs() {
    let found = testing::check_config::<crate::Envelope>(json!({"format": "template"}));
    assert_eq!(found, [Problem::new("/body", "missing field `body`")]);
}

#[test]
fn an_unknown_placeholder_points_at_its_string() {
    assert_eq!(
        problems(json!({"id": "{{event.id}}", "created_at": "at {{event.nme}}"})),
        [Problem::new(
            "/body/created_at",
            "unknown placeholder `event.nme` (expected event.id, event.type, event.timestamp, \
             event.tenant, delivery.id, endpoint.id or a JSON pointer such as /data)"
        )]
    );
}

#[test]
fn an_invalid_pointer_points_at_its_string() {
    assert_eq!(
        problems(json!({"items": [{"x": "{{/data/a~2}}"}]})),
        [Problem::new(
            "/body/items/0/x",
            r#"JSON pointer "/data/a~2" has a '~' not followed by 0 or 1"#
        )]
    );
}

#[test]
fn an_unclosed_placeholder_points_at_its_string() {
    let found = problems(json!({"id": "{{event.id"}));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].pointer, "/body/id");
    assert!(
        found[0].message.starts_with("unclosed `{{`"),
        "{}",
        found[0]
    );
}

#[test]
fn a_placeholder_in_a_key_points_at_the_key() {
    let found = problems(json!({"{{event.type}}": "{{/data}}"}));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].pointer, "/body/{{event.type}}");
    assert!(found[0]
        .message
        .starts_with("object keys are not templated"));
}

#[test]
fn every_bad_string_is_reported_at_once() {
    let found = problems(json!({"a": "{{nope}}", "b/c": ["{{/x~}}"]}));
    let pointers: Vec<&str> = found.iter().map(|p| p.pointer.as_str()).collect();
    assert_eq!(pointers, ["/body/a", "/body/b~1c/0"]);
}

#[test]
fn a_null_body_is_refused() {
    assert_eq!(
        problems(Value::Null),
        [Problem::new(
            "/body",
            "`body` is the output body's template and must not be null"
        )]
    );
}
