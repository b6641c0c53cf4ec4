//! The gateway under test: a child `hookgate serve` process with its own temporary data dir,
//! restartable in place (the backlog scenario measures restart time with a full queue).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};

/// The publish key the bench gateway is configured with and the load generator sends: a gateway
/// without keys answers nothing but its bootstrap token, and publishing with a key is what
/// production does. The gateway listens on loopback only, for the length of the run.
pub const BENCH_KEY: &str = "hg_bench_publisher_key_for_this_run_only";
/// The admin key of the bench gateway (the `endpoints` scenario creates endpoints with it).
pub const BENCH_ADMIN_KEY: &str = "hg_bench_admin_key_for_this_run_only";

/// What the gateway is configured with.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// Endpoints `ep0…`, all pointing at the bench receiver.
    pub endpoints: usize,
    /// Extra YAML lines for each endpoint (indented 4 spaces), e.g. `    rate: 1/h\n`.
    pub endpoint_extra: String,
    /// A `delivery:` section, if the defaults will not do.
    pub delivery: String,
    /// A `plugins:` section, if any.
    pub plugins: String,
    /// A `storage:` section (default: redb in the data dir).
    pub storage: String,
    /// A `retention:` section (default: the gateway's own defaults, days).
    pub retention: String,
}

impl Setup {
    fn yaml(&self, data_dir: &std::path::Path, recv_url: &str) -> String {
        let section = if self.endpoints == 0 {
            "endpoints: []\n".to_string()
        } else {
            (0..self.endpoints).fold("endpoints:\n".to_string(), |mut y, i| {
                y.push_str(&format!(
                    "  - id: ep{i}\n    url: \"{recv_url}\"\n    secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n{}",
                    self.endpoint_extra
                ));
                y
            })
        };
        format!(
            "listen: 127.0.0.1:0\ndata_dir: \"{}\"\n{}auth:\n  api_keys:\n    - {{ name: bench, key: \"{BENCH_KEY}\", scopes: [events:publish] }}\n    - {{ name: bench-admin, key: \"{BENCH_ADMIN_KEY}\", scopes: [admin] }}\nnetwork:\n  allow_http: true\n  allow_private: [127.0.0.0/8]\n{}{}{}{section}",
            data_dir.display(),
            self.storage,
            self.retention,
            self.delivery,
            self.plugins
        )
    }
}

/// A running gateway process.
pub struct GatewayProc {
    child: Child,
    addr: String,
    dir: tempfile::TempDir,
    /// From spawn to "listening": the start-up time.
    pub startup: Duration,
}

impl GatewayProc {
    /// Starts a gateway with a fresh data dir.
    pub fn start(setup: &Setup, recv_url: &str) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let (child, addr, startup) = spawn(&dir, setup, recv_url)?;
        Ok(Self {
            child,
            addr,
            dir,
            startup,
        })
    }

    /// Stops it with SIGTERM (graceful) and starts it again on the same data with `setup`.
    pub fn restart(mut self, setup: &Setup, recv_url: &str) -> anyhow::Result<Self> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        let (child, addr, startup) = spawn(&self.dir, setup, recv_url)?;
        self.child = child;
        self.addr = addr;
        self.startup = startup;
        Ok(self)
    }

    /// The base URL of the API.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The publish URL.
    pub fn url(&self) -> String {
        format!("{}/v1/events", self.base())
    }

    /// Peak RSS (MiB) and current RSS (MiB), from /proc.
    pub fn rss_mib(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
                / 1024.0
        };
        (field("VmHWM:"), field("VmRSS:"))
    }

    /// User + system CPU seconds (assumes the usual 100 Hz clock tick).
    pub fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let after = stat.rsplit(')').next().unwrap_or("");
        let f: Vec<&str> = after.split_whitespace().collect();
        let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        (t(11) + t(12)) / 100.0
    }
}

impl Drop for GatewayProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The master key every bench gateway gets, so nodes sharing a database open each other's
/// secrets.
const BENCH_MASTER_KEY: &str = "62656e63682d6d61737465722d6b65792d666f722d746869732d72756e2d2d2d";

/// Environment variable naming another `hookgate` binary to run as the gateway under test
/// (the load generator and receiver stay this one), so two builds compare in one run.
pub const GATEWAY_ENV: &str = "HOOKGATE_BENCH_GATEWAY";

fn gateway_program() -> anyhow::Result<PathBuf> {
    match std::env::var_os(GATEWAY_ENV) {
        Some(p) => Ok(PathBuf::from(p)),
        None => Ok(std::env::current_exe()?),
    }
}

fn spawn(
    dir: &tempfile::TempDir,
    setup: &Setup,
    recv_url: &str,
) -> anyhow::Result<(Child, String, Duration)> {
    let cfg: PathBuf = dir.path().join("bench.yaml");
    std::fs::write(&cfg, setup.yaml(&dir.path().join("data"), recv_url))?;
    let started = Instant::now();
    let mut child = Command::new(gateway_program()?)
        .args(["serve", "--log", "hookgate::app=info,warn", "--config"])
        .arg(&cfg)
        .env("HOOKGATE_MASTER_KEY", BENCH_MASTER_KEY)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the gateway process")?;
    let stderr = child.stderr.take().ok_or_else(|| anyhow!("no stderr"))?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(a) = line
                .split("addr=")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
            {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(a.to_string());
                }
            } else if line.contains("ERROR") {
                eprintln!("gateway: {line}");
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .map_err(|_| anyhow!("the gateway did not start"))?;
    Ok((child, addr, started.elapsed()))
}
