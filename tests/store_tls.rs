//! `storage.tls: verify-full` against a real PostgreSQL serving TLS on a loopback port with a
//! certificate from the test's own CA: with that CA as `ca_file` the store opens and works; with
//! only the system's roots the same server is refused, so the certificate really is checked.

mod util;

use std::time::Duration;

use hookgate::store::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use util::records::{event, key};

/// A CA, and a server certificate for `localhost` it signed: (ca pem, cert pem, key pem).
fn certificates() -> (String, String, String) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let cert = server.signed_by(&server_key, &ca).unwrap();
    (ca.pem(), cert.pem(), server_key.serialize_pem())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn verify_full_opens_with_the_servers_ca_and_refuses_without_it() {
    let (ca, cert, server_key) = certificates();
    let port = free_port();
    let db = util::pg::Postgres::dedicated_with("tls", |pg| {
        let cert = pg.private_file("server.crt", cert.as_bytes());
        let key = pg.private_file("server.key", server_key.as_bytes());
        vec![
            "listen_addresses=127.0.0.1".into(),
            format!("port={port}"),
            "ssl=on".into(),
            format!("ssl_cert_file={}", cert.display()),
            format!("ssl_key_file={}", key.display()),
        ]
    });
    let ca_dir = tempfile::tempdir().unwrap();
    let ca_file = ca_dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let url = format!("postgres://hookgate@localhost:{port}/hookgate");
    let mut opts = PgOptions::new(&url);
    opts.tls = PgTls::VerifyFull {
        ca_file: Some(ca_file),
    };
    let store = PgStore::open(&opts, key()).await.expect("TLS with our CA");
    store.ingest(vec![event("evt_tls", 1, &[])]).await.unwrap();
    assert!(store.event("evt_tls").await.unwrap().is_some());
    store.close().await;

    opts.tls = PgTls::VerifyFull { ca_file: None };
    let refused = tokio::time::timeout(Duration::from_secs(20), PgStore::open(&opts, key()));
    let refused = refused.await.expect("refused, not hung").err();
    let why = refused
        .expect("a certificate from an unknown CA is refused")
        .to_string();
    assert!(
        why.contains("certificate") || why.contains("Certificate"),
        "{why}"
    );
    drop(db);
}
