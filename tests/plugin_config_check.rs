//! Plugin config checks through the host (WIT 0.1.1 `validate`): a plugin names the value at
//! fault by JSON pointer, a hostile check is contained like a hostile call, and a component
//! built against 0.1.0 (no `validate`) keeps loading and running, its configs unchecked.

#[path = "plugin_host/util.rs"]
mod util;

use std::path::Path;
use std::time::Duration;

use hookgate::plugins::*;
use serde_json::json;
use util::*;

#[tokio::test]
async fn a_plugin_points_at_the_bad_value() {
    let env = env();
    let fixture = env.fixture("x", Grants::default()).await;
    assert!(fixture.checks_config());
    let problems = env
        .host
        .check_config("x", &json!({"mode": "nope"}))
        .await
        .unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].pointer, "/mode");
    assert!(problems[0].message.contains("unknown mode"), "{problems:?}");
    let fine = env
        .host
        .check_config("x", &json!({"mode": "upper"}))
        .await
        .unwrap();
    assert_eq!(fine, Vec::new());
}

#[tokio::test]
async fn a_check_that_loops_ends_at_the_deadline() {
    let env = env();
    let limits = PluginLimits {
        timeout: Duration::from_millis(100),
        ..PluginLimits::default()
    };
    env.fixture_with_limits("x", limits).await;
    let err = env
        .host
        .check_config("x", &json!({"check": "loop"}))
        .await
        .unwrap_err();
    assert!(matches!(err, PluginError::Deadline { .. }), "{err:?}");
}

#[tokio::test]
async fn a_check_that_traps_is_an_error_not_a_crash() {
    let env = env();
    env.fixture("x", Grants::default()).await;
    let err = env
        .host
        .check_config("x", &json!({"check": "trap"}))
        .await
        .unwrap_err();
    assert!(matches!(err, PluginError::Trap { .. }), "{err:?}");
    // The next call gets a fresh instance and works.
    let ok = env
        .host
        .check_config("x", &json!({"mode": "identity"}))
        .await;
    assert_eq!(ok.unwrap(), Vec::new());
}

/// `filter` as built from this repository before WIT 0.1.1 (committed bytes, never rebuilt).
const FILTER_0_1_0: &str = "tests/fixtures/filter-built-against-0.1.0.wasm";

#[tokio::test]
async fn a_plugin_built_against_0_1_0_loads_runs_and_is_not_checked() {
    let env = env();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FILTER_0_1_0);
    let old = env
        .host
        .load("old", &path, relaxed_limits(), Grants::default())
        .await
        .unwrap();
    assert!(!old.checks_config());
    let unchecked = env
        .host
        .check_config("old", &json!({"colour": "red"}))
        .await;
    assert_eq!(unchecked.unwrap(), Vec::new());

    let rule = json!({"all": [{"pointer": "/data/amount", "op": "gte", "value": 100}]});
    let chain = [entry("old", rule, OnError::Retry)];
    let low = env.run(&chain, br#"{"data":{"amount":50}}"#).await;
    assert!(matches!(low, ChainOutcome::Filtered { .. }), "{low:?}");
    delivered(env.run(&chain, br#"{"data":{"amount":150}}"#).await);
}

#[tokio::test]
async fn a_builtin_loads_on_first_use_and_checks_its_config() {
    let env = env();
    assert!(env.host.get("envelope").is_none());
    let problems = (env.host)
        .check_config("envelope", &json!({"format": "xml"}))
        .await
        .unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].pointer, "/format");
    let loaded = env.host.get("envelope").expect("loaded by the check");
    assert_eq!(loaded.source, Source::Builtin("envelope"));
}
