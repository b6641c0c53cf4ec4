//! A real PostgreSQL for the tests, started by the tests themselves from the server binaries the
//! machine has (`initdb` and `postgres` of Debian's PostgreSQL 15 here), so `cargo test` needs no
//! running server and no setup step.
//!
//! One server per test process, in a temporary directory, listening only on a unix socket
//! there. It is started the first time a test asks for a database and stops when the test
//! process ends (the parent-death signal), even if the process is killed. As root (CI), it runs
//! as the `postgres` user, because PostgreSQL refuses to run as root. Each test gets its own
//! fresh database.
//!
//! The binaries are found, and run as which user, by the same functions the bench's own
//! server uses (`hookgate::cli::bench::postgres`). A machine without them fails the test with a
//! message saying what is missing: a PostgreSQL test is never skipped silently.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hookgate::cli::bench::postgres::{bin_dir, command, run_as};

/// The test process's server.
pub struct Postgres {
    /// Directory holding the data dir, the log and the socket.
    pub dir: PathBuf,
    /// Server settings beyond the defaults, e.g. TLS on a TCP port.
    settings: Vec<String>,
}

static SERVER: OnceLock<Result<Postgres, String>> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// A fresh, empty database on the test process's server; its connection string.
pub async fn database() -> String {
    let server = SERVER
        .get_or_init(start)
        .as_ref()
        .unwrap_or_else(|e| panic!("cannot start the tests' PostgreSQL: {e}"));
    let name = format!("t{}", NEXT_DB.fetch_add(1, Ordering::SeqCst));
    let admin = server.conn("postgres");
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .expect("connect to the tests' PostgreSQL");
    tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create a test database");
    server.conn(&name)
}

impl Postgres {
    /// The connection string of database `db`.
    pub fn conn(&self, db: &str) -> String {
        format!(
            "host={} port={} user=hookgate dbname={db}",
            self.dir.display(),
            self.port()
        )
    }

    /// The port it listens on (its socket's name says it too): 5432 unless a setting says.
    pub fn port(&self) -> &str {
        (self.settings.iter())
            .find_map(|s| s.strip_prefix("port="))
            .unwrap_or("5432")
    }
}

fn start() -> Result<Postgres, String> {
    let dir = std::env::temp_dir().join(format!("hookgate-pg-{}", std::process::id()));
    let server = Postgres::init(dir)?;
    server.launch()?;
    Ok(server)
}

impl Postgres {
    /// A server of its own (not the test process's shared one), which a test may stop and
    /// start again; its database `hookgate` exists. Stopped when the test process ends.
    pub fn dedicated(name: &str) -> Postgres {
        Postgres::dedicated_with(name, |_| Vec::new())
    }

    /// [`Postgres::dedicated`] with extra server settings (`name=value`, later ones win), made
    /// from its directory, where a test may put files the server reads (a certificate).
    pub fn dedicated_with(name: &str, settings: impl FnOnce(&Postgres) -> Vec<String>) -> Postgres {
        let dir = std::env::temp_dir().join(format!("hookgate-pg-{}-{name}", std::process::id()));
        let mut server =
            Postgres::init(dir).unwrap_or_else(|e| panic!("cannot set up PostgreSQL: {e}"));
        server.settings = settings(&server);
        server
            .launch()
            .unwrap_or_else(|e| panic!("cannot start PostgreSQL: {e}"));
        let out = command(&bin_dir().unwrap(), "psql", run_as())
            .args(["-h"])
            .arg(&server.dir)
            .args(["-p", server.port()])
            .args([
                "-U",
                "hookgate",
                "-d",
                "postgres",
                "-c",
                "CREATE DATABASE hookgate",
            ])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        server
    }

    /// Stops the server (fast shutdown: connections are cut, as when a database goes away).
    pub fn stop(&self) {
        let out = command(&bin_dir().unwrap(), "pg_ctl", run_as())
            .args(["stop", "-m", "fast", "-w", "-D"])
            .arg(self.dir.join("data"))
            .output()
            .expect("run pg_ctl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts a stopped server again, on the same data.
    pub fn restart(&self) {
        self.launch()
            .unwrap_or_else(|e| panic!("cannot restart PostgreSQL: {e}"));
    }

    fn init(dir: PathBuf) -> Result<Postgres, String> {
        let bin = bin_dir()?;
        let who = run_as();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if let Some((uid, gid)) = who {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).map_err(|e| e.to_string())?;
        }
        let out = command(&bin, "initdb", who)
            .args(["-A", "trust", "-U", "hookgate", "-E", "UTF8", "--no-sync"])
            .arg("-D")
            .arg(dir.join("data"))
            .output()
            .map_err(|e| format!("run {}/initdb: {e}", bin.display()))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(Postgres {
            dir,
            settings: Vec::new(),
        })
    }

    /// Writes `bytes` to `name` in the server's directory, owned by the server's user and
    /// readable by it alone (as PostgreSQL wants a key file); returns the path.
    pub fn private_file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let file = self.dir.join(name);
        std::fs::write(&file, bytes).expect("write");
        if let Some((uid, gid)) = run_as() {
            std::os::unix::fs::chown(&file, Some(uid), Some(gid)).expect("chown");
        }
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        file
    }

    /// Runs `postgres` on the data dir until it is stopped or the test process ends.
    fn launch(&self) -> Result<(), String> {
        let bin = bin_dir()?;
        let dir = &self.dir;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("log"))
            .map_err(|e| e.to_string())?;
        let mut server = command(&bin, "postgres", run_as());
        server
            .arg("-D")
            .arg(dir.join("data"))
            .arg("-k")
            .arg(dir)
            // Only the unix socket; no fsync (the tests crash gateways, never this server).
            .args(["-c", "listen_addresses=", "-c", "fsync=off"])
            .args(["-c", "max_connections=200"])
            .args(self.settings.iter().flat_map(|s| ["-c", s.as_str()]))
            .stdout(Stdio::null())
            .stderr(log);
        // Stop with the test process, however it ends (the signal is set after the uid change,
        // which would clear it).
        unsafe {
            server.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGINT);
                Ok(())
            });
        }
        let (tx, rx) = std::sync::mpsc::channel();
        // The parent-death signal follows the thread that forked, so a thread that lives as
        // long as the server forks it (a test's own thread ends with the test).
        std::thread::spawn(move || match server.spawn() {
            Ok(mut child) => {
                let _ = tx.send(Ok(()));
                let _ = child.wait();
            }
            Err(e) => {
                let _ = tx.send(Err(format!("start postgres: {e}")));
            }
        });
        rx.recv().map_err(|e| e.to_string())??;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = command(&bin, "pg_isready", None)
                .arg("-h")
                .arg(dir)
                .args(["-p", self.port(), "-q"])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
                return Err(format!("postgres did not start in 30 s:\n{log}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
