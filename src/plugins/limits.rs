//! Per-plugin limits: memory cap (a `ResourceLimiter` that logs cap hits), call deadline, and
//! the size and shape of what a plugin may return.
//!
//! Output rules exist because plugin output becomes an HTTP request: headers that could smuggle
//! a second request (CR/LF), override framing (`Content-Length`, `Transfer-Encoding`) or forge
//! the gateway's signature (`webhook-*`) are refused, and the call counts as a plugin error.

use std::time::Duration;

use super::bindings::Header;
use super::error::PluginError;

/// Default memory cap per plugin instance.
pub const DEFAULT_MEMORY_BYTES: usize = 32 << 20;
/// Default wall-clock deadline per plugin call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(100);
/// Default cap on the returned body plus header bytes.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 1 << 20;
/// At most this many headers in a plugin's output.
pub const MAX_OUTPUT_HEADERS: usize = 64;
/// Table elements an instance may grow to (Rust guests use a few hundred).
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Resource caps for one plugin; set per plugin in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginLimits {
    /// Linear memory cap; growing past it fails and the call reports `PluginError::Memory`.
    pub memory_bytes: usize,
    /// Wall-clock deadline for one call, instantiation included.
    pub timeout: Duration,
    /// Cap on output body + header names and values, in bytes.
    pub max_output_bytes: usize,
    /// Calls one instance serves before it is dropped; 1 (the default) is a fresh instance
    /// per call. See `warm.rs` for what is shared when it is more.
    pub reuse: u32,
}

impl Default for PluginLimits {
    fn default() -> Self {
        PluginLimits {
            memory_bytes: DEFAULT_MEMORY_BYTES,
            timeout: DEFAULT_TIMEOUT,
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
            reuse: 1,
        }
    }
}

/// The store's `ResourceLimiter`: refuses growth past the cap and remembers that it did, so a
/// trap that follows (a Rust guest aborts on allocation failure) is reported as a memory error.
pub(super) struct MemoryLimiter {
    plugin: std::sync::Arc<str>,
    cap: usize,
    /// Set when a growth request was refused during this call.
    pub(super) hit: bool,
}

impl MemoryLimiter {
    pub(super) fn new(plugin: std::sync::Arc<str>, cap: usize) -> Self {
        MemoryLimiter {
            plugin,
            cap,
            hit: false,
        }
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired <= self.cap {
            return Ok(true);
        }
        if !self.hit {
            tracing::warn!(
                plugin = %self.plugin, current, desired, cap = self.cap,
                "plugin memory growth refused: cap reached"
            );
        }
        self.hit = true;
        Ok(false)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// Checks one header; `Err` is the human-readable reason.
pub(super) fn check_header(name: &str, value: &str) -> Result<(), String> {
    // The same rules as endpoint config (`crate::guard`): hop-by-hop, framing and signature
    // headers are the gateway's; values may not split or inject headers.
    if !crate::guard::is_token(name) {
        return Err(format!("name {name:?} is not an HTTP token"));
    }
    if crate::guard::is_reserved_header(name) {
        return Err(format!("{name} is reserved and cannot be set by plugins"));
    }
    if !crate::guard::is_safe_header_value(value) {
        return Err(format!(
            "value of {name} contains CR, LF, NUL or another control character"
        ));
    }
    Ok(())
}

/// Validates a `deliver` output: header count and shape, then total size.
pub(super) fn check_output(
    plugin: &str,
    body: &[u8],
    headers: &[Header],
    max_bytes: usize,
) -> Result<(), PluginError> {
    let invalid = |message: String| PluginError::InvalidHeader {
        plugin: plugin.to_string(),
        message,
    };
    if headers.len() > MAX_OUTPUT_HEADERS {
        return Err(invalid(format!(
            "{} headers, at most {MAX_OUTPUT_HEADERS} allowed",
            headers.len()
        )));
    }
    for h in headers {
        check_header(&h.name, &h.value).map_err(invalid)?;
    }
    let size = body.len()
        + headers
            .iter()
            .map(|h| h.name.len() + h.value.len())
            .sum::<usize>();
    if size > max_bytes {
        return Err(PluginError::OutputTooLarge {
            plugin: plugin.to_string(),
            size,
            limit: max_bytes,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_rules() {
        let ok = [
            ("x-tenant", "acme"),
            ("X-Trace", ""),
            ("a!#$%&'*+-.^_`|~z", "v w\tx"),
        ];
        for (n, v) in ok {
            assert_eq!(check_header(n, v), Ok(()), "{n}");
        }
        let bad = [
            ("", "v"),
            ("x y", "v"),
            ("x:y", "v"),
            ("x-é", "v"),
            ("Host", "v"),
            ("content-length", "1"),
            ("Transfer-Encoding", "chunked"),
            ("Proxy-Authorization", "x"),
            ("webhook-signature", "v1,x"),
            ("TE", "trailers"),
            ("x-a", "a\r\nb"),
            ("x-a", "a\nb"),
            ("x-a", "a\0b"),
        ];
        for (n, v) in bad {
            assert!(
                check_header(n, v).is_err(),
                "{n:?}: {v:?} should be refused"
            );
        }
    }

    #[test]
    fn output_size_and_count() {
        let h = |n: &str| Header {
            name: n.into(),
            value: "12345".into(),
        };
        assert!(check_output("p", &[0; 10], &[h("x-a")], 18).is_ok());
        let err = check_output("p", &[0; 10], &[h("x-a")], 17).unwrap_err();
        assert!(matches!(err, PluginError::OutputTooLarge { size: 18, .. }));
        let many: Vec<Header> = (0..65).map(|i| h(&format!("x-{i}"))).collect();
        assert!(matches!(
            check_output("p", b"", &many, 1 << 20),
            Err(PluginError::InvalidHeader { .. })
        ));
        assert!(check_output("p", b"", &many[..64], 1 << 20).is_ok());
    }
}
