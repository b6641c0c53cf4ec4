//! The API under many and hostile connections, on the real binary: half-sent headers are cut
//! at the header timeout, idle keep-alive connections at the idle timeout, the connection cap
//! sheds the connection idle the longest, and a publish still gets through while 2,000
//! half-open connections press on a 1,024 open-file limit.

mod util;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use util::*;

const PUB: &str = "hg_test_conn_publisher_0123456789";
const HALF_HEADER: &[u8] = b"POST /v1/events HTTP/1.1\r\nHost: x\r\n";

fn keyed(server: &str) -> String {
    base_config(&format!(
        r#"server:
{server}
auth:
  api_keys:
    - {{ name: publisher, key: "{PUB}", scopes: [events:publish, events:read] }}
"#
    ))
}

/// Raises this test process's own soft open-file limit: it holds thousands of sockets.
#[cfg(target_os = "linux")]
fn raise_own_open_files(need: u64) {
    let got = hookgate::server::open_files::raise_to_hard().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        got.limit >= need,
        "the test needs {need} open files, has {got:?}"
    );
}

/// Publishes one event through `api`, failing the test if it takes more than 10 s.
async fn publish_within_10s(gw: &Gateway, api: &Api) -> u16 {
    let body = json!({"type": "conn.test", "data": {}});
    let published = tokio::time::timeout(Duration::from_secs(10), api.post("/v1/events", &body));
    match published.await {
        Ok((status, _)) => status,
        Err(_) => panic!("publish got no answer within 10 s:\n{}", gw.logs()),
    }
}

/// Opens a connection and sends half a request header (or nothing). Returns `None` if the
/// gateway already closed it.
async fn half_open(addr: SocketAddr, send: &[u8]) -> Option<TcpStream> {
    let mut s = tokio::time::timeout(Duration::from_secs(20), TcpStream::connect(addr))
        .await
        .expect("connect within 20 s")
        .expect("connect");
    s.write_all(send).await.ok()?;
    Some(s)
}

/// Reads until the peer closes (EOF or reset). False if it is still open at `deadline`.
async fn closed_by(s: &mut TcpStream, deadline: Instant) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline.into(), s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// How long the gateway takes to close `s` (at most `limit`).
async fn time_to_close(s: &mut TcpStream, limit: Duration) -> Duration {
    let t0 = Instant::now();
    assert!(closed_by(s, t0 + limit).await, "still open after {limit:?}");
    t0.elapsed()
}

/// `GET /healthz` on a kept-alive connection; returns the status line.
async fn healthz(s: &mut TcpStream) -> String {
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).await.expect("read");
        assert!(n > 0, "closed before the response");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().expect("content-length"));
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).await.expect("read body");
        assert!(n > 0, "closed inside the body");
        buf.extend_from_slice(&chunk[..n]);
    }
    head.lines().next().unwrap_or("").to_string()
}

/// Whether `s` is still open: nothing to read and no close within 300 ms.
async fn still_open(s: &mut TcpStream) -> bool {
    !closed_by(s, Instant::now() + Duration::from_millis(300)).await
}

