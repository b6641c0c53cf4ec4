//! The shipped plugins, compiled into the binary: `filter`, `redact`, `slack`, `envelope` and
//! `enrich` work from the release binary alone, with no `.wasm` file and no Rust toolchain.
//!
//! `build.rs` builds them from `plugins/` with the plugins README's own command and this module
//! embeds the result, so the bytes are what `plugins/` builds from source (CI checks it in
//! `tests/builtin_plugins.rs`). A leaf module: `config` reads the names (an endpoint may `use:`
//! a built-in with no top-level `plugins:` entry), `plugins` reads the bytes.

use sha2::{Digest, Sha256};

/// One plugin compiled into the binary.
#[derive(Debug)]
pub struct BuiltinPlugin {
    /// The name endpoints `use:`.
    pub name: &'static str,
    /// The component's bytes, exactly as `plugins/` builds them.
    pub bytes: &'static [u8],
}

impl BuiltinPlugin {
    /// Hex sha256 of the bytes: the version recorded with each delivery it changed and listed
    /// by `GET /v1/plugins`, equal to `sha256sum` of the file `plugins/` builds.
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(self.bytes))
    }
}

macro_rules! builtin {
    ($name:literal) => {
        BuiltinPlugin {
            name: $name,
            bytes: include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".wasm")),
        }
    };
}

/// Every built-in plugin, sorted by name.
pub static ALL: [BuiltinPlugin; 5] = [
    builtin!("enrich"),
    builtin!("envelope"),
    builtin!("filter"),
    builtin!("redact"),
    builtin!("slack"),
];

/// The built-in plugin called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static BuiltinPlugin> {
    ALL.iter().find(|p| p.name == name)
}

/// The built-in plugins' names, sorted.
pub fn names() -> impl Iterator<Item = &'static str> {
    ALL.iter().map(|p| p.name)
}

/// Whether `name` is a built-in plugin.
pub fn is_builtin(name: &str) -> bool {
    find(name).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_is_a_component_and_found_by_name() {
        for p in &ALL {
            // The component-model preamble: `\0asm`, then a component (not core module) layer.
            assert_eq!(&p.bytes[..4], b"\0asm", "{}", p.name);
            assert_eq!(&p.bytes[4..8], &[0x0d, 0x00, 0x01, 0x00], "{}", p.name);
            assert_eq!(find(p.name).map(|f| f.name), Some(p.name));
        }
        assert!(find("nope").is_none());
    }
}
