//! `hookgate plugin new|build|test|check|list`: from nothing to a tested plugin without a
//! gateway.
//!
//! `new` writes the scaffold in `plugins/template` (embedded in the binary); `build` installs
//! the wasm32-wasip2 target if missing and runs cargo for it; `list` shows the built-ins;
//! `check` and `test` hand over to [`crate::plugins::offline`].

use std::path::{Path, PathBuf};
use std::process::Command;

use std::ffi::OsStr;

use anyhow::{anyhow, bail, Context};
use clap::Subcommand;

use super::input::json_file;
use super::plugin_build::{self, Lang};
use crate::builtin_plugins;
use crate::plugins::{offline, PluginLimits};
use crate::wasm_toolchain::{self, TargetStatus, WASM_TARGET};

/// `hookgate plugin …`
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Create a new plugin project NAME in the current directory.
    New {
        /// Project name (letters, digits, `-`, `_`).
        name: String,
        /// The language: a Rust crate, a JavaScript or a Python project.
        #[arg(long, value_enum, default_value_t = NewLang::Rust)]
        lang: NewLang,
        /// Rust only: path of the hookgate-plugin-sdk crate (default: found in ./plugins/sdk
        /// or above). JS and Python projects carry their own copy of the SDK.
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Build a plugin project (Rust, JS or Python, read off its manifest) and print the
    /// .wasm it produced.
    Build {
        /// The project directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Run a plugin on an event, offline: decision, headers, body diff and time.
    Test {
        /// The .wasm component.
        file: PathBuf,
        /// The event, as published: {"type", "data", "id"?, "tenant"?}.
        #[arg(long)]
        event: PathBuf,
        /// The chain entry's `config` (JSON).
        #[arg(long)]
        config: Option<PathBuf>,
        /// kv entries to preload (a JSON object key → value).
        #[arg(long)]
        kv: Option<PathBuf>,
        #[command(flatten)]
        limits: LimitArgs,
        /// Time N more calls after the one shown (each on a fresh instance, as in the
        /// gateway) and print p50/p99, split into instantiate, handle and teardown.
        #[arg(long, default_value_t = 10)]
        repeat: u32,
    },
    /// Will the gateway load FILE? Each step of a load on the gateway's own engine and linker
    /// (compile, cache load, world, link, one instance under the limits), then its imports.
    Check {
        /// The .wasm component.
        file: PathBuf,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// The plugins compiled into this binary, with their sha256 (what `use: NAME` runs).
    List {
        /// Print JSON: `[{"name", "sha256", "bytes"}]`.
        #[arg(long)]
        json: bool,
    },
}

/// A plugin's limits, as `plugins.NAME.memory` and `.timeout` set them in the config.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitArgs {
    /// Memory cap, e.g. `64MiB` (the config's `memory`).
    #[arg(long, default_value = "32MiB", value_parser = parse_memory)]
    memory: usize,
    /// Deadline per call, e.g. `250ms` (the config's `timeout`).
    #[arg(long, default_value = "100ms", value_parser = crate::config::parse_duration)]
    timeout: std::time::Duration,
    /// Calls per instance before a fresh one (the config's `reuse`; 1 = fresh every call).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    reuse: u32,
}

impl LimitArgs {
    fn limits(&self) -> PluginLimits {
        PluginLimits {
            memory_bytes: self.memory,
            timeout: self.timeout,
            reuse: self.reuse,
            ..PluginLimits::default()
        }
    }
}

fn parse_memory(s: &str) -> Result<usize, String> {
    let bytes = crate::config::parse_size(s)?;
    usize::try_from(bytes).map_err(|_| format!("{s}: too large"))
}

/// `plugin new --lang`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NewLang {
    /// A crate with the Rust SDK, built by cargo for wasm32-wasip2.
    Rust,
    /// An ES module with the JS SDK, built by componentize-qjs.
    Js,
    /// A module with the Python SDK, built by componentize-py.
    Python,
}

const TEMPLATE_CARGO: &str = include_str!("../../plugins/template/Cargo.toml");
const TEMPLATE_LIB: &str = include_str!("../../plugins/template/src/lib.rs");
const TEMPLATE_IGNORE: &str = include_str!("../../plugins/template/.gitignore");

fn find_sdk() -> Option<PathBuf> {
    let mut dir = std::env::current_dir().ok()?;
    loop {
        let candidate = dir.join("plugins/sdk");
        if candidate.join("Cargo.toml").exists() {
            return Some(candidate);
        }
        if !dir.pop() {
            return None;
        }
    }
}

