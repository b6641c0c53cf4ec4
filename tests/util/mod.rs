//! Test harness: the real `hookgate` binary on loopback with a temp data dir, and a scriptable
//! receiver that records every request it gets.
#![allow(dead_code)]

pub mod pg;
pub mod records;

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// A running gateway process.
pub struct Gateway {
    pub child: Child,
    pub addr: SocketAddr,
    pub config: PathBuf,
    pub logs: Arc<Mutex<Vec<String>>>,
    /// The bootstrap token file and the token that the start-up line printed, when the gateway
    /// started without any key (see [`Gateway::bootstrap_token`]).
    pub bootstrap: Option<(PathBuf, String)>,
}

impl Gateway {
    /// Starts `hookgate serve --config <config>` and waits until it listens.
    pub fn start(config: &Path) -> Gateway {
        Gateway::start_with(Command::new(env!("CARGO_BIN_EXE_hookgate")), config)
    }

    /// Like [`Gateway::start`], for a config whose plugins take long to compile on a fresh
    /// data dir (JS and Python components are 2–20 MB; a gateway listens once they are loaded).
    pub fn start_compiling(config: &Path) -> Gateway {
        Gateway::start_waiting(
            Command::new(env!("CARGO_BIN_EXE_hookgate")),
            config,
            Duration::from_secs(180),
        )
    }

    /// Like [`Gateway::start`], with the program, working directory and environment of `cmd`.
    pub fn start_with(cmd: Command, config: &Path) -> Gateway {
        Gateway::start_waiting(cmd, config, Duration::from_secs(30))
    }

    fn start_waiting(mut cmd: Command, config: &Path, wait: Duration) -> Gateway {
        let mut child = cmd
            .args(["serve", "--log", "hookgate=debug,info", "--config"])
            .arg(config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hookgate");
        let stderr = child.stderr.take().expect("stderr");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let l2 = logs.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("hookgate listening") {
                    if let Some(a) = line
                        .split("addr=")
                        .nth(1)
                        .and_then(|r| r.split_whitespace().next())
                    {
                        if let Some(tx) = tx.take() {
                            let _ = tx.send(a.parse::<SocketAddr>().expect("addr"));
                        }
                    }
                }
                l2.lock().unwrap().push(line);
            }
        });
        let addr = match rx.recv_timeout(wait) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "gateway did not start:\n{}",
                    logs.lock().unwrap().join("\n")
                );
            }
        };
        // The bootstrap line is logged before "listening", so it is in `logs` by now.
        let bootstrap = logs.lock().unwrap().iter().find_map(|l| {
            let field = |name: &str| {
                l.split(&format!(" {name}="))
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next())
                    .map(str::to_string)
            };
            if !l.contains("bootstrap mode") {
                return None;
            }
            Some((PathBuf::from(field("file")?), field("token")?))
        });
        Gateway {
            child,
            addr,
            config: config.to_path_buf(),
            logs,
            bootstrap,
        }
    }

    /// The bootstrap token as a local tool finds it: the content of the gateway's
    /// `bootstrap.token` while that file exists (the gateway removes it once any key exists).
    pub fn bootstrap_token(&self) -> Option<String> {
        let (file, _) = self.bootstrap.as_ref()?;
        let t = std::fs::read_to_string(file).ok()?;
        Some(t.trim().to_string())
    }

    /// `req` with the bootstrap token as its Bearer key, when there is one (for tests that
    /// build raw requests against a gateway configured without keys).
    pub fn authed(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self.bootstrap_token() {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// `kill -9`: no chance to clean up.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        unsafe_kill(self.child.id(), "TERM");
        wait_exit(&mut self.child, Duration::from_secs(30))
    }

    /// SIGHUP: reload the config.
    pub fn hup(&self) {
        unsafe_kill(self.child.id(), "HUP");
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// Waits until a log line contains `needle` (after `skip` lines).
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, || {
            self.logs.lock().unwrap().iter().any(|l| l.contains(needle))
        })
    }
}

