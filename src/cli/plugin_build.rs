//! `hookgate plugin build DIR` for each language a plugin can be written in: Rust (cargo),
//! JavaScript (componentize-qjs) and Python (componentize-py).
//!
//! The language is read off the project: `Cargo.toml`, `package.json` or `pyproject.toml`.
//! A JS or Python toolchain comes from a pinned manifest in the project or an ancestor (the
//! examples share `plugins/js` and `plugins/python`): a `package.json` listing
//! `componentize-qjs` with its `package-lock.json`, or a `requirements.txt` listing
//! `componentize-py` with hashes. The first build installs it beside that manifest (`npm ci`;
//! a `.venv` with `pip install --require-hashes`); later builds run offline. The WIT the
//! component is built against is the one compiled into this binary, so a plugin always
//! targets the world of the gateway that builds it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context};
use serde::Deserialize;

use super::input::json_file;

/// The world every plugin targets, as this binary knows it.
pub const PLUGIN_WIT: &str = include_str!("../../wit/plugin.wit");

/// A plugin project's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// A crate for wasm32-wasip2, with the Rust SDK.
    Rust,
    /// An ES module built with componentize-qjs (QuickJS), with the JS SDK.
    Js,
    /// A module built with componentize-py (CPython), with the Python SDK.
    Python,
}

impl Lang {
    /// The language of the project in `dir`, from the manifest it has.
    pub fn detect(dir: &Path) -> anyhow::Result<Lang> {
        for (file, lang) in [
            ("Cargo.toml", Lang::Rust),
            ("package.json", Lang::Js),
            ("pyproject.toml", Lang::Python),
        ] {
            if dir.join(file).is_file() {
                return Ok(lang);
            }
        }
        bail!(
            "{}: no Cargo.toml, package.json or pyproject.toml: not a plugin project (create one with `hookgate plugin new NAME --lang rust|js|python`)",
            dir.display()
        )
    }
}

/// `package.json`'s `hookgate` field.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JsSettings {
    /// The component's entry module (default `src/main.js`).
    entry: Option<String>,
    /// The directory imports may reach (default: the project).
    module_root: Option<String>,
}

/// `pyproject.toml`'s `[tool.hookgate]`.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct PySettings {
    /// The module with the `Handler` and `Validate` classes (default `app`).
    app: Option<String>,
    /// Directories the app imports from, relative to the project (default `["."]`).
    python_path: Option<Vec<String>>,
}

/// Builds the JS or Python project in `dir`; returns the component it wrote.
pub fn build(dir: &Path, lang: Lang) -> anyhow::Result<PathBuf> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("{}", dir.display()))?;
    let target = dir.join("target");
    let wit = target.join("wit");
    std::fs::create_dir_all(&wit)?;
    std::fs::write(wit.join("plugin.wit"), PLUGIN_WIT)?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().replace('-', "_"))
        .unwrap_or_else(|| "plugin".into());
    let out = target.join(format!("{name}.wasm"));
    match lang {
        Lang::Js => build_js(&dir, &wit, &out)?,
        Lang::Python => build_python(&dir, &wit, &out)?,
        Lang::Rust => bail!("Rust plugins are built with cargo"),
    }
    Ok(out)
}

fn build_js(dir: &Path, wit: &Path, out: &Path) -> anyhow::Result<()> {
    let manifest: serde_json::Value = json_file(&dir.join("package.json"))?;
    let settings: JsSettings = match manifest.get("hookgate") {
        Some(v) => serde_json::from_value(v.clone())
            .with_context(|| format!("{}: field `hookgate`", dir.join("package.json").display()))?,
        None => JsSettings::default(),
    };
    let tool = js_toolchain(dir)?;
    let entry = dir.join(settings.entry.as_deref().unwrap_or("src/main.js"));
    let root = dir.join(settings.module_root.as_deref().unwrap_or("."));
    let mut cmd = Command::new(&tool);
    cmd.arg("--wit")
        .arg(wit)
        .arg("--js")
        .arg(&entry)
        .arg("--module-root")
        .arg(&root)
        // The host runs plugins without component-model async (see plugins/engine.rs).
        .arg("--sync")
        .arg("-o")
        .arg(out)
        .current_dir(dir);
    run(&mut cmd).with_context(|| format!("building {}", entry.display()))?;
    Ok(())
}

