//! Tests for the guard. Shared fixtures live here; the table-driven corpus,
//! resolver tests and the reqwest end-to-end tests are submodules.

mod corpus;
mod e2e;
mod resolver;

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use url::Url;

use super::*;

/// A [`Lookup`] that returns scripted answers in order (the last one
/// repeats) and counts calls — a DNS-rebinding attacker in a box.
pub(super) struct ScriptedLookup {
    answers: Mutex<VecDeque<io::Result<Vec<SocketAddr>>>>,
    pub(super) calls: AtomicUsize,
}

impl ScriptedLookup {
    pub(super) fn new(answers: Vec<Vec<&str>>) -> Arc<Self> {
        let answers = answers
            .into_iter()
            .map(|ips| {
                Ok(ips
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip.parse().unwrap(), 0))
                    .collect())
            })
            .collect();
        Arc::new(Self {
            answers: Mutex::new(answers),
            calls: AtomicUsize::new(0),
        })
    }

    fn failing() -> Arc<Self> {
        let err = io::Error::new(io::ErrorKind::NotFound, "NXDOMAIN");
        Arc::new(Self {
            answers: Mutex::new(VecDeque::from([Err(err)])),
            calls: AtomicUsize::new(0),
        })
    }
}

impl Lookup for ScriptedLookup {
    fn lookup(
        &self,
        _host: &str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + '_>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut q = self.answers.lock().unwrap();
        let answer = match q.len() {
            0 => Ok(Vec::new()),
            1 => match &q[0] {
                Ok(v) => Ok(v.clone()),
                Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
            },
            _ => q.pop_front().unwrap(),
        };
        let answer = answer.map(|v| {
            v.into_iter()
                .map(|a| SocketAddr::new(a.ip(), port))
                .collect()
        });
        Box::pin(async move { answer })
    }
}

#[derive(Debug)]
enum Expect {
    Pass,
    Rule(&'static str),
    Err(Blocked),
}

fn judge(got: Result<(), Blocked>, expect: &Expect) -> Result<(), String> {
    match (expect, &got) {
        (Expect::Pass, Ok(())) => Ok(()),
        (Expect::Rule(want), Err(Blocked::Address { rule, .. })) if rule == want => Ok(()),
        (Expect::Rule(want), Err(Blocked::Name { rule, .. })) if rule == want => Ok(()),
        (Expect::Err(want), Err(b)) if b == want => Ok(()),
        _ => Err(format!("expected {expect:?}, got {got:?}")),
    }
}

const LOOPBACK: &str = "loopback 127.0.0.0/8";
const PRIVATE10: &str = "private 10.0.0.0/8";
const METADATA: &str = "link-local 169.254.0.0/16 (cloud metadata)";
const MAPPED_LO: &str = "ipv4-mapped ::ffff:0:0/96 embedding 127.0.0.1 (loopback)";

#[test]
fn zone_ids_are_rejected_by_the_url_parser() {
    // `url` refuses IPv6 zone ids outright, so such a URL can never be built,
    // stored or passed to reqwest (which also parses with `url`).
    for raw in [
        "http://[fe80::1%25eth0]/",
        "http://[fe80::1%eth0]/",
        "https://[::1%251]/",
    ] {
        assert_eq!(
            Url::parse(raw),
            Err(url::ParseError::InvalidIpv6Address),
            "{raw}"
        );
    }
    // And the address without its zone is blocked anyway.
    let got = check_ip("fe80::1".parse().unwrap(), &Policy::default());
    assert!(judge(got, &Expect::Rule("link-local fe80::/10")).is_ok());
}

#[test]
fn allow_private_exempts_only_listed_ranges() {
    let p = Policy {
        allow_http: true,
        allow_private: vec!["127.0.0.0/8".parse().unwrap()],
    };
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(check_ip(ip("127.0.0.1"), &p), Ok(()));
    assert_eq!(
        check_ip(ip("::ffff:127.0.0.1"), &p),
        Ok(()),
        "embedded IPv4 is allow-listed"
    );
    assert_eq!(
        check_ip(ip("2002:7f00:1::"), &p),
        Ok(()),
        "6to4 of allow-listed IPv4"
    );
    assert!(judge(check_ip(ip("10.0.0.1"), &p), &Expect::Rule(PRIVATE10)).is_ok());
    assert!(judge(check_ip(ip("::1"), &p), &Expect::Rule("loopback ::1/128")).is_ok());
    assert_eq!(
        check_url(&Url::parse("http://localhost:9000/").unwrap(), &p),
        Ok(())
    );

    let v6 = Policy {
        allow_private: vec!["fd00::/8".parse().unwrap()],
        ..Policy::default()
    };
    assert_eq!(check_ip(ip("fd00::1"), &v6), Ok(()));
    assert!(judge(
        check_ip(ip("fc00::1"), &v6),
        &Expect::Rule("unique-local fc00::/7")
    )
    .is_ok());
}

#[test]
fn codes_and_messages_are_stable() {
    let addr = Blocked::Address {
        addr: "127.0.0.1".parse().unwrap(),
        rule: LOOPBACK.into(),
    };
    assert_eq!(
        addr.to_string(),
        "127.0.0.1 is blocked: loopback 127.0.0.0/8"
    );
    let resolve = Blocked::Resolve {
        host: "x.test".into(),
        reason: "NXDOMAIN".into(),
    };
    let cases = [
        (addr, "ssrf_blocked"),
        (Blocked::Scheme("ftp".into()), "ssrf_blocked"),
        (Blocked::Userinfo, "ssrf_blocked"),
        (Blocked::NoHost, "invalid_url"),
        (resolve, "dns_failed"),
        (
            Blocked::NoAddresses {
                host: "x.test".into(),
            },
            "dns_failed",
        ),
    ];
    for (b, code) in cases {
        assert_eq!(b.code(), code, "{b}");
    }
}

#[test]
fn find_blocked_walks_the_chain_including_io_errors() {
    let inner = Blocked::Userinfo;
    let io = io::Error::other(inner.clone());
    assert_eq!(find_blocked(&io), Some(&inner));
    let outer = io::Error::other(io);
    assert_eq!(find_blocked(&outer), Some(&inner));
    assert_eq!(find_blocked(&io::Error::other("plain")), None);
}
