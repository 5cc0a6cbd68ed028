//! `forge completion SHELL`: a shell completion script for forge's commands and flags (a forge
//! extra; Packer has `-autocomplete-install` instead).

use std::io::Write;

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
pub fn run(a: &CompletionArgs, cmd: clap::Command) -> i32 {
    let mut cmd = visible_only(cmd);
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "forge", &mut script);
    match std::io::stdout().lock().write_all(&script) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Error: writing the completion script: {e}");
            1
        }
    }
}

/// `cmd` (forge) without its hidden commands, which some shells' generators would offer.
fn visible_only(cmd: clap::Command) -> clap::Command {
    let visible: Vec<clap::Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect();
    let mut out = clap::Command::new("forge")
        .disable_help_subcommand(true)
        .subcommands(visible);
    if let Some(about) = cmd.get_about() {
        out = out.about(about.clone());
    }
    out
}
