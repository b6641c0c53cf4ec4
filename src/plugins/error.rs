//! `PluginError`: every way loading or running a plugin can fail, as a value callers can match.
//!
//! Each variant names the plugin, so its `Display` is a complete log line or `filtered` reason
//! ("plugin redact: deadline of 100 ms exceeded"). Callers decide retry/skip/drop from the chain
//! entry's `on_error`, never by matching message text.

/// Why a plugin could not be loaded or did not produce a usable decision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    /// The guest trapped (`unreachable`, panic with `panic=abort`, out-of-bounds, stack overflow…).
    #[error("plugin {plugin}: trap: {message}")]
    Trap {
        /// Plugin name from the configuration.
        plugin: String,
        /// wasmtime's trap description, first line.
        message: String,
    },
    /// The call ran past its wall-clock deadline and was interrupted.
    #[error("plugin {plugin}: deadline of {ms} ms exceeded")]
    Deadline {
        /// Plugin name.
        plugin: String,
        /// The configured deadline.
        ms: u64,
    },
    /// The guest tried to grow its memory past the per-plugin cap and then failed.
    #[error("plugin {plugin}: memory limit {limit_mib} MiB exceeded")]
    Memory {
        /// Plugin name.
        plugin: String,
        /// The cap, in MiB (rounded down).
        limit_mib: u64,
    },
    /// The body plus headers the guest returned are larger than allowed.
    #[error("plugin {plugin}: output of {size} bytes exceeds the limit of {limit} bytes")]
    OutputTooLarge {
        /// Plugin name.
        plugin: String,
        /// Size of the returned body plus header names and values.
        size: usize,
        /// The configured cap.
        limit: usize,
    },
    /// The guest returned a header the gateway must not send (bad name/value, reserved, too many).
    #[error("plugin {plugin}: invalid header: {message}")]
    InvalidHeader {
        /// Plugin name.
        plugin: String,
        /// Which header and why.
        message: String,
    },
    /// The guest returned `err(message)`.
    #[error("plugin {plugin}: {message}")]
    Guest {
        /// Plugin name.
        plugin: String,
        /// The guest's own message.
        message: String,
    },
    /// A chain names a plugin that is not loaded (never loaded, or unloaded).
    #[error("plugin {plugin}: not loaded")]
    NotLoaded {
        /// Plugin name.
        plugin: String,
    },
    /// Reading, compiling or linking the component failed; it is not (re)loaded.
    #[error("plugin {plugin}: load failed: {message}")]
    Load {
        /// Plugin name.
        plugin: String,
        /// What went wrong, including missing exports or unknown imports.
        message: String,
    },
    /// The host could not run the call at all (instance pool exhausted, internal error).
    #[error("plugin {plugin}: host error: {message}")]
    Host {
        /// Plugin name.
        plugin: String,
        /// Description.
        message: String,
    },
}

impl PluginError {
    /// The plugin the error is about, for structured log fields.
    pub fn plugin(&self) -> &str {
        match self {
            PluginError::Trap { plugin, .. }
            | PluginError::Deadline { plugin, .. }
            | PluginError::Memory { plugin, .. }
            | PluginError::OutputTooLarge { plugin, .. }
            | PluginError::InvalidHeader { plugin, .. }
            | PluginError::Guest { plugin, .. }
            | PluginError::NotLoaded { plugin }
            | PluginError::Load { plugin, .. }
            | PluginError::Host { plugin, .. } => plugin,
        }
    }

    /// What went wrong, without the leading `plugin NAME: ` (for a caller that names the
    /// plugin itself, such as a `filtered` reason).
    pub fn detail(&self) -> String {
        let full = self.to_string();
        let prefix = format!("plugin {}: ", self.plugin());
        full.strip_prefix(&prefix)
            .map(str::to_string)
            .unwrap_or(full)
    }

    pub(super) fn load(plugin: &str, message: impl std::fmt::Display) -> Self {
        PluginError::Load {
            plugin: plugin.to_string(),
            message: message.to_string(),
        }
    }
}
