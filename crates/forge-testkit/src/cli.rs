//! Running the real `forge` binary as a user would, for the CLI tests. The binary is the test
//! crate's `env!("CARGO_BIN_EXE_forge")`, passed in.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// What one run printed and how it exited.
pub struct Run {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs the forge binary `bin` with `args` in `dir`, with `stdin` piped in (an empty, closed
/// stdin when None).
pub fn forge(bin: impl AsRef<Path>, args: &[&str], dir: &Path, stdin: Option<&str>) -> Run {
    output(&mut forge_command(bin, args, dir), stdin)
}

/// The forge command (binary `bin`) a user would type: `args` run in `dir`, with Packer's checkpoint off.
/// Tests add their own environment before running it with [`output`].
pub fn forge_command(bin: impl AsRef<Path>, args: &[&str], dir: &Path) -> Command {
    let mut cmd = Command::new(bin.as_ref());
    cmd.args(args)
        .current_dir(dir)
        .env("CHECKPOINT_DISABLE", "1");
    cmd
}

/// Runs `cmd` with `stdin` piped in (an empty, closed stdin when None) and collects its output.
pub fn output(cmd: &mut Command, stdin: Option<&str>) -> Run {
    let child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {:?}: {e}", cmd.get_program()));
    finish(child, stdin)
}

/// Feeds `stdin` to a child spawned with piped stdio and waits for it.
pub fn finish(mut child: std::process::Child, stdin: Option<&str>) -> Run {
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(stdin.unwrap_or("").as_bytes());
    }
    let out = child.wait_with_output().expect("wait for the command");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
