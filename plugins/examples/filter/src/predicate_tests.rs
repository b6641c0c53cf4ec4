use super::*;
use hookgate_plugin_sdk::json;

fn cfg(v: Value) -> FilterConfig {
    FilterConfig::parse(v).unwrap()
}

fn holds(pointer: &str, op: &str, value: Option<Value>, body: &Value) -> bool {
    let mut p = json!({"pointer": pointer, "op": op});
    if let Some(v) = value {
        p["value"] = v;
    }
    cfg(json!({"all": [p]})).check(body).is_ok()
}

#[test]
fn every_op() {
    let b = json!({"type": "invoice.paid", "data": {"amount": 100, "tags": ["vip"], "note": null,
        "meta": {"k": 1}, "at": "2024-05-01T00:00:00Z"}});
    let t = |p: &str, op: &str, v: Value| holds(p, op, Some(v), &b);
    assert!(t("/type", "eq", json!("invoice.paid")));
    assert!(t("/data/amount", "eq", json!(100.0)));
    assert!(t("/type", "ne", json!("x")) && t("/missing", "ne", json!("x")));
    assert!(t("/data/amount", "gt", json!(99.5)) && !t("/data/amount", "gt", json!(100)));
    assert!(t("/data/amount", "gte", json!(100)) && !t("/data/amount", "gte", json!("100")));
    assert!(t("/data/amount", "lt", json!(101)) && t("/data/amount", "lte", json!(100)));
    assert!(t("/data/at", "gte", json!("2024-01-01T00:00:00Z")));
    assert!(holds("/data/note", "exists", None, &b) && holds("/nope", "not_exists", None, &b));
    assert!(!holds("/data", "not_exists", None, &b));
    assert!(t("/type", "contains", json!("paid")) && t("/data/tags", "contains", json!("vip")));
    assert!(t("/data/meta", "contains", json!("k")) && !t("/data/amount", "contains", json!(1)));
    assert!(
        t("/type", "starts_with", json!("invoice.")) && t("/type", "ends_with", json!(".paid"))
    );
    assert!(t("/type", "matches", json!("inv*.p?id")) && !t("/type", "matches", json!("*.failed")));
    assert!(t("/type", "in", json!(["a", "invoice.paid"])) && t("/type", "not_in", json!(["a"])));
    assert!(t("/missing", "not_in", json!(["a"])) && !t("/missing", "in", json!([null])));
    assert!(t("/data/note", "eq", json!(null)) && !t("/missing", "eq", json!(null)));
}

#[test]
fn all_and_any_combine_with_useful_reasons() {
    let c = cfg(json!({
        "all": [{"pointer": "/data/amount", "op": "gte", "value": 100}],
        "any": [{"pointer": "/type", "op": "eq", "value": "invoice.paid"},
                {"pointer": "/type", "op": "eq", "value": "invoice.created"}]
    }));
    assert!(c
        .check(&json!({"type": "invoice.paid", "data": {"amount": 120}}))
        .is_ok());
    assert_eq!(
        c.check(&json!({"type": "invoice.paid", "data": {}}))
            .unwrap_err(),
        "all[0] (/data/amount gte 100) failed: missing"
    );
    assert_eq!(
        c.check(&json!({"type": "x", "data": {"amount": 120}}))
            .unwrap_err(),
        r#"no `any` predicate matched: (/type eq "invoice.paid"), (/type eq "invoice.created")"#
    );
}

#[test]
fn config_is_validated() {
    let err = |v: Value| FilterConfig::parse(v).unwrap_err();
    assert!(err(json!({})).contains("at least one predicate"));
    assert!(err(json!({"all": [], "none": []})).contains("unknown field"));
    assert_eq!(
        err(json!({"all": [{"pointer": "a", "op": "exists"}]})),
        r#"all[0]: JSON pointer "a" must start with '/'"#
    );
    assert_eq!(
        err(json!({"any": [{"pointer": "/a", "op": "in", "value": 1}]})),
        "any[0]: op `in` needs an array `value`"
    );
    assert_eq!(
        err(json!({"all": [{"pointer": "/a", "op": "gt", "value": true}]})),
        "all[0]: op `gt` needs a number or string `value`"
    );
    assert_eq!(
        err(json!({"all": [{"pointer": "/a", "op": "exists", "value": 1}]})),
        "all[0]: op `exists` takes no `value`"
    );
    assert_eq!(
        err(json!({"all": [{"pointer": "/a", "op": "eq"}]})),
        "all[0]: op `eq` needs a `value`"
    );
}

#[test]
fn glob_matches() {
    assert!(glob("*", "") && glob("a*b*c", "aXXbYc") && glob("a?c", "abc"));
    assert!(!glob("a*b", "ac") && !glob("abc", "abcd") && glob("*.paid", "invoice.paid"));
    assert!(glob("ü*", "über") && !glob("?", ""));
}
