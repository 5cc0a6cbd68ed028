//! `forge man [--dir DIR]`: manual pages in roff, made from the same clap definitions as the
//! parser (a forge extra, hidden from the command list). Without `--dir` it prints forge(1);
//! with it, it writes forge.1 and one page per command (forge-build.1, ...) into DIR.

use std::io::Write;
use std::path::Path;

use clap::Args;

/// `forge man`
#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write forge.1 and forge-COMMAND.1 for every command into this directory (created when
    /// missing) instead of printing forge.1.
    #[arg(long = "dir", value_name = "DIR")]
    pub dir: Option<String>,
}

/// forge(1)'s DESCRIPTION section.
const DESCRIPTION: &str = "forge builds machine images (Docker images, QEMU disks, ...) from the \
HCL2 and legacy JSON templates written for HashiCorp Packer, with Packer's commands, flags, \
output and exit codes.

Flags are parsed as Packer parses them: -flag and --flag, -flag=value and -flag value; flags \
stop at the first argument that is not one; -machine-readable is accepted anywhere.

Exit codes: 0 success, 1 error, 3 `fmt -check` found unformatted files, 127 unknown command.

Environment: PACKER_LOG=1 or FORGE_LOG=1 writes a debug log to standard error, \
PACKER_LOG_PATH or FORGE_LOG_PATH to a file; PKR_VAR_name sets a template variable; \
FORGE_STATE_DIR holds the resource journals `forge cleanup` reads.";

/// Prints or writes the pages; returns the exit code.
pub fn run(a: &ManArgs, cmd: clap::Command) -> i32 {
    let cmd = cmd
        .version(crate::cli::VERSION)
        .about("a Packer-compatible machine image builder")
        .long_about(DESCRIPTION)
        .disable_help_subcommand(true);
    let result = match &a.dir {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut page)
                .and_then(|()| std::io::stdout().lock().write_all(&page))
        }
        Some(dir) => write_all(cmd, Path::new(dir)),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Error: writing the manual pages: {e}");
            1
        }
    }
}

/// Writes every page into `dir`, listing each path written on standard output.
fn write_all(cmd: clap::Command, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    clap_mangen::generate_to(cmd.clone(), dir)?;
    let mut names = vec![format!("{}.1", cmd.get_name())];
    names.extend(
        cmd.get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| format!("{}-{}.1", cmd.get_name(), s.get_name())),
    );
    for n in names {
        println!("{}", dir.join(n).display());
    }
    Ok(())
}
