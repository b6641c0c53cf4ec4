//! Stripe-style: known answers, overrides, malformed headers.
//!
//! The expected hex values were computed once, independently of this code,
//! with python3: `hmac.new(key, b"1700000000." + body, hashlib.sha256).hexdigest()`.

use super::super::*;
use super::{check, pairs, spec, BODY, NOW};

const OLD: &str = "whsec_old_stripe_secret";
const NEW: &str = "whsec_new_stripe_secret";
const OLD_HEX: &str = "2d7eb3db9dd9655d0509164bd7e4027ec433c0d77ae687397765a8ad6b513d7e";
const NEW_HEX: &str = "bc5617e36fe917078132473c20febdb33430a7fdc867775742cdf5a599223ee3";

#[test]
fn known_answer_with_rotation() {
    let secrets = [Secret::new(OLD), Secret::new(NEW)];
    let headers = sign(&spec(Scheme::Stripe), &secrets, "msg_ignored", NOW, BODY);
    let value = format!("t={NOW},v1={OLD_HEX},v1={NEW_HEX}");
    assert_eq!(headers, vec![("webhook-signature".to_string(), value)]);
}

#[test]
fn header_override_and_prefix_ignored() {
    let secret = Secret::new(OLD);
    let spec = SignatureSpec {
        scheme: Scheme::Stripe,
        header: Some("Stripe-Signature".into()),
        prefix: Some("ignored=".into()),
    };
    let headers = sign(&spec, std::slice::from_ref(&secret), "m", NOW, BODY);
    let value = format!("t={NOW},v1={OLD_HEX}");
    assert_eq!(headers, vec![("stripe-signature".to_string(), value)]);

    // Spaces, unknown entries (v0=) and upper-case hex are tolerated on receipt.
    let upper = OLD_HEX.to_ascii_uppercase();
    let received = pairs(&[("Stripe-Signature", &format!("t={NOW}, v0=abcd, v1={upper}"))]);
    assert_eq!(check(&spec, &secret, &received, BODY), Ok(()));
}

#[test]
fn malformed_headers_are_reported() {
    let secret = Secret::generate();
    let stripe = spec(Scheme::Stripe);
    let cases = [
        "v1=abcd",
        "t=1700000000",
        "t=1700000000,v1=zz",
        "t=later,v1=ab",
    ];
    for value in cases {
        let headers = pairs(&[("webhook-signature", value)]);
        let result = check(&stripe, &secret, &headers, BODY);
        assert!(
            matches!(result, Err(VerifyError::Malformed(_))),
            "{value}: {result:?}"
        );
    }
}
