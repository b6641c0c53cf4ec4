//! Making sure the Rust toolchain can build WebAssembly plugins (`wasm32-wasip2`).
//!
//! rustup installs the targets listed in `rust-toolchain.toml` only when it installs the
//! toolchain itself, not for a toolchain that is already there (the common case: a machine with
//! Rust preinstalled). Every place that compiles plugins — the gateway's build script (which
//! builds the built-in plugins), `hookgate plugin build` and the tests — calls
//! [`ensure_wasm_target`] first, so a fresh machine installs the target once instead of failing
//! with "can't find crate for `std`" on every crate.
//!
//! This file is also compiled into `build.rs` (`#[path]`), so it uses only `std`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target plugins are built for: WASI preview 2 components.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// What [`ensure_wasm_target`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetStatus {
    /// The target's standard library was already installed.
    Present,
    /// It was missing and `rustup target add` installed it.
    Installed,
}

/// Checks that `rustc` (the compiler that will build the plugins) has the `wasm32-wasip2`
/// standard library, installing it with `rustup target add` when it is missing. `dir` is where
/// rustup runs, so the `rust-toolchain.toml` that governs the build also governs the install.
/// The error is one line that says what to run.
pub fn ensure_wasm_target(rustc: &OsStr, dir: &Path) -> Result<TargetStatus, String> {
    if has_target(rustc, dir)? {
        return Ok(TargetStatus::Present);
    }
    let manual = format!("run `rustup target add {WASM_TARGET}` (or install the {WASM_TARGET} standard library for your Rust toolchain)");
    let status = Command::new("rustup")
        .args(["target", "add", WASM_TARGET])
        .current_dir(dir)
        .status()
        .map_err(|e| format!("the {WASM_TARGET} target is not installed and rustup could not be run ({e}): {manual}"))?;
    if !status.success() || !has_target(rustc, dir)? {
        return Err(format!(
            "the {WASM_TARGET} target is not installed and `rustup target add {WASM_TARGET}` failed: {manual}"
        ));
    }
    Ok(TargetStatus::Installed)
}

/// Whether the sysroot of `rustc` holds the target's standard library.
fn has_target(rustc: &OsStr, dir: &Path) -> Result<bool, String> {
    let out = Command::new(rustc)
        .args(["--print", "sysroot"])
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", Path::new(rustc).display()))?;
    if !out.status.success() {
        return Err(format!(
            "`{} --print sysroot` failed: {}",
            Path::new(rustc).display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let lib = sysroot.join("lib/rustlib").join(WASM_TARGET).join("lib");
    Ok(std::fs::read_dir(lib).is_ok_and(|mut d| d.next().is_some()))
}
