//! [`Secret`]: a signing secret that cannot leak through logs or debug output.

use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rand::RngCore;
use serde::de::Error as _;

use super::Scheme;

/// Prefix of secrets in the Standard Webhooks format (`whsec_<base64 key>`).
const WHSEC_PREFIX: &str = "whsec_";

/// Number of random bytes in a generated secret: the HMAC-SHA256 output size,
/// the key length Standard Webhooks recommends.
const GENERATED_LEN: usize = 32;

/// A signing secret. Wrapped so that it is never printed by accident: `Debug`
/// shows `Secret(***)` and `Display` shows `***`; [`Secret::expose`] is the
/// only way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret read from config or storage.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret as written. Named loudly so that every read is greppable
    /// and deliberate.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A fresh secret for a new endpoint or a rotation: `whsec_` followed by
    /// base64 of 32 bytes from the thread-local CSPRNG (seeded by the OS), so
    /// it works unchanged with every scheme and with Standard Webhooks
    /// receiver libraries.
    pub fn generate() -> Self {
        let mut bytes = [0u8; GENERATED_LEN];
        rand::rng().fill_bytes(&mut bytes);
        Self(format!("{WHSEC_PREFIX}{}", B64.encode(bytes)))
    }

    /// The HMAC key for `scheme`. Standard Webhooks keys are the base64
    /// payload of `whsec_...` (an optional prefix); a secret that is not valid
    /// base64 falls back to the raw bytes of the whole string so that
    /// hand-written secrets still work. Stripe and GitHub use the string's
    /// bytes as-is (Stripe's `whsec_` prefix is part of its key).
    pub fn key_bytes(&self, scheme: Scheme) -> Vec<u8> {
        match scheme {
            Scheme::Standard => {
                let encoded = self.0.strip_prefix(WHSEC_PREFIX).unwrap_or(&self.0);
                B64.decode(encoded)
                    .unwrap_or_else(|_| self.0.as_bytes().to_vec())
            }
            Scheme::Stripe | Scheme::Github => self.0.as_bytes().to_vec(),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Config and storage hold secrets as plain strings. An empty secret is
/// rejected: an HMAC with an empty key is forgeable by anyone.
impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        if s.trim().is_empty() {
            return Err(D::Error::custom("signing secret must not be empty"));
        }
        Ok(Self(s))
    }
}

/// Serialized as the plain string; only meant for at-rest storage, never for
/// logs or API responses.
impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_secret() {
        let secret = Secret::new("whsec_supersecretvalue");
        let shown = format!("{secret:?} {secret} {:?}", Some(&secret));
        assert!(!shown.contains("supersecret"), "{shown}");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert_eq!(secret.to_string(), "***");
        assert_eq!(secret.expose(), "whsec_supersecretvalue");
    }

    #[test]
    fn generate_yields_distinct_32_byte_whsec_secrets() {
        let a = Secret::generate();
        let b = Secret::generate();
        assert_ne!(a, b);
        for s in [&a, &b] {
            assert!(s.expose().starts_with("whsec_"), "{}", s.expose());
            assert_eq!(s.key_bytes(Scheme::Standard).len(), 32);
        }
    }

    #[test]
    fn key_bytes_per_scheme() {
        let s = Secret::new("whsec_aGVsbG8=");
        assert_eq!(s.key_bytes(Scheme::Standard), b"hello");
        assert_eq!(s.key_bytes(Scheme::Stripe), b"whsec_aGVsbG8=");
        assert_eq!(s.key_bytes(Scheme::Github), b"whsec_aGVsbG8=");
        // The prefix is optional for standard.
        assert_eq!(
            Secret::new("aGVsbG8=").key_bytes(Scheme::Standard),
            b"hello"
        );
        // Not base64: raw bytes of the whole string.
        let raw = Secret::new("whsec_not base64!");
        assert_eq!(raw.key_bytes(Scheme::Standard), b"whsec_not base64!");
    }

    #[test]
    fn serde_is_a_plain_string() {
        let s: Secret = serde_json::from_str("\"whsec_abc\"").expect("deserialize");
        assert_eq!(s.expose(), "whsec_abc");
        assert_eq!(
            serde_json::to_string(&s).expect("serialize"),
            "\"whsec_abc\""
        );
        assert!(serde_json::from_str::<Secret>("\"  \"").is_err());
        assert!(serde_json::from_str::<Secret>("42").is_err());
    }
}
