//! Hostile: tries outbound HTTP the host must refuse: the cloud metadata address
//! (`http://169.254.169.254/latest/meta-data/`) and an origin that is not allow-listed.
//!
//! Returns `Err` carrying the host's error text for each URL, so tests can assert on it; if
//! any call unexpectedly succeeds it delivers a JSON report of what got through instead.
//! Config `{"urls": [...]}` replaces the URLs tried.

use hookgate_plugin_sdk::{config, http, json, Decision, Delivery, Plugin};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(default)]
struct Config {
    urls: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            urls: vec![
                "http://169.254.169.254/latest/meta-data/".to_owned(),
                "https://not-allow-listed.invalid/".to_owned(),
            ],
        }
    }
}

/// Probes forbidden URLs.
pub struct HostileHttp;

impl Plugin for HostileHttp {
    fn handle(delivery: Delivery) -> Result<Decision, String> {
        let cfg: Config = config()?;
        let mut errors = Vec::new();
        let mut succeeded = Vec::new();
        for url in &cfg.urls {
            match http::get(url, &[]) {
                Ok(resp) => succeeded.push(json!({"url": url, "status": resp.status})),
                Err(e) => errors.push(format!("{url}: {e}")),
            }
        }
        if succeeded.is_empty() {
            return Err(format!("hostile-http: {}", errors.join("; ")));
        }
        let (_, headers) = delivery.into_body_and_headers();
        let report = json!({"unexpected_success": succeeded, "errors": errors});
        Ok(Decision::deliver_json(&report, headers))
    }
}

hookgate_plugin_sdk::export_plugin!(HostileHttp);

#[cfg(test)]
mod tests {
    use super::*;
    use hookgate_plugin_sdk::testing;

    #[test]
    fn reports_host_errors() {
        testing::reset();
        let e = HostileHttp::handle(testing::delivery("x", &json!({}))).unwrap_err();
        assert!(
            e.starts_with("hostile-http: http://169.254.169.254/latest/meta-data/: "),
            "{e}"
        );
        assert!(e.contains("; https://not-allow-listed.invalid/: "), "{e}");
    }

    #[test]
    fn reports_unexpected_success() {
        testing::reset();
        testing::on_http(|_| {
            Ok(http::Response {
                status: 200,
                headers: vec![],
                body: vec![],
            })
        });
        let out = HostileHttp::handle(testing::delivery("x", &json!({}))).unwrap();
        assert_eq!(out.json().unwrap()["unexpected_success"][0]["status"], 200);
    }
}
