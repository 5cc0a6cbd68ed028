//! `forge completion SHELL`: a shell completion script for forge's commands and flags (a forge
//! extra; Packer has `-autocomplete-install` instead).

use clap::Args;
use clap_complete::Shell;

/// `forge completion <bash|zsh|fish|powershell|elvish>`
#[derive(Args, Debug)]
pub struct CompletionArgs {
    /// The shell to write the script for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

/// Writes the script to standard output; returns the exit code.
pub fn run(a: &CompletionArgs, mut cmd: clap::Command) -> i32 {
    let mut out = std::io::stdout();
    clap_complete::generate(a.shell, &mut cmd, "forge", &mut out);
    0
}
