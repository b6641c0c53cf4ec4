//! The one place that calls host imports. On wasm it forwards to the generated bindings; on
//! other targets (unit tests) it forwards to the in-process mock in [`crate::testing`], because
//! the generated import stubs just panic off wasm.

#[cfg(target_arch = "wasm32")]
mod imp {
    use crate::bindings::hookgate::plugin::{config, http, kv, log};

    pub fn log(level: log::Level, message: &str) {
        log::log(level, message);
    }

    pub fn config() -> String {
        config::get()
    }

    pub fn kv_get(key: &str) -> Result<Option<Vec<u8>>, String> {
        kv::get(key)
    }

    pub fn kv_set(key: &str, value: &[u8]) -> Result<(), String> {
        kv::set(key, value)
    }

    pub fn kv_delete(key: &str) -> Result<(), String> {
        kv::delete(key)
    }

    pub fn http_send(req: &http::Request) -> Result<http::Response, String> {
        http::send(req)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    pub use crate::testing::host::*;
}

pub(crate) use imp::*;
