//! `hookgate plugin new NAME --lang js|python`: a project an author can build, test and ship
//! without this repository: the handler, the glue the build compiles, unit tests against the
//! SDK's mock gateway, a sample event and config, a README, the toolchain's pinned manifest and
//! a copy of the SDK (embedded in this binary, so it always matches the gateway's WIT).
//! (`--lang rust` is the crate template in `plugin.rs`.)

use std::path::Path;

use anyhow::{bail, Context};

/// One file of a scaffold: where it goes in the project, and its text (`{{name}}` and
/// `{{file}}` are replaced).
type File = (&'static str, &'static str);

/// The JavaScript scaffold (plugins/js/template and plugins/js/sdk).
const JS: &[File] = &[
    (
        "package.json",
        include_str!("../../plugins/js/template/package.json"),
    ),
    (
        "package-lock.json",
        include_str!("../../plugins/js/package-lock.json"),
    ),
    (
        "src/plugin.js",
        include_str!("../../plugins/js/template/src/plugin.js"),
    ),
    (
        "src/main.js",
        include_str!("../../plugins/js/template/src/main.js"),
    ),
    (
        "test/plugin.test.js",
        include_str!("../../plugins/js/template/test/plugin.test.js"),
    ),
    (
        "event.json",
        include_str!("../../plugins/js/template/event.json"),
    ),
    (
        "config.json",
        include_str!("../../plugins/js/template/config.json"),
    ),
    (
        "README.md",
        include_str!("../../plugins/js/template/README.md"),
    ),
    (
        ".gitignore",
        include_str!("../../plugins/js/template/.gitignore"),
    ),
    (
        "sdk/hookgate.js",
        include_str!("../../plugins/js/sdk/hookgate.js"),
    ),
    (
        "sdk/hookgate.d.ts",
        include_str!("../../plugins/js/sdk/hookgate.d.ts"),
    ),
    ("sdk/host.js", include_str!("../../plugins/js/sdk/host.js")),
    (
        "sdk/exports.js",
        include_str!("../../plugins/js/sdk/exports.js"),
    ),
    ("sdk/wit.js", include_str!("../../plugins/js/sdk/wit.js")),
    ("sdk/mock.js", include_str!("../../plugins/js/sdk/mock.js")),
];

/// The Python scaffold (plugins/python/template and plugins/python/sdk).
const PYTHON: &[File] = &[
    (
        "pyproject.toml",
        include_str!("../../plugins/python/template/pyproject.toml"),
    ),
    (
        "requirements.txt",
        include_str!("../../plugins/python/requirements.txt"),
    ),
    (
        "handler.py",
        include_str!("../../plugins/python/template/handler.py"),
    ),
    (
        "app.py",
        include_str!("../../plugins/python/template/app.py"),
    ),
    (
        "tests/test_handler.py",
        include_str!("../../plugins/python/template/tests/test_handler.py"),
    ),
    (
        "event.json",
        include_str!("../../plugins/python/template/event.json"),
    ),
    (
        "config.json",
        include_str!("../../plugins/python/template/config.json"),
    ),
    (
        "README.md",
        include_str!("../../plugins/python/template/README.md"),
    ),
    (
        ".gitignore",
        include_str!("../../plugins/python/template/.gitignore"),
    ),
    (
        "sdk/hookgate/__init__.py",
        include_str!("../../plugins/python/sdk/hookgate/__init__.py"),
    ),
    (
        "sdk/hookgate/host.py",
        include_str!("../../plugins/python/sdk/hookgate/host.py"),
    ),
    (
        "sdk/hookgate/wit.py",
        include_str!("../../plugins/python/sdk/hookgate/wit.py"),
    ),
    (
        "sdk/hookgate/mock.py",
        include_str!("../../plugins/python/sdk/hookgate/mock.py"),
    ),
];

/// The JS toolchain's lockfile names its root package; a scaffold's is the plugin.
const LOCK_ROOT_NAME: &str = "\"name\": \"hookgate-js-plugins\"";

/// Writes the scaffold for `lang` (`js` or `python`) into a new directory `dir`.
pub fn scaffold(dir: &Path, name: &str, python: bool) -> anyhow::Result<()> {
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }
    let file = name.replace('-', "_");
    for (path, text) in if python { PYTHON } else { JS } {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let text = if *path == "package-lock.json" {
            text.replace(
                LOCK_ROOT_NAME,
                &format!("\"name\": {}", serde_json::json!(name)),
            )
        } else {
            text.replace("{{name}}", name).replace("{{file}}", &file)
        };
        std::fs::write(&target, text).with_context(|| format!("writing {}", target.display()))?;
    }
    Ok(())
}