/// Fragments of every secret and API key the tests configure or get generated (standard
/// secrets all start `whsec_`, test keys `hg_`): none may ever reach a log line.
const SECRET_MARKERS: &[&str] = &[
    "whsec_",
    "hg_",
    "stripe_secret",
    "gh_secret",
    "mathub_secret",
    "configured_secret",
];

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            return;
        }
        let logs = self.logs.lock().unwrap();
        if let Some(line) = logs
            .iter()
            .find(|l| SECRET_MARKERS.iter().any(|m| l.contains(m)))
        {
            panic!("a secret or API key reached the logs: {line}");
        }
        // The bootstrap token is printed once, at start, and never again.
        if let Some((_, token)) = &self.bootstrap {
            let lines = logs.iter().filter(|l| l.contains(token.as_str())).count();
            assert_eq!(
                lines, 1,
                "the bootstrap token appeared in {lines} log lines"
            );
        }
        if let Some(line) = logs
            .iter()
            .find(|l| l.contains("hgboot_") && !l.contains("bootstrap mode"))
        {
            panic!("a bootstrap token reached the logs after the start-up line: {line}");
        }
    }
}

fn unsafe_kill(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

fn wait_exit(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("gateway did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `f` every 20 ms until it is true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// Async variant of [`wait_until`].
pub async fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}

/// A temp dir with a config file written into it; `{{RECV}}` in the YAML is replaced by the
/// receiver's base URL and `{{DIR}}` by the temp dir.
pub struct TestDir {
    pub dir: tempfile::TempDir,
}

impl TestDir {
    pub fn new() -> Self {
        TestDir {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn write_config(&self, yaml: &str, recv: &str) -> PathBuf {
        let p = self.dir.path().join("hookgate.yaml");
        self.write_config_at(&p, yaml, recv);
        p
    }
    pub fn write_config_at(&self, p: &Path, yaml: &str, recv: &str) {
        let text = yaml
            .replace("{{RECV}}", recv)
            .replace("{{DIR}}", &self.dir.path().display().to_string());
        // Write then rename, as editors do, so the watcher never reads half a file.
        let tmp = p.with_extension("tmp");
        std::fs::write(&tmp, text).expect("write config");
        std::fs::rename(&tmp, p).expect("rename config");
    }
}

/// The sum of the `/metrics` series whose line starts with `name` (a name, or a name with its
/// labels), 0 when there is none; read with `key`, else the bootstrap token.
pub async fn metric_with(gw: &Gateway, key: Option<&str>, name: &str) -> f64 {
    let req = reqwest::Client::new().get(gw.url("/metrics"));
    let req = match key {
        Some(k) => req.bearer_auth(k),
        None => gw.authed(req),
    };
    let text = req.send().await.unwrap().text().await.unwrap();
    (text.lines())
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The standard test preamble: loopback, http allowed, fast retries.
pub fn base_config(extra: &str) -> String {
    format!(
        r#"listen: 127.0.0.1:0
data_dir: "{{{{DIR}}}}/data"
delivery:
  timeout: 1s
  retry_schedule: [100ms, 200ms, 300ms]
  jitter: 0
  auto_disable_after: 0
  shutdown_grace: 2s
network:
  allow_http: true
  allow_private: [127.0.0.0/8]
{extra}"#
    )
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("json body")
    }
}

/// A scripted reply.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub delay: Duration,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Reply {
            status,
            delay: Duration::ZERO,
            headers: vec![],
        }
    }
    pub fn sleep(d: Duration) -> Self {
        Reply {
            status: 200,
            delay: d,
            headers: vec![],
        }
    }
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
}

#[derive(Default)]
struct RecvState {
    got: Mutex<Vec<Received>>,
    script: Mutex<HashMap<String, VecDeque<Reply>>>,
    default: Mutex<HashMap<String, Reply>>,
}

/// A loopback receiver.
#[derive(Clone)]
pub struct Receiver {
    pub base: String,
    state: Arc<RecvState>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let state = Arc::new(RecvState::default());
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", l.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(l, app).await.expect("receiver") });
        Receiver { base, state }
    }

    /// Queues replies for a path (consumed in order; then the default).
    pub fn script(&self, path: &str, replies: Vec<Reply>) {
        self.state
            .script
            .lock()
            .unwrap()
            .entry(path.into())
            .or_default()
            .extend(replies);
    }

    /// Sets the reply for a path once its script is used up (default 200).
    pub fn default_reply(&self, path: &str, r: Reply) {
        self.state.default.lock().unwrap().insert(path.into(), r);
    }

    pub fn got(&self) -> Vec<Received> {
        self.state.got.lock().unwrap().clone()
    }

    pub fn got_on(&self, path: &str) -> Vec<Received> {
        self.got().into_iter().filter(|r| r.path == path).collect()
    }

    /// Requests received on any path (without copying them, unlike `got().len()`).
    pub fn total(&self) -> usize {
        self.state.got.lock().unwrap().len()
    }

    pub fn count(&self, path: &str) -> usize {
        self.state
            .got
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .count()
    }
}

