//! Hostile: delivers headers the host must refuse: CR/LF injection in a value, an invalid
//! name, and headers the gateway owns (`Host`, the signature header, `Content-Length`).
//!
//! Config `{"case": "crlf"}` returns just one kind (`crlf`, `lf`, `name`, `empty_name`,
//! `host`, `signature`, `content_length`) so each rejection can be tested alone; the default
//! `all` returns every kind at once.

use hookgate_plugin_sdk::{config, Decision, Delivery, Header, Plugin};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(default)]
struct Config {
    case: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            case: "all".to_owned(),
        }
    }
}

/// Every bad header, by case name.
pub fn bad_headers() -> Vec<(&'static str, Header)> {
    vec![
        ("crlf", Header::new("X-Injected", "ok\r\nX-Evil: 1")),
        ("lf", Header::new("X-Injected-Lf", "ok\nX-Evil: 1")),
        ("name", Header::new("bad name", "v")),
        ("empty_name", Header::new("", "v")),
        ("host", Header::new("Host", "evil.example")),
        ("signature", Header::new("webhook-signature", "v1,Zm9yZ2Vk")),
        ("content_length", Header::new("Content-Length", "1")),
    ]
}

/// Delivers the body unchanged with bad headers.
pub struct HostileBadHeaders;

impl Plugin for HostileBadHeaders {
    fn handle(delivery: Delivery) -> Result<Decision, String> {
        let cfg: Config = config()?;
        let chosen: Vec<Header> = bad_headers()
            .into_iter()
            .filter(|(case, _)| cfg.case == "all" || cfg.case == *case)
            .map(|(_, h)| h)
            .collect();
        if chosen.is_empty() {
            return Err(format!("hostile-bad-headers: unknown case {:?}", cfg.case));
        }
        let (body, mut headers) = delivery.into_body_and_headers();
        headers.extend(chosen);
        Ok(Decision::deliver(body, headers))
    }
}

hookgate_plugin_sdk::export_plugin!(HostileBadHeaders);
