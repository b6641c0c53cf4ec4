//! `PluginHost`: the engine, the linker with every host import, and the registry of loaded
//! plugins (one `InstancePre` each), swapped atomically on (re)load.
//!
//! Readers (`run_chain`) take one snapshot of the registry (`ArcSwap`), so a reload never
//! changes plugins under a running chain. Loads of one plugin are serialized by its own async
//! mutex (loads of different plugins run side by side) and compile on the blocking pool, with
//! Cranelift's worker threads at low CPU priority (`engine.rs`). A failed (re)load leaves the last good version in the
//! registry and records the error in `status()`.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, InstancePre, Linker};
use wasmtime::Engine;

use super::bindings::{HandlerIndices, ValidateIndices, HANDLER_EXPORT, WORLD_IMPORTS};
use super::cache::{self, CacheOutcome};
use super::engine::{self, MAX_PLUGIN_MEMORY};
use super::error::PluginError;
use super::host::{Grants, HostState, HttpFetcher, KvBackend, PluginPolicy, Services};
use super::limits::PluginLimits;

/// What the gateway hands the plugin host when it starts.
pub struct HostOptions {
    /// Directory for compiled code (`<data_dir>/plugin-cache`); `None` compiles on every load.
    pub cache_dir: Option<PathBuf>,
    /// Storage behind the `kv` import.
    pub kv: Arc<dyn KvBackend>,
    /// Outbound client behind the `http` import (the SSRF-guarded one in the gateway).
    pub http: Arc<dyn HttpFetcher>,
}

/// A file's (mtime, length) when last read; `None` for built-ins and unreadable files.
type FileStamp = Option<(SystemTime, u64)>;

/// Where a plugin's component comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Compiled into the binary ([`crate::builtin_plugins`]), by name.
    Builtin(&'static str),
    /// A `.wasm` file (watched for changes).
    File(PathBuf),
}

impl Source {
    /// The file, for a file source.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Source::Builtin(_) => None,
            Source::File(p) => Some(p),
        }
    }

    /// The component's bytes and, for a file, its (mtime, length) stamp.
    fn read(&self) -> Result<(Cow<'static, [u8]>, FileStamp), String> {
        match self {
            Source::Builtin(name) => crate::builtin_plugins::find(name)
                .map(|b| (Cow::Borrowed(b.bytes), None))
                .ok_or_else(|| format!("no built-in plugin `{name}`")),
            Source::File(path) => {
                let bytes =
                    std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
                let stamp = std::fs::metadata(path)
                    .ok()
                    .and_then(|m| Some((m.modified().ok()?, m.len())));
                Ok((Cow::Owned(bytes), stamp))
            }
        }
    }
}

