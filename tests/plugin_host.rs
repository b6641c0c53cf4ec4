//! The wasmtime plugin host (`hookgate::plugins`) on its own: real guest components, built from
//! `tests/guests/` for wasm32-wasip2 once per test binary, run through `PluginHost` with fake kv
//! and http services. Covers chain semantics, sandbox limits (deadline, memory, output, headers),
//! capability grants, the compile cache, reloads, refusal of foreign components and plugin logs.
//!
//! Timing bounds are generous on purpose (debug-mode wasmtime is much slower, CI machines are
//! loaded): these are behaviour tests. The per-call micro-benchmark is `#[ignore]`d; run it with
//! `cargo test --release --test plugin_host -- --ignored --nocapture`.

#[path = "plugin_host/util.rs"]
mod util;

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hookgate::plugins::*;
use serde_json::json;
use util::*;

#[tokio::test]
async fn identity_passes_body_and_headers_through() {
    let env = env();
    let p = env
        .host
        .load(
            "id",
            &guests().identity,
            relaxed_limits(),
            Grants::default(),
        )
        .await
        .unwrap();
    let (body, headers, applied) = delivered(
        env.run(&[entry("id", json!(null), OnError::Retry)], b"{\"a\":1}")
            .await,
    );
    assert_eq!(body, b"{\"a\":1}");
    assert_eq!(headers, vec![("x-orig".to_string(), "1".to_string())]);
    assert_eq!(applied, vec![("id".to_string(), p.sha256.clone())]);
    assert_eq!(p.sha256.len(), 64);
}

#[tokio::test]
async fn plugin_sees_event_and_endpoint() {
    let env = env();
    env.fixture("f", Grants::default()).await;
    let (body, _, _) = delivered(
        env.run(&[entry("f", json!({"mode": "meta"}), OnError::Retry)], b"")
            .await,
    );
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "del_1|evt_1|invoice.paid|acme|2025-01-01T00:00:00Z|ep_1|https://example.com/hook"
    );
}

