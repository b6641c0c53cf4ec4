//! Several real gateway processes on one real PostgreSQL (started by the test, see `util::pg`):
//! they share the work without losing or repeating it, survive `kill -9` of a node and a
//! database restart, keep an endpoint's order, concurrency and rate for the whole cluster, and
//! see each other's API changes within a second.

mod util;

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use util::*;

const KEY: &str = "cluster-test-admin-key-0123456789";
const MASTER_KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// One config file for every node (so their config hashes agree); each node's data dir comes
/// from its environment. Leases of 2 s, so a dead node's claims pass on quickly.
fn config(t: &TestDir, url: &str, endpoints: &str, recv: &str) -> std::path::PathBuf {
    let yaml = format!(
        r#"listen: 127.0.0.1:0
data_dir: "${{NODE_DIR}}"
storage:
  backend: postgres
  url: "{url}"
  pool_size: 8
  lease: 2s
auth:
  api_keys:
    - {{ name: admin, key: "{KEY}", scopes: [admin] }}
delivery:
  timeout: 2s
  retry_schedule: [100ms, 200ms, 300ms]
  jitter: 0
  auto_disable_after: 0
  shutdown_grace: 1s
network:
  allow_http: true
  allow_private: [127.0.0.0/8]
endpoints:
{endpoints}"#
    );
    t.write_config(&yaml, recv)
}

/// Node `i` of the cluster whose config is `cfg`.
fn node(t: &TestDir, cfg: &std::path::Path, i: usize) -> Gateway {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookgate"));
    cmd.env("NODE_DIR", t.path().join(format!("node{i}")))
        .env("HOOKGATE_MASTER_KEY", MASTER_KEY)
        .env("HOOKGATE_NODE_NAME", format!("node{i}"));
    Gateway::start_with(cmd, cfg)
}

fn api(gw: &Gateway) -> Api {
    Api::new_at(&format!("http://{}", gw.addr)).with_key(KEY)
}

