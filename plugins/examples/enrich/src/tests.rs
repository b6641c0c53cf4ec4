use super::*;
use hookgate_plugin_sdk::log::Level;
use hookgate_plugin_sdk::{json, testing};

fn cfg() -> Value {
    json!({"lookup": "/data/customer_id", "prefix": "customer:", "field": "customer",
           "header": "X-Customer-Tier", "header_pointer": "/tier"})
}

fn parsed(v: Value) -> EnrichConfig {
    EnrichConfig::load(&v).unwrap()
}

#[test]
fn adds_record_and_header() {
    let c = parsed(cfg());
    let mut body = json!({"data": {"customer_id": 42}});
    let mut hdrs = vec![Header::new("x-customer-tier", "stale")];
    let out = c
        .apply(&mut body, &mut hdrs, |k| {
            assert_eq!(k, "customer:42");
            Ok(Some(br#"{"tier":"gold","name":"Ada"}"#.to_vec()))
        })
        .unwrap();
    assert_eq!(
        out,
        Outcome::Enriched {
            key: "customer:42".into(),
            header_note: None
        }
    );
    assert_eq!(
        body["data"]["customer"],
        json!({"tier": "gold", "name": "Ada"})
    );
    assert_eq!(hdrs, vec![Header::new("X-Customer-Tier", "gold")]);
}

#[test]
fn missing_things_leave_body_alone() {
    let c = parsed(cfg());
    let mut body = json!({"data": {}});
    let none = |_: &str| -> Result<Option<Vec<u8>>, String> { panic!("no lookup expected") };
    assert_eq!(
        c.apply(&mut body, &mut vec![], none).unwrap(),
        Outcome::NoLookupValue
    );
    let mut body = json!({"data": {"customer_id": "c1"}});
    let out = c.apply(&mut body, &mut vec![], |_| Ok(None)).unwrap();
    assert_eq!(out, Outcome::NoRecord("customer:c1".into()));
    assert_eq!(body, json!({"data": {"customer_id": "c1"}}));
}

#[test]
fn header_skipped_when_unsafe_or_absent() {
    let c = parsed(cfg());
    let mut hdrs = vec![];
    let mut body = json!({"data": {"customer_id": 1}});
    let out = c
        .apply(&mut body, &mut hdrs, |_| {
            Ok(Some(br#"{"tier":"a\r\nX: y"}"#.to_vec()))
        })
        .unwrap();
    assert!(
        matches!(out, Outcome::Enriched { header_note: Some(n), .. } if n.contains("control character"))
    );
    let out = c
        .apply(&mut body, &mut hdrs, |_| Ok(Some(b"{}".to_vec())))
        .unwrap();
    assert!(
        matches!(out, Outcome::Enriched { header_note: Some(n), .. } if n.contains("nothing at /tier"))
    );
    assert!(hdrs.is_empty());
}

#[test]
fn errors() {
    let c = parsed(cfg());
    let mut body = json!({"data": {"customer_id": {"x": 1}}});
    assert!(c
        .apply(&mut body, &mut vec![], |_| Ok(None))
        .unwrap_err()
        .contains("string or number"));
    let mut body = json!({"data": {"customer_id": 1}});
    assert_eq!(
        c.apply(&mut body, &mut vec![], |_| Err("denied".into()))
            .unwrap_err(),
        "kv: denied"
    );
    assert!(c
        .apply(&mut body, &mut vec![], |_| Ok(Some(b"nope".to_vec())))
        .unwrap_err()
        .contains("not JSON"));
}

#[test]
fn a_header_value_with_a_nul_is_skipped_like_one_with_crlf() {
    let c = parsed(cfg());
    let (mut body, mut hdrs) = (json!({"data": {"customer_id": 1}}), vec![]);
    let record = br#"{"tier":"gold\u0000"}"#.to_vec();
    c.apply(&mut body, &mut hdrs, |_| Ok(Some(record))).unwrap();
    assert!(hdrs.is_empty());
}

/// `cfg()` with `changes` merged in (a `null` removes the field).
fn cfg_with(changes: Value) -> Value {
    let mut c = cfg();
    for (k, v) in changes.as_object().unwrap() {
        match v {
            Value::Null => c.as_object_mut().unwrap().remove(k),
            v => c.as_object_mut().unwrap().insert(k.clone(), v.clone()),
        };
    }
    c
}

fn problems(config: Value) -> Vec<Problem> {
    testing::check_config::<Enrich>(config)
}

#[test]
fn a_good_config_passes_the_check() {
    assert_eq!(problems(cfg()), []);
    let minimal = json!({"lookup": "/data/id", "field": "customer"});
    assert_eq!(problems(minimal), []);
}

#[test]
fn a_missing_lookup_points_where_it_belongs() {
    assert_eq!(
        problems(cfg_with(json!({"lookup": null}))),
        [Problem::new("/lookup", "missing field `lookup`")]
    );
}

#[test]
fn a_malformed_lookup_pointer_points_at_it() {
    assert_eq!(
        problems(cfg_with(json!({"lookup": "data/id"}))),
        [Problem::new(
            "/lookup",
            r#"JSON pointer "data/id" must start with '/'"#
        )]
    );
}

#[test]
fn an_empty_field_points_at_it() {
    assert_eq!(
        problems(cfg_with(json!({"field": ""}))),
        [Problem::new("/field", "`field` must not be empty")]
    );
}

#[test]
fn a_header_the_host_would_refuse_points_at_it() {
    assert_eq!(
        problems(cfg_with(json!({"header": "X Tier"}))),
        [Problem::new(
            "/header",
            r#"name "X Tier" is not an HTTP token"#
        )]
    );
    assert_eq!(
        problems(cfg_with(json!({"header": "Webhook-Signature"}))),
        [Problem::new(
            "/header",
            "Webhook-Signature is reserved and cannot be set by plugins"
        )]
    );
}

#[test]
fn a_header_without_its_pointer_points_at_the_missing_one() {
    assert_eq!(
        problems(cfg_with(json!({"header_pointer": null}))),
        [Problem::new(
            "/header_pointer",
            "`header` needs `header_pointer` (where in the record its value is)"
        )]
    );
    assert_eq!(
        problems(cfg_with(json!({"header": null}))),
        [Problem::new(
            "/header",
            "`header_pointer` needs `header` (the header to set)"
        )]
    );
}

#[test]
fn a_malformed_header_pointer_points_at_it() {
    let p = problems(cfg_with(json!({"header_pointer": "/a~"})));
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].pointer, "/header_pointer");
}

#[test]
fn a_delivery_fails_with_the_problem_the_check_reports() {
    testing::reset();
    testing::set_config(&cfg_with(json!({"field": ""})));
    let d = testing::delivery("order.created", &json!({"customer_id": 7}));
    assert_eq!(
        Enrich::handle(d).unwrap_err(),
        "enrich: invalid plugin config: /field: `field` must not be empty"
    );
}

#[test]
fn through_the_host_api() {
    testing::reset();
    testing::set_config(&cfg());
    testing::kv_insert("customer:7", br#"{"tier":"silver"}"#);
    let out = Enrich::handle(testing::delivery(
        "order.created",
        &json!({"customer_id": 7}),
    ))
    .unwrap();
    assert_eq!(out.json().unwrap()["data"]["customer"]["tier"], "silver");
    assert_eq!(
        headers::get(out.headers(), "x-customer-tier"),
        Some("silver")
    );

    let d = testing::delivery("order.created", &json!({"customer_id": 8}));
    let original = d.body().to_vec();
    assert_eq!(Enrich::handle(d).unwrap().body(), Some(&original[..]));
    assert!(testing::logs().contains(&(
        Level::Debug,
        r#"enrich: no kv record "customer:8"; unchanged"#.into()
    )));

    testing::deny_kv("kv not granted");
    let d = testing::delivery("order.created", &json!({"customer_id": 7}));
    assert_eq!(Enrich::handle(d).unwrap_err(), "enrich: kv: kv not granted");
}