/// Runs a `plugin` subcommand; `Ok(false)` means "ran, but the answer is no" (exit 1).
///
/// `log` is the global `--log` filter: `plugin test` shows the plugin's lines it lets through.
pub async fn run(cmd: PluginCommand, log: &str) -> anyhow::Result<bool> {
    match cmd {
        PluginCommand::New { name, lang, sdk } => {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                bail!("plugin name {name:?}: use letters, digits, `-` and `_`");
            }
            if lang != NewLang::Rust {
                super::plugin_new::scaffold(Path::new(&name), &name, lang == NewLang::Python)?;
                let test = if lang == NewLang::Js {
                    "npm test"
                } else {
                    ".venv/bin/python -m pytest"
                };
                println!(
                    "created {name}/ — next: cd {name} && hookgate plugin build . && {test} && hookgate plugin test target/{}.wasm --event event.json --config config.json",
                    name.replace('-', "_")
                );
                return Ok(true);
            }
            let sdk = sdk.or_else(find_sdk).ok_or_else(|| {
                anyhow!("cannot find plugins/sdk from here: pass --sdk PATH (the hookgate-plugin-sdk directory)")
            })?;
            let sdk = sdk
                .canonicalize()
                .with_context(|| format!("--sdk {}", sdk.display()))?;
            let dir = PathBuf::from(&name);
            if dir.exists() {
                bail!("{} already exists", dir.display());
            }
            std::fs::create_dir_all(dir.join("src"))?;
            let cargo = TEMPLATE_CARGO
                .replace("{{name}}", &name)
                .replace("{{sdk_path}}", &sdk.display().to_string());
            std::fs::write(dir.join("Cargo.toml"), cargo)?;
            std::fs::write(
                dir.join("src/lib.rs"),
                TEMPLATE_LIB.replace("{{name}}", &name),
            )?;
            std::fs::write(dir.join(".gitignore"), TEMPLATE_IGNORE)?;
            println!(
                "created {name}/ — next: hookgate plugin build {name} && hookgate plugin test {name}/target/wasm32-wasip2/release/{}.wasm --event event.json",
                name.replace('-', "_")
            );
            Ok(true)
        }
        PluginCommand::Build { dir } => {
            let lang = Lang::detect(&dir)?;
            if lang != Lang::Rust {
                let out = plugin_build::build(&dir, lang)?;
                println!("{}", out.display());
                return Ok(true);
            }
            match wasm_toolchain::ensure_wasm_target(OsStr::new("rustc"), &dir) {
                Ok(TargetStatus::Present) => {}
                Ok(TargetStatus::Installed) => {
                    eprintln!("installed the {WASM_TARGET} rustup target")
                }
                Err(e) => bail!("{e}"),
            }
            let status = Command::new("cargo")
                .args(["build", "--release", "--target", "wasm32-wasip2"])
                .current_dir(&dir)
                .status()
                .context("running cargo")?;
            if !status.success() {
                bail!("cargo build failed in {}", dir.display());
            }
            let out = dir.join("target/wasm32-wasip2/release");
            for e in
                std::fs::read_dir(&out).with_context(|| format!("reading {}", out.display()))?
            {
                let p = e?.path();
                if p.extension().is_some_and(|x| x == "wasm") {
                    println!("{}", p.display());
                }
            }
            Ok(true)
        }
        PluginCommand::List { json } => {
            list_builtins(json);
            Ok(true)
        }
        PluginCommand::Check { file, limits } => match offline::check(&file, limits.limits()).await
        {
            Ok(report) => {
                print!("{report}");
                Ok(true)
            }
            Err(report) => {
                eprint!("{report}");
                Ok(false)
            }
        },
        PluginCommand::Test {
            file,
            event,
            config,
            kv,
            limits,
            repeat,
        } => {
            let input = offline::TestInput {
                event: json_file(&event)?,
                config: config
                    .as_deref()
                    .map(json_file)
                    .transpose()?
                    .unwrap_or(serde_json::Value::Null),
                kv: match kv.as_deref().map(json_file).transpose()? {
                    None => serde_json::Map::new(),
                    Some(serde_json::Value::Object(m)) => m,
                    Some(_) => bail!("--kv must be a JSON object of key → value"),
                },
                limits: limits.limits(),
                repeat,
                log: log.to_string(),
            };
            match offline::test(&file, input).await {
                Ok(report) => {
                    print!("{report}");
                    Ok(true)
                }
                Err(report) => {
                    eprint!("{report}");
                    Ok(false)
                }
            }
        }
    }
}

/// `hookgate plugin list`: name, sha256 and size of each built-in plugin.
fn list_builtins(json: bool) {
    let rows = builtin_plugins::ALL
        .iter()
        .map(|p| (p.name, p.sha256(), p.bytes.len()));
    if json {
        let items: Vec<serde_json::Value> = rows
            .map(|(name, sha256, bytes)| serde_json::json!({"name": name, "sha256": sha256, "bytes": bytes}))
            .collect();
        println!("{}", serde_json::Value::Array(items));
        return;
    }
    println!("{:<10} {:<64} {:>8}", "NAME", "SHA256", "BYTES");
    for (name, sha256, bytes) in rows {
        println!("{name:<10} {sha256:<64} {bytes:>8}");
    }
}
