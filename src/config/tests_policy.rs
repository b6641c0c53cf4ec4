//! Tests for an endpoint's own `delivery:` policy: what parses, what it inherits, and one
//! positioned diagnostic per bad value (the same parsers and messages as the global block).

use std::path::Path;
use std::time::Duration;

use super::tests_invalid::{check, Want};
use super::*;

fn ok(yaml: &str) -> Config {
    let env = |_: &str| None;
    match parse(yaml, "hookgate.yaml", Path::new("/etc/hookgate"), &env) {
        Ok(c) => c,
        Err(e) => panic!("expected a valid config, got:\n{e}"),
    }
}

/// One endpoint `a` whose `delivery:` block is `policy` (YAML lines indented by 6).
fn with_policy(policy: &str) -> String {
    format!("endpoints:\n  - id: a\n    url: https://a.example/\n    delivery:\n{policy}")
}

const MS: fn(u64) -> Duration = Duration::from_millis;

#[test]
fn a_full_override_is_parsed() {
    let c = ok(&with_policy(concat!(
        "      timeout: 5s\n",
        "      retry_schedule: [1m, 5m, 1h]\n",
        "      jitter: 0.1\n",
        "      auto_disable_after: 10\n",
        "      fail_fast_4xx: true\n",
        "      retry_after_cap: 1h\n",
    )));
    let own = *c.endpoints[0].delivery.clone().expect("an override");
    assert_eq!(
        own,
        DeliveryOverride {
            timeout: Some(MS(5000)),
            retry_schedule: Some(vec![MS(60_000), MS(300_000), MS(3_600_000)]),
            jitter: Some(0.1),
            auto_disable_after: Some(10),
            fail_fast_4xx: Some(true),
            retry_after_cap: Some(MS(3_600_000)),
        }
    );
}

#[test]
fn unset_fields_inherit_the_global_block() {
    let yaml = format!(
        "delivery: {{ timeout: 2s, retry_schedule: [1s, 2s], auto_disable_after: 7 }}\n{}",
        with_policy("      retry_schedule: [200ms]\n")
    );
    let c = ok(&yaml);
    let p = c.delivery.policy(c.endpoints[0].delivery.as_deref());
    assert_eq!(p.retry_schedule, &[MS(200)]);
    assert_eq!(p.attempts(), 2);
    assert_eq!(p.timeout, MS(2000));
    assert_eq!(p.auto_disable_after, 7);
    assert_eq!(p.jitter, DeliveryConfig::default().jitter);
}

#[test]
fn no_or_an_empty_delivery_key_overrides_nothing() {
    let empty = ok(&with_policy("      {}\n"));
    assert_eq!(empty.endpoints[0].delivery, None);
    let none = ok("endpoints:\n  - { id: a, url: 'https://a.example/' }\n");
    assert_eq!(none.endpoints[0].delivery, None);
    assert_eq!(empty, none);
}

#[test]
fn each_bad_value_gives_one_positioned_diagnostic() {
    let cases: &[(&str, &str, Want)] = &[
        (
            "timeout",
            "      timeout: 0s\n",
            (5, 16, "endpoints[0].delivery.timeout", "greater than 0"),
        ),
        (
            "schedule item",
            "      retry_schedule: [1m, soon]\n",
            (
                5,
                28,
                "endpoints[0].delivery.retry_schedule[1]",
                "expected a duration like 500ms",
            ),
        ),
        (
            "empty schedule",
            "      retry_schedule: []\n",
            (5, 23, "endpoints[0].delivery.retry_schedule", "at least one delay"),
        ),
        (
            "jitter",
            "      jitter: 2\n",
            (5, 15, "endpoints[0].delivery.jitter", "between 0 and 1"),
        ),
        (
            "threshold",
            "      auto_disable_after: -3\n",
            (
                5,
                27,
                "endpoints[0].delivery.auto_disable_after",
                "non-negative whole number",
            ),
        ),
        (
            "fail fast",
            "      fail_fast_4xx: yes\n",
            (5, 22, "endpoints[0].delivery.fail_fast_4xx", "expected true or false"),
        ),
        (
            "cap",
            "      retry_after_cap: never\n",
            (5, 24, "endpoints[0].delivery.retry_after_cap", "expected a duration"),
        ),
        (
            "unknown key",
            "      retries: 3\n",
            (
                5,
                7,
                "endpoints[0].delivery.retries",
                "unknown key `retries` (expected one of: timeout, retry_schedule, jitter, auto_disable_after, fail_fast_4xx, retry_after_cap)",
            ),
        ),
    ];
    for (name, policy, want) in cases {
        check(name, &with_policy(policy), &[*want]);
    }
}

#[test]
fn gateway_wide_keys_are_refused_under_an_endpoint() {
    for (key, path) in [
        ("max_in_flight", "endpoints[0].delivery.max_in_flight"),
        (
            "response_body_limit",
            "endpoints[0].delivery.response_body_limit",
        ),
        ("shutdown_grace", "endpoints[0].delivery.shutdown_grace"),
    ] {
        let yaml = with_policy(&format!("      {key}: 1\n"));
        check(key, &yaml, &[(5, 7, path, "applies to the whole gateway")]);
    }
    let yaml = with_policy("      max_in_flight: 4\n");
    check(
        "points at the endpoint's own limit",
        &yaml,
        &[(
            5,
            7,
            "endpoints[0].delivery.max_in_flight",
            "an endpoint's own limit is `max_in_flight` beside its `url`",
        )],
    );
}

#[test]
fn a_changed_policy_is_a_changed_endpoint() {
    let old = ok(&with_policy("      timeout: 5s\n"));
    let new = ok(&with_policy("      timeout: 6s\n"));
    assert_eq!(diff(&old, &new).changed, ["a"]);
    let global_only = ok(&format!(
        "delivery: {{ timeout: 6s }}\n{}",
        with_policy("      {}\n")
    ));
    let plain = ok(&with_policy("      {}\n"));
    assert!(
        diff(&plain, &global_only).changed.is_empty(),
        "a global change is no endpoint change: it reaches endpoints through inheritance"
    );
}

#[test]
fn the_api_definition_reads_the_same_key() {
    let spec = serde_json::json!({"id": "a", "url": "https://a.example/",
        "delivery": {"retry_schedule": ["200ms", "1s"], "fail_fast_4xx": true}});
    let ep = parse_endpoint(&spec, &NetworkConfig::default(), &[]).unwrap();
    let own = ep.delivery.as_deref().unwrap();
    assert_eq!(own.retry_schedule, Some(vec![MS(200), MS(1000)]));
    assert_eq!(
        override_json(own),
        serde_json::json!({"retry_schedule": ["200ms", "1s"], "fail_fast_4xx": true})
    );
    let bad = serde_json::json!({"id": "a", "url": "https://a.example/",
        "delivery": {"retry_schedule": ["1m", "x"], "max_in_flight": 2}});
    let errs = parse_endpoint(&bad, &NetworkConfig::default(), &[]).unwrap_err();
    let mut paths: Vec<&str> = errs.iter().map(|d| d.path.as_str()).collect();
    paths.sort();
    assert_eq!(
        paths,
        ["delivery.max_in_flight", "delivery.retry_schedule[1]"],
        "{errs:?}"
    );
}