// `prlimit` is util-linux.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_gets_through_2000_half_open_connections_under_1024_open_files() {
    raise_own_open_files(2_500);
    let t = TestDir::new();
    let cfg = t.write_config(&keyed("  header_read_timeout: 1s"), "");
    // Hard limit 1,024 too, so raising the soft limit to the hard one cannot escape it.
    let mut cmd = Command::new("prlimit");
    cmd.args(["--nofile=1024:1024", "--", env!("CARGO_BIN_EXE_hookgate")]);
    let gw = Gateway::start_with(cmd, &cfg);
    assert!(
        gw.logs().contains("open_files_limit=1024") && gw.logs().contains("max_connections=512"),
        "start-up line reports the limit and the derived cap:\n{}",
        gw.logs()
    );

    let mut opening = JoinSet::new();
    for _ in 0..2_000 {
        let addr = gw.addr;
        opening.spawn(async move {
            let connect = TcpStream::connect(addr);
            let Ok(Ok(mut s)) = tokio::time::timeout(Duration::from_secs(10), connect).await else {
                return Err(()); // never accepted, not even into the backlog
            };
            // A write error means the gateway closed it already (shed): nothing to hold.
            Ok(s.write_all(HALF_HEADER).await.ok().map(|()| s))
        });
    }
    let opened = opening.join_all().await;
    let unconnected = opened.iter().filter(|r| r.is_err()).count();
    let held: Vec<TcpStream> = opened.into_iter().flatten().flatten().collect();

    let api = Api::new(&gw).with_key(PUB);
    assert_eq!(publish_within_10s(&gw, &api).await, 202, "{}", gw.logs());
    assert_eq!(unconnected, 0, "connections that could not even connect");

    // Every half-open connection is closed by the gateway: shed at the cap, or cut at the
    // header timeout, however long it waited in the backlog.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut reading = JoinSet::new();
    for mut s in held {
        reading.spawn(async move { closed_by(&mut s, deadline).await });
    }
    let open = reading.join_all().await.into_iter().filter(|c| !c).count();
    assert_eq!(open, 0, "half-open connections still open after 20 s");
    assert!(
        gw.logs().contains("connection cap reached"),
        "{}",
        gw.logs()
    );
    assert_eq!(publish_within_10s(&gw, &api).await, 202, "and after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_timeout_cuts_silent_and_half_sent_connections_but_not_keep_alive() {
    let t = TestDir::new();
    let cfg = t.write_config(&keyed("  header_read_timeout: 1s"), "");
    let gw = Gateway::start(&cfg);
    let opened = Instant::now();
    let mut silent = half_open(gw.addr, b"").await.expect("open");
    let mut half = half_open(gw.addr, HALF_HEADER).await.expect("open");
    let mut kept = half_open(gw.addr, b"").await.expect("open");
    assert_eq!(healthz(&mut kept).await, "http/1.1 200 ok");
    for (name, s) in [("silent", &mut silent), ("half header", &mut half)] {
        let closed = closed_by(s, opened + Duration::from_secs(5)).await;
        let took = opened.elapsed();
        assert!(
            closed && took >= Duration::from_millis(700),
            "{name}: {took:?}"
        );
    }
    // Past the header timeout, the kept-alive connection waits for its next request (the
    // idle timeout, 60 s by default, applies to it, not the header timeout).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(healthz(&mut kept).await, "http/1.1 200 ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let t = TestDir::new();
    let server = "  header_read_timeout: 30s\n  idle_timeout: 1s";
    let gw = Gateway::start(&t.write_config(&keyed(server), ""));
    let mut s = half_open(gw.addr, b"").await.expect("open");
    assert_eq!(healthz(&mut s).await, "http/1.1 200 ok");
    // A request within the idle timeout is served and starts the idle clock again.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(healthz(&mut s).await, "http/1.1 200 ok");
    let took = time_to_close(&mut s, Duration::from_secs(5)).await;
    assert!(took >= Duration::from_millis(700), "closed after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_the_connection_idle_the_longest_is_shed() {
    let t = TestDir::new();
    let server = "  header_read_timeout: 30s\n  max_connections: 4";
    let gw = Gateway::start(&t.write_config(&keyed(server), ""));
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(half_open(gw.addr, HALF_HEADER).await.expect("open"));
        // The gateway sees them in this order.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A fifth connection (the publish's) sheds the first.
    let api = Api::new(&gw).with_key(PUB);
    assert_eq!(publish_within_10s(&gw, &api).await, 202);
    let soon = Instant::now() + Duration::from_secs(3);
    assert!(closed_by(&mut held[0], soon).await, "oldest idle not shed");
    for s in &mut held[1..] {
        assert!(still_open(s).await, "a younger connection was shed");
    }
    // The publish's connection, pooled by `api`, went idle after the 2nd to 4th were
    // accepted: a sixth sheds the 2nd.
    let _sixth = half_open(gw.addr, HALF_HEADER).await.expect("open");
    assert!(closed_by(&mut held[1], Instant::now() + Duration::from_secs(3)).await);
    for s in &mut held[2..] {
        assert!(still_open(s).await, "a younger connection was shed");
    }
    assert!(gw.wait_log("connection cap reached", Duration::from_secs(5)));
    // Over the pooled connection, which is still open: counted as shed, twice.
    let metrics = api.http.get(gw.url("/metrics")).bearer_auth(PUB).send();
    let text = metrics.await.expect("metrics").text().await.expect("text");
    let want = "hookgate_http_connections_closed_total{reason=\"shed\"} 2";
    assert!(text.contains(want), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_idle_connections_at_once() {
    let t = TestDir::new();
    let yaml = r#"listen: 127.0.0.1:0
data_dir: "{{DIR}}/data"
delivery:
  shutdown_grace: 30s
"#;
    let mut gw = Gateway::start(&t.write_config(yaml, ""));
    let mut kept = half_open(gw.addr, b"").await.expect("open");
    assert_eq!(healthz(&mut kept).await, "http/1.1 200 ok");
    let mut half = half_open(gw.addr, HALF_HEADER).await.expect("open");
    let t0 = Instant::now();
    assert!(gw.terminate().success(), "{}", gw.logs());
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    let soon = Instant::now() + Duration::from_secs(1);
    assert!(closed_by(&mut kept, soon).await && closed_by(&mut half, soon).await);
}
