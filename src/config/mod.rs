//! Hookgate's configuration: one YAML file, hot-reloaded.
//!
//! Owns: loading ([`load`], [`parse`]), the typed [`Config`], validation with
//! positioned [`Diagnostic`]s (`file:line:column: path: message`), reload
//! diffs ([`diff`]) and the file [`Watcher`]. `hookgate config check` is
//! `app::check_config_file`: it also loads the plugins and asks them about
//! their configs, which this module cannot do.
//!
//! Pipeline: YAML text → positioned tree (`yaml.rs`) → `${VAR}` interpolation
//! of scalar values (`interpolate.rs`, after parsing so positions stay true)
//! → typed config with every problem collected (`build.rs`, `endpoint.rs`,
//! `policy.rs`, `values.rs`, `validate.rs`, `de.rs`).
//!
//! Dependency rule: `config` imports nothing from api, store, dispatch,
//! delivery or plugins; the only crate module it uses is `crate::signing`
//! (`Secret`, `SignatureSpec`, `Scheme`). Everyone else depends on `config`.

mod build;
mod de;
mod diff;
mod endpoint;
mod interpolate;
mod pattern;
mod policy;
mod reader;
mod retention;
mod runtime;
mod spans;
mod template;
mod types;
mod validate;
mod values;
mod watcher;
mod yaml;

#[cfg(test)]
mod tests_endpoints;
#[cfg(test)]
mod tests_invalid;
#[cfg(test)]
mod tests_policy;
#[cfg(test)]
mod tests_valid;
#[cfg(test)]
mod tests_watcher;

use std::fmt;
use std::path::{Path, PathBuf};

pub use diff::{diff, ConfigDiff};
pub use pattern::{is_valid_event_type, is_valid_id, matches_any, EventPattern};
pub use policy::override_json;
pub use retention::{keep_text, retention_json};
pub use runtime::parse_endpoint;
pub use spans::ConfigSpans;
pub use template::{HeaderTemplate, TemplateVars};
pub use types::{
    ApiKeyConfig, AuthConfig, Config, DeliveryConfig, DeliveryOverride, DeliveryPolicy,
    EndpointConfig, NetworkConfig, OnError, Ordering, PgTlsMode, PluginAllow, PluginConfig,
    PluginRef, PluginSource, PostgresConfig, Rate, Scope, ServerConfig, StorageConfig,
};
pub use types::{FinishedAs, Keep, RetentionConfig, RetentionOverride};
pub use values::{parse_duration, parse_size};
pub use watcher::Watcher;

/// One problem in a config file, positioned so editors and humans can jump to
/// it. Serializable so an admin API can return reload errors as JSON.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// The file name as given to [`load`]/[`parse`].
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// Field path such as `endpoints[1].rate`; empty for whole-file problems
    /// (YAML syntax errors).
    pub path: String,
    /// What is wrong, e.g. `expected N/s, N/m or N/h, got "fast"`.
    pub message: String,
    /// What kind of problem, for the few that callers act on (the endpoint API answers
    /// `ssrf_blocked` rather than `invalid_endpoint`): a value, so nobody searches the text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<DiagnosticCode>,
}

/// The kinds of [`Diagnostic`] that callers tell apart. Most problems have none: their message
/// is for people, and every one of them is equally "invalid".
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagnosticCode {
    /// The SSRF guard refused an endpoint URL (the message names the address or name and rule).
    SsrfBlocked,
}

impl fmt::Display for Diagnostic {
    /// `file:line:column: path: message` (without `path: ` when it is empty).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file (or, for the watcher, its directory) could not be read or watched.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file was read but is not a valid config; lists every problem found.
    #[error("{}", Lines(diagnostics))]
    Invalid {
        /// All problems, ordered by position.
        diagnostics: Vec<Diagnostic>,
    },
}

struct Lines<'a>(&'a [Diagnostic]);

impl fmt::Display for Lines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Loads a config file, interpolating from the process environment. Relative
/// plugin paths resolve against the file's directory. On failure returns every
/// diagnostic found, not just the first.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let base_dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let env = |name: &str| std::env::var(name).ok();
    parse(&text, &path.display().to_string(), base_dir, &env)
}

/// Parses config text. `file_name` is only used in diagnostics, `base_dir`
/// resolves relative plugin paths, and `env` supplies `${VAR}` values (so
/// tests and `config check` need no real environment).
pub fn parse(
    text: &str,
    file_name: &str,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut ctx = reader::Ctx::new(file_name);
    let config = yaml::parse(text, &mut ctx).map(|mut root| {
        interpolate::expand_tree(&mut root, "", env, &mut ctx);
        build::build(&root, base_dir, &mut ctx)
    });
    match config {
        Some(config) if ctx.diags.is_empty() => Ok(config),
        _ => {
            let mut diagnostics = ctx.diags;
            diagnostics.sort_by_key(|d| (d.line, d.column));
            Err(ConfigError::Invalid { diagnostics })
        }
    }
}
