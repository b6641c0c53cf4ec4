//! `resolve_vetted` and `GuardedResolver` against scripted lookups,
//! including an answer that changes between lookups (DNS rebinding).

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::Ordering;

use reqwest::dns::{Name, Resolve};

use super::*;

#[tokio::test]
async fn mixed_answer_is_rejected_whole() {
    let lookup = ScriptedLookup::new(vec![vec!["93.184.216.34", "10.0.0.1"]]);
    let got = resolve_vetted(lookup.as_ref(), "mixed.test", 443, &Policy::default()).await;
    assert!(judge(got.map(drop), &Expect::Rule(PRIVATE10)).is_ok());
}

#[tokio::test]
async fn each_lookup_vets_its_own_answer() {
    let lookup = ScriptedLookup::new(vec![vec!["93.184.216.34"], vec!["10.0.0.1"]]);
    let p = Policy::default();
    let first = resolve_vetted(lookup.as_ref(), "rebind.test", 443, &p).await;
    assert_eq!(first, Ok(vec!["93.184.216.34:443".parse().unwrap()]));
    let second = resolve_vetted(lookup.as_ref(), "rebind.test", 443, &p).await;
    assert!(judge(second.map(drop), &Expect::Rule(PRIVATE10)).is_ok());
    assert_eq!(lookup.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn guarded_resolver_returns_exactly_what_it_vetted() {
    let lookup = ScriptedLookup::new(vec![
        vec!["93.184.216.34", "2606:4700:4700::1111"],
        vec!["169.254.169.254"],
    ]);
    let resolver = GuardedResolver::new(lookup.clone(), Policy::default());

    let addrs: Vec<SocketAddr> = resolver
        .resolve(Name::from_str("rebind.test").unwrap())
        .await
        .unwrap()
        .collect();
    let want: Vec<SocketAddr> = vec![
        "93.184.216.34:0".parse().unwrap(),
        "[2606:4700:4700::1111]:0".parse().unwrap(),
    ];
    assert_eq!(addrs, want);
    assert_eq!(
        lookup.calls.load(Ordering::SeqCst),
        1,
        "one lookup per resolve"
    );

    let e = resolver
        .resolve(Name::from_str("rebind.test").unwrap())
        .await
        .err()
        .unwrap();
    let blocked = find_blocked(e.as_ref()).expect("Blocked is the boxed error");
    assert!(judge(Err(blocked.clone()), &Expect::Rule(METADATA)).is_ok());
    assert_eq!(lookup.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn dns_failures_have_dns_codes() {
    let p = Policy::default();
    let empty = ScriptedLookup::new(vec![vec![]]);
    let got = resolve_vetted(empty.as_ref(), "empty.test", 443, &p)
        .await
        .unwrap_err();
    assert_eq!(
        got,
        Blocked::NoAddresses {
            host: "empty.test".into()
        }
    );
    assert_eq!(got.code(), "dns_failed");

    let failing = ScriptedLookup::failing();
    let got = resolve_vetted(failing.as_ref(), "nx.test", 443, &p)
        .await
        .unwrap_err();
    assert_eq!(
        got,
        Blocked::Resolve {
            host: "nx.test".into(),
            reason: "NXDOMAIN".into()
        }
    );
    assert_eq!(got.code(), "dns_failed");
}

#[tokio::test]
async fn reserved_names_are_refused_before_lookup() {
    let lookup = ScriptedLookup::new(vec![vec!["93.184.216.34"]]);
    let got = resolve_vetted(lookup.as_ref(), "api.localhost", 443, &Policy::default()).await;
    assert!(matches!(got, Err(Blocked::Address { .. })));
    assert_eq!(lookup.calls.load(Ordering::SeqCst), 0);
}
