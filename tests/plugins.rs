//! Plugins through the real gateway: real compiled example plugins change exactly what they
//! should, hostile plugins are contained by the sandbox and follow their `on_error` policy, and
//! the healthy endpoint next to them is unaffected.

mod util;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{json, Value};
use util::*;

fn wasm_dir() -> PathBuf {
    plugins_wasm_dir()
}

fn plugin(name: &str, file: &str, extra: &str) -> String {
    format!(
        "  {name}: {{ path: \"{}\"{extra} }}\n",
        wasm_dir().join(file).display()
    )
}

async fn wait_status(api: &Api, id: &str, want: &[&str]) -> Value {
    api.wait_status(id, want).await
}

async fn publish(api: &Api, ty: &str, data: Value) -> String {
    api.publish_one(ty, data).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_plugins_change_exactly_what_they_should() {
    let recv = Receiver::start().await;
    let t = TestDir::new();
    let ep = |id: &str, plug: &str, cfg: &str| {
        format!("  - id: {id}\n    url: \"{{{{RECV}}}}/{id}\"\n    events: [\"{id}.*\"]\n    secret: \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n    plugins: [ {{ use: {plug}, config: {cfg} }} ]\n")
    };
    let yaml = base_config(&format!(
        "plugins:\n{}{}{}{}{}endpoints:\n{}{}{}{}{}",
        plugin("filter", "filter.wasm", ""),
        plugin("redact", "redact.wasm", ""),
        plugin("slack", "slack.wasm", ""),
        plugin("envelope", "envelope.wasm", ""),
        plugin("enrich", "enrich.wasm", ", allow: { kv: true }"),
        ep(
            "f",
            "filter",
            r#"{ all: [ { pointer: /data/amount, op: gte, value: 100 } ] }"#
        ),
        ep(
            "r",
            "redact",
            r#"{ remove: [/data/card], mask: [/data/email] }"#
        ),
        ep(
            "s",
            "slack",
            r#"{ text: "Invoice {{/data/invoice}} paid: {{/data/amount}}" }"#
        ),
        ep(
            "e",
            "envelope",
            r#"{ format: cloudevents, source: billing }"#
        ),
        ep(
            "n",
            "enrich",
            r#"{ lookup: /data/customer_id, prefix: "customer:", field: customer, header: X-Customer-Tier, header_pointer: /tier }"#
        ),
    ));
    let gw = Gateway::start(&t.write_config(&yaml, &recv.base));
    let api = Api::new(&gw);

    let (_, v) = api.get("/v1/plugins").await;
    let names: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 5, "{v}");
    assert!(
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["status"] == "ok"),
        "{v}"
    );

    // filter: below the threshold → filtered with the reason; above → delivered unchanged.
    let low = publish(&api, "f.x", json!({"amount": 50})).await;
    let high = publish(&api, "f.x", json!({"amount": 150})).await;
    let d = wait_status(&api, &low, &["filtered"]).await;
    assert_eq!(d["status"], "filtered", "{d}");
    assert!(d["last_error"].as_str().unwrap().contains("filter"), "{d}");
    assert_eq!(d["attempts"], 0, "no request was made");
    assert_eq!(
        wait_status(&api, &high, &["succeeded"]).await["status"],
        "succeeded"
    );
    assert_eq!(recv.count("/f"), 1);
    assert_eq!(recv.got_on("/f")[0].json()["data"], json!({"amount": 150}));

    // redact: card removed, email masked, the rest untouched. The receiver fails twice: the
    // chain ran once, and every retry sends the stored output (kept as an edit of the event
    // body, which shares most of its bytes) byte for byte; the delivery log shows those bytes.
    recv.script("/r", vec![Reply::status(500), Reply::status(503)]);
    let note = "n".repeat(300);
    let id = publish(
        &api,
        "r.x",
        json!({"card": "4242", "email": "a@b.c", "keep": 1, "note": note}),
    )
    .await;
    let d = wait_status(&api, &id, &["succeeded"]).await;
    assert_eq!(d["status"], "succeeded", "{d}");
    assert_eq!(d["attempts"], 3, "{d}");
    let got = recv.got_on("/r");
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|r| r.body == got[0].body), "retries differ");
    assert_eq!(
        got[0].json()["data"],
        json!({"email": "***", "keep": 1, "note": note})
    );
    assert_eq!(
        d["body"].as_str().unwrap().as_bytes(),
        got[0].body.as_slice()
    );

    // slack: reshaped to an incoming-webhook message.
    let id = publish(&api, "s.x", json!({"invoice": "in_1", "amount": 150})).await;
    assert_eq!(
        wait_status(&api, &id, &["succeeded"]).await["status"],
        "succeeded"
    );
    assert_eq!(
        recv.got_on("/s")[0].json(),
        json!({"text": "Invoice in_1 paid: 150"})
    );

    // envelope: CloudEvents 1.0 structured mode, with its content type.
    let id = publish(&api, "e.created", json!({"k": "v"})).await;
    assert_eq!(
        wait_status(&api, &id, &["succeeded"]).await["status"],
        "succeeded"
    );
    let got = &recv.got_on("/e")[0];
    assert_eq!(
        got.header("content-type"),
        Some("application/cloudevents+json")
    );
    let ce = got.json();
    assert_eq!(
        (
            ce["specversion"].as_str(),
            ce["type"].as_str(),
            ce["source"].as_str()
        ),
        (Some("1.0"), Some("e.created"), Some("billing"))
    );
    assert_eq!(ce["data"], json!({"k": "v"}));

    // enrich: a lookup table loaded through the API is merged into the body and a header.
    let put = gw
        .authed(reqwest::Client::new().put(gw.url("/v1/plugins/enrich/kv/customer:c1")))
        .body(r#"{"tier":"gold","name":"Acme"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 204);
    let id = publish(&api, "n.x", json!({"customer_id": "c1"})).await;
    let d = wait_status(&api, &id, &["succeeded"]).await;
    assert_eq!(d["status"], "succeeded");
    let got = &recv.got_on("/n")[0];
    assert_eq!(got.header("x-customer-tier"), Some("gold"));
    assert_eq!(
        got.json()["data"]["customer"],
        json!({"tier": "gold", "name": "Acme"})
    );

    // The delivery log shows the exact transformed body sent and the plugin version used, and
    // the signature covers the transformed body.
    assert_eq!(d["body"].as_str().unwrap().as_bytes(), got.body.as_slice());
    assert_eq!(d["plugins"][0]["name"], "enrich");
    assert_eq!(d["plugins"][0]["sha256"].as_str().unwrap().len(), 64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_plugins_are_contained_and_follow_on_error() {
    let recv = Receiver::start().await;
    let t = TestDir::new();
    // (endpoint, plugin file, plugin config, on_error, expected final status)
    let cases = [
        ("loop", "hostile_loop.wasm", "null", "retry", "pending"),
        ("memory", "hostile_memory.wasm", "null", "skip", "succeeded"),
        (
            "recursion",
            "hostile_recursion.wasm",
            "null",
            "drop",
            "filtered",
        ),
        ("panic", "hostile_panic.wasm", "null", "retry", "pending"),
        (
            "huge",
            "hostile_huge_output.wasm",
            "{ mib: 64 }",
            "skip",
            "succeeded",
        ),
        (
            "headers",
            "hostile_bad_headers.wasm",
            "{ case: all }",
            "drop",
            "filtered",
        ),
        (
            "imports",
            "hostile_import_loop.wasm",
            "null",
            "skip",
            "succeeded",
        ),
        ("http", "hostile_http.wasm", "null", "drop", "filtered"),
    ];
    let mut plugins = String::from("plugins:\n");
    let mut endpoints =
        String::from("endpoints:\n  - id: healthy\n    url: \"{{RECV}}/healthy\"\n");
    for (id, file, cfg, on_error, _) in cases {
        let allow = if id == "http" {
            ", allow: { kv: true, http: [\"https://api.example.com\"] }"
        } else if id == "imports" {
            ", allow: { kv: true }"
        } else {
            ""
        };
        plugins.push_str(&plugin(&format!("h_{id}"), file, allow));
        endpoints.push_str(&format!(
            "  - id: {id}\n    url: \"{{{{RECV}}}}/{id}\"\n    events: [\"{id}.*\"]\n    plugins: [ {{ use: h_{id}, config: {cfg}, on_error: {on_error} }} ]\n"
        ));
    }
    let yaml = base_config(&format!("{plugins}{endpoints}")).replace(
        "retry_schedule: [100ms, 200ms, 300ms]",
        "retry_schedule: [30s]",
    );
    let gw = Gateway::start(&t.write_config(&yaml, &recv.base));
    let api = Api::new(&gw);
    // Each event goes to its hostile endpoint and to the healthy one (no pattern there), which
    // gets every event while the hostile plugins misbehave.
    let ids: Vec<&str> = cases.iter().map(|c| c.0).collect();
    let dels = api
        .publish_beside_healthy(&recv, &ids, Duration::from_secs(20))
        .await;

    for ((id, _, _, on_error, want), del) in cases.iter().zip(&dels) {
        // retry: the failure is recorded on attempt 1 and the delivery waits for attempt 2.
        let d = api.settled(del, want).await;
        assert_eq!(d["status"], *want, "{id} ({on_error}): {d}");
        match *on_error {
            "retry" => {
                let err = d["attempt_log"][0]["error"].as_str().unwrap_or_default();
                assert!(
                    err.contains(&format!("h_{id}")),
                    "{id}: the error names the plugin: {d}"
                );
                assert!(d["next_attempt_at"].is_string(), "{id}: {d}");
                assert_eq!(recv.count(&format!("/{id}")), 0, "{id}: nothing sent");
            }
            "skip" => {
                let got = recv.got_on(&format!("/{id}"));
                assert_eq!(got.len(), 1, "{id}");
                assert_eq!(
                    got[0].json()["data"],
                    json!({"ep": id}),
                    "{id}: passed through unchanged"
                );
            }
            _ => {
                assert!(
                    d["last_error"]
                        .as_str()
                        .unwrap_or_default()
                        .contains(&format!("h_{id}")),
                    "{id}: {d}"
                );
                assert_eq!(recv.count(&format!("/{id}")), 0, "{id}: nothing sent");
            }
        }
    }
    // Still serving.
    assert_eq!(api.get("/healthz").await.0, 200);
    let (_, v) = api.get("/v1/plugins").await;
    let files = (v["data"].as_array().unwrap().iter()).filter(|p| p["source"] == "file");
    assert_eq!(files.count(), cases.len(), "{v}");
}

#[test]
fn plugin_cli_checks_tests_and_scaffolds() {
    let w = wasm_dir();
    let t = TestDir::new();
    let dir = t.path();
    let (ok, out) = hookgate(
        &["plugin", "check", w.join("redact.wasm").to_str().unwrap()],
        dir,
    );
    assert!(
        ok && out.contains("hookgate:plugin@0.1.1") && out.contains("uses: config"),
        "{out}"
    );
    let (ok, out) = hookgate(
        &["plugin", "check", w.join("enrich.wasm").to_str().unwrap()],
        dir,
    );
    assert!(
        ok && out.contains("kv: true"),
        "check says which grant a plugin needs: {out}"
    );
    std::fs::write(dir.join("not.wasm"), b"not wasm").unwrap();
    let (ok, out) = hookgate(&["plugin", "check", "not.wasm"], dir);
    assert!(!ok && out.contains("not a WebAssembly component"), "{out}");

    std::fs::write(
        dir.join("e.json"),
        r#"{"type":"a.b","data":{"card":"4242","email":"a@b.c","keep":1}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("c.json"),
        r#"{"remove":["/data/card"],"mask":["/data/email"]}"#,
    )
    .unwrap();
    let redact = w.join("redact.wasm");
    let (ok, out) = hookgate(
        &[
            "plugin",
            "test",
            redact.to_str().unwrap(),
            "--event",
            "e.json",
            "--config",
            "c.json",
        ],
        dir,
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("decision: deliver")
            && out.contains("- /data/card")
            && out.contains("~ /data/email"),
        "{out}"
    );
    assert!(
        !out.contains("keep"),
        "unchanged fields are not in the diff: {out}"
    );
    let (ok, out) = hookgate(
        &[
            "plugin",
            "test",
            w.join("hostile_panic.wasm").to_str().unwrap(),
            "--event",
            "e.json",
        ],
        dir,
    );
    assert!(
        !ok && out.contains("decision: error") && out.contains("trap"),
        "{out}"
    );

    // Scaffold → build → check: the template builds as it is.
    let built = scaffolded_wasm();
    let (ok, out) = hookgate(&["plugin", "check", built.to_str().unwrap()], dir);
    assert!(ok && out.contains("✓"), "{out}");
}

#[test]
fn plugin_test_takes_the_limits_and_shows_the_plugins_log_lines_and_calls() {
    let w = wasm_dir();
    let t = TestDir::new();
    let dir = t.path();
    std::fs::write(dir.join("e.json"), r#"{"type":"a.b","data":{"n":1}}"#).unwrap();
    let test = |wasm: &str, extra: &[&str]| {
        let path = w.join(wasm);
        let mut args = vec![
            "plugin",
            "test",
            path.to_str().unwrap(),
            "--event",
            "e.json",
        ];
        args.extend_from_slice(extra);
        hookgate(&args, dir)
    };

    // A guest that logs and calls kv in a loop: the deadline given stops it, its log lines
    // and the imports it called are in the report.
    let (ok, out) = test("hostile_import_loop.wasm", &["--timeout", "20ms"]);
    assert!(!ok && out.contains("deadline of 20 ms exceeded"), "{out}");
    assert!(
        out.contains("INFO  log    hostile-import-loop: spam"),
        "{out}"
    );
    assert!(
        out.contains("host calls: log ×") && out.contains("kv ×"),
        "{out}"
    );
    // `--log` filters the plugin's lines as it filters the gateway's.
    let (_, out) = test(
        "hostile_import_loop.wasm",
        &["--timeout", "20ms", "--log", "warn"],
    );
    assert!(!out.contains("spam"), "{out}");

    // The memory cap given is the one the call runs under.
    let (ok, out) = test("hostile_memory.wasm", &["--memory", "2MiB"]);
    assert!(!ok && out.contains("memory limit 2 MiB exceeded"), "{out}");

    // `--repeat` times further fresh-instance calls and splits where the time went.
    let (ok, out) = test("slack.wasm", &["--repeat", "5"]);
    assert!(ok, "{out}");
    for line in [
        "5 calls: p50 ",
        "instantiate p50 ",
        "handle      p50 ",
        "teardown    p50 ",
    ] {
        assert!(out.contains(line), "{line:?} in {out}");
    }
}

/// A component that exports the handler interface by name but imports a WASI interface the
/// gateway does not link: a world check alone passes it, only linking tells.
const UNLINKABLE: &str = r#"(component
  (import "wasi:nope/thing@0.2.0" (instance (export "f" (func))))
  (instance $h)
  (export "hookgate:plugin/handler@0.1.0" (instance $h)))"#;

#[test]
fn plugin_check_is_the_gateways_own_load() {
    let t = TestDir::new();
    let dir = t.path();
    std::fs::write(dir.join("unlinkable.wat"), UNLINKABLE).unwrap();
    let (ok, out) = hookgate(&["plugin", "check", "unlinkable.wat"], dir);
    assert!(
        !ok && out.contains("linking") && out.contains("wasi:nope/thing@0.2.0"),
        "the unlinkable import is named: {out}"
    );
    assert!(out.contains("imports:\n  wasi:nope/thing@0.2.0"), "{out}");

    // A real guest: every step passes under the limits given, with what each cost.
    let w = wasm_dir();
    let filter = w.join("filter.wasm");
    let (ok, out) = hookgate(&["plugin", "check", filter.to_str().unwrap()], dir);
    assert!(
        ok && out.contains("instantiate: ✓") && out.contains("32 MiB"),
        "{out}"
    );
    assert!(
        out.contains("compile: ") && out.contains("from the compiled-code cache: "),
        "{out}"
    );
    // Linking passes but the guest's initial memory is more than the cap given.
    let (ok, out) = hookgate(
        &[
            "plugin",
            "check",
            filter.to_str().unwrap(),
            "--memory",
            "1MiB",
        ],
        dir,
    );
    assert!(
        !ok && out.contains("instantiate: ✗") && out.contains("memory limit 1 MiB"),
        "{out}"
    );
}

/// `hookgate plugin new my-plugin` + `plugin build`, once per test binary (kept under cargo's
/// test tmp dir so later runs reuse the build). Returns the built .wasm.
fn scaffolded_wasm() -> PathBuf {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scaffold");
        std::fs::create_dir_all(&dir).unwrap();
        if !dir.join("my-plugin").exists() {
            let sdk = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("plugins/sdk");
            let (ok, out) = hookgate(
                &["plugin", "new", "my-plugin", "--sdk", sdk.to_str().unwrap()],
                &dir,
            );
            assert!(ok, "{out}");
        }
        let (ok, out) = hookgate(&["plugin", "build", "my-plugin"], &dir);
        assert!(ok, "{out}");
        let built = out
            .lines()
            .find(|l| l.ends_with("my_plugin.wasm"))
            .expect("build prints the .wasm");
        dir.join(built)
    })
    .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_a_plugin_under_load_loses_nothing_and_a_broken_file_changes_nothing() {
    let recv = Receiver::start().await;
    let t = TestDir::new();
    let live = t.path().join("p.wasm");
    // v1 = the scaffolded plugin (marks data.seen_by_plugin), v2 = slack (reshapes the body);
    // both run without config.
    std::fs::copy(scaffolded_wasm(), &live).unwrap();
    let yaml = base_config(&format!(
        "plugins:\n  p: {{ path: \"{}\" }}\nendpoints:\n  - id: a\n    url: \"{{{{RECV}}}}/a\"\n    plugins: [ {{ use: p }} ]\n",
        live.display()
    ));
    let gw = Gateway::start(&t.write_config(&yaml, &recv.base));
    let api = Api::new(&gw);
    let mut published = 0usize;
    let publish_some = |n: usize| {
        let api = &api;
        async move {
            for i in 0..n {
                assert_eq!(
                    api.post("/v1/events", &json!({"type": "p.x", "data": {"i": i}}))
                        .await
                        .0,
                    202
                );
            }
        }
    };
    publish_some(20).await;
    published += 20;
    // Replace the file (write elsewhere, rename over: what deploy tools do) while events flow.
    let tmp = t.path().join("p.wasm.new");
    std::fs::copy(wasm_dir().join("slack.wasm"), &tmp).unwrap();
    std::fs::rename(&tmp, &live).unwrap();
    assert!(
        gw.wait_log("new version in service", Duration::from_secs(10)),
        "{}",
        gw.logs()
    );
    publish_some(20).await;
    published += 20;
    if !eventually(Duration::from_secs(20), || recv.count("/a") == published).await {
        let (_, list) = api.get("/v1/endpoints/a/deliveries?limit=1").await;
        let (_, d) = api
            .get(&format!(
                "/v1/deliveries/{}",
                list["data"][0]["id"].as_str().unwrap()
            ))
            .await;
        panic!(
            "got {} of {published}; newest delivery: {d}\n{}",
            recv.count("/a"),
            gw.logs()
        );
    }
    let shapes = |r: &Received| {
        let v = r.json();
        if v.get("text").is_some() {
            "v2"
        } else if v["data"]["seen_by_plugin"] == true {
            "v1"
        } else {
            "corrupt"
        }
    };
    let got = recv.got_on("/a");
    assert!(got.iter().all(|r| shapes(r) != "corrupt"));
    assert!(
        got.iter().take(20).all(|r| shapes(r) == "v1"),
        "events before the swap use v1"
    );
    assert!(
        got.iter().rev().take(20).all(|r| shapes(r) == "v2"),
        "events published after the swap use v2"
    );

    // A broken replacement: reported, and v2 keeps serving.
    std::fs::write(&tmp, b"\0asm garbage").unwrap();
    std::fs::rename(&tmp, &live).unwrap();
    assert!(
        gw.wait_log("does not load", Duration::from_secs(10)),
        "{}",
        gw.logs()
    );
    let (_, v) = api.get("/v1/plugins").await;
    let p = (v["data"].as_array().unwrap().iter())
        .find(|p| p["name"] == "p")
        .unwrap();
    assert_eq!(p["status"], "stale", "{v}");
    assert!(p["last_error"].is_string(), "{v}");
    publish_some(10).await;
    published += 10;
    assert!(eventually(Duration::from_secs(20), || recv.count("/a") == published).await);
    assert!(recv
        .got_on("/a")
        .iter()
        .rev()
        .take(10)
        .all(|r| shapes(r) == "v2"));
}

/// `max_in_flight` caps the requests a receiver sees, not the deliveries whose chain is running:
/// for an endpoint with plugins the scheduler starts twice the cap, and the receiver still never
/// holds more than the cap at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_endpoint_starts_twice_its_cap_but_never_exceeds_it_at_the_receiver() {
    let recv = Receiver::start().await;
    recv.default_reply("/slow", Reply::sleep(Duration::from_secs(5)));
    let t = TestDir::new();
    let yaml = base_config(&format!(
        "plugins:\n{}endpoints:\n  - id: slow\n    url: \"{{{{RECV}}}}/slow\"\n    max_in_flight: 4\n    plugins: [ {{ use: redact, config: {{ remove: [/data/x] }} }} ]\n",
        plugin("redact", "redact.wasm", "")
    ))
    .replace("timeout: 1s", "timeout: 4s");
    let gw = Gateway::start(&t.write_config(&yaml, &recv.base));
    let api = Api::new(&gw);
    assert_eq!(api.publish_numbered("x.y", 40).await, 202);
    let in_flight = || async {
        let text = gw
            .authed(reqwest::Client::new().get(format!("{}/metrics", api.base)))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("hookgate_attempts_in_flight "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(-1.0)
    };
    let mut started = -1.0;
    for _ in 0..100 {
        started = in_flight().await;
        if started == 8.0 && recv.count("/slow") == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(started, 8.0, "twice max_in_flight started");
    // Well inside the receiver's 5 s sleep: nothing else may have been let through.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(recv.count("/slow"), 4, "more requests than max_in_flight");
    assert_eq!(in_flight().await, 8.0);
}

/// A granted `http` import goes out through the gateway's guarded client: the plugin reaches
/// its allow-listed origin (the loopback receiver, which `allow_private` admits here) and sees
/// the answer. The host tests cover the allow-list with a recording fetcher; this is the real
/// fetcher, SSRF guard included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_http_import_reaches_its_origin_through_the_guarded_client() {
    let recv = Receiver::start().await;
    recv.default_reply("/lookup", Reply::status(203));
    let t = TestDir::new();
    let yaml = base_config(&format!(
        "plugins:\n{}endpoints:\n  - id: probe\n    url: \"{{{{RECV}}}}/hook\"\n    plugins: [ {{ use: probe, config: {{ urls: [\"{{{{RECV}}}}/lookup\"] }} }} ]\n",
        plugin("probe", "hostile_http.wasm", ", allow: { http: [\"{{RECV}}\"] }")
    ));
    let gw = Gateway::start(&t.write_config(&yaml, &recv.base));
    let api = Api::new(&gw);
    let id = publish(&api, "probe.x", json!({"n": 1})).await;
    let d = wait_status(&api, &id, &["succeeded", "filtered", "dead"]).await;
    assert_eq!(d["status"], "succeeded", "{d}");
    let lookups = recv.got_on("/lookup");
    assert_eq!(lookups.len(), 1, "the plugin's request reached its origin");
    assert!(lookups[0].body.is_empty(), "a GET");
    let hooks = recv.got_on("/hook");
    assert_eq!(hooks.len(), 1);
    assert_eq!(
        hooks[0].json(),
        json!({
            "unexpected_success": [{"url": format!("{}/lookup", recv.base), "status": 203}],
            "errors": [],
        }),
        "the plugin saw the origin's answer"
    );
}

/// A plugin that sets `User-Agent` (here `enrich`, from its lookup table) replaces the default:
/// the receiver sees exactly one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_user_agent_replaces_the_default_one() {
    let recv = Receiver::start().await;
    let t = TestDir::new();
    let yaml = base_config(&format!(
        "plugins:\n{}endpoints:\n  - id: ua\n    url: \"{{{{RECV}}}}/ua\"\n    plugins: [ {{ use: enrich, config: {{ lookup: /data/c, prefix: \"c:\", field: c, header: User-Agent, header_pointer: /ua }} }} ]\n",
        plugin("enrich", "enrich.wasm", ", allow: { kv: true }")
    ));
    let gw = Gateway::start(&t.write_config(&yaml, &recv.base));
    let put = gw
        .authed(reqwest::Client::new().put(gw.url("/v1/plugins/enrich/kv/c:1")))
        .body(r#"{"ua":"Acme-Plugin/3"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 204);
    let api = Api::new(&gw);
    let id = publish(&api, "ua.x", json!({"c": "1"})).await;
    let d = wait_status(&api, &id, &["succeeded", "dead"]).await;
    assert_eq!(d["status"], "succeeded", "{d}");
    let got = &recv.got_on("/ua")[0];
    let agents: Vec<&str> = got
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("user-agent"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(agents, ["Acme-Plugin/3"]);
}
