//! `forge man [--dir DIR]`: manual pages in roff, made from the same clap definitions as the
//! parser (a forge extra, hidden from the command list). Without `--dir` it prints forge(1);
//! with it, it writes forge.1 and one page per command (forge-build.1, ...) into DIR.

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

/// Prints or writes the pages; returns the exit code.
pub fn run(a: &ManArgs, cmd: clap::Command) -> i32 {
    let cmd = cmd
        .version(crate::cli::VERSION)
        .disable_help_subcommand(true);
    let result = match &a.dir {
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(cmd).render(&mut out)
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
