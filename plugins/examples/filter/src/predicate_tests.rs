use super::*;
use hookgate_plugin_sdk::json;

fn cfg(v: Value) -> FilterConfig {
    FilterConfig::load(&v).unwrap()
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

/// The only problem the load-time check finds in `config`; fails if none or several.
fn problem(config: Value) -> Problem {
    let mut found = hookgate_plugin_sdk::testing::check_config::<crate::Filter>(config);
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

/// A config with the single predicate `p` in `all`.
fn one(p: Value) -> Value {
    json!({"all": [p]})
}

#[test]
fn a_good_config_passes_the_check() {
    let config = json!({
        "all": [{"pointer": "/data/amount", "op": "gte", "value": 100}],
        "any": [{"pointer": "/data/id", "op": "regex", "value": "^inv_[0-9]+$"},
                {"pointer": "/type", "op": "exists"}]
    });
    assert_eq!(
        hookgate_plugin_sdk::testing::check_config::<crate::Filter>(config),
        []
    );
}

#[test]
fn a_config_without_predicates_is_refused_as_a_whole() {
    let message = "config needs at least one predicate in `all` or `any`";
    assert_eq!(problem(json!({})), Problem::new("", message));
    assert_eq!(problem(Value::Null), Problem::new("", message));
}

#[test]
fn an_unknown_field_points_at_itself() {
    let p = problem(json!({"all": [], "none": []}));
    assert_eq!(p.pointer, "/none");
    assert!(p.message.starts_with("unknown field `none`"), "{p}");
}

#[test]
fn an_unknown_op_points_at_the_op() {
    let config = json!({"all": [{"pointer": "/a", "op": "eq", "value": 1},
                                {"pointer": "/a", "op": "between"}]});
    let p = problem(config);
    assert_eq!(p.pointer, "/all/1/op");
    assert!(
        p.message
            .starts_with("unknown variant `between`, expected one of `eq`"),
        "{p}"
    );
    assert!(p.message.contains("`regex`"), "{p}");
}

#[test]
fn a_missing_pointer_points_where_it_belongs() {
    assert_eq!(
        problem(one(json!({"op": "exists"}))),
        Problem::new("/all/0/pointer", "missing field `pointer`")
    );
}

#[test]
fn a_malformed_pointer_points_at_it() {
    assert_eq!(
        problem(one(json!({"pointer": "a", "op": "exists"}))),
        Problem::new("/all/0/pointer", r#"JSON pointer "a" must start with '/'"#)
    );
}

#[test]
fn an_operand_of_the_wrong_kind_points_at_the_value() {
    let cases = [
        (
            json!({"pointer": "/a", "op": "in", "value": 1}),
            "op `in` needs an array `value`",
        ),
        (
            json!({"pointer": "/a", "op": "gt", "value": true}),
            "op `gt` needs a number or string `value`",
        ),
        (
            json!({"pointer": "/a", "op": "exists", "value": 1}),
            "op `exists` takes no `value`",
        ),
        (
            json!({"pointer": "/a", "op": "eq"}),
            "op `eq` needs a `value`",
        ),
        (
            json!({"pointer": "/a", "op": "regex", "value": 5}),
            "op `regex` needs a string `value` (the pattern)",
        ),
    ];
    for (predicate, message) in cases {
        let config = json!({"any": [{"pointer": "/x", "op": "exists"}, predicate]});
        assert_eq!(problem(config), Problem::new("/any/1/value", message));
    }
}

#[test]
fn every_bad_predicate_is_reported_at_once() {
    let config = json!({"all": [{"pointer": "a", "op": "exists"}],
                        "any": [{"pointer": "/a", "op": "eq"}]});
    let found = hookgate_plugin_sdk::testing::check_config::<crate::Filter>(config);
    let pointers: Vec<&str> = found.iter().map(|p| p.pointer.as_str()).collect();
    assert_eq!(pointers, ["/all/0/pointer", "/any/0/value"]);
}

#[test]
fn a_bad_pattern_points_at_the_value_with_the_engine_message() {
    let p = problem(one(
        json!({"pointer": "/data/id", "op": "regex", "value": "inv_(\\d+"}),
    ));
    assert_eq!(
        p,
        Problem::new(
            "/all/0/value",
            "invalid regex: found open group without closing ')'"
        )
    );
}

#[test]
fn a_pattern_over_the_size_limit_points_at_the_value() {
    let p = problem(one(
        json!({"pointer": "/data/id", "op": "regex", "value": "(?:a{1000}){1000}"}),
    ));
    assert_eq!(
        p,
        Problem::new(
            "/all/0/value",
            "invalid regex: compiled regex exceeded size limit of 65536 bytes"
        )
    );
}

fn matches(pattern: &str, value: Value) -> bool {
    holds(
        "/data/id",
        "regex",
        Some(json!(pattern)),
        &json!({"data": {"id": value}}),
    )
}

#[test]
fn a_unicode_class_is_refused_at_load() {
    let p = problem(one(
        json!({"pointer": "/data/id", "op": "regex", "value": "\\p{L}+"}),
    ));
    assert_eq!(p.pointer, "/all/0/value");
    assert!(p.message.starts_with("invalid regex: "), "{p}");
}

#[test]
fn regex_matches_a_string_anywhere_unless_anchored() {
    assert!(matches("^inv_[0-9]+$", json!("inv_42")));
    assert!(!matches("^inv_[0-9]+$", json!("inv_42x")));
    assert!(matches("[0-9]+", json!("inv_42x")));
    assert!(matches("(?i)^INV_", json!("inv_1")));
}

#[test]
fn regex_never_matches_a_non_string_or_a_missing_value() {
    for value in [
        json!(42),
        json!(null),
        json!(["inv_1"]),
        json!({"id": "inv_1"}),
        json!(true),
    ] {
        assert!(!matches(".*", value.clone()), "{value}");
    }
    let body = json!({"data": {}});
    assert!(!holds("/data/id", "regex", Some(json!(".*")), &body));
}

#[test]
fn only_objects_whose_id_or_name_matches_pass() {
    let c = cfg(json!({"any": [
        {"pointer": "/data/id", "op": "regex", "value": "^inv_[0-9]+$"},
        {"pointer": "/data/name", "op": "regex", "value": "(?i)^invoice "}
    ]}));
    let passes = |data: Value| c.check(&json!({"data": data})).is_ok();
    assert!(passes(json!({"id": "inv_7", "name": "x"})));
    assert!(passes(json!({"id": "cus_7", "name": "Invoice for May"})));
    assert!(!passes(json!({"id": "cus_7", "name": "receipt"})));
    assert_eq!(
        c.check(&json!({"data": {"id": 7}})).unwrap_err(),
        r#"no `any` predicate matched: (/data/id regex "^inv_[0-9]+$"), (/data/name regex "(?i)^invoice ")"#
    );
}

#[test]
fn glob_matches() {
    assert!(glob("*", "") && glob("a*b*c", "aXXbYc") && glob("a?c", "abc"));
    assert!(!glob("a*b", "ac") && !glob("abc", "abcd") && glob("*.paid", "invoice.paid"));
    assert!(glob("ü*", "über") && !glob("?", ""));
}
