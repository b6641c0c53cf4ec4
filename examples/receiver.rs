//! A small webhook receiver that verifies each delivery's signature, for the quickstart and for
//! trying a config by hand.
//!
//! ```text
//! cargo run --example receiver -- --port 9000 --scheme standard --secret whsec_…
//! ```
//! It answers 204 to deliveries that verify and 400 to those that do not, and prints one line
//! per delivery. Verification uses `hookgate::signing::verify`, the same code as
//! `hookgate verify`; tests also check our signatures with an independent verifier.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use clap::Parser;
use hookgate::signing::{self, Scheme, Secret, SignatureSpec};

/// Verifying webhook receiver.
#[derive(Parser, Debug)]
struct Args {
    /// Port to listen on (loopback).
    #[arg(long, default_value_t = 9000)]
    port: u16,
    /// Signature scheme the endpoint uses.
    #[arg(long, default_value = "standard")]
    scheme: Scheme,
    /// The endpoint's signing secret.
    #[arg(long, env = "RECEIVER_SECRET")]
    secret: String,
    /// Signature header name, if the endpoint overrides it.
    #[arg(long)]
    header: Option<String>,
    /// Signature prefix, if the endpoint overrides it.
    #[arg(long)]
    prefix: Option<String>,
}

struct Ctx {
    spec: SignatureSpec,
    secret: Secret,
}

async fn receive(State(ctx): State<Arc<Ctx>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let pairs: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let event: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    match signing::verify(&ctx.spec, &ctx.secret, &pairs, &body, now, 300) {
        Ok(()) => {
            println!(
                "verified ✓  {}  {}  data={}",
                event["id"].as_str().unwrap_or("?"),
                event["type"].as_str().unwrap_or("?"),
                event["data"]
            );
            StatusCode::NO_CONTENT
        }
        Err(e) => {
            println!("REJECTED ✗  {e}");
            StatusCode::BAD_REQUEST
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let ctx = Arc::new(Ctx {
        spec: SignatureSpec {
            scheme: a.scheme,
            header: a.header,
            prefix: a.prefix,
        },
        secret: Secret::new(a.secret),
    });
    let app = axum::Router::new()
        .route("/webhook", post(receive))
        .with_state(ctx);
    let addr = SocketAddr::from(([127, 0, 0, 1], a.port));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("receiver listening on http://{addr}/webhook");
    axum::serve(listener, app).await?;
    Ok(())
}
