//! An in-process stand-in for the Hookgate host, so plugins unit-test with a plain native
//! `cargo test` (only compiled off wasm).
//!
//! State is per thread (cargo runs each test on its own thread), so tests do not see each
//! other's config, store or logs. Call [`reset`] at the start of a test that reuses a thread.
//!
//! ```
//! use hookgate_plugin_sdk::{json, kv, testing};
//! testing::reset();
//! testing::set_config(&json!({"prefix": "customer:"}));
//! testing::kv_insert("customer:42", br#"{"tier":"gold"}"#);
//! assert_eq!(kv::get("customer:42").unwrap().as_deref(), Some(&br#"{"tier":"gold"}"#[..]));
//! ```

use crate::http::{Request, Response};
use crate::log::Level;
use crate::{Delivery, Endpoint, Event, Header, Plugin, Problem};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::BTreeMap;

type HttpHandler = Box<dyn Fn(&Request) -> Result<Response, String>>;

struct MockHost {
    config: String,
    kv: BTreeMap<String, Vec<u8>>,
    kv_error: Option<String>,
    logs: Vec<(Level, String)>,
    http: Option<HttpHandler>,
}

impl Default for MockHost {
    fn default() -> Self {
        MockHost {
            config: "null".to_owned(),
            kv: BTreeMap::new(),
            kv_error: None,
            logs: Vec::new(),
            http: None,
        }
    }
}

thread_local! {
    static HOST: RefCell<MockHost> = RefCell::new(MockHost::default());
}

fn with<R>(f: impl FnOnce(&mut MockHost) -> R) -> R {
    HOST.with(|h| f(&mut h.borrow_mut()))
}

/// Forgets config, store, logs and HTTP handler.
pub fn reset() {
    with(|h| *h = MockHost::default());
}

/// Sets the config the plugin sees.
pub fn set_config(config: &Value) {
    set_config_text(&config.to_string());
}

/// Sets the raw config text the plugin sees (to test invalid JSON, for example).
pub fn set_config_text(text: &str) {
    with(|h| h.config = text.to_owned());
}

/// Puts `value` under `key` in the mock store.
pub fn kv_insert(key: &str, value: &[u8]) {
    with(|h| h.kv.insert(key.to_owned(), value.to_vec()));
}

/// A copy of the mock store.
pub fn kv_entries() -> BTreeMap<String, Vec<u8>> {
    with(|h| h.kv.clone())
}

/// Makes every kv call fail with `error`, as when the plugin lacks `allow: { kv: true }`.
pub fn deny_kv(error: &str) {
    with(|h| h.kv_error = Some(error.to_owned()));
}

/// Everything logged so far.
pub fn logs() -> Vec<(Level, String)> {
    with(|h| h.logs.clone())
}

/// Answers outbound HTTP with `handler` (without one, every request fails as not allowed).
pub fn on_http(handler: impl Fn(&Request) -> Result<Response, String> + 'static) {
    with(|h| h.http = Some(Box::new(handler)));
}

/// Runs `P`'s config check as the gateway's `validate` call does: on the config's JSON text,
/// with the mock's config set to the same text (the host's `config.get` returns it during a
/// check too). An empty list means the gateway would accept the config.
///
/// ```
/// use hookgate_plugin_sdk::{check_as, json, testing, Decision, Delivery, Plugin, Problem, Value};
///
/// struct Strict;
/// impl Plugin for Strict {
///     fn handle(d: Delivery) -> Result<Decision, String> {
///         Ok(d.deliver_unchanged())
///     }
///     fn check_config(config: &Value) -> Vec<Problem> {
///         check_as::<std::collections::BTreeMap<String, u8>>(config)
///     }
/// }
///
/// assert_eq!(testing::check_config::<Strict>(json!({"level": 3})), []);
/// let problems = testing::check_config::<Strict>(json!({"level": "high"}));
/// assert_eq!(problems[0].pointer, "/level");
/// ```
pub fn check_config<P: Plugin>(config: Value) -> Vec<Problem> {
    check_config_text::<P>(&config.to_string())
}

/// [`check_config`] on raw text (to see what a check makes of text that is not JSON).
pub fn check_config_text<P: Plugin>(text: &str) -> Vec<Problem> {
    set_config_text(text);
    crate::__check_config::<P>(text)
}

/// A delivery of `body` as Hookgate's default envelope `{id, type, timestamp, data}` for an
/// event of `event_type`, with fixed ids and timestamp so tests can assert on them.
pub fn delivery(event_type: &str, data: &Value) -> Delivery {
    let event = Event {
        id: "evt_test".to_owned(),
        event_type: event_type.to_owned(),
        tenant: "acme".to_owned(),
        timestamp: "2024-01-02T03:04:05Z".to_owned(),
    };
    let body = serde_json::json!({
        "id": event.id,
        "type": event.event_type,
        "timestamp": event.timestamp,
        "data": data,
    });
    delivery_with_body(event, body.to_string().into_bytes(), Vec::new())
}

/// A delivery of an arbitrary `body` and `headers` for `event`.
pub fn delivery_with_body(event: Event, body: Vec<u8>, headers: Vec<Header>) -> Delivery {
    let endpoint = Endpoint {
        id: "ep_test".to_owned(),
        url: "https://receiver.example/hook".to_owned(),
    };
    Delivery::new("del_test", event, endpoint, body, headers)
}

/// The mock's side of [`crate::host`].
pub(crate) mod host {
    use super::*;

    pub fn log(level: Level, message: &str) {
        with(|h| h.logs.push((level, message.to_owned())));
    }

    pub fn config() -> String {
        with(|h| h.config.clone())
    }

    fn kv<R>(f: impl FnOnce(&mut BTreeMap<String, Vec<u8>>) -> R) -> Result<R, String> {
        with(|h| match &h.kv_error {
            Some(e) => Err(e.clone()),
            None => Ok(f(&mut h.kv)),
        })
    }

    pub fn kv_get(key: &str) -> Result<Option<Vec<u8>>, String> {
        kv(|m| m.get(key).cloned())
    }

    pub fn kv_set(key: &str, value: &[u8]) -> Result<(), String> {
        kv(|m| {
            m.insert(key.to_owned(), value.to_vec());
        })
    }

    pub fn kv_delete(key: &str) -> Result<(), String> {
        kv(|m| {
            m.remove(key);
        })
    }

    pub fn http_send(req: &Request) -> Result<Response, String> {
        // The handler runs outside the borrow so it may itself use the mock (e.g. log).
        let handler = with(|h| h.http.take());
        let result = match &handler {
            Some(f) => f(req),
            None => Err(format!("http: {} is not allow-listed (mock host)", req.url)),
        };
        with(|h| h.http = handler);
        result
    }
}