/// `componentize-qjs` from the nearest manifest that pins it, installed there if missing.
fn js_toolchain(dir: &Path) -> anyhow::Result<PathBuf> {
    let home = ancestors_with(dir, |d| {
        json_file(&d.join("package.json")).is_ok_and(|m| {
            ["devDependencies", "dependencies"]
                .iter()
                .any(|k| m.get(k).and_then(|d| d.get("componentize-qjs")).is_some())
        })
    })
    .ok_or_else(|| {
        anyhow!(
            "no package.json in {} or above lists componentize-qjs: add `\"devDependencies\": {{\"componentize-qjs\": \"0.4.5\"}}` and run `npm install` once",
            dir.display()
        )
    })?;
    let tool = home.join("node_modules/.bin/componentize-qjs");
    if !tool.exists() {
        if !home.join("package-lock.json").exists() {
            bail!(
                "{} has no package-lock.json: run `npm install` there once to pin the toolchain",
                home.display()
            );
        }
        eprintln!("installing the JS toolchain in {} (npm ci)", home.display());
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&home))?;
    }
    Ok(tool)
}

fn build_python(dir: &Path, wit: &Path, out: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(dir.join("pyproject.toml"))?;
    let doc: toml::Table = toml::from_str(&text)
        .with_context(|| format!("{}", dir.join("pyproject.toml").display()))?;
    let settings: PySettings = match doc.get("tool").and_then(|t| t.get("hookgate")) {
        Some(v) => v.clone().try_into().with_context(|| {
            format!("{}: [tool.hookgate]", dir.join("pyproject.toml").display())
        })?,
        None => PySettings::default(),
    };
    let venv = py_toolchain(dir)?;
    let mut cmd = Command::new(venv.join("bin/componentize-py"));
    cmd.arg("-d")
        .arg(wit)
        .args(["-w", "plugin", "componentize"]);
    cmd.arg(settings.app.as_deref().unwrap_or("app"));
    for p in settings.python_path.unwrap_or_else(|| vec![".".into()]) {
        cmd.arg("-p").arg(dir.join(p));
    }
    // Only the project's own paths go into the component, not the toolchain's venv.
    cmd.env_remove("VIRTUAL_ENV")
        .arg("-o")
        .arg(out)
        .current_dir(dir);
    run(&mut cmd)
}

/// The venv with componentize-py beside the nearest requirements.txt that pins it, created
/// there if missing.
fn py_toolchain(dir: &Path) -> anyhow::Result<PathBuf> {
    let home = ancestors_with(dir, |d| {
        std::fs::read_to_string(d.join("requirements.txt"))
            .is_ok_and(|t| t.contains("componentize-py=="))
    })
    .ok_or_else(|| {
        anyhow!(
            "no requirements.txt in {} or above pins componentize-py: add `componentize-py==0.25.1` (with --hash lines)",
            dir.display()
        )
    })?;
    let venv = home.join(".venv");
    if !venv.join("bin/componentize-py").exists() {
        eprintln!(
            "installing the Python toolchain in {} (pip install --require-hashes)",
            venv.display()
        );
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
        run(Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "--quiet",
                "--require-hashes",
                "-r",
                "requirements.txt",
            ])
            .current_dir(&home))?;
    }
    Ok(venv)
}

fn ancestors_with(dir: &Path, found: impl Fn(&Path) -> bool) -> Option<PathBuf> {
    dir.ancestors().find(|d| found(d)).map(Path::to_path_buf)
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    if !status.success() {
        bail!("{:?} failed ({status})", cmd.get_program());
    }
    Ok(())
}
