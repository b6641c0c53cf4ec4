//! The shipped plugins built into the binary: they serve from a lone copy of the binary with no
//! toolchain, their bytes are what `plugins/` builds, and a bad plugin config is refused when
//! the config loads — by `config check`, `serve`, hot reload and the endpoint API — naming the
//! position and field path, changing nothing that runs.

mod util;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use util::*;

const BUILTINS: [&str; 5] = ["enrich", "envelope", "filter", "redact", "slack"];

/// One endpoint `id` receiving `id.*` events through one plugin.
fn endpoint(id: &str, plugin: &str, config: &str) -> String {
    format!("  - id: {id}\n    url: \"{{{{RECV}}}}/{id}\"\n    events: [\"{id}.*\"]\n    plugins: [ {{ use: {plugin}, config: {config} }} ]\n")
}

/// All five built-ins, used by name; only `enrich` has an entry, to be granted kv.
fn five_builtins() -> String {
    base_config(&format!(
        "plugins:\n  enrich: {{ allow: {{ kv: true }} }}\nendpoints:\n{}{}{}{}{}",
        endpoint(
            "f",
            "filter",
            r#"{ any: [ { pointer: /data/id, op: regex, value: "^inv_[0-9]+$" }, { pointer: /data/name, op: regex, value: "^Acme" } ] }"#
        ),
        endpoint("r", "redact", "{ remove: [/data/card] }"),
        endpoint("s", "slack", r#"{ text: "Invoice {{/data/id}} paid" }"#),
        endpoint(
            "e",
            "envelope",
            r#"{ format: template, body: { event: "{{event.type}}", id: "{{event.id}}", data: "{{/data}}" } }"#
        ),
        endpoint(
            "n",
            "enrich",
            r#"{ lookup: /data/customer, prefix: "customer:", field: profile, header: X-Tier, header_pointer: /tier }"#
        ),
    ))
}

/// The test binary copied alone into `dir/bin`, run from `dir` with a PATH that has no cargo.
fn lone_binary(dir: &Path) -> Command {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let copy = bin.join("hookgate");
    std::fs::copy(env!("CARGO_BIN_EXE_hookgate"), &copy).unwrap();
    let mut cmd = Command::new(copy);
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/bin:/bin");
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_builtin_serves_from_a_lone_binary() {
    assert!(
        !Path::new("/usr/bin/cargo").exists(),
        "the lone binary must not find a toolchain"
    );
    let recv = Receiver::start().await;
    let t = TestDir::new();
    let config = t.write_config(&five_builtins(), &recv.base);
    let gw = Gateway::start_with(lone_binary(t.path()), &config);
    let api = Api::new(&gw);
    let put = gw
        .authed(reqwest::Client::new().put(gw.url("/v1/plugins/enrich/kv/customer:c1")))
        .body(r#"{"tier":"gold"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 204);

    let by_id = api.publish_one("f.x", json!({"id": "inv_12"})).await;
    let by_name = api
        .publish_one("f.x", json!({"id": "x", "name": "Acme Ltd"}))
        .await;
    let neither = api
        .publish_one("f.x", json!({"id": "x", "name": "Other"}))
        .await;
    let ids = [
        by_id,
        by_name,
        api.publish_one("r.x", json!({"card": "4242", "amount": 5}))
            .await,
        api.publish_one("s.x", json!({"id": "inv_9"})).await,
        api.publish_one("e.x", json!({"a": [1, 2]})).await,
        api.publish_one("n.x", json!({"customer": "c1"})).await,
    ];
    for id in &ids {
        let d = api.wait_status(id, &["succeeded"]).await;
        assert_eq!(d["status"], "succeeded", "{d}");
    }
    assert_eq!(
        api.wait_status(&neither, &["filtered"]).await["status"],
        "filtered"
    );

    assert_eq!(recv.count("/f"), 2);
    assert_eq!(recv.got_on("/r")[0].json()["data"], json!({"amount": 5}));
    assert_eq!(
        recv.got_on("/s")[0].json(),
        json!({"text": "Invoice inv_9 paid"})
    );
    let e = recv.got_on("/e")[0].json();
    assert_eq!(e["event"], "e.x");
    assert_eq!(e["data"], json!({"a": [1, 2]}));
    assert!(e["id"].as_str().unwrap().starts_with("evt_"), "{e}");
    let n = &recv.got_on("/n")[0];
    assert_eq!(n.json()["data"]["profile"], json!({"tier": "gold"}));
    assert_eq!(n.header("x-tier"), Some("gold"));

    let (_, v) = api.get("/v1/plugins").await;
    let listed: Vec<&str> = (v["data"].as_array().unwrap().iter())
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed, BUILTINS, "{v}");
    for p in v["data"].as_array().unwrap() {
        assert_eq!(
            (&p["source"], &p["status"]),
            (&json!("builtin"), &json!("ok")),
            "{p}"
        );
    }
}

#[tokio::test]
async fn the_embedded_bytes_are_what_plugins_builds() {
    let dir = plugins_wasm_dir();
    let out = Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .args(["plugin", "list", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), BUILTINS.len(), "{listed:?}");
    for (entry, name) in listed.iter().zip(BUILTINS) {
        let built = std::fs::read(dir.join(format!("{name}.wasm"))).unwrap();
        assert_eq!(entry["name"], name);
        assert_eq!(
            entry["sha256"].as_str().unwrap(),
            hex::encode(Sha256::digest(&built)),
            "the binary's {name} is not what plugins/ builds: rebuild the gateway"
        );
        assert_eq!(entry["bytes"], built.len());
    }

    // The API lists unused built-ins as available, with the same digests.
    let recv = Receiver::start().await;
    let t = TestDir::new();
    let gw = Gateway::start(&t.write_config(&base_config(""), &recv.base));
    let (_, v) = Api::new(&gw).get("/v1/plugins").await;
    for (p, entry) in v["data"].as_array().unwrap().iter().zip(listed) {
        assert_eq!(
            (&p["name"], &p["status"]),
            (&entry["name"], &json!("available"))
        );
        assert_eq!(p["sha256"], entry["sha256"]);
    }
}

/// Endpoint 1's envelope asks for a format that does not exist.
fn bad_envelope_config() -> String {
    base_config(&format!(
        "endpoints:\n{}{}",
        endpoint("ok", "redact", "{ remove: [/data/card] }"),
        endpoint("e", "envelope", "{ format: xml }"),
    ))
}

/// Where `format: xml` sits in [`bad_envelope_config`].
fn xml_position(yaml: &str) -> (usize, usize) {
    let line = yaml
        .lines()
        .position(|l| l.contains("format: xml"))
        .unwrap();
    let column = yaml.lines().nth(line).unwrap().find("xml").unwrap();
    (line + 1, column + 1)
}

fn config_check(config: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .args(["config", "check"])
        .arg(config)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(if out.status.success() {
        &out.stdout
    } else {
        &out.stderr
    });
    (out.status.success(), text.into_owned())
}

#[test]
fn config_check_names_the_position_and_field_of_a_bad_plugin_config() {
    let t = TestDir::new();
    let path = t.write_config(&bad_envelope_config(), "http://127.0.0.1:9");
    let (ok, text) = config_check(&path);
    let (line, column) = xml_position(&std::fs::read_to_string(&path).unwrap());
    assert!(!ok);
    let want = format!(
        "{}:{line}:{column}: endpoints[1].plugins[0].config.format: ",
        path.display()
    );
    assert!(text.starts_with(&want), "{text}");
    assert_eq!(
        text.trim().lines().count(),
        1,
        "one problem, one line: {text}"
    );
}

#[test]
fn config_check_reports_a_bad_regex_and_a_missing_plugin_file() {
    let t = TestDir::new();
    let yaml = base_config(&format!(
        "plugins:\n  mine: {{ path: missing.wasm }}\nendpoints:\n{}",
        endpoint(
            "f",
            "filter",
            r#"{ all: [ { pointer: /data/id, op: regex, value: "inv_(" } ] }"#
        ),
    ));
    let path = t.write_config(&yaml, "http://127.0.0.1:9");
    let (ok, text) = config_check(&path);
    assert!(!ok);
    assert!(
        text.contains("plugins.mine: ") && text.contains("missing.wasm"),
        "{text}"
    );
    let line = 1 + yaml.lines().position(|l| l.contains("inv_(")).unwrap();
    assert!(
        text.contains(&format!(":{line}:")),
        "the regex is on line {line}: {text}"
    );
    assert!(
        text.contains("endpoints[0].plugins[0].config.all[0].value: "),
        "{text}"
    );

    let good = t.write_config(&five_builtins(), "http://127.0.0.1:9");
    let (ok, text) = config_check(&good);
    assert!(ok, "{text}");
    assert!(
        text.ends_with("ok (5 endpoints, 0 api keys, 5 plugins)\n"),
        "{text}"
    );
}

#[test]
fn serve_refuses_to_start_with_a_bad_plugin_config() {
    let t = TestDir::new();
    let path = t.write_config(&bad_envelope_config(), "http://127.0.0.1:9");
    let out = Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("endpoints[1].plugins[0].config.format"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_with_a_bad_plugin_config_changes_nothing() {
    let recv = Receiver::start().await;
    let t = TestDir::new();
    let good = base_config(&format!(
        "endpoints:\n{}",
        endpoint(
            "e",
            "envelope",
            r#"{ format: template, body: { v: 1, data: "{{/data}}" } }"#
        )
    ));
    let path = t.write_config(&good, &recv.base);
    let gw = Gateway::start(&path);
    let api = Api::new(&gw);

    let bad = good.replace(
        "{ format: template, body: { v: 1, data: \"{{/data}}\" } }",
        "{ format: template, body: { v: \"{{event.nme}}\" } }",
    );
    t.write_config_at(&path, &bad, &recv.base);
    assert!(
        gw.wait_log(
            "endpoints[0].plugins[0].config.body.v",
            Duration::from_secs(10)
        ),
        "{}",
        gw.logs()
    );
    assert!(gw.logs().contains("config rejected"));

    let id = api.publish_one("e.x", json!({"n": 1})).await;
    assert_eq!(
        api.wait_status(&id, &["succeeded"]).await["status"],
        "succeeded"
    );
    assert_eq!(
        recv.got_on("/e")[0].json(),
        json!({"v": 1, "data": {"n": 1}})
    );
}

#[tokio::test]
async fn the_api_refuses_a_bad_plugin_config_with_its_field_path() {
    let recv = Receiver::start().await;
    let t = TestDir::new();
    let gw = Gateway::start(&t.write_config(&base_config(""), &recv.base));
    let api = Api::new(&gw);
    let body = json!({
        "id": "f", "url": format!("{}/f", recv.base),
        "plugins": [{"use": "filter", "config": {"all": [{"pointer": "/data/id", "op": "regex", "value": "("}]}}],
    });
    let (s, v) = api.post("/v1/endpoints", &body).await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["code"], "invalid_endpoint");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .starts_with("plugins[0].config.all[0].value: "),
        "{v}"
    );
    let (s, _) = api.get("/v1/endpoints/f").await;
    assert_eq!(s, 404, "nothing was created");

    let mut fixed = body.clone();
    fixed["plugins"][0]["config"]["all"][0]["value"] = json!("^inv_");
    let (s, v) = api.post("/v1/endpoints", &fixed).await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = (api.send("PATCH", "/v1/endpoints/f", Some(&body))).await;
    assert_eq!(s, 422, "{v}");
}
