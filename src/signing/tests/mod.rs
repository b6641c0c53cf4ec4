//! Tests for the signing module: cross-scheme behaviour and config shape
//! here; scheme specifics (known answers, overrides, malformed input) in one
//! file per scheme.

use super::*;
use std::slice::from_ref;

mod github;
mod standard;
mod stripe;

pub(super) const NOW: i64 = 1_700_000_000;
pub(super) const TOLERANCE: i64 = 300;
pub(super) const BODY: &[u8] = br#"{"id":"evt_1","type":"ping"}"#;

pub(super) fn spec(scheme: Scheme) -> SignatureSpec {
    SignatureSpec {
        scheme,
        ..SignatureSpec::default()
    }
}

/// `verify` at `NOW` with the usual tolerance.
pub(super) fn check(
    spec: &SignatureSpec,
    secret: &Secret,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<(), VerifyError> {
    verify(spec, secret, headers, body, NOW, TOLERANCE)
}

pub(super) fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn all_schemes() -> [SignatureSpec; 3] {
    [
        spec(Scheme::Standard),
        spec(Scheme::Stripe),
        spec(Scheme::Github),
    ]
}

#[test]
fn round_trip_every_scheme() {
    let secret = Secret::generate();
    for spec in all_schemes() {
        let headers = sign(&spec, from_ref(&secret), "msg_1", NOW, BODY);
        assert_eq!(check(&spec, &secret, &headers, BODY), Ok(()), "{spec:?}");
    }
}

#[test]
fn rotation_accepts_old_or_new_and_rejects_unrelated() {
    let (old, new, other) = (Secret::generate(), Secret::generate(), Secret::generate());
    let both = [old.clone(), new.clone()];
    for spec in [spec(Scheme::Standard), spec(Scheme::Stripe)] {
        let headers = sign(&spec, &both, "msg_1", NOW, BODY);
        assert_eq!(check(&spec, &old, &headers, BODY), Ok(()), "{spec:?}");
        assert_eq!(check(&spec, &new, &headers, BODY), Ok(()), "{spec:?}");
        assert_eq!(
            check(&spec, &other, &headers, BODY),
            Err(VerifyError::NoMatchingSignature)
        );
    }
    let standard = sign(&spec(Scheme::Standard), &both, "msg_1", NOW, BODY);
    let value = &standard[2].1;
    assert_eq!(value.split(' ').count(), 2, "{value}");
    assert!(
        value.split(' ').all(|sig| sig.starts_with("v1,")),
        "{value}"
    );
    // github carries one signature: the newest (see tests/github.rs).
}

#[test]
fn tampered_body_or_id_fails() {
    let secret = Secret::generate();
    let tampered = br#"{"id":"evt_1","type":"pong"}"#;
    for spec in all_schemes() {
        let headers = sign(&spec, from_ref(&secret), "msg_1", NOW, BODY);
        assert_eq!(
            check(&spec, &secret, &headers, tampered),
            Err(VerifyError::NoMatchingSignature)
        );
    }
    let standard = spec(Scheme::Standard);
    let mut headers = sign(&standard, from_ref(&secret), "msg_1", NOW, BODY);
    headers[0].1 = "msg_2".into();
    assert_eq!(
        check(&standard, &secret, &headers, BODY),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn stale_or_future_timestamp_fails_and_github_ignores_time() {
    let secret = Secret::generate();
    for spec in [spec(Scheme::Standard), spec(Scheme::Stripe)] {
        for ts in [NOW - TOLERANCE - 1, NOW + TOLERANCE + 1] {
            let headers = sign(&spec, from_ref(&secret), "msg_1", ts, BODY);
            assert_eq!(
                check(&spec, &secret, &headers, BODY),
                Err(VerifyError::TimestampOutOfTolerance {
                    timestamp: ts,
                    now: NOW
                })
            );
        }
        let edge = sign(&spec, from_ref(&secret), "msg_1", NOW - TOLERANCE, BODY);
        assert_eq!(check(&spec, &secret, &edge, BODY), Ok(()));
    }
    let github = spec(Scheme::Github);
    let headers = sign(&github, from_ref(&secret), "m", 0, BODY);
    assert_eq!(verify(&github, &secret, &headers, BODY, NOW, 0), Ok(()));
}

#[test]
fn no_secrets_means_no_headers() {
    for spec in all_schemes() {
        assert!(sign(&spec, &[], "msg_1", NOW, BODY).is_empty());
    }
}

#[test]
fn spec_deserializes_from_config() {
    let json = r#"{"scheme":"github","header":"X-Mathub-Signature","prefix":""}"#;
    let spec: SignatureSpec = serde_json::from_str(json).expect("parse");
    assert_eq!(spec.scheme, Scheme::Github);
    assert_eq!(spec.signature_header(), "x-mathub-signature");
    assert_eq!(spec.prefix.as_deref(), Some(""));

    let minimal: SignatureSpec = serde_json::from_str(r#"{"scheme":"stripe"}"#).expect("parse");
    let expected = SignatureSpec {
        scheme: Scheme::Stripe,
        header: None,
        prefix: None,
    };
    assert_eq!(minimal, expected);
    assert_eq!(minimal.signature_header(), "webhook-signature");
    let unknown_field = r#"{"scheme":"stripe","algo":"x"}"#;
    assert!(serde_json::from_str::<SignatureSpec>(unknown_field).is_err());
    assert!(serde_json::from_str::<SignatureSpec>(r#"{"scheme":"Stripe"}"#).is_err());
    assert_eq!(Scheme::default(), Scheme::Standard);
    assert_eq!(
        serde_json::to_string(&Scheme::Github).expect("ser"),
        "\"github\""
    );
}

#[test]
fn scheme_parses_and_displays_config_names() {
    for scheme in [Scheme::Standard, Scheme::Stripe, Scheme::Github] {
        assert_eq!(scheme.to_string().parse::<Scheme>(), Ok(scheme));
    }
    assert_eq!("GitHub".parse::<Scheme>(), Ok(Scheme::Github));
    assert!("hmac".parse::<Scheme>().is_err());
}