/// Ids of the events the receiver got on `path`, in arrival order, repeats included.
fn arrivals(recv: &Receiver, path: &str) -> Vec<String> {
    (recv.got_on(path).iter())
        .map(|r| r.json()["id"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Waits until every id in `acked` arrived on `path`; the ids missing after `timeout`.
async fn missing_after(
    recv: &Receiver,
    path: &str,
    acked: &HashSet<String>,
    timeout: Duration,
) -> Vec<String> {
    eventually(timeout, || {
        let got: HashSet<String> = arrivals(recv, path).into_iter().collect();
        acked.is_subset(&got)
    })
    .await;
    let got: HashSet<String> = arrivals(recv, path).into_iter().collect();
    acked.difference(&got).cloned().collect()
}

/// A metric's value from a node's `/metrics` (0 when absent).
async fn metric(gw: &Gateway, name: &str) -> f64 {
    metric_with(gw, Some(KEY), name).await
}

/// A receiver that counts how many requests it holds at once (each for `hold`).
#[derive(Clone, Default)]
struct Concurrency {
    now: Arc<AtomicUsize>,
    max: Arc<AtomicUsize>,
    total: Arc<AtomicUsize>,
}

impl Concurrency {
    async fn start(hold: Duration) -> (Concurrency, String) {
        let c = Concurrency::default();
        let state = c.clone();
        let app = axum::Router::new().fallback(move || {
            let c = state.clone();
            async move {
                let n = c.now.fetch_add(1, Ordering::SeqCst) + 1;
                c.max.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(hold).await;
                c.now.fetch_sub(1, Ordering::SeqCst);
                c.total.fetch_add(1, Ordering::SeqCst);
                "ok"
            }
        });
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        (c, base)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_an_endpoints_work_within_its_cluster_wide_cap() {
    let (seen, base) = Concurrency::start(Duration::from_millis(30)).await;
    let t = TestDir::new();
    let url = util::pg::database().await;
    let eps = "  - { id: c, url: \"{{RECV}}/c\", max_in_flight: 3 }\n";
    let cfg = config(&t, &url, eps, &base);
    let nodes: Vec<Gateway> = (0..3).map(|i| node(&t, &cfg, i)).collect();
    for (i, gw) in nodes.iter().enumerate() {
        assert_eq!(api(gw).publish_numbered("c.x", 40).await, 202, "node {i}");
    }
    let all = eventually(Duration::from_secs(30), || {
        seen.total.load(Ordering::SeqCst) >= 120
    });
    assert!(all.await, "{} of 120", seen.total.load(Ordering::SeqCst));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(seen.total.load(Ordering::SeqCst), 120, "nothing twice");
    let max = seen.max.load(Ordering::SeqCst);
    assert!(max <= 3, "the receiver saw {max} requests at once, cap 3");
    let mut working = 0;
    for gw in &nodes {
        if metric(gw, "hookgate_attempts_total").await > 0.0 {
            working += 1;
        }
    }
    assert!(working >= 2, "only {working} of 3 nodes attempted anything");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_a_node_under_load_loses_nothing() {
    let recv = Receiver::start().await;
    recv.default_reply("/k", Reply::sleep(Duration::from_millis(5)));
    let t = TestDir::new();
    let url = util::pg::database().await;
    let cfg = config(&t, &url, "  - { id: k, url: \"{{RECV}}/k\" }\n", &recv.base);
    let nodes: Vec<Arc<Mutex<Option<Gateway>>>> = (0..3)
        .map(|i| Arc::new(Mutex::new(Some(node(&t, &cfg, i)))))
        .collect();
    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut publishers = Vec::new();
    for (i, slot) in nodes.iter().enumerate() {
        let (slot, acked, stop) = (slot.clone(), acked.clone(), stop.clone());
        publishers.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .unwrap();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let addr = slot.lock().unwrap().as_ref().map(|g| g.addr);
                let Some(addr) = addr else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let id = format!("k-{i}-{n}");
                n += 1;
                let sent = http
                    .post(format!("http://{addr}/v1/events"))
                    .bearer_auth(KEY)
                    .json(&json!({"type": "k.x", "id": id, "data": {"n": n}}))
                    .send()
                    .await;
                if sent.is_ok_and(|r| r.status().is_success()) {
                    acked.lock().unwrap().insert(id);
                }
            }
        }));
    }
    for round in 0..5 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let victim = &nodes[round % 3];
        let mut gw = victim.lock().unwrap().take().unwrap();
        gw.kill9();
        tokio::time::sleep(Duration::from_millis(300)).await;
        *victim.lock().unwrap() = Some(node(&t, &cfg, round % 3));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for p in publishers {
        p.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 200, "too little published: {}", acked.len());
    // A dead node's claims wait out their 2 s lease, then the next rescan takes them.
    let missing = missing_after(&recv, "/k", &acked, Duration::from_secs(60)).await;
    assert!(
        missing.is_empty(),
        "{} lost: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    let got = arrivals(&recv, "/k");
    let unique: HashSet<&String> = got.iter().collect();
    let duplicates = got.len() - unique.len();
    let mut stale = 0.0;
    for slot in &nodes {
        if let Some(gw) = slot.lock().unwrap().as_ref() {
            stale += futures_block(metric(gw, "hookgate_stale_outcomes_total"));
        }
    }
    println!(
        "cluster kill -9 x5: {} acknowledged, {} received, {duplicates} duplicates, \
         {stale} stale outcomes counted by the live nodes",
        acked.len(),
        got.len()
    );
    // At-least-once: a repeat is an attempt the killed node had in flight (its outcome was
    // never recorded), so repeats are bounded by what five kills can have in flight.
    assert!(duplicates <= 5 * 64, "{duplicates} duplicates");
}

/// Runs a future to completion from synchronous code inside the test's runtime.
fn futures_block<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_endpoint_keeps_publish_order_across_nodes() {
    let recv = Receiver::start().await;
    let t = TestDir::new();
    let url = util::pg::database().await;
    let eps = "  - { id: f, url: \"{{RECV}}/f\", ordering: fifo }\n";
    let cfg = config(&t, &url, eps, &recv.base);
    let nodes: Vec<Gateway> = (0..3).map(|i| node(&t, &cfg, i)).collect();
    let mut order = Vec::new();
    // Every fifth event fails its first attempt: the head retries, nothing passes it.
    let mut script = Vec::new();
    for i in 0..30 {
        script.push(Reply::status(if i % 5 == 0 { 500 } else { 200 }));
        if i % 5 == 0 {
            script.push(Reply::status(200));
        }
    }
    recv.script("/f", script);
    for i in 0..30 {
        let id = format!("f-{i:02}");
        let (s, v) = (api(&nodes[i % 3])
            .post("/v1/events", &json!({"type": "f.x", "id": id, "data": {}})))
        .await;
        assert_eq!(s, 202, "{v}");
        order.push(id);
    }
    let acked: HashSet<String> = order.iter().cloned().collect();
    let missing = missing_after(&recv, "/f", &acked, Duration::from_secs(30)).await;
    assert!(missing.is_empty(), "lost: {missing:?}");
    let mut seen = arrivals(&recv, "/f");
    seen.dedup(); // a retry of the head arrives right after its failed attempt
    assert_eq!(
        seen, order,
        "strict publish order, whichever node sent each"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoints_rate_holds_for_the_cluster() {
    let recv = Receiver::start().await;
    let t = TestDir::new();
    let url = util::pg::database().await;
    let eps = "  - { id: r, url: \"{{RECV}}/r\", rate: 10/s }\n";
    let cfg = config(&t, &url, eps, &recv.base);
    let nodes: Vec<Gateway> = (0..3).map(|i| node(&t, &cfg, i)).collect();
    for gw in &nodes {
        assert_eq!(api(gw).publish_numbered("r.x", 15).await, 202);
    }
    let done = eventually(Duration::from_secs(30), || recv.count("/r") >= 45);
    assert!(done.await, "{} of 45", recv.count("/r"));
    let got = recv.got_on("/r");
    let span = got.last().unwrap().at - got[0].at;
    // 45 at 10/s with a burst of 10: at least 3.5 s. Three nodes each at 10/s would take ~1.2 s.
    assert!(
        span >= Duration::from_millis(3_000),
        "45 deliveries in {span:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_changes_reach_every_node_within_a_second() {
    let recv = Receiver::start().await;
    let t = TestDir::new();
    let url = util::pg::database().await;
    let cfg = config(&t, &url, "  []\n", &recv.base);
    let nodes: Vec<Gateway> = (0..3).map(|i| node(&t, &cfg, i)).collect();
    tokio::time::sleep(Duration::from_millis(300)).await; // their notice connections
    let (s, v) = api(&nodes[0])
        .post(
            "/v1/endpoints",
            &json!({"id": "m", "tenant": "acme", "url": format!("{}/m", recv.base)}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let within = |gw: &Gateway, want: &'static str| {
        let api = api(gw);
        async move {
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(1) {
                let (_, v) = api.get("/v1/endpoints/m").await;
                if v["status"] == want || (want == "gone" && v["code"] == "not_found") {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            false
        }
    };
    assert!(
        within(&nodes[1], "active").await,
        "node 1 knows the new endpoint"
    );
    let event = json!({"type": "m.x", "tenant": "acme", "data": {}});
    let (s, v) = api(&nodes[1]).post("/v1/events", &event).await;
    assert_eq!(v["deliveries"].as_array().map(Vec::len), Some(1), "{s} {v}");
    let delivered = eventually(Duration::from_secs(10), || recv.count("/m") == 1);
    assert!(delivered.await);
    let (s, v) = api(&nodes[1])
        .post("/v1/endpoints/m/disable", &json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(
        within(&nodes[2], "disabled").await,
        "node 2 sees it disabled"
    );
    let (s, v) = api(&nodes[2])
        .post(
            "/v1/keys",
            &json!({"name": "ops", "scopes": ["endpoints:read"]}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let minted = v["key"].as_str().unwrap().to_string();
    let start = Instant::now();
    let reader = Api::new_at(&format!("http://{}", nodes[0].addr)).with_key(&minted);
    while reader.get("/v1/endpoints").await.0 != 200 {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "node 0 accepts the key minted on node 2"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (s, v) = api(&nodes[0]).send("DELETE", "/v1/endpoints/m", None).await;
    assert_eq!(s, 200, "{v}");
    assert!(within(&nodes[1], "gone").await, "node 1 forgets it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_leaves_alone_the_work_of_an_endpoint_only_another_node_knows() {
    let recv = Receiver::start().await;
    let t = TestDir::new();
    let url = util::pg::database().await;
    // One delivery an hour: the second publish stays pending, waiting for its token.
    let eps = "  - { id: a_only, url: \"{{RECV}}/a\", rate: 1/h }\n";
    let with = config(&t, &url, eps, &recv.base);
    let without = t.path().join("without.yaml");
    let text = std::fs::read_to_string(&with).unwrap();
    let head = text.split("endpoints:\n").next().unwrap();
    std::fs::write(&without, format!("{head}endpoints:\n  []\n")).unwrap();
    let knows = node(&t, &with, 0);
    let _other = node(&t, &without, 1);
    api(&knows).publish_one("a.x", json!({})).await;
    let waiting = api(&knows).publish_one("a.x", json!({})).await;
    // The other node rescans every second (half its 2 s lease) and finds the waiting work.
    tokio::time::sleep(Duration::from_millis(3_000)).await;
    let (_, d) = api(&knows).get(&format!("/v1/deliveries/{waiting}")).await;
    assert_eq!(
        d["status"], "pending",
        "not cancelled by a node without the endpoint: {d}"
    );
    assert_eq!(recv.count("/a"), 1, "the first went out, the second waits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_with_differing_config_files_say_so() {
    let t = TestDir::new();
    let url = util::pg::database().await;
    let cfg = config(&t, &url, "  []\n", "http://127.0.0.1:9");
    let _a = node(&t, &cfg, 0);
    let other = t.path().join("other.yaml");
    let text = std::fs::read_to_string(&cfg).unwrap() + "# a different file\n";
    std::fs::write(&other, text).unwrap();
    let b = node(&t, &other, 1);
    assert!(
        b.wait_log(
            "config file differs from another live node",
            Duration::from_secs(5)
        ),
        "{}",
        b.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_under_load_loses_nothing_and_service_resumes() {
    let db = util::pg::Postgres::dedicated("restart");
    let recv = Receiver::start().await;
    let t = TestDir::new();
    let url = db.conn("hookgate");
    let cfg = config(&t, &url, "  - { id: p, url: \"{{RECV}}/p\" }\n", &recv.base);
    let nodes: Vec<Gateway> = (0..2).map(|i| node(&t, &cfg, i)).collect();
    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let refusals: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut publishers = Vec::new();
    for (i, gw) in nodes.iter().enumerate() {
        let addr = gw.addr;
        let (acked, refusals, stop) = (acked.clone(), refusals.clone(), stop.clone());
        publishers.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let id = format!("p-{i}-{n}");
                n += 1;
                let r = http
                    .post(format!("http://{addr}/v1/events"))
                    .bearer_auth(KEY)
                    .json(&json!({"type": "p.x", "id": id, "data": {}}))
                    .send()
                    .await;
                let r = match r {
                    Ok(r) => r,
                    Err(e) => {
                        let what = format!("transport {e:?}");
                        *refusals.lock().unwrap().entry(what).or_default() += 1;
                        continue;
                    }
                };
                if r.status().is_success() {
                    acked.lock().unwrap().insert(id);
                    continue;
                }
                let retry_after = r.headers().contains_key("retry-after");
                let body: Value = r.json().await.unwrap_or_default();
                let code = format!("{} retry-after={retry_after}", body["code"]);
                *refusals.lock().unwrap().entry(code).or_default() += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    db.stop();
    let readyz = |gw: &Gateway| {
        let u = gw.url("/readyz");
        async move {
            reqwest::get(u)
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    let mut unready = false;
    for _ in 0..40 {
        if readyz(&nodes[0]).await == 503 {
            unready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(unready, "/readyz says 503 while the database is down");
    tokio::time::sleep(Duration::from_secs(2)).await;
    db.restart();
    let before = acked.lock().unwrap().len();
    let resumed = eventually(Duration::from_secs(20), || {
        acked.lock().unwrap().len() > before + 20
    });
    let resumed = resumed.await;
    assert!(
        resumed,
        "publishing resumed by itself ({} acked, {:?}):\n{}",
        acked.lock().unwrap().len(),
        refusals.lock().unwrap(),
        nodes[0].logs()
    );
    assert_eq!(readyz(&nodes[1]).await, 200);
    stop.store(true, Ordering::Relaxed);
    for p in publishers {
        p.await.unwrap();
    }
    let refusals = refusals.lock().unwrap().clone();
    assert!(
        refusals
            .keys()
            .all(|k| k == "\"store_unavailable\" retry-after=true"),
        "while down, publishes are refused as store_unavailable with Retry-After: {refusals:?}"
    );
    assert!(!refusals.is_empty(), "some publish met the outage");
    let acked = acked.lock().unwrap().clone();
    let missing = missing_after(&recv, "/p", &acked, Duration::from_secs(30)).await;
    assert!(
        missing.is_empty(),
        "{} lost: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    println!(
        "database restart: {} acknowledged, refusals {refusals:?}",
        acked.len()
    );
}
