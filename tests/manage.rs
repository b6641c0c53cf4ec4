//! The management API through the real binary: every route's access rule (table-driven over the
//! served route list), tenant isolation, runtime endpoints, secret rotation with grace, retry
//! and recover, minted keys with rate limits, the audit log, stats, metrics and OpenAPI.

mod util;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{json, Value};
use util::*;

const ADMIN: &str = "hg_admin_key_for_manage_tests";

fn config() -> String {
    base_config(&format!(
        r#"auth:
  api_keys:
    - name: root
      key: {ADMIN}
      scopes: [admin]
endpoints:
  - id: cfg-ep
    tenant: ta
    url: "{{{{RECV}}}}/cfg"
    events: ["cfg.*"]
"#
    ))
}

async fn start(dir: &TestDir, recv: &Receiver) -> (Gateway, Api) {
    let cfg = dir.write_config(&config(), &recv.base);
    let gw = Gateway::start(&cfg);
    let api = Api::new(&gw).with_key(ADMIN);
    (gw, api)
}

async fn mint(api: &Api, name: &str, scopes: &[&str], tenant: Option<&str>) -> (String, String) {
    let mut body = json!({"name": name, "scopes": scopes});
    if let Some(t) = tenant {
        body["tenant"] = json!(t);
    }
    let (s, v) = api.send("POST", "/v1/keys", Some(&body)).await;
    assert_eq!(s, 201, "{v}");
    (
        v["id"].as_str().unwrap().to_string(),
        v["key"].as_str().unwrap().to_string(),
    )
}

async fn create_endpoint(api: &Api, body: Value) -> Value {
    let (s, v) = api.send("POST", "/v1/endpoints", Some(&body)).await;
    assert_eq!(s, 201, "{v}");
    v
}

const SCOPES: [&str; 5] = [
    "events:publish",
    "events:read",
    "endpoints:read",
    "endpoints:manage",
    "admin",
];

/// The auth rule this test expects of every route: `public`, a scope (tenant-bound keys allowed,
/// tenant enforced) or `global:<scope>` (no tenant-bound key). A route the server serves that is
/// missing here fails the test, so no route can appear without someone deciding its rule.
const EXPECTED: &[(&str, &str, &str)] = &[
    ("POST", "/v1/events", "events:publish"),
    ("POST", "/v1/events/batch", "events:publish"),
    ("GET", "/v1/events", "events:read"),
    ("GET", "/v1/events/{id}", "events:read"),
    ("GET", "/v1/events/{id}/deliveries", "events:read"),
    ("GET", "/v1/deliveries/{id}", "events:read"),
    ("POST", "/v1/deliveries/{id}/retry", "endpoints:manage"),
    ("GET", "/v1/endpoints", "endpoints:read"),
    ("POST", "/v1/endpoints", "endpoints:manage"),
    ("GET", "/v1/endpoints/{id}", "endpoints:read"),
    ("PATCH", "/v1/endpoints/{id}", "endpoints:manage"),
    ("DELETE", "/v1/endpoints/{id}", "endpoints:manage"),
    ("GET", "/v1/endpoints/{id}/secret", "endpoints:manage"),
    (
        "POST",
        "/v1/endpoints/{id}/rotate-secret",
        "endpoints:manage",
    ),
    ("POST", "/v1/endpoints/{id}/test", "endpoints:manage"),
    ("POST", "/v1/endpoints/{id}/enable", "endpoints:manage"),
    ("POST", "/v1/endpoints/{id}/disable", "endpoints:manage"),
    ("POST", "/v1/endpoints/{id}/recover", "endpoints:manage"),
    ("GET", "/v1/endpoints/{id}/deliveries", "events:read"),
    ("GET", "/v1/plugins", "endpoints:read"),
    ("GET", "/v1/plugins/{name}/kv/{key}", "global:admin"),
    ("PUT", "/v1/plugins/{name}/kv/{key}", "global:admin"),
    ("DELETE", "/v1/plugins/{name}/kv/{key}", "global:admin"),
    ("GET", "/v1/keys", "admin"),
    ("POST", "/v1/keys", "admin"),
    ("DELETE", "/v1/keys/{id}", "admin"),
    ("GET", "/v1/audit", "global:admin"),
    ("GET", "/v1/stats", "endpoints:read"),
    ("GET", "/metrics", "global:events:read"),
    ("GET", "/healthz", "public"),
    ("GET", "/readyz", "public"),
    ("GET", "/openapi.json", "public"),
];

