//! A sandbox for running `forge build` end to end: its own template dir, TMPDIR and state dir
//! (journals), so a test can check that nothing was left behind.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub use crate::cli::Run as Out;

/// One test's directories.
pub struct Sandbox {
    /// The binary under test.
    bin: PathBuf,
    /// The template directory, where forge runs.
    pub dir: PathBuf,
    /// The TMPDIR forge sees.
    pub tmp: PathBuf,
    /// forge's state directory (journals).
    pub state: PathBuf,
}

impl Sandbox {
    /// A sandbox holding `files`, for the forge binary `bin` (`env!("CARGO_BIN_EXE_forge")`).
    pub fn new(bin: impl AsRef<Path>, files: &[(&str, &str)]) -> Sandbox {
        let dir = crate::tempdir::dir(files);
        let tmp = dir.join(".tmp");
        let state = dir.join(".state");
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::create_dir_all(&state).unwrap();
        Sandbox {
            bin: bin.as_ref().to_path_buf(),
            dir,
            tmp,
            state,
        }
    }

    /// A forge command in the sandbox.
    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut c = crate::cli::forge_command(&self.bin, args, &self.dir);
        c.env("TMPDIR", &self.tmp)
            .env("FORGE_STATE_DIR", &self.state)
            // The docker builder's shared directory, checked for leftovers with TMPDIR.
            .env("PACKER_TMP_DIR", &self.tmp)
            .env_remove("PACKER_LOG")
            .env_remove("PACKER_LOG_PATH")
            .env_remove("FORGE_LOG")
            .env_remove("FORGE_LOG_PATH")
            .env_remove("PACKER_NO_COLOR");
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }

    /// Runs forge to the end.
    pub fn run(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Out {
        crate::cli::output(&mut self.command(args, env), stdin)
    }

    /// Starts forge in the background, output to files in the sandbox.
    pub fn spawn(&self, args: &[&str], env: &[(&str, &str)]) -> Child {
        let out = std::fs::File::create(self.dir.join(".stdout")).unwrap();
        let err = std::fs::File::create(self.dir.join(".stderr")).unwrap();
        self.command(args, env)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start forge")
    }

    /// What a spawned run printed.
    pub fn spawned_output(&self) -> String {
        std::fs::read_to_string(self.dir.join(".stdout")).unwrap_or_default()
    }

    /// Files and directories left in the sandbox's TMPDIR.
    pub fn tmp_leftovers(&self) -> Vec<String> {
        let mut v = Vec::new();
        walk(&self.tmp, &mut v);
        v
    }

    /// Journals left in the state dir.
    pub fn journals(&self) -> Vec<String> {
        let mut v = Vec::new();
        walk(&self.state.join("runs"), &mut v);
        v
    }

    /// The path of a file in the sandbox.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn walk(p: &Path, out: &mut Vec<String>) {
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            out.push(e.path().display().to_string());
            if e.path().is_dir() {
                walk(&e.path(), out);
            }
        }
    }
}

/// Live processes whose command line contains `marker` (zombies excluded).
pub fn processes_with(marker: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let pid = e.file_name().to_string_lossy().parse::<u32>().ok();
        let alive = pid.is_some_and(crate::alive);
        if cmd.contains(marker) && alive {
            out.push(format!("{} {cmd}", e.file_name().to_string_lossy()));
        }
    }
    out
}

/// Waits until no live process carries `marker` (up to 5 s), and returns those still there.
pub fn settle_processes(marker: &str) -> Vec<String> {
    for _ in 0..100 {
        let p = processes_with(marker);
        if p.is_empty() {
            return p;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    processes_with(marker)
}

/// Sends `sig` to `pid`.
pub fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status();
}

/// A small deterministic generator for random interrupt points (seed printed by the tests).
pub struct Rng(u64);

impl Default for Rng {
    fn default() -> Self {
        Rng::new()
    }
}

impl Rng {
    /// Seeded from the clock unless FORGE_TEST_SEED is set.
    pub fn new() -> Rng {
        let seed = std::env::var("FORGE_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        eprintln!("random seed: FORGE_TEST_SEED={seed}");
        Rng(seed | 1)
    }
    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}