impl std::fmt::Display for Source {
    /// `builtin:NAME` or the file's path.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Builtin(name) => write!(f, "builtin:{name}"),
            Source::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A compiled, linked plugin ready to be instantiated per call.
pub struct LoadedPlugin {
    /// Name from the configuration.
    pub name: String,
    /// Where it was loaded from.
    pub source: Source,
    /// Hex sha256 of the file's bytes (recorded with each delivery it changed).
    pub sha256: String,
    /// When this version was loaded.
    pub loaded_at: SystemTime,
    /// Whether the machine code came from the disk cache.
    pub cache: CacheOutcome,
    /// The limits this version runs under.
    pub limits: PluginLimits,
    pub(super) pre: InstancePre<HostState>,
    /// Where `handler` sits in the component's exports.
    pub(super) handler: HandlerIndices,
    /// Where `validate` sits, for components built against WIT 0.1.1 or later.
    pub(super) validate: Option<ValidateIndices>,
    pub(super) policy: Arc<PluginPolicy>,
    /// Idle instances, when `limits.reuse` lets an instance serve more than one call.
    pub(super) warm: super::warm::WarmPool,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("name", &self.name)
            .field("source", &self.source)
            .field("sha256", &self.sha256)
            .field("cache", &self.cache)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// One plugin's state for operators (`hookgate plugins` / the admin API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginStatus {
    /// Name from the configuration.
    pub name: String,
    /// Configured source (a file, or the built-in of that name).
    pub source: Source,
    /// Digest of the version in service; `None` if no load ever succeeded.
    pub sha256: Option<String>,
    /// When the version in service was loaded.
    pub loaded_at: Option<SystemTime>,
    /// Error of the latest (re)load attempt, if it failed; the previous version stays in service.
    pub last_error: Option<String>,
}

/// What a load needs to be repeated by `reload`.
#[derive(Clone)]
pub(super) struct Spec {
    pub(super) source: Source,
    pub(super) limits: PluginLimits,
    pub(super) grants: Grants,
}

/// Bookkeeping per configured plugin.
pub(super) struct Record {
    pub(super) spec: Spec,
    pub(super) status: PluginStatus,
    /// (mtime, length) of the file when last read, for `reload_if_changed`.
    pub(super) stamp: Option<(SystemTime, u64)>,
}

pub(super) struct Inner {
    pub(super) engine: Engine,
    /// Plugin calls in flight, for the epoch ticker (which sleeps while there are none).
    pub(super) ticker: engine::Ticker,
    linker: Linker<HostState>,
    cache_dir: Option<PathBuf>,
    pub(super) services: Services,
    /// The plugins in service; replaced wholesale, read lock-free.
    pub(super) plugins: ArcSwap<HashMap<String, Arc<LoadedPlugin>>>,
    /// A std mutex: held only for short map updates, never across an await.
    pub(super) records: Mutex<BTreeMap<String, Record>>,
    /// One lock per plugin name, so two loads of one plugin cannot finish out of order while
    /// loads of different plugins run side by side: a 10 s compile of a Python component never
    /// holds up the first use of a built-in or the reload of another plugin.
    load_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// The plugin runtime; cheap to clone (all clones share one engine and registry).
#[derive(Clone)]
pub struct PluginHost {
    pub(super) inner: Arc<Inner>,
}

/// Result of the blocking part of a load.
pub(super) enum Compiled {
    Loaded(Box<LoadedPlugin>, Option<(SystemTime, u64)>),
    /// The file's digest equals `skip_if_sha`: nothing to do.
    Unchanged(Option<(SystemTime, u64)>),
}

impl PluginHost {
    /// Creates the engine (and its epoch ticker) and links WASI p2 plus the Hookgate imports.
    pub fn new(opts: HostOptions) -> Result<PluginHost, PluginError> {
        let err = |e: wasmtime::Error| PluginError::load("<host>", format!("{e:#}"));
        let (engine, ticker) = engine::build().map_err(err)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(err)?;
        super::bindings::Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(err)?;
        Ok(PluginHost {
            inner: Arc::new(Inner {
                engine,
                ticker,
                linker,
                cache_dir: opts.cache_dir,
                services: Services {
                    kv: opts.kv,
                    http: opts.http,
                },
                plugins: ArcSwap::from_pointee(HashMap::new()),
                records: Mutex::new(BTreeMap::new()),
                load_locks: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Compiles (via the cache), checks and links `path` and puts it in service as `name`,
    /// replacing any previous version. On failure the previous version (if any) stays in
    /// service and the error is recorded in `status()`.
    pub async fn load(
        &self,
        name: &str,
        path: impl AsRef<Path>,
        limits: PluginLimits,
        grants: Grants,
    ) -> Result<Arc<LoadedPlugin>, PluginError> {
        let source = Source::File(path.as_ref().to_path_buf());
        self.load_source(name, source, limits, grants).await
    }

    /// Like [`PluginHost::load`], for a component from `source` (a file or a built-in).
    pub async fn load_source(
        &self,
        name: &str,
        source: Source,
        limits: PluginLimits,
        grants: Grants,
    ) -> Result<Arc<LoadedPlugin>, PluginError> {
        let spec = Spec {
            source,
            limits,
            grants,
        };
        let _guard = self.lock_loads_of(name).await;
        match self.load_locked(name, spec, None).await? {
            Some(loaded) => Ok(loaded),
            None => self.get(name).ok_or_else(|| PluginError::NotLoaded {
                plugin: name.to_string(),
            }),
        }
    }

    /// The version of `name` in service.
    pub fn get(&self, name: &str) -> Option<Arc<LoadedPlugin>> {
        self.inner.plugins.load().get(name).cloned()
    }

    /// `name` if loaded; otherwise, for a built-in, loads it with the default limits and no
    /// grants (what `use: NAME` with no `plugins:` entry means). Built-ins load on first use so
    /// a gateway compiles only the ones its endpoints (file or API) actually use.
    pub async fn builtin_on_first_use(&self, name: &str) -> Result<Arc<LoadedPlugin>, PluginError> {
        let not_loaded = || PluginError::NotLoaded {
            plugin: name.to_string(),
        };
        let builtin = crate::builtin_plugins::find(name).ok_or_else(not_loaded)?;
        let _guard = self.lock_loads_of(name).await;
        if let Some(p) = self.get(name) {
            return Ok(p);
        }
        let spec = Spec {
            source: Source::Builtin(builtin.name),
            limits: PluginLimits::default(),
            grants: Grants::default(),
        };
        self.load_locked(name, spec, None)
            .await?
            .ok_or_else(not_loaded)
    }

    /// Takes `name` out of service and forgets it (its chain entries then fail as not loaded).
    pub fn unload(&self, name: &str) {
        self.inner.plugins.rcu(|map| {
            let mut map = HashMap::clone(map);
            map.remove(name);
            map
        });
        self.records().remove(name);
    }

    /// Every configured plugin, sorted by name.
    pub fn status(&self) -> Vec<PluginStatus> {
        self.records().values().map(|r| r.status.clone()).collect()
    }

    pub(super) fn records(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Record>> {
        // A poisoned lock only means a panic mid-update of plain data; keep serving.
        self.inner.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for any load of `name` in progress and holds off others until the guard drops.
    pub(super) async fn lock_loads_of(&self, name: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = (self.inner.load_locks.lock()).unwrap_or_else(|p| p.into_inner());
            Arc::clone(locks.entry(name.to_string()).or_default())
        };
        lock.lock_owned().await
    }

    /// Load with `name`'s load lock held. `Ok(None)`: the file's digest was `skip_if_sha`.
    pub(super) async fn load_locked(
        &self,
        name: &str,
        spec: Spec,
        skip_if_sha: Option<String>,
    ) -> Result<Option<Arc<LoadedPlugin>>, PluginError> {
        let result = self.compile(name, &spec, skip_if_sha).await;
        let mut records = self.records();
        let record = records.entry(name.to_string()).or_insert_with(|| Record {
            spec: spec.clone(),
            status: PluginStatus {
                name: name.to_string(),
                source: spec.source.clone(),
                sha256: None,
                loaded_at: None,
                last_error: None,
            },
            stamp: None,
        });
        record.spec = spec.clone();
        record.status.source = spec.source.clone();
        match result {
            Ok(Compiled::Unchanged(stamp)) => {
                // Same content as the version in service (e.g. a broken edit was reverted).
                record.stamp = stamp;
                record.status.last_error = None;
                Ok(None)
            }
            Ok(Compiled::Loaded(loaded, stamp)) => {
                let loaded: Arc<LoadedPlugin> = Arc::from(loaded);
                record.stamp = stamp;
                record.status.sha256 = Some(loaded.sha256.clone());
                record.status.loaded_at = Some(loaded.loaded_at);
                record.status.last_error = None;
                self.inner.plugins.rcu(|map| {
                    let mut map = HashMap::clone(map);
                    map.insert(name.to_string(), Arc::clone(&loaded));
                    map
                });
                tracing::info!(plugin = name, sha256 = %loaded.sha256, cache = ?loaded.cache, "plugin loaded");
                Ok(Some(loaded))
            }
            Err(e) => {
                record.status.last_error = Some(e.to_string());
                tracing::warn!(plugin = name, error = %e, "plugin load failed; previous version (if any) stays in service");
                Err(e)
            }
        }
    }

    /// Reads, hashes, compiles and links on the blocking pool.
    async fn compile(
        &self,
        name: &str,
        spec: &Spec,
        skip_if_sha: Option<String>,
    ) -> Result<Compiled, PluginError> {
        let policy = policy_for(name, spec)?;
        let inner = Arc::clone(&self.inner);
        let (name, spec) = (name.to_string(), spec.clone());
        tokio::task::spawn_blocking(move || {
            compile_blocking(&inner, &name, spec, policy, skip_if_sha)
        })
        .await
        .map_err(|e| PluginError::load("<host>", format!("compile task failed: {e}")))?
    }
}

/// The limits checked and the grants parsed: the policy every call of this version runs under.
pub(super) fn policy_for(name: &str, spec: &Spec) -> Result<Arc<PluginPolicy>, PluginError> {
    if spec.limits.memory_bytes > MAX_PLUGIN_MEMORY || spec.limits.memory_bytes < (1 << 20) {
        return Err(PluginError::load(
            name,
            format!(
                "memory limit must be between 1 MiB and {} MiB",
                MAX_PLUGIN_MEMORY >> 20
            ),
        ));
    }
    if spec.limits.timeout.is_zero() {
        return Err(PluginError::load(name, "timeout must be positive"));
    }
    Ok(Arc::new(PluginPolicy::new(
        name,
        spec.limits,
        &spec.grants,
    )?))
}

fn compile_blocking(
    inner: &Inner,
    name: &str,
    spec: Spec,
    policy: Arc<PluginPolicy>,
    skip_if_sha: Option<String>,
) -> Result<Compiled, PluginError> {
    let fail =
        |what: &str, e: &dyn std::fmt::Display| PluginError::load(name, format!("{what}: {e}"));
    let (bytes, stamp) = spec.source.read().map_err(|e| PluginError::load(name, e))?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    if skip_if_sha.as_deref() == Some(sha256.as_str()) {
        return Ok(Compiled::Unchanged(stamp));
    }
    let (component, cache) =
        cache::compile(&inner.engine, inner.cache_dir.as_deref(), &sha256, &bytes)
            .map_err(|e| fail("compiling", &format!("{e:#}")))?;
    let loaded = prepare(inner, name, spec, policy, &component, sha256, cache)?;
    Ok(Compiled::Loaded(Box::new(loaded), stamp))
}

/// Everything a load does after compiling: the world check, linking against the host's
/// imports, finding the exports. Shared with `plugin check`, so its ✓ is the gateway's.
pub(super) fn prepare(
    inner: &Inner,
    name: &str,
    spec: Spec,
    policy: Arc<PluginPolicy>,
    component: &Component,
    sha256: String,
    cache: CacheOutcome,
) -> Result<LoadedPlugin, PluginError> {
    let fail =
        |what: &str, e: &dyn std::fmt::Display| PluginError::load(name, format!("{what}: {e}"));
    check_world(&inner.engine, component).map_err(|e| PluginError::load(name, e))?;
    let pre = inner
        .linker
        .instantiate_pre(component)
        .map_err(|e| fail("linking", &format!("{e:#}")))?;
    let handler =
        HandlerIndices::new(&pre).map_err(|e| fail("checking exports", &format!("{e:#}")))?;
    let validate = ValidateIndices::new(&pre).ok();
    Ok(LoadedPlugin {
        name: name.to_string(),
        source: spec.source,
        sha256,
        loaded_at: SystemTime::now(),
        cache,
        limits: spec.limits,
        pre,
        handler,
        validate,
        policy,
        warm: Default::default(),
    })
}

/// Checks that the component targets `hookgate:plugin@0.1.x`'s world, naming what is wrong:
/// the missing `handler` export, or imports the host does not provide (anything but the world's
/// interfaces and WASI).
pub(super) fn check_world(engine: &Engine, component: &Component) -> Result<(), String> {
    let ty = component.component_type();
    let unknown: Vec<String> = ty
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .filter(|name| !name.starts_with("wasi:") && !is_world_interface(name, &WORLD_IMPORTS))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "component imports {} which the host does not provide (it provides hookgate:plugin/{{types,log,config,kv,http}}@0.1 and WASI p2)",
            unknown.join(", ")
        ));
    }
    if !ty
        .exports(engine)
        .any(|(name, _)| is_world_interface(name, &[HANDLER_EXPORT]))
    {
        let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
        return Err(format!(
            "component does not export {HANDLER_EXPORT} (it exports: {}); is it built against hookgate's plugin.wit?",
            if exports.is_empty() { "nothing".to_string() } else { exports.join(", ") }
        ));
    }
    Ok(())
}

/// `name` is one of `known` up to a semver-compatible (`0.1.x`) version.
fn is_world_interface(name: &str, known: &[&str]) -> bool {
    let (base, version) = name.split_once('@').unwrap_or((name, ""));
    known.iter().any(|k| {
        let (kbase, _) = k.split_once('@').unwrap_or((k, ""));
        kbase == base && version.starts_with("0.1.")
    })
}
