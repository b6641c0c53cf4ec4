//! JavaScript and Python plugins through the real gateway: the examples built from their
//! pinned manifests by `hookgate plugin build` change exactly what they should; hostile JS and
//! Python guests are contained as Rust ones are, with the healthy endpoint beside them
//! unaffected; and a new author's path, from `plugin new` to a hot-reloaded change in live
//! deliveries, works in both languages.

mod util;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};
use util::*;

/// `hookgate plugin build DIR` (installing the toolchain on first use); the .wasm it printed.
fn build(dir: &Path) -> PathBuf {
    let (ok, out) = hookgate(&["plugin", "build", dir.to_str().unwrap()], dir);
    assert!(ok, "building {}: {out}", dir.display());
    let printed = out.lines().rev().find(|l| l.trim().ends_with(".wasm"));
    let wasm = PathBuf::from(printed.unwrap_or_default().trim());
    assert!(wasm.is_file(), "{out}");
    wasm
}

/// A project under plugins/ (e.g. `js/examples/reshape`), built once per test binary.
fn repo_plugin(rel: &str) -> PathBuf {
    static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    let map = built.get_or_insert_with(HashMap::new);
    if let Some(p) = map.get(rel) {
        return p.clone();
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("plugins")
        .join(rel);
    let wasm = build(&dir);
    map.insert(rel.to_string(), wasm.clone());
    wasm
}

fn plugin_entry(name: &str, wasm: &Path, extra: &str) -> String {
    format!("  {name}: {{ path: \"{}\"{extra} }}\n", wasm.display())
}

fn endpoint(id: &str, plugins: &str) -> String {
    format!("  - id: {id}\n    url: \"{{{{RECV}}}}/{id}\"\n    events: [\"{id}.*\"]\n    plugins: [ {plugins} ]\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_and_python_examples_change_exactly_what_they_should() {
    let recv = Receiver::start().await;
    let t = TestDir::new();
    let yaml = base_config(&format!(
        "plugins:\n{}{}{}{}endpoints:\n{}{}{}{}",
        plugin_entry("field_filter", &repo_plugin("js/examples/field-filter"), ""),
        plugin_entry("reshape", &repo_plugin("js/examples/reshape"), ""),
        plugin_entry("scrub", &repo_plugin("python/examples/scrub"), ""),
        plugin_entry(
            "enrich",
            &repo_plugin("python/examples/enrich"),
            ", allow: { kv: true }"
        ),
        endpoint(
            "ff",
            r#"{ use: field_filter, config: { keep: [/data/id, /data/amount], require: [/data/id] } }"#
        ),
        endpoint(
            "rs",
            r#"{ use: reshape, config: { fields: { /invoice: /data/id, /total/cents: /data/amount }, header: x-event-type } }"#
        ),
        endpoint(
            "sc",
            r#"{ use: scrub, config: { fields: [/data/name], patterns: [email, card] } }"#
        ),
        endpoint(
            "en",
            r#"{ use: enrich, config: { customer: /data/customer, default_tier: free } }"#
        ),
    ));
    let gw = Gateway::start_compiling(&t.write_config(&yaml, &recv.base));
    let api = Api::new(&gw);

    // JS field-filter: only the kept fields; an event without the required one is filtered.
    let d = api
        .publish_one("ff.x", json!({"id": "in_1", "amount": 42, "card": "4242"}))
        .await;
    assert_eq!(
        api.wait_status(&d, &["succeeded"]).await["status"],
        "succeeded"
    );
    assert_eq!(
        recv.got_on("/ff")[0].json()["data"],
        json!({"id": "in_1", "amount": 42})
    );
    // Text beyond ASCII, in a 60 KB body, goes through the sandbox's UTF-8 codec (native
    // base64 and URI built-ins, not a per-byte loop) intact and inside the 100 ms deadline.
    let d = api
        .publish_one(
            "ff.x",
            json!({"id": "in_é€𝄞日本", "amount": 1, "note": "ü".repeat(30_000)}),
        )
        .await;
    let done = api.wait_status(&d, &["succeeded", "failed", "dead"]).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        recv.got_on("/ff")[1].json()["data"],
        json!({"id": "in_é€𝄞日本", "amount": 1})
    );
    let d = api.publish_one("ff.x", json!({"amount": 1})).await;
    let d = api.wait_status(&d, &["filtered"]).await;
    assert_eq!(d["status"], "filtered", "{d}");
    assert!(
        d["last_error"]
            .as_str()
            .unwrap()
            .contains("missing /data/id"),
        "{d}"
    );

    // JS reshape: the receiver's own shape, the event type in a header.
    let d = api
        .publish_one("rs.paid", json!({"id": "in_2", "amount": 7}))
        .await;
    api.wait_status(&d, &["succeeded"]).await;
    let got = &recv.got_on("/rs")[0];
    assert_eq!(
        got.json(),
        json!({"invoice": "in_2", "total": {"cents": 7}})
    );
    assert_eq!(got.header("x-event-type"), Some("rs.paid"));

    // Python scrub: the named field and detected emails and cards are masked.
    let d = api
        .publish_one(
            "sc.x",
            json!({"name": "Ada", "note": "ada@example.com paid with 4242-4242-4242-4242", "order": "1234567890123"}),
        )
        .await;
    api.wait_status(&d, &["succeeded"]).await;
    assert_eq!(
        recv.got_on("/sc")[0].json()["data"],
        json!({"name": "[redacted]", "note": "[redacted] paid with [redacted]", "order": "1234567890123"})
    );

    // Python enrich: the tier an operator put in the plugin's kv, and a count kept there.
    let put = api
        .http
        .put(gw.url("/v1/plugins/enrich/kv/tier:cus_9"))
        .bearer_auth(gw.bootstrap_token().unwrap())
        .body("gold")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 204);
    for _ in 0..2 {
        let d = api.publish_one("en.x", json!({"customer": "cus_9"})).await;
        api.wait_status(&d, &["succeeded"]).await;
    }
    let got = recv.got_on("/en");
    assert_eq!(
        got[1].json()["data"],
        json!({"customer": "cus_9", "customer_tier": "gold", "delivery_number": 2})
    );
    assert_eq!(got[1].header("x-delivery-number"), Some("2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_js_and_python_plugins_are_contained_and_the_healthy_endpoint_is_not_affected() {
    let recv = Receiver::start().await;
    let t = TestDir::new();
    let js = repo_plugin("js/hostile");
    let py = repo_plugin("python/hostile");
    // (endpoint, language, config, on_error, final status, what the recorded error says)
    let cases = [
        (
            "jsloop",
            "js_deadline",
            "loop",
            "retry",
            "pending",
            "deadline of 100 ms exceeded",
        ),
        ("jsmem", "js", "memory", "drop", "filtered", "out of memory"),
        (
            "jshuge",
            "js",
            "huge",
            "drop",
            "filtered",
            "exceeds the limit",
        ),
        ("jshttp", "js", "http", "drop", "filtered", "not granted"),
        ("jsthrow", "js", "throw", "skip", "succeeded", ""),
        (
            "pyloop",
            "py_deadline",
            "loop",
            "retry",
            "pending",
            "deadline of 100 ms exceeded",
        ),
        ("pymem", "py", "memory", "drop", "filtered", "MemoryError"),
        (
            "pyhuge",
            "py",
            "huge",
            "drop",
            "filtered",
            "exceeds the limit",
        ),
        ("pyhttp", "py", "http", "drop", "filtered", "not granted"),
        (
            "pyraise",
            "py",
            "raise",
            "drop",
            "filtered",
            "refused on purpose",
        ),
    ];
    // Only the loops run under the default 100 ms deadline; the other cases get 10 s, so what
    // stops each is the limit it tests (memory cap, output limit, grant), not a debug build's
    // slowness with ten calls on two cores (QuickJS copies a 4 MiB output for ~100 ms).
    let mut yaml = format!(
        "plugins:\n{}{}{}{}endpoints:\n  - id: healthy\n    url: \"{{{{RECV}}}}/healthy\"\n",
        plugin_entry("h_js_deadline", &js, ""),
        plugin_entry("h_py_deadline", &py, ""),
        plugin_entry("h_js", &js, ", timeout: 10s"),
        plugin_entry("h_py", &py, ", timeout: 10s")
    );
    for (id, lang, what, on_error, ..) in cases {
        yaml.push_str(&endpoint(
            id,
            &format!("{{ use: h_{lang}, config: {{ do: {what}, mib: 4 }}, on_error: {on_error} }}"),
        ));
    }
    let yaml = base_config(&yaml).replace(
        "retry_schedule: [100ms, 200ms, 300ms]",
        "retry_schedule: [30s]",
    );
    let gw = Gateway::start_compiling(&t.write_config(&yaml, &recv.base));
    let api = Api::new(&gw);
    let ids: Vec<&str> = cases.iter().map(|c| c.0).collect();
    let dels = api
        .publish_beside_healthy(&recv, &ids, Duration::from_secs(30))
        .await;
    for ((id, _, _, on_error, want, says), del) in cases.iter().zip(&dels) {
        let d = api.settled(del, want).await;
        assert_eq!(d["status"], *want, "{id}: {d}");
        let error = match *on_error {
            "retry" => d["attempt_log"][0]["error"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            _ => d["last_error"].as_str().unwrap_or_default().to_string(),
        };
        assert!(error.contains(says), "{id}: wanted {says:?} in {d}");
        if *on_error == "skip" {
            assert_eq!(
                recv.got_on(&format!("/{id}"))[0].json()["data"],
                json!({"ep": id}),
                "{id}: sent unchanged"
            );
        } else {
            assert_eq!(recv.count(&format!("/{id}")), 0, "{id}: nothing sent");
        }
    }
    assert_eq!(api.get("/healthz").await.0, 200);
}

/// Runs a JS or Python project's own unit tests (`npm test`; pytest from the toolchain's venv,
/// which the first build installed), asserting they pass.
fn native_tests(dir: &Path, lang: &str) {
    let (ok, text) = if lang == "js" {
        run_output(Command::new("npm").arg("test").current_dir(dir))
    } else {
        let venv = dir
            .ancestors()
            .map(|d| d.join(".venv/bin/python"))
            .find(|p| p.exists());
        let python = venv.unwrap_or_else(|| panic!("no .venv above {}", dir.display()));
        let pytest = ["-m", "pytest", "-q", "-p", "no:cacheprovider"];
        run_output(Command::new(python).args(pytest).current_dir(dir))
    };
    assert!(ok, "{lang} tests in {}: {text}", dir.display());
    assert!(
        text.contains("pass"),
        "no test ran in {}: {text}",
        dir.display()
    );
}

#[test]
fn the_sdks_and_examples_pass_their_own_unit_tests() {
    let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins");
    // The SDK's and the examples' tests: node --test (no dependencies).
    native_tests(&plugins.join("js"), "js");
    // Building one example installs the Python toolchain (pytest is pinned beside it).
    repo_plugin("python/examples/scrub");
    for example in ["scrub", "enrich"] {
        native_tests(&plugins.join("python/examples").join(example), "python");
    }
    // The templates' tests run in a scaffold (the author's path below), where the SDK is.
}

/// `plugin new` → edit → `plugin build` → `plugin test` → config → live deliveries → edit and
/// rebuild → the gateway's poller swaps the new version in → deliveries change.
async fn a_new_authors_path(lang: &str, source: &str, edit: fn(&str, &str) -> String) {
    let t = TestDir::new();
    let (ok, out) = hookgate(&["plugin", "new", "my-plugin", "--lang", lang], t.path());
    assert!(ok, "{out}");
    let project = t.path().join("my-plugin");
    let file = project.join(source);
    let rewrite = |mark: &str| {
        let text = std::fs::read_to_string(&file).unwrap();
        let edited = edit(&text, mark);
        assert_ne!(edited, text, "the edit applies to the scaffold");
        std::fs::write(&file, edited).unwrap();
    };
    // The scaffold builds and its own unit tests pass before any edit.
    build(&project);
    native_tests(&project, lang);
    rewrite("first");
    let wasm = build(&project);
    let (ok, out) = scaffold_test(&project, &wasm, &[]);
    assert!(
        ok && out.contains("decision: deliver") && out.contains("\"first\""),
        "{out}"
    );
    assert!(
        !out.contains("passed evt_test"),
        "debug lines are hidden at the default --log info: {out}"
    );
    let (ok, out) = scaffold_test(&project, &wasm, &["--log", "debug", "--repeat", "3"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("DEBUG log    passed evt_"),
        "the plugin's log line: {out}"
    );
    assert!(
        out.contains("host calls: log ×1, config ×1") && out.contains("3 calls: p50 "),
        "{out}"
    );
    let (ok, out) = hookgate(&["plugin", "check", wasm.to_str().unwrap()], &project);
    assert!(
        ok && out.contains("link: ✓") && out.contains("instantiate: ✓"),
        "{out}"
    );

    let recv = Receiver::start().await;
    let yaml = base_config(&format!(
        "plugins:\n{}endpoints:\n{}",
        plugin_entry("mine", &wasm, ""),
        endpoint("b", "{ use: mine, config: { min_amount: 100 } }")
    ));
    let gw = Gateway::start_compiling(&t.write_config(&yaml, &recv.base));
    let api = Api::new(&gw);
    let d = api.publish_one("b.paid", json!({"amount": 500})).await;
    api.wait_status(&d, &["succeeded"]).await;
    assert_eq!(recv.got_on("/b")[0].json()["data"]["checked_by"], "first");
    let d = api.publish_one("b.paid", json!({"amount": 5})).await;
    assert_eq!(
        api.wait_status(&d, &["filtered"]).await["last_error"],
        "plugin mine: amount below 100"
    );

    rewrite("second");
    build(&project);
    let mut seen = Value::Null;
    for _ in 0..100 {
        let d = api.publish_one("b.paid", json!({"amount": 500})).await;
        api.wait_status(&d, &["succeeded"]).await;
        seen = recv.got_on("/b").last().unwrap().json()["data"]["checked_by"].clone();
        if seen == "second" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        seen,
        "second",
        "the rebuilt plugin is in service: {}",
        gw.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_js_author_goes_from_plugin_new_to_changed_deliveries() {
    a_new_authors_path("js", "src/plugin.js", |text, mark| {
        text.replace(
            "event.data.checked_by = \"my-plugin\"",
            &format!("event.data.checked_by = \"{mark}\""),
        )
        .replace(
            "event.data.checked_by = \"first\"",
            &format!("event.data.checked_by = \"{mark}\""),
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_python_author_goes_from_plugin_new_to_changed_deliveries() {
    a_new_authors_path("python", "handler.py", |text, mark| {
        text.replace(
            "event[\"data\"][\"checked_by\"] = \"my-plugin\"",
            &format!("event[\"data\"][\"checked_by\"] = \"{mark}\""),
        )
        .replace(
            "event[\"data\"][\"checked_by\"] = \"first\"",
            &format!("event[\"data\"][\"checked_by\"] = \"{mark}\""),
        )
    })
    .await;
}

/// A JS plugin counting the calls its instance has served in a module variable, so the header
/// it sets tells which instance served a delivery.
const COUNTING_PLUGIN: &str = r#"
let served = 0;
export function handle(delivery) {
  served += 1;
  if (delivery.json().data.fail) throw new Error(`failing on call ${served}`);
  return delivery.setHeader("x-served", String(served));
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reuse_keeps_an_instance_for_n_calls_and_drops_it_after_a_failure() {
    let t = TestDir::new();
    let (ok, out) = hookgate(&["plugin", "new", "counter", "--lang", "js"], t.path());
    assert!(ok, "{out}");
    let project = t.path().join("counter");
    std::fs::write(project.join("src/plugin.js"), COUNTING_PLUGIN).unwrap();
    let wasm = build(&project);
    let recv = Receiver::start().await;
    let yaml = base_config(&format!(
        "plugins:\n{}{}endpoints:\n{}{}",
        plugin_entry("fresh", &wasm, ""),
        plugin_entry("reused", &wasm, ", reuse: 3"),
        endpoint("f", "{ use: fresh }"),
        endpoint("r", "{ use: reused, on_error: drop }"),
    ));
    let gw = Gateway::start_compiling(&t.write_config(&yaml, &recv.base));
    let api = Api::new(&gw);
    let served = |id: &str| {
        let got = recv.got_on(&format!("/{id}"));
        got.iter()
            .map(|r| r.header("x-served").unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    };
    // One call at a time, so every call finds the instance the previous one left idle.
    let send = |id: &'static str, data: Value, want: &'static str| {
        let api = &api;
        async move {
            let d = api.publish_one(&format!("{id}.x"), data).await;
            let d = api.wait_status(&d, &[want]).await;
            assert_eq!(d["status"], want, "{d}");
            d
        }
    };
    for _ in 0..3 {
        send("f", json!({}), "succeeded").await;
    }
    assert_eq!(
        served("f"),
        ["1", "1", "1"],
        "the default is a fresh instance per call"
    );
    for _ in 0..4 {
        send("r", json!({}), "succeeded").await;
    }
    assert_eq!(
        served("r"),
        ["1", "2", "3", "1"],
        "an instance serves `reuse` calls, then a fresh one starts over"
    );
    let failed = send("r", json!({"fail": true}), "filtered").await;
    assert!(
        failed["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("failing on call 2"),
        "{failed}"
    );
    send("r", json!({}), "succeeded").await;
    assert_eq!(
        served("r").last().map(String::as_str),
        Some("1"),
        "an instance that failed a call is dropped, not reused"
    );
}

/// `hookgate plugin test` on a scaffold's own sample event and config, plus `extra` flags.
fn scaffold_test(project: &Path, wasm: &Path, extra: &[&str]) -> (bool, String) {
    let wasm = wasm.to_str().unwrap();
    let mut args = vec!["plugin", "test", wasm, "--event", "event.json"];
    args.extend(["--config", "config.json"]);
    args.extend(extra);
    hookgate(&args, project)
}
