//! Compiled-code cache on disk: skips Cranelift (~37 ms for an 83 KB guest) when a plugin file
//! has been compiled before by an engine with the same settings (~0.1 ms to deserialize).
//!
//! Key: `sha256(wasm bytes)` + a hash of `Engine::precompile_compatibility_hash` (wasmtime
//! version, target, and every `Config` setting that changes code, e.g. epochs). File name:
//! `<sha256>-<compat>.cwasm`. Files are written to a temporary name and renamed, so a reader
//! never sees a partial file. Any failure to read or write the cache only costs a compile.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::component::Component;
use wasmtime::Engine;

/// Where a component's machine code came from, reported by `load` (tests and status logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Deserialized from a file this host wrote earlier.
    Hit,
    /// Compiled now; written to the cache (if writing worked).
    Miss,
    /// No cache directory configured: compiled now.
    Disabled,
}

/// Hex digest identifying the engine's code-generation settings.
fn compat_key(engine: &Engine) -> String {
    // `DefaultHasher::new()` uses fixed keys, so the value is stable for one build of the binary;
    // a different toolchain may hash differently, which only means a recompile.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{:016x}", h.finish())
}

/// Path of the cached artifact for these bytes' digest under `dir`.
pub(super) fn artifact_path(dir: &Path, engine: &Engine, sha256: &str) -> PathBuf {
    dir.join(format!("{sha256}-{}.cwasm", compat_key(engine)))
}

/// Returns the component for `bytes` (whose digest is `sha256`), from the cache when possible.
/// Blocking: call it on the blocking pool.
pub(super) fn compile(
    engine: &Engine,
    dir: Option<&Path>,
    sha256: &str,
    bytes: &[u8],
) -> wasmtime::Result<(Component, CacheOutcome)> {
    let Some(dir) = dir else {
        let component = Component::new(engine, bytes);
        release_compile_memory();
        return Ok((component?, CacheOutcome::Disabled));
    };
    let path = artifact_path(dir, engine, sha256);
    if let Ok(artifact) = std::fs::read(&path) {
        // The artifact is read into memory rather than mapped with `deserialize_file`: with a
        // mapping, anything truncating the file while the component is alive (an operator
        // clearing the cache, a restore) kills the whole process with SIGBUS — a test here did
        // exactly that. The copy costs well under a millisecond per load.
        //
        // SAFETY: `deserialize` trusts the bytes to be wasmtime output for this engine. The
        // cache directory is private to the gateway and only this function writes to it; files
        // are named by the digest of the source and the engine's compatibility hash, written to
        // a temporary name and renamed into place, so the file is what `precompile_component`
        // produced for these bytes under these settings. wasmtime also checks its header
        // (version, target, settings) and rejects a mismatch or a truncated file.
        match unsafe { Component::deserialize(engine, &artifact) } {
            Ok(component) => return Ok((component, CacheOutcome::Hit)),
            Err(e) => tracing::warn!(
                path = %path.display(), error = %e,
                "unusable compiled-plugin cache entry; recompiling"
            ),
        }
    }
    let serialized = engine.precompile_component(bytes)?;
    release_compile_memory();
    if let Err(e) = write_atomically(dir, &path, &serialized) {
        tracing::warn!(path = %path.display(), error = %e, "could not write compiled-plugin cache");
    }
    // SAFETY: the bytes were produced by `precompile_component` on this very engine just above.
    let component = unsafe { Component::deserialize(engine, &serialized)? };
    Ok((component, CacheOutcome::Miss))
}

/// Gives the heap Cranelift used back to the system. glibc keeps freed memory in its arenas,
/// so without this a gateway that compiled a Python component (~300 MiB at the peak, spread
/// over the compile threads' arenas) kept that much RSS for good.
fn release_compile_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only returns free heap pages to the kernel; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Writes `data` to `path` via a unique temporary file in the same directory and a rename, so
/// concurrent loaders and crashes never leave a truncated artifact under the final name.
fn write_atomically(dir: &Path, path: &Path, data: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".tmp-{}-{seq}.cwasm", std::process::id()));
    let result = std::fs::write(&tmp, data).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
