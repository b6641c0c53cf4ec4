//! Secrets at rest: endpoint signing secrets are sealed with XChaCha20-Poly1305 before they
//! touch the database file, under a master key that never does.
//!
//! The master key comes from `HOOKGATE_MASTER_KEY` (32 bytes, base64 or hex) or, when that is
//! unset, from `data_dir/master.key`, created on first start with mode 0600. A copied database
//! file alone therefore reveals no secret. Each sealed value is bound to its row (the AAD is
//! the table and key), so a ciphertext moved to another endpoint's row fails to open.

use std::path::Path;

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

use super::StoreError;

/// Environment variable holding the master key.
pub const MASTER_KEY_ENV: &str = "HOOKGATE_MASTER_KEY";
/// File name of the generated master key inside `data_dir`.
pub const MASTER_KEY_FILE: &str = "master.key";
const NONCE_LEN: usize = 24;

/// The key that seals secrets at rest. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

fn bad_key(what: &str) -> StoreError {
    StoreError::Storage(
        format!("{what}: the master key must be 32 bytes, base64 or hex encoded").into(),
    )
}

impl MasterKey {
    /// Parses a base64 (standard or URL-safe) or hex encoding of 32 bytes.
    pub fn parse(text: &str, what: &str) -> Result<Self, StoreError> {
        let t = text.trim();
        let bytes = hex::decode(t)
            .ok()
            .filter(|b| b.len() == 32)
            .or_else(|| base64::engine::general_purpose::STANDARD.decode(t).ok())
            .or_else(|| base64::engine::general_purpose::URL_SAFE.decode(t).ok())
            .ok_or_else(|| bad_key(what))?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| bad_key(what))?;
        Ok(Self(arr))
    }

    /// A digest that tells keys apart without revealing them: nodes sharing a database compare
    /// it, so one started with another key is refused instead of failing to open secrets later.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"hookgate master key check v1\0");
        h.update(self.0);
        hex::encode(&h.finalize()[..16])
    }

    /// The key from `HOOKGATE_MASTER_KEY`, else from `dir/master.key` (created, mode 0600).
    pub fn from_env_or_file(dir: &Path) -> Result<Self, StoreError> {
        if let Ok(v) = std::env::var(MASTER_KEY_ENV) {
            return Self::parse(&v, MASTER_KEY_ENV);
        }
        let path = dir.join(MASTER_KEY_FILE);
        let io = |e: std::io::Error| StoreError::Storage(format!("{}: {e}", path.display()).into());
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir).map_err(io)?;
                let mut key = [0u8; 32];
                rand::rng().fill_bytes(&mut key);
                let text = base64::engine::general_purpose::STANDARD.encode(key);
                write_private(&path, text.as_bytes()).map_err(io)?;
                tracing::info!(path = %path.display(), "created a master key for secrets at rest; back it up with the database");
                Ok(Self(key))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Encrypts `plain`, bound to `context` (which table and row it belongs to).
    pub fn seal(&self, plain: &[u8], context: &str) -> Vec<u8> {
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plain,
            aad: context.as_bytes(),
        };
        // Encryption only fails for messages beyond ~256 GiB; a secret never is.
        let ct = cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        out
    }

    /// Decrypts what [`MasterKey::seal`] produced for the same `context`.
    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, StoreError> {
        let fail = || {
            StoreError::Corrupt {
            table: "secrets",
            detail: format!(
                "cannot decrypt the secret of {context}: wrong master key ({MASTER_KEY_ENV} or {MASTER_KEY_FILE}) or a damaged record"
            ),
        }
        };
        if sealed.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| fail())
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_bound_to_context() {
        let k = MasterKey([7; 32]);
        let s = k.seal(b"whsec_top", "endpoint:a");
        assert!(!s.windows(9).any(|w| w == b"whsec_top"));
        assert_eq!(k.open(&s, "endpoint:a").unwrap(), b"whsec_top");
        assert!(k.open(&s, "endpoint:b").is_err(), "moved to another row");
        assert!(
            MasterKey([8; 32]).open(&s, "endpoint:a").is_err(),
            "other key"
        );
        assert_ne!(
            k.seal(b"x", "c"),
            k.seal(b"x", "c"),
            "fresh nonce each time"
        );
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        // Only the file path is exercised: the env var is left alone (tests run in parallel).
        if std::env::var(MASTER_KEY_ENV).is_ok() {
            return;
        }
        let a = MasterKey::from_env_or_file(dir.path()).unwrap();
        let b = MasterKey::from_env_or_file(dir.path()).unwrap();
        assert_eq!(a.0, b.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(MASTER_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(format!("{a:?}").contains("***"));
    }

    #[test]
    fn parses_hex_and_base64_and_rejects_short() {
        let hex_key = "11".repeat(32);
        assert_eq!(MasterKey::parse(&hex_key, "t").unwrap().0, [0x11; 32]);
        let b64 = base64::engine::general_purpose::STANDARD.encode([0x22; 32]);
        assert_eq!(MasterKey::parse(&b64, "t").unwrap().0, [0x22; 32]);
        assert!(MasterKey::parse("abcd", "t").is_err());
    }
}
