//! GitHub-style signatures: `X-Hub-Signature-256: sha256=<hex HMAC(body)>`,
//! keyed by the secret string's bytes. No timestamp, so no replay protection.

use super::mac::{any_matches, hmac_sha256, MAC_LEN};
use super::verify::{find_header, quote, VerifyError};
use super::{Scheme, Secret, SignatureSpec};

/// Default signature header name, as GitHub sends it (lower-cased).
pub(super) const DEFAULT_HEADER: &str = "x-hub-signature-256";
/// Default prefix before the hex digest; may be overridden to `""` for
/// senders that send bare hex.
pub(super) const DEFAULT_PREFIX: &str = "sha256=";

/// HMAC over the body alone.
fn mac(secret: &Secret, body: &[u8]) -> [u8; MAC_LEN] {
    hmac_sha256(&secret.key_bytes(Scheme::Github), &[body])
}

/// One header signed with the newest secret only: GitHub's format has room
/// for a single signature, so during rotation receivers must switch to the
/// new secret when it is added (older secrets are not used to sign).
pub(super) fn sign(spec: &SignatureSpec, secrets: &[Secret], body: &[u8]) -> Vec<(String, String)> {
    let Some(newest) = secrets.last() else {
        return Vec::new();
    };
    let prefix = spec.prefix_or(DEFAULT_PREFIX);
    let value = format!("{prefix}{}", hex::encode(mac(newest, body)));
    vec![(spec.signature_header(), value)]
}

/// Accepts if the header is `prefix` (ASCII case-insensitive) followed by the
/// hex digest (either case) of the body.
pub(super) fn verify(
    spec: &SignatureSpec,
    secret: &Secret,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<(), VerifyError> {
    let name = spec.signature_header();
    let value = find_header(headers, &name)?;
    let prefix = spec.prefix_or(DEFAULT_PREFIX);
    let digest = strip_prefix_ignore_case(value, prefix).ok_or_else(|| {
        VerifyError::Malformed(format!(
            "header {name} should start with {prefix:?}, got {}",
            quote(value)
        ))
    })?;
    let received = hex::decode(digest).map_err(|_| {
        VerifyError::Malformed(format!("header {name}: {} is not hex", quote(digest)))
    })?;
    if received.len() != MAC_LEN {
        return Err(VerifyError::Malformed(format!(
            "header {name}: expected {} hex digits of HMAC-SHA256, got {}",
            MAC_LEN * 2,
            digest.len()
        )));
    }
    if any_matches(&mac(secret, body), [received.as_slice()]) {
        Ok(())
    } else {
        Err(VerifyError::NoMatchingSignature)
    }
}

/// `s` without a leading `prefix`, comparing ASCII case-insensitively
/// (`SHA256=` is accepted as well as `sha256=`).
fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}
