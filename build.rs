//! Builds the shipped plugins (`plugins/examples/{filter,redact,slack,envelope,enrich}`) from
//! source so the gateway binary carries them (`src/builtin_plugins.rs`): a self-hoster needs no
//! `.wasm` file and no Rust toolchain to `use: filter`.
//!
//! It runs exactly the plugins README's build command (`cargo build --release --target
//! wasm32-wasip2` in `plugins/`, the whole workspace so feature unification is the same) and
//! embeds the files that command writes to `plugins/target/`, so the embedded bytes are by
//! construction what `plugins/` builds; `tests/builtin_plugins.rs` checks it from the outside.
//! The wasm target is installed first if missing (see `src/wasm_toolchain.rs`).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "src/wasm_toolchain.rs"]
#[allow(dead_code)]
mod toolchain;

/// The plugins compiled into the binary, by crate directory under `plugins/examples/`.
const BUILTINS: [&str; 5] = ["filter", "redact", "slack", "envelope", "enrich"];

/// Variables of the outer build that would change what the nested build produces or where.
const OUTER_ONLY_ENV: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_INCREMENTAL",
    "CARGO_PROFILE_RELEASE_DEBUG",
    "CARGO_PROFILE_RELEASE_OPT_LEVEL",
    "CARGO_PROFILE_RELEASE_LTO",
    "CARGO_PROFILE_RELEASE_STRIP",
    "CARGO_PROFILE_RELEASE_CODEGEN_UNITS",
    "CARGO_PROFILE_RELEASE_PANIC",
];

fn main() {
    let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let plugins = root.join("plugins");
    for watched in ["Cargo.toml", "Cargo.lock", "sdk", "examples", "hostile"] {
        println!("cargo:rerun-if-changed=plugins/{watched}");
    }
    println!("cargo:rerun-if-changed=wit");
    println!("cargo:rerun-if-changed=src/wasm_toolchain.rs");

    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    match toolchain::ensure_wasm_target(&rustc, &plugins) {
        Ok(toolchain::TargetStatus::Present) => {}
        Ok(toolchain::TargetStatus::Installed) => println!(
            "cargo:warning=installed the {} rustup target to build the built-in plugins",
            toolchain::WASM_TARGET
        ),
        Err(e) => fail(&e),
    }
    build_plugins(&plugins);
    let built = plugins
        .join("target")
        .join(toolchain::WASM_TARGET)
        .join("release");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    for name in BUILTINS {
        let file = format!("{name}.wasm");
        copy_if_changed(&built.join(&file), &out.join(&file));
    }
}

/// `cargo build --release --target wasm32-wasip2 --locked` in `plugins/`, sharing the outer
/// build's jobserver (CARGO_MAKEFLAGS is kept) so the machine is not oversubscribed.
fn build_plugins(plugins: &Path) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "--release",
        "--locked",
        "--target",
        toolchain::WASM_TARGET,
    ])
    .current_dir(plugins);
    for var in OUTER_ONLY_ENV {
        cmd.env_remove(var);
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| fail(&format!("cannot run cargo for the built-in plugins: {e}")));
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        fail(&format!(
            "building the built-in plugins failed (cd plugins && cargo build --release --target {}):\n{}",
            toolchain::WASM_TARGET,
            tail.join("\n")
        ));
    }
}

/// Copies unless identical, so an unchanged plugin does not touch the embedded file's mtime.
fn copy_if_changed(from: &Path, to: &Path) {
    let bytes =
        std::fs::read(from).unwrap_or_else(|e| fail(&format!("reading {}: {e}", from.display())));
    if std::fs::read(to).ok().as_deref() != Some(&bytes[..]) {
        std::fs::write(to, &bytes)
            .unwrap_or_else(|e| fail(&format!("writing {}: {e}", to.display())));
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
