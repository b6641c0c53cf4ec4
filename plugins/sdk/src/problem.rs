//! What a config check reports: [`Problem`], the WIT `validate` interface's record.

use std::fmt;

/// One problem in a chain entry's `config`, found by [`Plugin::check_config`] when the gateway
/// loads a configuration.
///
/// `pointer` is an RFC 6901 JSON pointer into the config (`""` for the config as a whole); the
/// gateway maps it back to the YAML position and prints
/// `file:line:column: endpoints[2].plugins[0].config.format: <message>`, so point at the exact
/// offending value and say in `message` what is expected. A field that is missing is pointed
/// at where it should be (`/body` for a missing `body`).
///
/// [`Plugin::check_config`]: crate::Plugin::check_config
pub use crate::bindings::exports::hookgate::plugin::validate::Problem;

impl Problem {
    /// A problem with the value at `pointer` (`""` = the whole config).
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    /// `pointer: message`, or just the message for the whole config: the text a delivery fails
    /// with, so it reads like the load-time diagnostic.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.pointer, self.message)
        }
    }
}

/// The error a delivery fails with when its config has `problems`: every problem, in order,
/// after the same prefix [`config`](crate::config) has always used.
pub(crate) fn describe(problems: &[Problem]) -> String {
    let list: Vec<String> = problems.iter().map(Problem::to_string).collect();
    format!("invalid plugin config: {}", list.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_leads_with_the_pointer_unless_it_is_the_whole_config() {
        assert_eq!(Problem::new("/format", "bad").to_string(), "/format: bad");
        assert_eq!(Problem::new("", "bad").to_string(), "bad");
    }

    #[test]
    fn describe_lists_every_problem() {
        let problems = [Problem::new("/a", "x"), Problem::new("", "y")];
        assert_eq!(describe(&problems), "invalid plugin config: /a: x; y");
    }
}
