//! WASI preview 2 for plugins: linked because a Rust `wasm32-wasip2` guest imports `wasi:cli/*`
//! and `wasi:io/*` even when it never prints, but with an empty context: no preopened
//! directories, no environment, no arguments, no sockets or name lookup, stdin closed.
//! stdout/stderr go to small bounded buffers that `call.rs` forwards to the log afterwards.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::WasiCtx;

use super::super::bindings::hookgate::plugin::log::Level;
use super::HostState;

/// Bytes of stdout (and, separately, stderr) kept per call; the rest is dropped silently so a
/// printing guest never fails because of its own output.
const STDIO_CAPACITY: usize = 16 << 10;

/// A write-only stream into a bounded buffer that drops what does not fit.
#[derive(Clone, Default)]
pub(in super::super) struct CapturePipe {
    buf: Arc<Mutex<Vec<u8>>>,
}

impl CapturePipe {
    fn push(&self, data: &[u8]) {
        let mut buf = self.buf.lock().unwrap_or_else(|p| p.into_inner());
        let room = STDIO_CAPACITY.saturating_sub(buf.len());
        buf.extend_from_slice(&data[..data.len().min(room)]);
    }

    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.buf.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl IsTerminal for CapturePipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturePipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Pollable for CapturePipe {
    async fn ready(&mut self) {}
}

impl OutputStream for CapturePipe {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        // Always accept: excess is dropped in `push`, never reported as an error.
        Ok(64 << 10)
    }
}

impl tokio::io::AsyncWrite for CapturePipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(data);
        Poll::Ready(Ok(data.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The two captured streams of one call.
#[derive(Clone, Default)]
pub(in super::super) struct Stdio {
    stdout: CapturePipe,
    stderr: CapturePipe,
}

/// Builds the empty WASI context for one call, wired to `stdio`.
pub(in super::super) fn context(stdio: &Stdio) -> WasiCtx {
    let mut b = WasiCtx::builder();
    b.stdout(stdio.stdout.clone())
        .stderr(stdio.stderr.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    b.build()
}

/// Forwards captured stdout (info) and stderr (warn) lines to the rate-limited plugin log.
pub(in super::super) fn forward(state: &HostState) {
    for (pipe, level, source) in [
        (&state.stdio.stdout, Level::Info, "stdout"),
        (&state.stdio.stderr, Level::Warn, "stderr"),
    ] {
        let data = pipe.take();
        if data.is_empty() {
            continue;
        }
        for line in String::from_utf8_lossy(&data).lines() {
            if !line.is_empty() {
                super::log::emit(state, level, source, line);
            }
        }
    }
}