#[tokio::test]
async fn json_transform_and_chain_order() {
    let env = env();
    env.fixture("f", Grants::default()).await;
    let chain = [
        entry(
            "f",
            json!({"mode": "upper", "field": "/data/name"}),
            OnError::Retry,
        ),
        entry("f", json!({"mode": "append", "tag": "A"}), OnError::Retry),
        entry("f", json!({"mode": "append", "tag": "B"}), OnError::Retry),
    ];
    let (body, _, applied) = delivered(env.run(&chain, br#"{"data":{"name":"bob"}}"#).await);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        r#"{"data":{"name":"BOB"}}AB"#
    );
    assert_eq!(applied.len(), 3);
}

#[tokio::test]
async fn drop_filters_with_reason_and_stops_the_chain() {
    let env = env();
    env.fixture("f", Grants::default()).await;
    let chain = [
        entry(
            "f",
            json!({"mode": "drop", "reason": "not for this tenant"}),
            OnError::Retry,
        ),
        entry("f", json!({"mode": "trap"}), OnError::Retry),
    ];
    assert_eq!(
        env.run(&chain, b"x").await,
        ChainOutcome::Filtered {
            plugin: "f".into(),
            reason: "not for this tenant".into()
        }
    );
}

#[tokio::test]
async fn on_error_retry_skip_drop() {
    let env = env();
    env.fixture("f", Grants::default()).await;
    let err = json!({"mode": "err", "error": "upstream said no"});
    let then_b = entry("f", json!({"mode": "append", "tag": "B"}), OnError::Retry);

    let e = failed(
        env.run(
            &[entry("f", err.clone(), OnError::Retry), then_b.clone()],
            b"x",
        )
        .await,
    );
    assert_eq!(e.to_string(), "plugin f: upstream said no");
    assert!(matches!(e, PluginError::Guest { .. }));

    let (body, _, applied) = delivered(
        env.run(
            &[entry("f", err.clone(), OnError::Skip), then_b.clone()],
            b"x",
        )
        .await,
    );
    assert_eq!(
        body, b"xB",
        "skip passes the failing plugin's input through"
    );
    assert_eq!(
        applied.len(),
        1,
        "a skipped plugin is not listed as applied"
    );

    match env
        .run(&[entry("f", err, OnError::Drop), then_b], b"x")
        .await
    {
        ChainOutcome::Filtered { plugin, reason } => {
            assert_eq!(plugin, "f");
            // The plugin is named once, by whoever shows the reason (the delivery's
            // last_error reads "plugin f: upstream said no").
            assert_eq!(reason, "upstream said no");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn each_call_gets_a_fresh_instance() {
    let env = env();
    env.fixture("f", Grants::default()).await;
    let chain = [
        entry("f", json!({"mode": "counter"}), OnError::Retry),
        entry("f", json!({"mode": "counter"}), OnError::Retry),
    ];
    for _ in 0..3 {
        let (_, headers, _) = delivered(env.run(&chain, b"x").await);
        let counts: Vec<&str> = headers
            .iter()
            .filter(|(n, _)| n == "x-count")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(counts, ["1", "1"]);
    }
}

/// Loads the fixture twice: as `loop` with a 3 s deadline (the looping guest) and as `f`.
async fn load_loop_and_fixture(env: &Env) {
    let limits = PluginLimits {
        timeout: Duration::from_millis(3000),
        ..PluginLimits::default()
    };
    env.fixture_with_limits("loop", limits).await;
    env.fixture("f", Grants::default()).await;
}

/// On a single-threaded runtime: the looping guest must yield, so other chains keep running,
/// and must be stopped at its deadline.
#[tokio::test(flavor = "current_thread")]
async fn deadline_stops_loop_and_runtime_keeps_serving() {
    let env = env();
    load_loop_and_fixture(&env).await;

    let host = env.host.clone();
    let started = Instant::now();
    let looping = tokio::spawn(async move {
        let outcome = host
            .run_chain(
                &[entry("loop", json!({"mode": "loop"}), OnError::Retry)],
                input(b"x"),
            )
            .await;
        (outcome, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    for _ in 0..3 {
        let t = Instant::now();
        delivered(
            env.run(
                &[entry("f", json!({"mode": "identity"}), OnError::Retry)],
                b"x",
            )
            .await,
        );
        assert!(
            t.elapsed() < Duration::from_millis(1500),
            "identity call blocked behind the loop: {:?}",
            t.elapsed()
        );
    }
    assert!(
        !looping.is_finished(),
        "the loop should still be running: other calls must not wait for it ({:?})",
        started.elapsed()
    );
    let (outcome, elapsed) = looping.await.unwrap();
    let e = failed(outcome);
    assert_eq!(e.to_string(), "plugin loop: deadline of 3000 ms exceeded");
    assert!(elapsed >= Duration::from_millis(3000), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
}

/// The gateway runs chains on lanes (one task polling many chains): a looping guest on a lane
/// must not hold up the chains queued behind it on the same lane, and each caller gets its own
/// outcome back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_lane_keeps_running_chains_past_a_looping_one() {
    use hookgate::dispatch::plugin_lane::PluginLanes;
    use tokio_util::sync::CancellationToken;
    use tokio_util::task::TaskTracker;
    let env = env();
    load_loop_and_fixture(&env).await;
    let (tasks, token) = (TaskTracker::new(), CancellationToken::new());
    let lanes = Arc::new(PluginLanes::start(
        Arc::new(env.host.clone()),
        1,
        &tasks,
        token,
    ));
    assert_eq!(lanes.count(), 1);

    let started = Instant::now();
    let looping = {
        let lanes = Arc::clone(&lanes);
        tokio::spawn(async move {
            let chain = [entry("loop", json!({"mode": "loop"}), OnError::Retry)];
            (
                lanes.run(chain.into(), input(b"x")).await,
                started.elapsed(),
            )
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let t = Instant::now();
    let calls: Vec<_> = (0..20)
        .map(|i| {
            let lanes = Arc::clone(&lanes);
            tokio::spawn(async move {
                let chain = [entry(
                    "f",
                    json!({"mode": "append", "tag": i.to_string()}),
                    OnError::Retry,
                )];
                lanes.run(chain.into(), input(b"x")).await
            })
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        let (body, _, _) = delivered(call.await.unwrap().expect("lane answered"));
        assert_eq!(
            body,
            format!("x{i}").as_bytes(),
            "outcome {i} went to its caller"
        );
    }
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "chains waited behind the loop on their lane: {:?}",
        t.elapsed()
    );
    assert!(!looping.is_finished(), "the loop should still be running");
    let (outcome, elapsed) = looping.await.unwrap();
    assert_eq!(
        failed(outcome.expect("lane answered")).to_string(),
        "plugin loop: deadline of 3000 ms exceeded"
    );
    assert!(elapsed >= Duration::from_millis(3000), "{elapsed:?}");
}

/// A guest that sleeps waits in a host await (WASI clocks), out of the epoch callback's reach:
/// the outer timeout still ends the call at the deadline, as a deadline error.
#[tokio::test]
async fn sleeping_in_a_host_call_still_meets_the_deadline() {
    let env = env();
    let limits = PluginLimits {
        timeout: Duration::from_millis(300),
        ..PluginLimits::default()
    };
    env.fixture_with_limits("sleepy", limits).await;
    let t = Instant::now();
    let e = failed(
        env.run(
            &[entry("sleepy", json!({"mode": "sleep"}), OnError::Retry)],
            b"x",
        )
        .await,
    );
    assert_eq!(e.to_string(), "plugin sleepy: deadline of 300 ms exceeded");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

#[tokio::test]
async fn memory_cap_is_enforced() {
    let env = env();
    let limits = PluginLimits {
        memory_bytes: 16 << 20,
        ..relaxed_limits()
    };
    env.fixture_with_limits("bomb", limits).await;
    let e = failed(
        env.run(
            &[entry("bomb", json!({"mode": "bomb"}), OnError::Retry)],
            b"x",
        )
        .await,
    );
    assert_eq!(e.to_string(), "plugin bomb: memory limit 16 MiB exceeded");
    // A call within the cap still works on the same plugin.
    delivered(
        env.run(
            &[entry(
                "bomb",
                json!({"mode": "huge", "size": 900_000}),
                OnError::Retry,
            )],
            b"x",
        )
        .await,
    );
}

#[tokio::test]
async fn trap_is_reported() {
    let env = env();
    env.fixture("f", Grants::default()).await;
    let e = failed(
        env.run(&[entry("f", json!({"mode": "trap"}), OnError::Retry)], b"x")
            .await,
    );
    assert!(matches!(e, PluginError::Trap { .. }), "{e:?}");
    assert!(e.to_string().starts_with("plugin f: trap: "), "{e}");
    assert!(e.to_string().contains("unreachable"), "{e}");
}

#[tokio::test]
async fn output_cap_is_enforced() {
    let env = env();
    let limits = PluginLimits {
        max_output_bytes: 1000,
        ..relaxed_limits()
    };
    env.fixture_with_limits("h", limits).await;
    // Body 990 + header "x-orig"/"1" (7 bytes) = 997: fits.
    delivered(
        env.run(
            &[entry(
                "h",
                json!({"mode": "huge", "size": 990}),
                OnError::Retry,
            )],
            b"",
        )
        .await,
    );
    let e = failed(
        env.run(
            &[entry(
                "h",
                json!({"mode": "huge", "size": 1000}),
                OnError::Retry,
            )],
            b"",
        )
        .await,
    );
    assert_eq!(
        e.to_string(),
        "plugin h: output of 1007 bytes exceeds the limit of 1000 bytes"
    );

    env.fixture("d", Grants::default()).await;
    let e = failed(
        env.run(
            &[entry(
                "d",
                json!({"mode": "huge", "size": 2 << 20}),
                OnError::Retry,
            )],
            b"",
        )
        .await,
    );
    assert!(
        matches!(e, PluginError::OutputTooLarge { limit: 1048576, .. }),
        "{e:?}"
    );
}

#[tokio::test]
async fn headers_are_validated() {
    let env = env();
    env.fixture("f", Grants::default()).await;
    let header = |n: &str, v: &str| {
        entry(
            "f",
            json!({"mode": "header", "name": n, "value": v}),
            OnError::Retry,
        )
    };
    let (_, headers, _) = delivered(env.run(&[header("X-Tenant", "acme")], b"").await);
    assert!(headers.contains(&("X-Tenant".into(), "acme".into())));
    for (n, v) in [
        ("Content-Length", "5"),
        ("webhook-signature", "v1,forged"),
        ("Proxy-Authorization", "x"),
        ("x-a", "a\r\nInjected: 1"),
        ("bad name", "v"),
    ] {
        let e = failed(env.run(&[header(n, v)], b"").await);
        assert!(matches!(e, PluginError::InvalidHeader { .. }), "{n}: {e:?}");
    }
    // 63 added + 1 input header = 64 fits; one more does not.
    delivered(
        env.run(
            &[entry(
                "f",
                json!({"mode": "many_headers", "n": 63}),
                OnError::Retry,
            )],
            b"",
        )
        .await,
    );
    let e = failed(
        env.run(
            &[entry(
                "f",
                json!({"mode": "many_headers", "n": 64}),
                OnError::Retry,
            )],
            b"",
        )
        .await,
    );
    assert_eq!(
        e.to_string(),
        "plugin f: invalid header: 65 headers, at most 64 allowed"
    );
}

#[tokio::test]
async fn kv_requires_grant_and_is_namespaced() {
    let env = env();
    env.fixture("nokv", Grants::default()).await;
    let e = failed(
        env.run(
            &[entry(
                "nokv",
                json!({"mode": "kv", "key": "k"}),
                OnError::Retry,
            )],
            b"v",
        )
        .await,
    );
    assert!(e.to_string().contains("kv: not granted"), "{e}");
    assert_eq!(
        env.kv.calls.load(Ordering::SeqCst),
        0,
        "backend must not be called without grant"
    );

    let grant = Grants {
        kv: true,
        ..Grants::default()
    };
    env.fixture("withkv", grant).await;
    let (body, _, _) = delivered(
        env.run(
            &[entry(
                "withkv",
                json!({"mode": "kv", "key": "k"}),
                OnError::Retry,
            )],
            b"stored",
        )
        .await,
    );
    assert_eq!(body, b"stored");
    delivered(
        env.run(
            &[entry(
                "withkv",
                json!({"mode": "kv_set", "key": "k2", "size": 3}),
                OnError::Retry,
            )],
            b"",
        )
        .await,
    );
    assert!(env
        .kv
        .data
        .lock()
        .unwrap()
        .contains_key(&("withkv".to_string(), "k2".to_string())));

    let e = failed(
        env.run(
            &[entry(
                "withkv",
                json!({"mode": "kv_set", "key": "big", "size": 65 << 10}),
                OnError::Retry,
            )],
            b"",
        )
        .await,
    );
    assert!(
        e.to_string().contains("exceeds the 65536-byte limit"),
        "{e}"
    );
    let long_key = "k".repeat(257);
    let e = failed(
        env.run(
            &[entry(
                "withkv",
                json!({"mode": "kv_set", "key": long_key}),
                OnError::Retry,
            )],
            b"",
        )
        .await,
    );
    assert!(e.to_string().contains("key must be"), "{e}");
}

#[tokio::test]
async fn http_only_reaches_allowed_origins() {
    let env = env();
    env.fixture("nohttp", Grants::default()).await;
    let e = failed(
        env.run(
            &[entry(
                "nohttp",
                json!({"mode": "http", "url": "https://api.example.com/x"}),
                OnError::Retry,
            )],
            b"",
        )
        .await,
    );
    assert!(e.to_string().contains("http: not granted"), "{e}");

    let grants = Grants {
        kv: false,
        http_origins: vec!["https://api.example.com".into()],
    };
    env.fixture("web", grants).await;
    for url in [
        "https://evil.example.com/x",
        "http://api.example.com/x",
        "https://api.example.com:8443/x",
        "file:///etc/passwd",
    ] {
        let e = failed(
            env.run(
                &[entry(
                    "web",
                    json!({"mode": "http", "url": url}),
                    OnError::Retry,
                )],
                b"",
            )
            .await,
        );
        assert!(e.to_string().contains("http: "), "{url}: {e}");
        assert!(!e.to_string().contains("pong"), "{url}");
    }
    let e = failed(
        env.run(
            &[entry(
                "web",
                json!({"mode": "http", "url": "https://evil.example.com/x"}),
                OnError::Retry,
            )],
            b"",
        )
        .await,
    );
    assert_eq!(
        e.to_string(),
        "plugin web: http: origin https://evil.example.com:443 not in allow list"
    );
    assert!(
        env.http.requests.lock().unwrap().is_empty(),
        "fetcher must not be called"
    );

    let (body, headers, _) = delivered(
        env.run(
            &[entry(
                "web",
                json!({"mode": "http", "url": "https://api.example.com/v1/x?q=1"}),
                OnError::Retry,
            )],
            b"ping",
        )
        .await,
    );
    assert_eq!(body, b"pong:ping");
    assert!(headers.contains(&("x-status".into(), "200".into())));
    let reqs = env.http.requests.lock().unwrap();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].url, "https://api.example.com/v1/x?q=1");
    assert_eq!(reqs[0].method, HttpMethod::Post);
    // Bounded by the host cap (here below the plugin's relaxed call deadline).
    assert!(reqs[0].timeout <= MAX_HTTP_TIMEOUT, "{:?}", reqs[0].timeout);
    assert!(reqs[0].timeout > Duration::ZERO);
}

#[tokio::test]
async fn bad_allow_entry_fails_load() {
    let env = env();
    let grants = Grants {
        kv: false,
        http_origins: vec!["https://api.example.com/path".into()],
    };
    let e = env
        .host
        .load("x", &guests().fixture, relaxed_limits(), grants)
        .await
        .unwrap_err();
    assert!(matches!(e, PluginError::Load { .. }), "{e:?}");
}

#[tokio::test]
async fn missing_plugin_follows_policy() {
    let env = env();
    let e = failed(
        env.run(&[entry("ghost", json!(null), OnError::Retry)], b"")
            .await,
    );
    assert_eq!(
        e,
        PluginError::NotLoaded {
            plugin: "ghost".into()
        }
    );
    delivered(
        env.run(&[entry("ghost", json!(null), OnError::Skip)], b"")
            .await,
    );
}

#[tokio::test]
async fn cache_is_written_then_used() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let env = env_with_cache(Some(cache.clone()));
    let p = env
        .host
        .load(
            "id",
            &guests().identity,
            relaxed_limits(),
            Grants::default(),
        )
        .await
        .unwrap();
    assert_eq!(p.cache, CacheOutcome::Miss);
    let files: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(
        files[0].starts_with(&p.sha256) && files[0].ends_with(".cwasm"),
        "{files:?}"
    );

    // A new host (new engine, same settings) deserializes instead of compiling.
    let env2 = env_with_cache(Some(cache.clone()));
    let p2 = env2
        .host
        .load(
            "id",
            &guests().identity,
            relaxed_limits(),
            Grants::default(),
        )
        .await
        .unwrap();
    assert_eq!(p2.cache, CacheOutcome::Hit);
    delivered(
        env2.run(&[entry("id", json!(null), OnError::Retry)], b"x")
            .await,
    );

    // A corrupted artifact is detected and replaced, not trusted.
    let path = cache.join(&files[0]);
    std::fs::write(&path, b"garbage").unwrap();
    let env3 = env_with_cache(Some(cache.clone()));
    let p3 = env3
        .host
        .load(
            "id",
            &guests().identity,
            relaxed_limits(),
            Grants::default(),
        )
        .await
        .unwrap();
    assert_eq!(p3.cache, CacheOutcome::Miss);
    delivered(
        env3.run(&[entry("id", json!(null), OnError::Retry)], b"x")
            .await,
    );
}

#[tokio::test]
async fn broken_reload_keeps_last_good_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.wasm");
    std::fs::copy(&guests().identity, &path).unwrap();
    let env = env();
    let good = env
        .host
        .load("p", &path, relaxed_limits(), Grants::default())
        .await
        .unwrap();
    assert_eq!(
        env.host.reload_if_changed().await,
        vec![("p".to_string(), ReloadOutcome::Unchanged)]
    );

    std::fs::write(&path, b"\0asm broken").unwrap();
    let e = env.host.reload("p").await.unwrap_err();
    assert!(matches!(e, PluginError::Load { .. }), "{e:?}");
    assert_eq!(env.host.get("p").unwrap().sha256, good.sha256);
    let status = env.host.status();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].sha256.as_deref(), Some(good.sha256.as_str()));
    assert!(
        status[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("load failed"),
        "{status:?}"
    );
    let (_, _, applied) = delivered(
        env.run(&[entry("p", json!(null), OnError::Retry)], b"x")
            .await,
    );
    assert_eq!(applied[0].1, good.sha256);

    // A good new version is picked up by the change check and clears the error.
    std::fs::copy(&guests().fixture, &path).unwrap();
    let outcomes = env.host.reload_if_changed().await;
    let ReloadOutcome::Reloaded { sha256 } = &outcomes[0].1 else {
        panic!("{outcomes:?}")
    };
    assert_ne!(sha256, &good.sha256);
    assert_eq!(env.host.status()[0].last_error, None);
    let (body, _, _) = delivered(
        env.run(
            &[entry(
                "p",
                json!({"mode": "append", "tag": "!"}),
                OnError::Retry,
            )],
            b"x",
        )
        .await,
    );
    assert_eq!(body, b"x!");
}

/// `(component)`: the component preamble (magic, version 0x0d, layer 1) and nothing else.
const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\x00\x01\x00";

/// `(component (import "evil:net/raw@1.0.0" (instance)))`, hand-assembled (the same bytes
/// `wasm-tools parse` produces): preamble; type section (id 7, 3 bytes): 1 type, an instance
/// type (0x42) with 0 declarations; import section (id 10, 23 bytes): 1 import, a plain name
/// (0x00) of 18 bytes, extern desc instance (0x05) of type 0.
const ALIEN_COMPONENT: &[u8] = b"\0asm\x0d\x00\x01\x00\
    \x07\x03\x01\x42\x00\
    \x0a\x17\x01\x00\x12evil:net/raw@1.0.0\x05\x00";

/// `(module)`: a core module (version 1), not a component.
const CORE_MODULE: &[u8] = b"\0asm\x01\x00\x00\x00";

#[tokio::test]
async fn components_not_targeting_the_world_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let env = env();
    let cases = [
        (
            "empty.wasm",
            EMPTY_COMPONENT,
            "does not export hookgate:plugin/handler@0.1.1",
        ),
        (
            "alien.wasm",
            ALIEN_COMPONENT,
            "imports evil:net/raw@1.0.0 which the host does not provide",
        ),
        ("core.wasm", CORE_MODULE, "load failed"),
    ];
    for (file, bytes, expect) in cases {
        let path = dir.path().join(file);
        std::fs::write(&path, bytes).unwrap();
        let e = env
            .host
            .load(file, &path, relaxed_limits(), Grants::default())
            .await
            .unwrap_err();
        assert!(e.to_string().contains(expect), "{file}: {e}");
    }
    assert_eq!(env.host.status().len(), 3);
    assert!(env
        .host
        .status()
        .iter()
        .all(|s| s.last_error.is_some() && s.sha256.is_none()));
}

#[tokio::test]
async fn limits_outside_the_pool_are_refused() {
    let env = env();
    let limits = PluginLimits {
        memory_bytes: 1 << 30,
        ..PluginLimits::default()
    };
    let e = env
        .host
        .load("big", &guests().identity, limits, Grants::default())
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("memory limit must be between"),
        "{e}"
    );
}

#[tokio::test]
async fn default_deadline_is_100ms() {
    let env = env();
    env.host
        .load(
            "f",
            &guests().fixture,
            PluginLimits::default(),
            Grants::default(),
        )
        .await
        .unwrap();
    let t = Instant::now();
    let e = failed(
        env.run(&[entry("f", json!({"mode": "loop"}), OnError::Retry)], b"x")
            .await,
    );
    let elapsed = t.elapsed();
    assert_eq!(e.to_string(), "plugin f: deadline of 100 ms exceeded");
    assert!(
        elapsed >= Duration::from_millis(100) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    // The plugin still serves the next delivery.
    delivered(
        env.run(
            &[entry("f", json!({"mode": "identity"}), OnError::Retry)],
            b"x",
        )
        .await,
    );
}

// ---- plugin logs ----

/// Plugin logs and stdout reach tracing, tagged with plugin and delivery, and rate-limited.
/// A shared in-memory log sink for a `tracing_subscriber::fmt` subscriber.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Plugin logs and stdout reach tracing, tagged with plugin and delivery id, and rate-limited.
/// (`set_default` is per thread, hence the single-threaded runtime.)
#[tokio::test(flavor = "current_thread")]
async fn logs_are_tagged_and_rate_limited() {
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let env = env();
    env.fixture("chatty", Grants::default()).await;
    // The rate-limit window opens at the first line, so after this instant.
    let before_first_line = Instant::now();
    // 5 log lines + 5 stdout lines: all shown.
    delivered(
        env.run(
            &[entry(
                "chatty",
                json!({"mode": "log", "n": 5}),
                OnError::Retry,
            )],
            b"",
        )
        .await,
    );
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("plugin=\"chatty\"") && l.contains("source="))
        .collect();
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("source=\"log\""))
            .count(),
        5,
        "{text}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.contains("stdout line")).count(),
        5,
        "{text}"
    );
    assert!(
        lines.iter().all(|l| l.contains("delivery_id=\"del_1\"")),
        "{text}"
    );

    // 200 (+ 200 stdout) more within the same second: only the rest of the 100/s budget gets
    // through. On a machine so loaded that the one-second window rolled over meanwhile, a second
    // budget may have opened, but never all 400 lines.
    buf.0.lock().unwrap().clear();
    delivered(
        env.run(
            &[entry(
                "chatty",
                json!({"mode": "log", "n": 200}),
                OnError::Retry,
            )],
            b"",
        )
        .await,
    );
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    let shown = text.lines().filter(|l| l.contains("line ")).count();
    if before_first_line.elapsed() < Duration::from_secs(1) {
        assert_eq!(shown, LINES_PER_SECOND as usize - 10, "{shown} lines shown");
    } else {
        assert!(
            shown <= 2 * LINES_PER_SECOND as usize - 10,
            "{shown} lines shown"
        );
    }
}

// ---- per-call micro-benchmark (manual) ----

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn measure(env: &Env, chain: &[ChainEntry], body: &[u8], n: usize) -> (Duration, Duration) {
    for _ in 0..200 {
        delivered(env.host.run_chain(chain, input(body)).await);
    }
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let inp = input(body);
        let t = Instant::now();
        let out = env.host.run_chain(chain, inp).await;
        times.push(t.elapsed());
        delivered(out);
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

/// Per-call cost (p50/p99) of minimal and JSON-transforming guests on 1 KiB and 64 KiB bodies.
/// Manual: `cargo test --release --test plugin_host -- --ignored --nocapture`.
#[tokio::test(flavor = "current_thread")]
#[ignore = "micro-benchmark; run manually in release"]
async fn per_call_cost() {
    let env = env();
    env.host
        .load(
            "id",
            &guests().identity,
            relaxed_limits(),
            Grants::default(),
        )
        .await
        .unwrap();
    env.fixture("f", Grants::default()).await;
    // The example `redact` plugin, as `hookgate bench plugin` runs it, when it has been built.
    let redact = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("plugins/target/wasm32-wasip2/release/redact.wasm");
    let redact = redact.exists().then_some(redact);
    if let Some(wasm) = &redact {
        env.host
            .load("redact", wasm, relaxed_limits(), Grants::default())
            .await
            .unwrap();
    }
    let small = json!({"data": {"name": "bob", "seq": 7, "pad": "x".repeat(1000)}}).to_string();
    let large = json!({"data": {"name": "bob", "seq": 7, "items": (0..2000).map(|i| json!({"i": i, "s": "abcdefghij"})).collect::<Vec<_>>()}}).to_string();
    println!("bodies: {} B and {} B", small.len(), large.len());
    let mut cases = vec![
        (
            "identity (minimal guest)",
            entry("id", json!(null), OnError::Retry),
        ),
        (
            "fixture identity (serde_json guest)",
            entry("f", json!({"mode": "identity"}), OnError::Retry),
        ),
        (
            "fixture JSON upper-case field",
            entry(
                "f",
                json!({"mode": "upper", "field": "/data/name"}),
                OnError::Retry,
            ),
        ),
    ];
    if redact.is_some() {
        cases.push((
            "example redact, remove /data/seq",
            entry("redact", json!({"remove": ["/data/seq"]}), OnError::Retry),
        ));
    }
    for (label, e) in cases {
        for (size, body) in [("1 KiB", &small), ("64 KiB", &large)] {
            let n = if body.len() > 10_000 { 2_000 } else { 10_000 };
            let (p50, p99) = measure(&env, std::slice::from_ref(&e), body.as_bytes(), n).await;
            println!(
                "{label:40} {size:>6}: p50 {:>7.1} µs  p99 {:>7.1} µs",
                p50.as_secs_f64() * 1e6,
                p99.as_secs_f64() * 1e6
            );
        }
    }
}

/// A built-in plugin and the same plugin loaded from the file `plugins/` builds cost the same
/// per call (same bytes, same compiled code): 7 interleaved rounds of 10,000 calls each, p50 per
/// round and the median of the rounds. Manual:
/// `cargo test --release --test plugin_host builtin_costs -- --ignored --nocapture`.
#[tokio::test(flavor = "current_thread")]
#[ignore = "micro-benchmark; run manually in release"]
async fn builtin_costs_the_same_as_its_file() {
    let env = env();
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("plugins/target/wasm32-wasip2/release/redact.wasm");
    let from_file = (env.host)
        .load("file", &file, relaxed_limits(), Grants::default())
        .await
        .unwrap();
    let builtin = (env.host)
        .load_source(
            "builtin",
            Source::Builtin("redact"),
            relaxed_limits(),
            Grants::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        from_file.sha256, builtin.sha256,
        "rebuild: the binary's redact is stale"
    );
    let body = json!({"data": {"name": "bob", "seq": 7, "pad": "x".repeat(1000)}}).to_string();
    let config = json!({"remove": ["/data/seq"]});
    let (mut f, mut b) = (Vec::new(), Vec::new());
    for round in 0..7 {
        for (name, out) in [("file", &mut f), ("builtin", &mut b)] {
            let chain = [entry(name, config.clone(), OnError::Retry)];
            let (p50, _) = measure(&env, &chain, body.as_bytes(), 10_000).await;
            out.push(p50.as_secs_f64() * 1e6);
        }
        println!(
            "round {round}: file {:.1} µs, builtin {:.1} µs",
            f[round], b[round]
        );
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "median p50: file {:.1} µs, builtin {:.1} µs (min–max file {:.1}–{:.1}, builtin {:.1}–{:.1})",
        median(&mut f),
        median(&mut b),
        f[0],
        f[f.len() - 1],
        b[0],
        b[b.len() - 1]
    );
}
