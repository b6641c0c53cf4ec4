//! GitHub-style: known answers, rotation, bare-hex override, malformed headers.
//!
//! The expected hex values were computed once, independently of this code,
//! with python3: `hmac.new(key, body, hashlib.sha256).hexdigest()`.

use super::super::*;
use super::{check, pairs, spec, BODY, NOW};
use std::slice::from_ref;

#[test]
fn known_answer() {
    // Also the example in GitHub's "Validating webhook deliveries" docs.
    let secret = Secret::new("It's a Secret to Everybody");
    let headers = sign(&spec(Scheme::Github), &[secret], "m", NOW, b"Hello, World!");
    let value = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    assert_eq!(headers, pairs(&[("x-hub-signature-256", value)]));
}

#[test]
fn rotation_signs_with_newest_only() {
    let secrets = [Secret::new("gh-secret-old"), Secret::new("gh-secret-new")];
    let github = spec(Scheme::Github);
    let headers = sign(&github, &secrets, "m", NOW, BODY);
    let value = "sha256=5eac0db79137a08324a3716661490a8fcaffe9721b4b3c16b01e70ddf713a273";
    assert_eq!(headers, pairs(&[("x-hub-signature-256", value)]));
    assert_eq!(check(&github, &secrets[1], &headers, BODY), Ok(()));
    assert_eq!(
        check(&github, &secrets[0], &headers, BODY),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn bare_hex_under_custom_header() {
    let secret = Secret::new("mathub-secret");
    let spec = SignatureSpec {
        scheme: Scheme::Github,
        header: Some("X-Mathub-Signature".into()),
        prefix: Some(String::new()),
    };
    let headers = sign(&spec, from_ref(&secret), "m", NOW, BODY);
    assert_eq!(headers[0].0, "x-mathub-signature");
    assert_eq!(headers[0].1.len(), 64);
    assert!(headers[0].1.bytes().all(|b| b.is_ascii_hexdigit()));

    // Receivers see arbitrary case in header names and hex digits.
    let upper = pairs(&[("X-Mathub-Signature", &headers[0].1.to_ascii_uppercase())]);
    assert_eq!(check(&spec, &secret, &upper, BODY), Ok(()));
}

#[test]
fn upper_case_prefix_is_accepted() {
    let secret = Secret::generate();
    let github = spec(Scheme::Github);
    let headers = sign(&github, from_ref(&secret), "m", NOW, BODY);
    let shouted = headers[0].1.replacen("sha256=", "SHA256=", 1);
    let received = pairs(&[("X-Hub-Signature-256", &shouted)]);
    assert_eq!(check(&github, &secret, &received, BODY), Ok(()));
}

#[test]
fn malformed_headers_are_reported() {
    let secret = Secret::generate();
    let github = spec(Scheme::Github);
    for value in ["md5=abcd", "sha256=xyz", "sha256=abcd", "sha25\u{e9}"] {
        let headers = pairs(&[("x-hub-signature-256", value)]);
        let result = check(&github, &secret, &headers, BODY);
        assert!(
            matches!(result, Err(VerifyError::Malformed(_))),
            "{value}: {result:?}"
        );
    }
    assert_eq!(
        check(&github, &secret, &[], BODY),
        Err(VerifyError::MissingHeader("x-hub-signature-256".into()))
    );
}
