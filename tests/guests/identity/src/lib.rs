//! Smallest useful plugin: delivers its input unchanged (benchmark and cache fixture).
wit_bindgen::generate!({ path: "../../../wit", world: "plugin" });

use exports::hookgate::plugin::handler::Guest;
use hookgate::plugin::types::{Decision, Delivery, Output};

struct Identity;

impl Guest for Identity {
    fn handle(input: Delivery) -> Result<Decision, String> {
        Ok(Decision::Deliver(Output {
            body: input.body,
            headers: input.headers,
        }))
    }
}

impl exports::hookgate::plugin::validate::Guest for Identity {
    fn check_config(_config: String) -> Vec<exports::hookgate::plugin::validate::Problem> {
        Vec::new()
    }
}

export!(Identity);