async fn handle(
    State(st): State<Arc<RecvState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    st.got.lock().unwrap().push(Received {
        path: path.clone(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: body.to_vec(),
        at: Instant::now(),
    });
    let reply = {
        let mut s = st.script.lock().unwrap();
        s.get_mut(&path).and_then(VecDeque::pop_front)
    }
    .or_else(|| st.default.lock().unwrap().get(&path).cloned())
    .unwrap_or(Reply::status(200));
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut resp = (StatusCode::from_u16(reply.status).expect("status"), "ok").into_response();
    for (k, v) in reply.headers {
        resp.headers_mut().insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
            v.parse().expect("value"),
        );
    }
    resp
}

/// A server that accepts, reads the request, then resets the connection (RST).
pub async fn reset_server() -> (String, Arc<Mutex<usize>>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", l.local_addr().expect("addr"));
    let hits = Arc::new(Mutex::new(0usize));
    let h2 = hits.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                break;
            };
            *h2.lock().unwrap() += 1;
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                // Zero linger makes the close an RST (a reset, not a FIN); with zero it does
                // not block, which is what the deprecation warns about.
                #[allow(deprecated)]
                let _ = s.set_linger(Some(Duration::ZERO));
                drop(s);
            });
        }
    });
    (base, hits)
}

/// Sends a request and reads the answer as JSON, asserting that every error is problem+json.
async fn answer(req: reqwest::RequestBuilder, what: &str) -> (u16, Value) {
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let text = resp.text().await.expect("text");
    if status >= 400 {
        assert_eq!(
            ct.as_deref(),
            Some("application/problem+json"),
            "{what}: error without problem+json: {text}"
        );
    }
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Builds the `plugins/` workspace with the plugins README's command (installing the wasm
/// target first if missing), once per test binary; returns the directory of the `.wasm` files.
pub fn plugins_wasm_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("plugins");
        hookgate::wasm_toolchain::ensure_wasm_target(std::ffi::OsStr::new("rustc"), &root)
            .unwrap_or_else(|e| panic!("{e}"));
        let status = Command::new(env!("CARGO"))
            .args(["build", "--release", "--target", "wasm32-wasip2"])
            .current_dir(&root)
            .status()
            .expect("cargo build for plugins");
        assert!(status.success(), "building the plugins failed");
        root.join("target/wasm32-wasip2/release")
    })
    .clone()
}

/// Runs the hookgate binary with `args` in `dir`; (exit 0, stdout + stderr).
pub fn hookgate(args: &[&str], dir: &Path) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookgate"));
    run_output(cmd.args(args).current_dir(dir))
}

/// Runs `cmd` to the end; (exit 0, stdout + stderr).
pub fn run_output(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Runs `python3 tests/<script>` with `input` as JSON on stdin; returns (exit 0, stdout trimmed).
/// The verifiers there share no code with ours.
pub fn python(script: &str, input: &Value) -> (bool, String) {
    use std::io::Write;
    let mut child = Command::new("python3")
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests")
                .join(script),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.to_string().as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success(), stdout)
}

/// A small blocking-free API client for tests.
pub struct Api {
    pub base: String,
    pub key: Option<String>,
    pub http: reqwest::Client,
}

impl Api {
    /// A client for `gw`, with no key, or with the bootstrap token while `gw` has one (what
    /// `hookgate` client commands do on the gateway's host).
    pub fn new(gw: &Gateway) -> Api {
        Api {
            base: format!("http://{}", gw.addr),
            key: gw.bootstrap_token(),
            http: reqwest::Client::new(),
        }
    }

