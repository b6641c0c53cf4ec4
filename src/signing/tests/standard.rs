//! Standard Webhooks: the published test vector, overrides, malformed headers.

use super::super::*;
use super::{check, pairs, spec, BODY, NOW, TOLERANCE};
use std::slice::from_ref;

#[test]
fn published_test_vector() {
    let secret = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    let ts = 1_614_265_330;
    let body = br#"{"test": 2432232314}"#;
    let expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    let headers = sign(&spec(Scheme::Standard), from_ref(&secret), id, ts, body);
    let want = pairs(&[
        ("webhook-id", id),
        ("webhook-timestamp", "1614265330"),
        ("webhook-signature", expected),
    ]);
    assert_eq!(headers, want);

    // The published headers, as a receiver sees them, verify.
    let received = pairs(&[
        ("Webhook-Id", id),
        ("Webhook-Timestamp", "1614265330"),
        ("Webhook-Signature", expected),
    ]);
    let spec = spec(Scheme::Standard);
    assert_eq!(
        verify(&spec, &secret, &received, body, ts + 10, TOLERANCE),
        Ok(())
    );
}

#[test]
fn header_and_prefix_overrides() {
    let secret = Secret::generate();
    let spec = SignatureSpec {
        scheme: Scheme::Standard,
        header: Some("X-Signature".into()),
        prefix: Some("v1=".into()),
    };
    let headers = sign(&spec, from_ref(&secret), "msg_1", NOW, BODY);
    let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["webhook-id", "webhook-timestamp", "x-signature"]);
    assert!(headers[2].1.starts_with("v1="), "{}", headers[2].1);
    assert_eq!(check(&spec, &secret, &headers, BODY), Ok(()));

    // A verifier expecting the default prefix says why it rejects.
    let default_prefix = SignatureSpec {
        prefix: None,
        ..spec
    };
    let err = check(&default_prefix, &secret, &headers, BODY).unwrap_err();
    assert!(
        matches!(err, VerifyError::Malformed(ref m) if m.contains("\"v1,\"")),
        "{err}"
    );
}

#[test]
fn other_signature_versions_are_skipped() {
    let secret = Secret::generate();
    let standard = spec(Scheme::Standard);
    let mut headers = sign(&standard, from_ref(&secret), "msg_1", NOW, BODY);
    headers[2].1 = format!("v1a,AAAA {}  v1,!!!", headers[2].1);
    assert_eq!(check(&standard, &secret, &headers, BODY), Ok(()));
}

#[test]
fn malformed_headers_are_reported() {
    let secret = Secret::generate();
    let standard = spec(Scheme::Standard);
    let headers = sign(&standard, from_ref(&secret), "msg_1", NOW, BODY);
    let err = check(&standard, &secret, &headers[..2], BODY).unwrap_err();
    assert_eq!(err.to_string(), "missing header webhook-signature");

    let cases = [
        ("soon", "v1,AAAA"),
        ("1700000000", "v2,AAAA"),
        ("1700000000", "v1,!!!"),
        ("1700000000", ""),
    ];
    for (ts, sig) in cases {
        let bad = pairs(&[
            ("webhook-id", "m"),
            ("webhook-timestamp", ts),
            ("webhook-signature", sig),
        ]);
        let result = check(&standard, &secret, &bad, BODY);
        assert!(
            matches!(result, Err(VerifyError::Malformed(_))),
            "{ts} {sig}: {result:?}"
        );
    }
}
