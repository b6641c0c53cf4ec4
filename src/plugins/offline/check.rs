//! `hookgate plugin check FILE`: the steps of a gateway load, one line each, on the gateway's
//! own engine and linker, so ✓ means the gateway will load and run the file: compile (and load
//! back from the compiled-code cache), the world, linking every import, one instance under the
//! given limits (which catches a component too big for the instance pool or its memory cap).

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use super::super::runtime::{self, Spec};
use super::super::{cache, call, Grants, PluginHost, PluginLimits, Source};

/// The world's own interfaces, as shown by `uses`.
const CAPABILITIES: [&str; 4] = ["log", "config", "kv", "http"];

/// What compiling showed.
struct Compiled {
    component: Component,
    compile: Duration,
    cache_load: Duration,
}

/// A report, `Ok` when every step passed and `Err` (the same report) when one failed.
pub async fn check(path: &Path, limits: PluginLimits) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let host = super::host()?;
    let engine = host.inner.engine.clone();
    let digest = sha256.clone();
    let size = bytes.len();
    let compiled = tokio::task::spawn_blocking(move || compile_twice(&engine, &digest, &bytes))
        .await
        .map_err(|e| format!("compile task: {e}"))?
        .map_err(|e| format!("{}: not a WebAssembly component: {e}", path.display()))?;
    let mut out = format!(
        "{}: {size} bytes, sha256 {sha256}\ncompile: {}; from the compiled-code cache: {}\n",
        path.display(),
        ms(compiled.compile),
        ms(compiled.cache_load),
    );
    let passed = steps(&host, path, limits, &compiled.component, sha256, &mut out).await;
    describe(&host, &compiled.component, &mut out);
    if passed {
        Ok(out)
    } else {
        Err(out)
    }
}

/// Compiles once into a scratch cache, then loads the result back, as a gateway's first and
/// later starts do.
fn compile_twice(
    engine: &wasmtime::Engine,
    sha256: &str,
    bytes: &[u8],
) -> Result<Compiled, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("scratch cache: {e}"))?;
    let started = Instant::now();
    let (component, _) =
        cache::compile(engine, Some(dir.path()), sha256, bytes).map_err(|e| format!("{e:#}"))?;
    let compile = started.elapsed();
    let started = Instant::now();
    let (_, outcome) =
        cache::compile(engine, Some(dir.path()), sha256, bytes).map_err(|e| format!("{e:#}"))?;
    let cache_load = started.elapsed();
    debug_assert_eq!(outcome, cache::CacheOutcome::Hit);
    Ok(Compiled {
        component,
        compile,
        cache_load,
    })
}

/// World, link and instantiate lines; false at the first that fails.
async fn steps(
    host: &PluginHost,
    path: &Path,
    limits: PluginLimits,
    component: &Component,
    sha256: String,
    out: &mut String,
) -> bool {
    let spec = Spec {
        source: Source::File(path.to_path_buf()),
        limits,
        grants: Grants::default(),
    };
    let prepared = runtime::policy_for("plugin", &spec).and_then(|policy| {
        runtime::prepare(
            &host.inner,
            "plugin",
            spec,
            policy,
            component,
            sha256,
            cache::CacheOutcome::Disabled,
        )
    });
    let plugin = match prepared {
        Ok(plugin) => plugin,
        Err(e) => {
            let _ = writeln!(out, "load: ✗ {}", e.detail());
            return false;
        }
    };
    let _ = writeln!(
        out,
        "world: hookgate:plugin/plugin ✓ (hookgate:plugin@{})",
        version(host, component)
    );
    out.push_str("link: ✓ the gateway provides every import\n");
    match call::instantiate_only(&plugin, &host.inner.services).await {
        Ok(took) => {
            let _ = writeln!(
                out,
                "instantiate: ✓ {} under a {} MiB memory cap",
                ms(took),
                limits.memory_bytes >> 20
            );
            true
        }
        Err(e) => {
            let _ = writeln!(out, "instantiate: ✗ {}", e.detail());
            false
        }
    }
}

/// `uses`, the grants those imports need, and every import and export.
fn describe(host: &PluginHost, component: &Component, out: &mut String) {
    let engine = &host.inner.engine;
    let ty = component.component_type();
    let imports: Vec<String> = ty.imports(engine).map(|(n, _)| n.to_string()).collect();
    let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
    let uses: Vec<&str> = CAPABILITIES
        .into_iter()
        .filter(|c| {
            let prefix = format!("hookgate:plugin/{c}@");
            imports.iter().any(|i| i.starts_with(&prefix))
        })
        .collect();
    let _ = writeln!(out, "uses: {}", super::list_or_none(uses.iter()));
    let mut grants = Vec::new();
    if uses.contains(&"kv") {
        grants.push("kv: true");
    }
    if uses.contains(&"http") {
        grants.push("http: [\"https://origin\"]");
    }
    if !grants.is_empty() {
        let _ = writeln!(
            out,
            "grants: allow: {{ {} }} if it calls them: an import is not a call (JS and Python \
             components import every interface); `hookgate plugin test` shows the calls made",
            grants.join(", ")
        );
    }
    out.push_str("imports:\n");
    for i in &imports {
        let _ = writeln!(out, "  {i}");
    }
    out.push_str("exports:\n");
    for e in &exports {
        let _ = writeln!(out, "  {e}");
    }
}

/// The WIT version of the `handler` export, or `-`.
fn version(host: &PluginHost, component: &Component) -> String {
    let ty = component.component_type();
    let handler = ty
        .exports(&host.inner.engine)
        .map(|(n, _)| n.to_string())
        .find(|e| e.starts_with("hookgate:plugin/handler@"));
    handler
        .and_then(|e| e.split('@').nth(1).map(str::to_string))
        .unwrap_or_else(|| "-".into())
}

/// `12.3 ms` or `1.52 s`.
pub(super) fn ms(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{:.2} ms", d.as_secs_f64() * 1000.0)
    }
}
