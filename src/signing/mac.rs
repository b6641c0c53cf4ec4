//! The two primitives every scheme shares: HMAC-SHA256 and constant-time
//! comparison. Keeping them in one place means there is exactly one spot where
//! a signature is ever compared, and it is constant-time.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

/// Length in bytes of an HMAC-SHA256 tag; receivers use it to reject
/// signatures that cannot possibly be ours before comparing.
pub(super) const MAC_LEN: usize = 32;

/// HMAC-SHA256 of the concatenation of `parts`, so callers can MAC
/// `"{id}.{ts}.{body}"` without copying the (possibly large) body.
pub(super) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; MAC_LEN] {
    // HMAC is defined for keys of any length (long keys are hashed first), so
    // `new_from_slice` cannot fail for `Hmac<Sha256>`; this is an invariant,
    // not an input-dependent error.
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC-SHA256 accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// True if any candidate equals `expected`. Every candidate is compared, each
/// in constant time, so timing reveals neither the expected tag nor which
/// candidate matched.
pub(super) fn any_matches<'a>(
    expected: &[u8],
    candidates: impl IntoIterator<Item = &'a [u8]>,
) -> bool {
    let mut found = Choice::from(0);
    for candidate in candidates {
        found |= expected.ct_eq(candidate);
    }
    found.into()
}
