//! Helpers for `plugin_host.rs`: build the guest fixtures once, fake kv/http services, short
//! chain helpers.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use hookgate::plugins::*;

/// Paths of the built guest components.
pub struct Guests {
    pub identity: PathBuf,
    pub fixture: PathBuf,
}

/// Builds `tests/guests/` for wasm32-wasip2 (once per test binary; cargo makes repeats cheap).
pub fn guests() -> &'static Guests {
    static GUESTS: OnceLock<Guests> = OnceLock::new();
    GUESTS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guests");
        let target = dir.join("target");
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--release",
                "--locked",
                "--target",
                "wasm32-wasip2",
            ])
            .current_dir(&dir)
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_BUILD_TARGET")
            .status()
            .expect("run cargo for guests");
        assert!(status.success(), "building guest fixtures failed");
        let out = target.join("wasm32-wasip2/release");
        Guests {
            identity: out.join("identity.wasm"),
            fixture: out.join("fixture.wasm"),
        }
    })
}

/// Limits for tests that are not about limits: the default ones with a deadline long enough
/// that a debug build on a loaded machine never hits it (deadline tests set their own).
pub fn relaxed_limits() -> PluginLimits {
    PluginLimits {
        timeout: Duration::from_secs(30),
        ..PluginLimits::default()
    }
}

/// In-memory kv backend counting calls.
#[derive(Default)]
pub struct MemKv {
    pub data: Mutex<HashMap<(String, String), Vec<u8>>>,
    pub calls: AtomicUsize,
}

#[async_trait::async_trait]
impl KvBackend for MemKv {
    async fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(self
            .data
            .lock()
            .unwrap()
            .get(&(ns.into(), key.into()))
            .cloned())
    }
    async fn set(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.data
            .lock()
            .unwrap()
            .insert((ns.into(), key.into()), value.to_vec());
        Ok(())
    }
    async fn delete(&self, ns: &str, key: &str) -> Result<(), String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.data.lock().unwrap().remove(&(ns.into(), key.into()));
        Ok(())
    }
}

/// Fake fetcher: records requests, answers 200 with `pong:` + the request body.
#[derive(Default)]
pub struct FakeHttp {
    pub requests: Mutex<Vec<HttpRequest>>,
}

#[async_trait::async_trait]
impl HttpFetcher for FakeHttp {
    async fn fetch(&self, request: HttpRequest) -> Result<HttpResponse, String> {
        let mut body = b"pong:".to_vec();
        body.extend_from_slice(request.body.as_deref().unwrap_or_default());
        self.requests.lock().unwrap().push(request);
        Ok(HttpResponse {
            status: 200,
            headers: vec![],
            body,
        })
    }
}

pub struct Env {
    pub host: PluginHost,
    pub kv: Arc<MemKv>,
    pub http: Arc<FakeHttp>,
}

pub fn env_with_cache(cache_dir: Option<PathBuf>) -> Env {
    let kv = Arc::new(MemKv::default());
    let http = Arc::new(FakeHttp::default());
    let host = PluginHost::new(HostOptions {
        cache_dir,
        kv: kv.clone(),
        http: http.clone(),
    })
    .expect("host");
    Env { host, kv, http }
}

pub fn env() -> Env {
    env_with_cache(None)
}

impl Env {
    /// Loads the fixture guest as `name` with relaxed limits and the given grants.
    pub async fn fixture(&self, name: &str, grants: Grants) -> Arc<LoadedPlugin> {
        self.host
            .load(name, &guests().fixture, relaxed_limits(), grants)
            .await
            .expect("load fixture")
    }

    /// Loads the fixture guest as `name` with `limits` and no grants.
    pub async fn fixture_with_limits(&self, name: &str, limits: PluginLimits) -> Arc<LoadedPlugin> {
        self.host
            .load(name, &guests().fixture, limits, Grants::default())
            .await
            .expect("load fixture")
    }

    pub async fn run(&self, chain: &[ChainEntry], body: &[u8]) -> ChainOutcome {
        self.host.run_chain(chain, input(body)).await
    }
}

pub fn entry(plugin: &str, config: serde_json::Value, on_error: OnError) -> ChainEntry {
    ChainEntry {
        plugin: plugin.into(),
        config_json: config.to_string(),
        on_error,
    }
}

pub fn input(body: &[u8]) -> Input {
    Input {
        delivery_id: "del_1".into(),
        event: EventInfo {
            id: "evt_1".into(),
            event_type: "invoice.paid".into(),
            tenant: "acme".into(),
            timestamp: "2025-01-01T00:00:00Z".into(),
        },
        endpoint: EndpointInfo {
            id: "ep_1".into(),
            url: "https://example.com/hook".into(),
        },
        body: body.to_vec(),
        headers: vec![("x-orig".into(), "1".into())],
    }
}

/// (body, headers, applied) of a `Deliver` outcome.
pub type Delivered = (Vec<u8>, Vec<(String, String)>, Vec<(String, String)>);

/// The parts of a `Deliver` outcome, or a panic naming what came back instead.
pub fn delivered(outcome: ChainOutcome) -> Delivered {
    match outcome {
        ChainOutcome::Deliver {
            body,
            headers,
            applied,
        } => (body, headers, applied),
        other => panic!("expected Deliver, got {other:?}"),
    }
}

/// The error of a `Failed` outcome.
pub fn failed(outcome: ChainOutcome) -> PluginError {
    match outcome {
        ChainOutcome::Failed { error, retry, .. } => {
            assert!(retry);
            error
        }
        other => panic!("expected Failed, got {other:?}"),
    }
}
