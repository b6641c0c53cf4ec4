//! `hookgate completions SHELL`: tab completion generated from the clap definition itself, so
//! it can never drift from the real commands and flags.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use super::Cli;

/// Writes the completion script for `shell` (install it where the shell looks, e.g.
/// `hookgate completions bash > /etc/bash_completion.d/hookgate`).
pub fn write(shell: Shell, out: &mut dyn Write) {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "hookgate", out);
}
