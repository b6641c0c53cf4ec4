//! First access without a key: a one-time bootstrap token, valid only until a key exists.
//!
//! A gateway with no API key at all (none in the config file, none minted) cannot be reached
//! with a key, so someone must be let in to mint the first one. Letting in every keyless loopback
//! caller is not safe: a reverse proxy on the same host (nginx, Caddy, a TCP proxy) makes every
//! internet caller a loopback peer, and nginx by default adds no header that would tell them
//! apart. So the first caller must prove it can read the gateway's host instead:
//!
//! - at start, while no key exists, a random token (32 bytes from the OS CSPRNG, `hgboot_` +
//!   hex) is generated, printed once in the log, and written to `<data_dir>/bootstrap.token`
//!   with mode 0600 so local tools (the CLI) can read it;
//! - only a request presenting that token as `Authorization: Bearer …`, from a loopback peer,
//!   carrying no proxy header ([`PROXY_HEADERS`]), is the `bootstrap` caller (`admin`);
//! - as soon as any key exists (the first minted key, or keys in the config after a reload) the
//!   token is refused and its file removed, for the rest of the process. A later start with no
//!   key makes a new token.
//!
//! Only the token's SHA-256 is kept in memory; it is compared in constant time.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use axum::http::HeaderMap;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What every bootstrap token starts with: recognisable, and distinct from minted keys (`hg_`),
/// so it is never mistaken for one. Hex after it, so it never contains `_` by chance.
pub const TOKEN_PREFIX: &str = "hgboot_";
/// The token file's name inside the data dir (the CLI looks for it there).
pub const TOKEN_FILE: &str = "bootstrap.token";

/// Headers a proxy adds (RFC 7239 `Forwarded`, the de-facto `X-Forwarded-*` family,
/// `X-Real-IP`, and `Via`, which RFC 9110 asks every proxy to send). A request carrying any of
/// them came through something that may be relaying an outside caller: never bootstrap.
pub const PROXY_HEADERS: &str = "Forwarded, X-Forwarded-*, X-Real-IP or Via";

/// Whether `headers` show the request came through a proxy (see [`PROXY_HEADERS`]).
pub fn came_through_proxy(headers: &HeaderMap) -> bool {
    headers.keys().any(|k| {
        let k = k.as_str();
        k == "forwarded" || k == "x-real-ip" || k == "via" || k.starts_with("x-forwarded-")
    })
}

/// The bootstrap state of one running gateway: the token's digest and file while it is valid.
#[derive(Debug, Default)]
pub struct Bootstrap {
    /// `Some` from start until the first key exists; `None` once ended (or never begun because
    /// keys existed at start). A mutex, not an atomic: it is read once per keyless-or-unknown
    /// request and written once per process.
    active: Mutex<Option<Active>>,
}

#[derive(Debug)]
struct Active {
    sha256: [u8; 32],
    file: PathBuf,
}

impl Bootstrap {
    /// No bootstrap: keys exist, or nothing should ever be let in without one.
    pub fn off() -> Self {
        Self::default()
    }

    /// Generates a token, writes it to `<data_dir>/bootstrap.token` (mode 0600, replacing an
    /// older one) and returns the state with the token, which the caller logs once.
    pub fn begin(data_dir: &Path) -> std::io::Result<(Self, String)> {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token = format!("{TOKEN_PREFIX}{}", hex::encode(bytes));
        let file = data_dir.join(TOKEN_FILE);
        write_private(&file, token.as_bytes())?;
        let active = Active {
            sha256: Sha256::digest(token.as_bytes()).into(),
            file,
        };
        Ok((
            Bootstrap {
                active: Mutex::new(Some(active)),
            },
            token,
        ))
    }

    /// Whether bootstrap is still possible (no key has appeared since start).
    pub fn is_active(&self) -> bool {
        self.lock().is_some()
    }

    /// Whether `digest` (the SHA-256 of a presented bearer token) is the bootstrap token's, in
    /// constant time. False once ended.
    pub fn matches(&self, digest: &[u8; 32]) -> bool {
        self.lock()
            .as_ref()
            .is_some_and(|a| bool::from(a.sha256.ct_eq(digest)))
    }

    /// Ends bootstrap for good: the token is refused from now on and its file is removed.
    /// Called whenever keys may have appeared; does nothing after the first time.
    pub fn end(&self) {
        let Some(a) = self.lock().take() else {
            return;
        };
        match std::fs::remove_file(&a.file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(file = %a.file.display(), error = %e, "cannot remove the bootstrap token file (the token no longer works)")
            }
        }
        tracing::info!(
            "an API key exists: bootstrap mode ended, the bootstrap token no longer works"
        );
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Active>> {
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Removes a token file left by an earlier run (keys exist now, so it is stale).
pub fn remove_stale(data_dir: &Path) {
    let _ = std::fs::remove_file(data_dir.join(TOKEN_FILE));
}

/// Writes `bytes` to `path` readable by the owner only, atomically (temp file + rename), so a
/// local tool never reads half a token and the token is never world-readable, not even briefly.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("token.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_works_until_ended_and_its_file_goes() {
        let dir = tempfile::tempdir().unwrap();
        let (b, token) = Bootstrap::begin(dir.path()).unwrap();
        let file = dir.path().join(TOKEN_FILE);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), token);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        assert!(b.matches(&digest));
        assert!(!b.matches(&Sha256::digest(b"hgboot_other").into()));
        b.end();
        assert!(!b.matches(&digest));
        assert!(!file.exists());
    }

    #[test]
    fn proxy_headers_are_recognised() {
        for name in [
            "forwarded",
            "x-forwarded-for",
            "x-forwarded-proto",
            "x-real-ip",
            "via",
        ] {
            let mut h = HeaderMap::new();
            h.insert(
                axum::http::HeaderName::from_static(name),
                "1".parse().unwrap(),
            );
            assert!(came_through_proxy(&h), "{name}");
        }
        let mut h = HeaderMap::new();
        h.insert("x-team", "1".parse().unwrap());
        assert!(!came_through_proxy(&h));
    }
}
