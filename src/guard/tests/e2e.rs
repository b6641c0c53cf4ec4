//! End-to-end: a real reqwest client with [`GuardedResolver`] against a tiny
//! HTTP/1.1 responder on loopback. All traffic stays on 127.0.0.0/8.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

use super::*;

/// A loopback server that answers every request with `response` and counts
/// connections. It stops by itself after `max_conns` connections or 10 s
/// without one.
async fn serve(
    response: impl Fn(u16) -> String + Send + 'static,
    max_conns: usize,
) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    tokio::spawn(async move {
        for _ in 0..max_conns {
            let accepted = tokio::time::timeout(Duration::from_secs(10), listener.accept()).await;
            let Ok(Ok((mut sock, _))) = accepted else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
                match sock.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let _ = sock.write_all(response(port).as_bytes()).await;
            let _ = sock.shutdown().await;
        }
    });
    (port, hits)
}

fn ok_response(_port: u16) -> String {
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".to_owned()
}

fn client(lookup: Arc<dyn Lookup>, policy: Policy) -> reqwest::Client {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver::new(lookup, policy.clone())))
        .redirect(guarded_redirects(policy, 5))
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn loopback_policy(cidr: &str) -> Policy {
    Policy {
        allow_http: true,
        allow_private: vec![cidr.parse().unwrap()],
    }
}

#[tokio::test]
async fn rebinding_name_to_loopback_is_blocked_before_connecting() {
    let (port, hits) = serve(ok_response, 1).await;
    let lookup = ScriptedLookup::new(vec![vec!["127.0.0.1"]]);
    let policy = Policy {
        allow_http: true,
        ..Policy::default()
    };
    let url = Url::parse(&format!("http://rebind.test:{port}/")).unwrap();
    assert_eq!(
        check_url(&url, &policy),
        Ok(()),
        "a plain name passes the static check"
    );

    let err = client(lookup.clone(), Policy::default())
        .get(url)
        .send()
        .await
        .unwrap_err();
    let blocked = find_blocked(&err).unwrap_or_else(|| panic!("no Blocked in chain: {err:?}"));
    assert_eq!(
        blocked,
        &Blocked::Address {
            addr: "127.0.0.1".parse().unwrap(),
            rule: "loopback 127.0.0.0/8".into()
        }
    );
    assert_eq!(blocked.code(), "ssrf_blocked");
    assert_eq!(lookup.calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "server must never be contacted"
    );
}

#[tokio::test]
async fn allow_listed_loopback_is_reached() {
    let (port, hits) = serve(ok_response, 1).await;
    let lookup = ScriptedLookup::new(vec![vec!["127.0.0.1"]]);
    let policy = loopback_policy("127.0.0.0/8");
    let url = Url::parse(&format!("http://rebind.test:{port}/hook")).unwrap();
    assert_eq!(check_url(&url, &policy), Ok(()));

    let resp = client(lookup.clone(), policy)
        .get(url)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "ok");
    assert_eq!(
        lookup.calls.load(Ordering::SeqCst),
        1,
        "exactly one lookup, no re-resolve"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

/// Documents *why* `check_url` must run before every request: reqwest does
/// not consult the resolver for IP-literal hosts at all.
#[tokio::test]
async fn ip_literals_bypass_the_resolver_so_check_url_is_required() {
    let (port, hits) = serve(ok_response, 1).await;
    let lookup = ScriptedLookup::new(vec![vec!["93.184.216.34"]]);
    let url = Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();

    let got = check_url(
        &url,
        &Policy {
            allow_http: true,
            ..Policy::default()
        },
    );
    assert!(matches!(got, Err(Blocked::Address { .. })), "{got:?}");

    let resp = client(lookup.clone(), Policy::default())
        .get(url)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        lookup.calls.load(Ordering::SeqCst),
        0,
        "resolver never called"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn redirect_to_blocked_literal_is_refused() {
    // Allow only 127.0.0.1; the redirect points at 127.0.0.2 (still loopback,
    // so even a failing guard would not leave this machine).
    let redirect = |port: u16| {
        format!(
            "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.2:{port}/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
    };
    let (port, hits) = serve(redirect, 2).await;
    let lookup = ScriptedLookup::new(vec![vec!["127.0.0.1"]]);
    let policy = loopback_policy("127.0.0.1/32");
    let url = format!("http://rebind.test:{port}/");

    let err = client(lookup, policy).get(url).send().await.unwrap_err();
    assert!(err.is_redirect(), "{err:?}");
    let blocked = find_blocked(&err).unwrap_or_else(|| panic!("no Blocked in chain: {err:?}"));
    assert_eq!(
        blocked,
        &Blocked::Address {
            addr: "127.0.0.2".parse().unwrap(),
            rule: "loopback 127.0.0.0/8".into()
        }
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "only the first hop connected"
    );
}

#[tokio::test]
async fn zone_id_url_never_reaches_the_network() {
    let lookup = ScriptedLookup::new(vec![vec!["93.184.216.34"]]);
    let err = client(lookup.clone(), Policy::default())
        .get("http://[fe80::1%25eth0]/")
        .send()
        .await
        .unwrap_err();
    assert!(
        err.is_builder(),
        "rejected while building the request: {err:?}"
    );
    assert_eq!(lookup.calls.load(Ordering::SeqCst), 0);
}