    /// A client for `gw` that presents no key at all.
    pub fn anonymous(gw: &Gateway) -> Api {
        Api::new_at(&format!("http://{}", gw.addr))
    }
    pub fn new_at(base: &str) -> Api {
        Api {
            base: base.to_string(),
            key: None,
            http: reqwest::Client::new(),
        }
    }
    pub fn with_key(mut self, key: &str) -> Api {
        self.key = Some(key.into());
        self
    }
    pub async fn post_raw(
        &self,
        path: &str,
        body: Vec<u8>,
        content_type: Option<&str>,
    ) -> (u16, Value) {
        let mut r = self.http.post(format!("{}{}", self.base, path)).body(body);
        if let Some(ct) = content_type {
            r = r.header("content-type", ct);
        }
        if let Some(k) = &self.key {
            r = r.bearer_auth(k);
        }
        answer(r, &format!("POST {path}")).await
    }
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.post_raw(
            path,
            serde_json::to_vec(body).unwrap(),
            Some("application/json"),
        )
        .await
    }
    /// Publishes `n` events of type `ty` with data `{"i": 0..n}` as one batch; returns the status.
    pub async fn publish_numbered(&self, ty: &str, n: usize) -> u16 {
        let events: Vec<Value> = (0..n)
            .map(|i| serde_json::json!({"type": ty, "data": {"i": i}}))
            .collect();
        self.post("/v1/events/batch", &serde_json::json!({ "events": events }))
            .await
            .0
    }
    /// Any method, with an optional JSON body; asserts errors are problem+json.
    pub async fn send(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut r = self.http.request(m, format!("{}{}", self.base, path));
        if let Some(b) = body {
            r = r.json(b);
        }
        if let Some(k) = &self.key {
            r = r.bearer_auth(k);
        }
        answer(r, &format!("{method} {path}")).await
    }
    /// Publishes one event that fans out to exactly one endpoint; returns its delivery id.
    pub async fn publish_one(&self, ty: &str, data: Value) -> String {
        let (s, v) =
            (self.post("/v1/events", &serde_json::json!({"type": ty, "data": data}))).await;
        assert_eq!(s, 202, "{v}");
        assert_eq!(v["deliveries"].as_array().unwrap().len(), 1, "{v}");
        v["deliveries"][0]["id"].as_str().unwrap().to_string()
    }
    /// Publishes `{type, data}` and returns the id of its delivery to `endpoint` (one of
    /// possibly several).
    pub async fn publish_for(&self, ty: &str, data: Value, endpoint: &str) -> String {
        let (s, v) = self
            .post("/v1/events", &serde_json::json!({"type": ty, "data": data}))
            .await;
        assert_eq!(s, 202, "{v}");
        let mut deliveries = v["deliveries"].as_array().unwrap().iter();
        let mine = deliveries.find(|d| d["endpoint_id"] == endpoint);
        let mine = mine.unwrap_or_else(|| panic!("no delivery to {endpoint}: {v}"));
        mine["id"].as_str().unwrap().to_string()
    }
    /// The hostile-plugin tests' round: publishes `{id}.x` (data `{"ep": id}`) for each id,
    /// waits until an endpoint `healthy` beside them received every event, and returns each
    /// id's own delivery.
    pub async fn publish_beside_healthy(
        &self,
        recv: &Receiver,
        ids: &[&str],
        wait: Duration,
    ) -> Vec<String> {
        let mut dels = Vec::new();
        for id in ids {
            let ty = format!("{id}.x");
            dels.push(
                self.publish_for(&ty, serde_json::json!({"ep": id}), id)
                    .await,
            );
        }
        let all = || recv.count("/healthy") == ids.len();
        assert!(
            eventually(wait, all).await,
            "the healthy endpoint got {} of {} while the plugins beside it misbehaved",
            recv.count("/healthy"),
            ids.len()
        );
        dels
    }
    /// A delivery once it reached `want`; for `pending`, once its first attempt is recorded.
    pub async fn settled(&self, id: &str, want: &str) -> Value {
        if want != "pending" {
            return self.wait_status(id, &[want]).await;
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (_, d) = self.get(&format!("/v1/deliveries/{id}")).await;
            if d["attempts"].as_u64().unwrap_or(0) >= 1 || Instant::now() > deadline {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    /// Polls a delivery until its status is one of `want` (or 20 s pass); returns it.
    pub async fn wait_status(&self, id: &str, want: &[&str]) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (_, d) = self.get(&format!("/v1/deliveries/{id}")).await;
            if want.contains(&d["status"].as_str().unwrap_or("")) || Instant::now() > deadline {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let mut r = self.http.get(format!("{}{}", self.base, path));
        if let Some(k) = &self.key {
            r = r.bearer_auth(k);
        }
        let resp = r.send().await.expect("send");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}
