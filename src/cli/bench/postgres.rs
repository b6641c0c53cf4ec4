//! A throw-away PostgreSQL for the `cluster` scenario, from the server binaries the machine has
//! (`HOOKGATE_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin`), in a temporary directory,
//! listening on a unix socket there only. Durable as in production (`fsync` on), so the numbers
//! compare with redb's, which fsyncs every commit group. As root it runs as the `postgres`
//! user (PostgreSQL refuses root). Stopped when dropped.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// With this set, the server records statement statistics and the scenario prints where the
/// database's time went for each row.
pub const STATS_ENV: &str = "HOOKGATE_BENCH_PG_STATS";

/// The running server.
pub struct TempPostgres {
    dir: tempfile::TempDir,
    child: Child,
    bin: PathBuf,
    stats: bool,
}

impl TempPostgres {
    /// initdb + postgres, waiting until it accepts connections.
    pub fn start() -> anyhow::Result<Self> {
        let bin = bin_dir().map_err(anyhow::Error::msg)?;
        let who = run_as();
        let dir = tempfile::Builder::new()
            .prefix("hookgate-bench-pg")
            .tempdir()?;
        if let Some((uid, gid)) = who {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))?;
        }
        let data = dir.path().join("data");
        let out = command(&bin, "initdb", who)
            .args(["-A", "trust", "-U", "hookgate", "-E", "UTF8", "-D"])
            .arg(&data)
            .output()
            .context("running initdb")?;
        if !out.status.success() {
            bail!("initdb: {}", String::from_utf8_lossy(&out.stderr));
        }
        let log = std::fs::File::create(dir.path().join("log"))?;
        let stats = std::env::var_os(STATS_ENV).is_some();
        let mut cmd = command(&bin, "postgres", who);
        if stats {
            cmd.args([
                "-c",
                "shared_preload_libraries=pg_stat_statements,auto_explain",
            ])
            .args(["-c", "auto_explain.log_min_duration=20ms"])
            .args(["-c", "auto_explain.log_nested_statements=on"]);
        }
        cmd.arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(dir.path())
            .args(["-c", "listen_addresses=", "-c", "max_connections=300"])
            // Autovacuum looks at each database every second rather than every minute, as on a
            // server that runs a queue (README, "Running a cluster").
            .args(["-c", "autovacuum_naptime=1"])
            .stdout(Stdio::null())
            .stderr(log);
        let child = cmd.spawn().context("starting postgres")?;
        let server = TempPostgres {
            dir,
            child,
            bin: bin.clone(),
            stats,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !server.ready() {
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(server.dir.path().join("log"));
                bail!("postgres did not start: {}", log.unwrap_or_default());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    /// With [`STATS_ENV`]: the statements that took the most time since the last call, as
    /// text (then the counts start again); `None` without it.
    pub fn take_statement_stats(&self) -> Option<String> {
        if !self.stats {
            return None;
        }
        let sql = "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; \
            SELECT calls, round(total_exec_time) AS ms, rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 90) \
            FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 15; \
            SELECT pg_stat_statements_reset();";
        let out = Command::new(self.bin.join("psql"))
            .arg("-h")
            .arg(self.dir.path())
            .args(["-U", "hookgate", "-d", "postgres", "-qc", sql])
            .output()
            .ok()?;
        Some(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn ready(&self) -> bool {
        Command::new(self.bin.join("pg_isready"))
            .arg("-q")
            .arg("-h")
            .arg(self.dir.path())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// A new empty database; its connection string.
    pub fn database(&self, name: &str) -> anyhow::Result<String> {
        let out = Command::new(self.bin.join("psql"))
            .arg("-h")
            .arg(self.dir.path())
            .args(["-U", "hookgate", "-d", "postgres", "-qc"])
            .arg(format!("CREATE DATABASE {name}"))
            .output()
            .context("running psql")?;
        if !out.status.success() {
            bail!("create database: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(format!(
            "host={} user=hookgate dbname={name}",
            self.dir.path().display()
        ))
    }

    /// User + system CPU seconds of the server and every backend it runs now.
    pub fn cpu_seconds(&self) -> f64 {
        let root = self.child.id();
        let mut total = 0.0;
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some((ppid, cpu)) = stat(pid) {
                if pid == root || ppid == root {
                    total += cpu;
                }
            }
        }
        total
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        // SIGINT: fast shutdown.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGINT);
        }
        let _ = self.child.wait();
        if self.stats {
            let _ = std::fs::copy(self.dir.path().join("log"), "/tmp/hookgate-bench-pg.log");
        }
    }
}

/// A process's parent and its user + system CPU seconds (100 Hz ticks).
fn stat(pid: u32) -> Option<(u32, f64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let f: Vec<&str> = text.rsplit(')').next()?.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
    Some((num(1)? as u32, (num(11)? + num(12)?) / 100.0))
}

/// Where PostgreSQL's server binaries are: `HOOKGATE_PG_BIN`, else the newest Debian install
/// (`/usr/lib/postgresql/*/bin`), else `PATH`. The tests' own server (`tests/util/pg.rs`) finds
/// them the same way.
pub fn bin_dir() -> Result<PathBuf, String> {
    if let Ok(d) = std::env::var("HOOKGATE_PG_BIN") {
        return Ok(PathBuf::from(d));
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    if let Some(d) = versions.pop() {
        return Ok(d);
    }
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .find(|p| p.join("initdb").exists())
        .ok_or_else(|| {
            "no PostgreSQL server binaries (initdb, postgres): install Debian's postgresql \
             package or set HOOKGATE_PG_BIN"
                .to_string()
        })
}

/// The uid and gid to run the server as: ourselves (`None`), or as root, which PostgreSQL
/// refuses, the `postgres` user (else `nobody`).
pub fn run_as() -> Option<(u32, u32)> {
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let entry = |name: &str| {
        passwd.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&name)).then(|| (f[2].parse().ok(), f[3].parse().ok()))
        })
    };
    match entry("postgres").or_else(|| entry("nobody")) {
        Some((Some(u), Some(g))) => Some((u, g)),
        _ => None,
    }
}

/// `program` of the server binaries in `bin`, run as `who` (see [`run_as`]).
pub fn command(bin: &Path, program: &str, who: Option<(u32, u32)>) -> Command {
    let mut c = Command::new(bin.join(program));
    if let Some((uid, gid)) = who {
        c.uid(uid).gid(gid);
    }
    c
}