/// (method, path) → required scope from the served OpenAPI document.
async fn served_routes(api: &Api) -> BTreeMap<(String, String), Option<String>> {
    let (s, doc) = api.get("/openapi.json").await;
    assert_eq!(s, 200);
    let mut out = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let scope = op["security"]
                .as_array()
                .and_then(|a| a.first())
                .and_then(|r| r["bearer"][0].as_str())
                .map(str::to_string);
            out.insert((method.to_uppercase(), path.clone()), scope);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_enforces_its_scope_and_tenant() {
    let dir = TestDir::new();
    let recv = Receiver::start().await;
    let (_gw, admin) = start(&dir, &recv).await;

    // Objects of tenant `ta` to aim at.
    create_endpoint(
        &admin,
        json!({"id": "ep-a", "tenant": "ta", "url": format!("{}/a", recv.base)}),
    )
    .await;
    create_endpoint(
        &admin,
        json!({"id": "ep-del", "tenant": "ta", "url": format!("{}/d", recv.base)}),
    )
    .await;
    let (s, ev) = admin
        .post(
            "/v1/events",
            &json!({"type": "order.created", "tenant": "ta", "data": {}}),
        )
        .await;
    assert_eq!(s, 202, "{ev}");
    let event_id = ev["id"].as_str().unwrap().to_string();
    let delivery_id = ev["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["endpoint_id"] == "ep-a")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (victim_key, _) = mint(&admin, "victim", &["events:read"], Some("ta")).await;

    // Keys per scope: holding it in tenant ta, holding it unbound, holding it in tenant tb,
    // and holding every other scope (never admin).
    let mut keys: BTreeMap<String, [String; 4]> = BTreeMap::new();
    for s in SCOPES {
        let others: Vec<&str> = SCOPES
            .iter()
            .copied()
            .filter(|o| *o != s && *o != "admin")
            .collect();
        let (_, in_a) = mint(&admin, &format!("{s} ta"), &[s], Some("ta")).await;
        let (_, unbound) = mint(&admin, &format!("{s} all"), &[s], None).await;
        let (_, in_b) = mint(&admin, &format!("{s} tb"), &[s], Some("tb")).await;
        let (_, lacking) = mint(&admin, &format!("not {s}"), &others, None).await;
        keys.insert(s.to_string(), [in_a, unbound, in_b, lacking]);
    }

    // The served route list is exactly the expected one.
    let served = served_routes(&admin).await;
    let expected: BTreeSet<(String, String)> = EXPECTED
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    let served_set: BTreeSet<(String, String)> = served.keys().cloned().collect();
    assert_eq!(
        served_set, expected,
        "the router serves routes without a rule in this test (or lost some)"
    );

    let anon = Api {
        base: admin.base.clone(),
        key: None,
        http: reqwest::Client::new(),
    };
    let with = |k: &str| Api {
        base: admin.base.clone(),
        key: Some(k.to_string()),
        http: reqwest::Client::new(),
    };
    for (method, path, rule) in EXPECTED {
        // The document states the same rule the test expects.
        let doc_scope = served[&(method.to_string(), path.to_string())].clone();
        let (global, scope) = match rule.strip_prefix("global:") {
            Some(s) => (true, Some(s)),
            None if *rule == "public" => (false, None),
            None => (false, Some(*rule)),
        };
        assert_eq!(
            doc_scope.as_deref(),
            scope,
            "{method} {path}: document's scope"
        );

        let id = match (*method, *path) {
            ("DELETE", "/v1/endpoints/{id}") => "ep-del".to_string(),
            ("DELETE", "/v1/keys/{id}") => victim_key.clone(),
            (_, p) if p.starts_with("/v1/endpoints/") => "ep-a".to_string(),
            (_, p) if p.starts_with("/v1/events/") => event_id.clone(),
            (_, p) if p.starts_with("/v1/deliveries/") => delivery_id.clone(),
            _ => String::new(),
        };
        let url = path
            .replace("{id}", &id)
            .replace("{name}", "nosuchplugin")
            .replace("{key}", "k");
        let body = (*method != "GET" && *method != "DELETE").then(|| json!({}));
        let body = body.as_ref();

        let Some(scope) = scope else {
            let (s, _) = anon.send(method, &url, body).await;
            assert_eq!(s, 200, "{method} {path} is public");
            continue;
        };
        let [in_a, unbound, in_b, lacking] = &keys[scope];
        let (s, v) = anon.send(method, &url, body).await;
        assert_eq!(s, 401, "{method} {path} without a key: {v}");
        assert_eq!(v["code"], "unauthorized");
        let (s, v) = with(lacking).send(method, &url, body).await;
        assert_eq!(s, 403, "{method} {path} without {scope}: {v}");
        assert_eq!(v["code"], "forbidden");
        let objects_of_ta = path.contains("{id}");
        if global {
            let (s, v) = with(in_a).send(method, &url, body).await;
            assert_eq!(s, 403, "{method} {path} with a tenant-bound key: {v}");
            let (s, v) = with(unbound).send(method, &url, body).await;
            assert!(
                ![401, 403].contains(&s),
                "{method} {path} with {scope}: {s} {v}"
            );
        } else {
            if objects_of_ta {
                let (s, v) = with(in_b).send(method, &url, body).await;
                assert_eq!(s, 404, "{method} {path}: tenant tb sees ta's object: {v}");
            }
            let (s, v) = with(in_a).send(method, &url, body).await;
            assert!(
                ![401, 403].contains(&s),
                "{method} {path} with {scope}: {s} {v}"
            );
            if objects_of_ta {
                assert_ne!(
                    s, 404,
                    "{method} {path}: ta's key must see ta's object: {v}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_key_cannot_see_or_change_another_tenants_objects() {
    let dir = TestDir::new();
    let recv = Receiver::start().await;
    let (_gw, admin) = start(&dir, &recv).await;
    create_endpoint(
        &admin,
        json!({"id": "b-ep", "tenant": "tb", "url": format!("{}/b", recv.base)}),
    )
    .await;
    create_endpoint(
        &admin,
        json!({"id": "a-ep", "tenant": "ta", "url": format!("{}/a", recv.base)}),
    )
    .await;
    let (_, b_pub) = mint(&admin, "b publisher", &["events:publish"], Some("tb")).await;
    let (_, a_all) = mint(&admin, "a all", &["admin"], Some("ta")).await;
    let b = Api::new_at(&admin.base).with_key(&b_pub);
    let a = Api::new_at(&admin.base).with_key(&a_all);

    let (s, ev) = b
        .post("/v1/events", &json!({"type": "t.x", "data": {"n": 1}}))
        .await;
    assert_eq!(s, 202, "{ev}");
    let b_event = ev["id"].as_str().unwrap().to_string();
    let b_delivery = ev["deliveries"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        ev["deliveries"].as_array().unwrap().len(),
        1,
        "only tb's endpoint"
    );

    for (m, p) in [
        ("GET", "/v1/endpoints/b-ep".to_string()),
        ("PATCH", "/v1/endpoints/b-ep".to_string()),
        ("DELETE", "/v1/endpoints/b-ep".to_string()),
        ("POST", "/v1/endpoints/b-ep/rotate-secret".to_string()),
        ("GET", "/v1/endpoints/b-ep/secret".to_string()),
        ("GET", "/v1/endpoints/b-ep/deliveries".to_string()),
        ("GET", format!("/v1/events/{b_event}")),
        ("GET", format!("/v1/events/{b_event}/deliveries")),
        ("GET", format!("/v1/deliveries/{b_delivery}")),
        ("POST", format!("/v1/deliveries/{b_delivery}/retry")),
    ] {
        let body = (m != "GET" && m != "DELETE").then(|| json!({}));
        let (s, v) = a.send(m, &p, body.as_ref()).await;
        assert_eq!(s, 404, "{m} {p}: {v}");
        assert_eq!(v["code"], "not_found");
    }
    // Listings leave tb's objects out.
    let (_, v) = a.get("/v1/endpoints").await;
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"a-ep") && !ids.contains(&"b-ep"), "{ids:?}");
    let (_, v) = a.get("/v1/events?tenant=tb").await;
    assert!(v["data"].as_array().unwrap().is_empty(), "{v}");
    let (_, v) = a.get("/v1/events").await;
    assert!(
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["tenant"] == "ta"),
        "{v}"
    );
    let (_, v) = a.get("/v1/stats").await;
    assert!(
        v["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["tenant"] == "ta"),
        "{v}"
    );
    // A ta key cannot create in tb, nor publish there.
    let (s, v) = a
        .send(
            "POST",
            "/v1/endpoints",
            Some(&json!({"tenant": "tb", "url": format!("{}/x", recv.base)})),
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (403, Some("tenant_forbidden")),
        "{v}"
    );
    let (s, _) = a
        .post(
            "/v1/events",
            &json!({"type": "t.x", "tenant": "tb", "data": {}}),
        )
        .await;
    assert_eq!(s, 403);
    // tb's endpoint is untouched and still delivers.
    assert!(eventually(Duration::from_secs(10), || recv.count("/b") == 1).await);
    let (s, v) = admin.get("/v1/endpoints/b-ep").await;
    assert_eq!((s, v["tenant"].as_str()), (200, Some("tb")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_validates_and_lists_every_served_route() {
    let dir = TestDir::new();
    let recv = Receiver::start().await;
    let (_gw, admin) = start(&dir, &recv).await;
    let text = reqwest::get(format!("{}/openapi.json", admin.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // A strict OpenAPI 3.1 model accepts it.
    let spec = oas3::from_json(&text).expect("a valid OpenAPI 3.1 document");
    assert!(spec.openapi.starts_with("3.1"), "{}", spec.openapi);
    let doc: Value = serde_json::from_str(&text).unwrap();
    // Every route of the router's table is documented, and nothing else.
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), p.clone()))
        })
        .collect();
    let routed: BTreeSet<(String, String)> = hookgate::api::routes::rules()
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    assert_eq!(documented, routed);
    // Operation ids are unique, every operation has responses, every $ref resolves, and every
    // path parameter is declared.
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (m, op) in item.as_object().unwrap() {
            assert!(
                ids.insert(op["operationId"].as_str().unwrap().to_string()),
                "duplicate id"
            );
            assert!(
                !op["responses"].as_object().unwrap().is_empty(),
                "{m} {path}"
            );
            let declared: BTreeSet<&str> = op["parameters"]
                .as_array()
                .map(|a| a.iter().map(|p| p["name"].as_str().unwrap()).collect())
                .unwrap_or_default();
            for seg in path.split('/').filter(|s| s.starts_with('{')) {
                assert!(
                    declared.contains(seg.trim_matches(|c| c == '{' || c == '}')),
                    "{m} {path}"
                );
            }
        }
    }
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if k == "$ref" {
                        out.push(x.as_str().unwrap().to_string());
                    }
                    refs(x, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    // Request bodies are described: what a key needs, what publishing needs.
    let key_body =
        &doc["paths"]["/v1/keys"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(
        key_body["required"],
        json!(["name", "scopes"]),
        "{key_body}"
    );
    let publish =
        &doc["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(publish["required"], json!(["type", "data"]), "{publish}");
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .expect("local schema ref");
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{r} does not resolve"
        );
    }
}

fn verifies(recv: &Received, scheme: &str, secret: &str) -> bool {
    let spec: hookgate::signing::SignatureSpec =
        serde_json::from_value(json!({"scheme": scheme})).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    hookgate::signing::verify(
        &spec,
        &hookgate::signing::Secret::new(secret),
        &recv.headers,
        &recv.body,
        now,
        300,
    )
    .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_signs_with_both_secrets_during_the_grace_then_only_the_new_one() {
    let dir = TestDir::new();
    let recv = Receiver::start().await;
    let (_gw, admin) = start(&dir, &recv).await;
    let mut old = BTreeMap::new();
    for scheme in ["standard", "stripe"] {
        let v = create_endpoint(
            &admin,
            json!({"id": format!("rot-{scheme}"), "url": format!("{}/{scheme}", recv.base),
                   "events": ["rot.*"], "signature": {"scheme": scheme}}),
        )
        .await;
        old.insert(scheme, v["secret"].as_str().unwrap().to_string());
        // Shown once: reads never carry it.
        let (_, got) = admin.get(&format!("/v1/endpoints/rot-{scheme}")).await;
        assert!(got.get("secret").is_none(), "{got}");
    }
    let mut new = BTreeMap::new();
    for scheme in ["standard", "stripe"] {
        let (s, v) = admin
            .send(
                "POST",
                &format!("/v1/endpoints/rot-{scheme}/rotate-secret"),
                Some(&json!({"grace": "3s"})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        new.insert(scheme, v["secret"].as_str().unwrap().to_string());
        assert_ne!(new[scheme], old[scheme]);
    }
    let rotated = std::time::Instant::now();
    // During the grace: every delivery verifies for a receiver holding only the old secret and
    // for one holding only the new one.
    let mut sent = 0;
    while rotated.elapsed() < Duration::from_millis(2000) {
        let (s, _) = admin
            .post(
                "/v1/events",
                &json!({"type": "rot.tick", "data": {"n": sent}}),
            )
            .await;
        assert_eq!(s, 202);
        sent += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for scheme in ["standard", "stripe"] {
        let path = format!("/{scheme}");
        assert!(eventually(Duration::from_secs(10), || recv.count(&path) >= sent).await);
        for r in recv
            .got_on(&path)
            .iter()
            .filter(|r| r.at.duration_since(rotated) < Duration::from_millis(2500))
        {
            assert!(
                verifies(r, scheme, &old[scheme]),
                "{scheme}: old secret rejected in grace"
            );
            assert!(
                verifies(r, scheme, &new[scheme]),
                "{scheme}: new secret rejected in grace"
            );
        }
        let sig = recv.got_on(&path).last().unwrap().headers.clone();
        // Both schemes use `webhook-signature` by default.
        let sig_header = "webhook-signature";
        let value = sig
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(sig_header))
            .unwrap()
            .1
            .clone();
        let count = if scheme == "standard" {
            value.matches("v1,").count()
        } else {
            value.matches("v1=").count()
        };
        assert_eq!(count, 2, "{scheme}: two signatures in grace: {value}");
    }
    // After the grace: only the new secret verifies.
    tokio::time::sleep(Duration::from_millis(3500).saturating_sub(rotated.elapsed())).await;
    let before: BTreeMap<&str, usize> = ["standard", "stripe"]
        .iter()
        .map(|s| (*s, recv.count(&format!("/{s}"))))
        .collect();
    let (s, _) = admin
        .post("/v1/events", &json!({"type": "rot.after", "data": {}}))
        .await;
    assert_eq!(s, 202);
    for scheme in ["standard", "stripe"] {
        let path = format!("/{scheme}");
        assert!(
            eventually(Duration::from_secs(10), || recv.count(&path)
                > before[scheme])
            .await
        );
        let r = recv.got_on(&path).last().unwrap().clone();
        assert!(
            verifies(&r, scheme, &new[scheme]),
            "{scheme}: new secret after grace"
        );
        assert!(
            !verifies(&r, scheme, &old[scheme]),
            "{scheme}: old secret still signs after grace"
        );
    }
    // The audit trail records the rotations without any secret.
    let (_, audit) = admin.get("/v1/audit?limit=100").await;
    let text = audit.to_string();
    assert!(text.contains("endpoint.rotate_secret"));
    for s in old.values().chain(new.values()) {
        assert!(!text.contains(s.as_str()), "a secret is in the audit log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_endpoints_are_created_changed_deleted_and_survive_restart() {
    let dir = TestDir::new();
    let recv = Receiver::start().await;
    let (mut gw, admin) = start(&dir, &recv).await;
    // The SSRF guard and header rules apply at registration, with stable codes.
    for (url, code) in [
        ("http://169.254.169.254/latest/meta-data", "ssrf_blocked"),
        ("http://10.1.2.3/h", "ssrf_blocked"),
        ("https://[::ffff:10.0.0.1]/h", "ssrf_blocked"),
        ("not a url", "invalid_endpoint"),
    ] {
        let (s, v) = admin
            .send("POST", "/v1/endpoints", Some(&json!({"url": url})))
            .await;
        assert_eq!(s, 422, "{url}: {v}");
        if code == "ssrf_blocked" {
            assert_eq!(v["code"], code, "{url}: {v}");
            assert!(v["detail"].as_str().unwrap().starts_with("url: "), "{v}");
        }
    }
    let (s, v) = admin
        .send(
            "POST",
            "/v1/endpoints",
            Some(&json!({"url": format!("{}/x", recv.base), "headers": {"Host": "evil"}})),
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (422, Some("invalid_endpoint")),
        "{v}"
    );
    assert!(
        v["detail"].as_str().unwrap().contains("headers.Host"),
        "{v}"
    );
    // Config-defined endpoints are read-only here.
    for (m, p) in [
        ("PATCH", "/v1/endpoints/cfg-ep"),
        ("DELETE", "/v1/endpoints/cfg-ep"),
        ("POST", "/v1/endpoints/cfg-ep/rotate-secret"),
    ] {
        let body = (m != "DELETE").then(|| json!({}));
        let (s, v) = admin.send(m, p, body.as_ref()).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (409, Some("managed_by_config")),
            "{m} {p}: {v}"
        );
    }

    let v = create_endpoint(
        &admin,
        json!({"id": "rt", "url": format!("{}/one", recv.base), "events": ["rt.*"],
               "headers": {"X-Team": "core"}, "description": "runtime"}),
    )
    .await;
    let secret = v["secret"].as_str().unwrap().to_string();
    assert_eq!(v["managed_by"], "api");
    assert!(secret.starts_with("whsec_"));
    let (s, v) = admin
        .send(
            "POST",
            "/v1/endpoints",
            Some(&json!({"id": "rt", "url": format!("{}/one", recv.base)})),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (409, Some("endpoint_exists")));
    let (s, v) = admin
        .send(
            "POST",
            "/v1/endpoints",
            Some(&json!({"id": "cfg-ep", "url": format!("{}/one", recv.base)})),
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (409, Some("endpoint_exists")),
        "{v}"
    );

    // Delivered, signed with the secret from the create answer.
    let (s, _) = admin
        .post("/v1/events", &json!({"type": "rt.a", "data": {"n": 1}}))
        .await;
    assert_eq!(s, 202);
    assert!(eventually(Duration::from_secs(10), || recv.count("/one") == 1).await);
    let r = recv.got_on("/one")[0].clone();
    assert!(verifies(&r, "standard", &secret));
    assert_eq!(r.header("x-team"), Some("core"));

    // A test send goes to this endpoint only, whatever its event filter.
    let (s, v) = admin
        .send(
            "POST",
            "/v1/endpoints/rt/test",
            Some(&json!({"data": {"hello": "world"}})),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    assert!(eventually(Duration::from_secs(10), || recv.count("/one") == 2).await);
    let t = recv.got_on("/one")[1].json();
    assert_eq!(
        (t["type"].as_str(), t["data"]["hello"].as_str()),
        (Some("webhook.test"), Some("world"))
    );
    assert_eq!(recv.count("/cfg"), 0);

    // PATCH moves it; the change applies to the next delivery; `null` removes a field.
    let (s, v) = admin
        .send(
            "PATCH",
            "/v1/endpoints/rt",
            Some(&json!({"url": format!("{}/two", recv.base), "headers": null})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["headers"], json!([]));
    let (s, v) = admin
        .send(
            "PATCH",
            "/v1/endpoints/rt",
            Some(&json!({"url": "http://192.168.1.1/x"})),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (422, Some("ssrf_blocked")), "{v}");
    let (s, v) = admin
        .send(
            "PATCH",
            "/v1/endpoints/rt",
            Some(&json!({"tenant": "other"})),
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (422, Some("immutable_field")),
        "{v}"
    );
    admin
        .post("/v1/events", &json!({"type": "rt.b", "data": {}}))
        .await;
    assert!(eventually(Duration::from_secs(10), || recv.count("/two") == 1).await);
    assert!(recv.got_on("/two")[0].header("x-team").is_none());

    // Cursor pagination walks every endpoint exactly once.
    for i in 0..5 {
        create_endpoint(&admin, json!({"id": format!("page-{i}"), "url": format!("{}/p", recv.base), "events": ["none"]})).await;
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (_, v) = admin.get(&format!("/v1/endpoints?limit=2{cursor}")).await;
        seen.extend(
            v["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_str().unwrap().to_string()),
        );
        match v["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["cfg-ep", "page-0", "page-1", "page-2", "page-3", "page-4", "rt"]
    );

    // A config reload replaces the file's endpoints only: the API-defined one stays and delivers.
    let cfg_path = dir.path().join("hookgate.yaml");
    let changed = config().replace("events: [\"cfg.*\"]", "events: [\"cfg.*\", \"more.*\"]");
    assert_ne!(changed, config());
    dir.write_config_at(&cfg_path, &changed, &recv.base);
    assert!(gw.wait_log("config reloaded", Duration::from_secs(10)));
    let (s, v) = admin.get("/v1/endpoints/rt").await;
    assert_eq!((s, v["managed_by"].as_str()), (200, Some("api")), "{v}");
    admin
        .post(
            "/v1/events",
            &json!({"type": "rt.after-reload", "data": {}}),
        )
        .await;
    assert!(eventually(Duration::from_secs(10), || recv.count("/two") == 2).await);

    // A restart keeps the endpoint and its secret.
    drop(gw);
    gw = Gateway::start(&dir.path().join("hookgate.yaml"));
    let admin = Api::new(&gw).with_key(ADMIN);
    let (s, v) = admin.get("/v1/endpoints/rt/secret").await;
    assert_eq!((s, v["secrets"][0].as_str()), (200, Some(secret.as_str())));
    // Delete: pending deliveries are cancelled, the log stays.
    recv.default_reply("/two", Reply::status(500));
    let (_, ev) = admin
        .post("/v1/events", &json!({"type": "rt.c", "data": {}}))
        .await;
    let did = ev["deliveries"][0]["id"].as_str().unwrap().to_string();
    assert!(eventually(Duration::from_secs(10), || recv.count("/two") >= 2).await);
    let (s, v) = admin.send("DELETE", "/v1/endpoints/rt", None).await;
    assert_eq!((s, v["deleted"].as_bool()), (200, Some(true)), "{v}");
    let (s, _) = admin.get("/v1/endpoints/rt").await;
    assert_eq!(s, 404);
    let ok = {
        let mut ok = false;
        for _ in 0..100 {
            let (_, d) = admin.get(&format!("/v1/deliveries/{did}")).await;
            if d["status"] == "cancelled" {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        ok
    };
    assert!(ok, "pending delivery of a deleted endpoint is cancelled");
    drop(gw);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_deliveries_are_retried_and_recovered_with_a_fresh_schedule() {
    let dir = TestDir::new();
    let recv = Receiver::start().await;
    let (_gw, admin) = start(&dir, &recv).await;
    create_endpoint(
        &admin,
        json!({"id": "flaky", "url": format!("{}/f", recv.base), "events": ["f.*"]}),
    )
    .await;
    recv.default_reply("/f", Reply::status(500));
    let mut ids = Vec::new();
    for i in 0..3 {
        let (_, ev) = admin
            .post("/v1/events", &json!({"type": "f.x", "data": {"i": i}}))
            .await;
        ids.push(ev["deliveries"][0]["id"].as_str().unwrap().to_string());
    }
    // 1 + 3 retries each, then dead.
    assert!(eventually(Duration::from_secs(15), || recv.count("/f") == 12).await);
    for id in &ids {
        let mut dead = false;
        for _ in 0..100 {
            let (_, d) = admin.get(&format!("/v1/deliveries/{id}")).await;
            if d["status"] == "dead" {
                dead = true;
                let log = d["attempt_log"].as_array().unwrap();
                assert_eq!(log.len(), 4);
                assert_eq!(
                    (log[3]["n"].as_u64(), log[3]["of"].as_u64()),
                    (Some(4), Some(4))
                );
                assert_eq!(log[0]["status_code"], 500);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(dead, "{id} dead");
    }
    recv.default_reply("/f", Reply::status(200));
    // Manual retry of one.
    let (s, v) = admin
        .send("POST", &format!("/v1/deliveries/{}/retry", ids[0]), None)
        .await;
    assert_eq!((s, v["status"].as_str()), (202, Some("pending")), "{v}");
    assert!(eventually(Duration::from_secs(10), || recv.count("/f") == 13).await);
    // Recover the rest.
    let (s, v) = admin
        .send(
            "POST",
            "/v1/endpoints/flaky/recover",
            Some(&json!({"since": "1h"})),
        )
        .await;
    assert_eq!((s, v["requeued"].as_u64()), (200, Some(2)), "{v}");
    assert!(eventually(Duration::from_secs(10), || recv.count("/f") == 15).await);
    let mut all_ok = false;
    for _ in 0..100 {
        let (_, v) = admin
            .get("/v1/endpoints/flaky/deliveries?status=succeeded")
            .await;
        if v["data"].as_array().unwrap().len() == 3 {
            all_ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(all_ok);
    let (_, d) = admin.get(&format!("/v1/deliveries/{}", ids[0])).await;
    let log = d["attempt_log"].as_array().unwrap();
    assert_eq!(
        (log[4]["n"].as_u64(), log[4]["of"].as_u64()),
        (Some(5), Some(8)),
        "the schedule restarted"
    );
    let same_body = recv
        .got_on("/f")
        .iter()
        .filter(|r| r.header("webhook-id") == recv.got_on("/f")[0].header("webhook-id"))
        .map(|r| r.body.clone())
        .collect::<BTreeSet<_>>();
    assert_eq!(same_body.len(), 1, "a retry sends the same bytes");
    // Per-event listing and the stats see it all.
    let (_, evd) = admin
        .get(&format!(
            "/v1/events/{}/deliveries",
            d["event_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(evd["data"][0]["status"], "succeeded");
    let (_, st) = admin.get("/v1/stats").await;
    let f = st["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "flaky")
        .unwrap()
        .clone();
    assert_eq!(f["attempts"], json!({"succeeded": 3, "failed": 12}), "{st}");
    assert_eq!(f["deliveries"]["dead"], 3);
    assert_eq!(f["success_rate"], json!(0.2));
    let (_, audit) = admin.get("/v1/audit").await;
    let actions: Vec<&str> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        &actions[..3],
        ["endpoint.recover", "delivery.retry", "endpoint.create"],
        "{audit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minted_keys_are_scoped_rate_limited_revocable_and_never_shown_again() {
    let dir = TestDir::new();
    let recv = Receiver::start().await;
    let (gw, admin) = start(&dir, &recv).await;
    let (s, v) = admin
        .send("POST", "/v1/keys", Some(&json!({"name": "pub", "scopes": ["events:publish"], "tenant": "ta", "rate": "2/s"})))
        .await;
    assert_eq!(s, 201, "{v}");
    let key = v["key"].as_str().unwrap().to_string();
    let id = v["id"].as_str().unwrap().to_string();
    assert!(key.starts_with("hg_") && key.len() > 40, "{key}");
    assert!(key.starts_with(v["prefix"].as_str().unwrap()));
    let p = Api::new(&gw).with_key(&key);
    let mut codes = Vec::new();
    for _ in 0..4 {
        codes.push(
            p.post("/v1/events", &json!({"type": "k.x", "data": {}}))
                .await
                .0,
        );
    }
    assert_eq!(&codes[..2], [202, 202]);
    assert!(codes[2..].contains(&429), "{codes:?}");
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/events", p.base))
        .bearer_auth(&key)
        .json(&json!({"type": "k.x", "data": {}}))
        .send()
        .await
        .unwrap();
    if resp.status() == 429 {
        assert!(resp.headers().get("retry-after").is_some());
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s, _) = p.get("/v1/events").await;
    assert_eq!(s, 403, "publish-only key cannot read");
    // Listed without the key or its hash.
    let (_, list) = admin.get("/v1/keys").await;
    let text = list.to_string();
    assert!(text.contains(&id) && text.contains("\"source\":\"config\""));
    assert!(!text.contains(&key));
    // Bad requests name the field.
    let (s, v) = admin
        .send(
            "POST",
            "/v1/keys",
            Some(&json!({"name": "x", "scopes": ["events:write"]})),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (422, Some("invalid_key")));
    assert!(v["detail"].as_str().unwrap().starts_with("scopes:"), "{v}");
    let (s, v) = admin.send("DELETE", "/v1/keys/config:root", None).await;
    assert_eq!((s, v["code"].as_str()), (409, Some("managed_by_config")));
    // Revoked: refused at once.
    let (s, _) = admin.send("DELETE", &format!("/v1/keys/{id}"), None).await;
    assert_eq!(s, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s, v) = p
        .post("/v1/events", &json!({"type": "k.x", "data": {}}))
        .await;
    assert_eq!((s, v["code"].as_str()), (401, Some("unauthorized")));
    // The audit log has who/what/when and no key material.
    let (_, audit) = admin.get("/v1/audit").await;
    let text = audit.to_string();
    assert!(
        text.contains("key.create")
            && text.contains("key.revoke")
            && text.contains("\"actor\":\"root\"")
    );
    assert!(!text.contains(&key) && !text.contains(&key[3..]));
    let hash = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(key.as_bytes()))
    };
    assert!(!text.contains(&hash));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_stats_report_deliveries() {
    let dir = TestDir::new();
    let recv = Receiver::start().await;
    let (_gw, admin) = start(&dir, &recv).await;
    let n = 5;
    for _ in 0..n {
        admin
            .post(
                "/v1/events",
                &json!({"type": "cfg.x", "tenant": "ta", "data": {}}),
            )
            .await;
    }
    assert!(eventually(Duration::from_secs(10), || recv.count("/cfg") == n).await);
    let mut text = String::new();
    for _ in 0..100 {
        let resp = reqwest::Client::new()
            .get(format!("{}/metrics", admin.base))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        text = resp.text().await.unwrap();
        if text.contains("hookgate_deliveries_total{outcome=\"succeeded\"} 5") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for line in [
        "hookgate_events_published_total 5",
        "hookgate_attempts_total{outcome=\"succeeded\"} 5",
        "hookgate_deliveries_total{outcome=\"succeeded\"} 5",
        "hookgate_attempt_duration_seconds_count 5",
        "hookgate_queue_depth 0",
        "hookgate_attempts_in_flight 0",
        "# TYPE hookgate_retries counter",
        "# TYPE hookgate_plugin_duration_seconds histogram",
    ] {
        assert!(text.contains(line), "{line} missing:\n{text}");
    }
    let (_, st) = admin.get("/v1/stats").await;
    assert_eq!(st["window"], "24h");
    assert_eq!(st["success_rate"], json!(1.0), "{st}");
    assert_eq!(st["deliveries"]["succeeded"], 5);
    assert_eq!(st["pending"], 0);
    // A delivery failing, then its endpoint paused: it waits, counted as pending with an age.
    recv.default_reply("/cfg", Reply::status(500));
    admin
        .post(
            "/v1/events",
            &json!({"type": "cfg.y", "tenant": "ta", "data": {}}),
        )
        .await;
    assert!(eventually(Duration::from_secs(10), || recv.count("/cfg") == n + 1).await);
    let (s, _) = admin
        .send("POST", "/v1/endpoints/cfg-ep/disable", None)
        .await;
    assert_eq!(s, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, st) = admin.get("/v1/stats").await;
    assert_eq!(st["disabled_endpoints"], json!(["cfg-ep"]), "{st}");
    assert_eq!(st["pending"], 1, "{st}");
    assert!(
        st["oldest_pending_age_seconds"].as_u64().unwrap() >= 1,
        "{st}"
    );
    assert!(st["attempts"]["failed"].as_u64().unwrap() >= 1, "{st}");
    assert!(st["success_rate"].as_f64().unwrap() < 1.0, "{st}");
    // A tenant-bound key cannot read the global metrics.
    let (_, k) = mint(&admin, "ta reader", &["events:read"], Some("ta")).await;
    let (s, _) = Api::new_at(&admin.base).with_key(&k).get("/metrics").await;
    assert_eq!(s, 403);
}

/// `/v1/stats` totals every endpoint but lists them a page at a time: a `limit` of 2 over three
/// endpoints gives two rows and a cursor, the cursor the third row and no cursor, and both
/// pages carry the same totals and count.
#[tokio::test]
async fn stats_pages_endpoint_rows_and_totals_them_all() {
    let dir = TestDir::new();
    let recv = Receiver::start().await;
    let (_gw, admin) = start(&dir, &recv).await;
    for id in ["ep-b", "ep-a"] {
        let url = format!("{}/{id}", recv.base);
        create_endpoint(
            &admin,
            json!({"id": id, "tenant": "ta", "url": url, "events": ["cfg.*"]}),
        )
        .await;
    }
    admin
        .post(
            "/v1/events",
            &json!({"type": "cfg.x", "tenant": "ta", "data": {}}),
        )
        .await;
    let mut first = json!({});
    for _ in 0..100 {
        first = admin.get("/v1/stats?limit=2").await.1;
        if first["deliveries"]["succeeded"] == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ids = |v: &Value| -> Vec<String> {
        v["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(first["deliveries"]["succeeded"], 3, "{first}");
    assert_eq!(first["endpoint_count"], 3, "{first}");
    assert_eq!(ids(&first), ["cfg-ep", "ep-a"], "{first}");
    assert_eq!(first["next_cursor"], "ep-a", "{first}");
    let (_, rest) = admin.get("/v1/stats?limit=2&cursor=ep-a").await;
    assert_eq!(ids(&rest), ["ep-b"], "{rest}");
    assert_eq!(rest["endpoints"][0]["deliveries"]["succeeded"], 1, "{rest}");
    assert!(rest["next_cursor"].is_null(), "{rest}");
    assert_eq!(rest["deliveries"]["succeeded"], 3, "{rest}");
    let (_, whole) = admin.get("/v1/stats").await;
    assert_eq!(ids(&whole), ["cfg-ep", "ep-a", "ep-b"], "{whole}");
    assert!(whole["next_cursor"].is_null(), "{whole}");
}
