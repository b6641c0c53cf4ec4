use super::*;
use hookgate_plugin_sdk::log::Level;
use hookgate_plugin_sdk::{json, testing};

fn cfg() -> Value {
    json!({"lookup": "/data/customer_id", "prefix": "customer:", "field": "customer",
           "header": "X-Customer-Tier", "header_pointer": "/tier"})
}

fn parsed(v: Value) -> EnrichConfig {
    let c: EnrichConfig = serde_json::from_value(v).unwrap();
    c.validate().unwrap();
    c
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
    assert!(matches!(out, Outcome::Enriched { header_note: Some(n), .. } if n.contains("CR/LF")));
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
    let half = serde_json::from_value::<EnrichConfig>(
        json!({"lookup": "/a", "field": "f", "header": "X"}),
    );
    assert!(half.unwrap().validate().unwrap_err().contains("together"));
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
