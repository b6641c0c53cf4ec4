//! `hookgate:plugin/config`: the chain entry's `config` value as JSON text. Always granted.

use super::super::bindings::hookgate::plugin::config::Host;
use super::HostState;

impl Host for HostState {
    fn get(&mut self) -> String {
        super::count(&self.policy.calls.config);
        self.config_json.clone()
    }
}
