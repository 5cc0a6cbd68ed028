//! forge's shared test support, a dev-dependency of the workspace's test crates: one module per
//! test bed ([`ansible`], [`sshd`], [`proxy`], [`docker`], [`registry`], [`moto`], [`vcsim`]
//! for vSphere, [`gce`] (a fake Compute Engine), [`arm`] (a fake Azure Resource Manager), [`qemu`] for the builder's guest, [`qemu_boot`] for the boot-command test), the
//! CLI runner ([`cli`], [`build`]) and small helpers ([`tempdir`], [`cases`], [`corpus`]).
//!
//! A missing tool fails the test with the Debian (or PyPI) package to install ([`require`]);
//! `scripts/test.sh` installs them all. Nothing here knows the binary under test: integration
//! tests pass `env!("CARGO_BIN_EXE_forge")` in.
// Test support: a failed setup is a failed test, so panicking (and unwrapping) is the contract.
#![allow(clippy::unwrap_used)]

pub mod ansible;
pub mod arm;
pub mod build;
pub mod cases;
pub mod cli;
pub mod corpus;
pub mod docker;
pub mod gce;
pub mod moto;
pub mod proxy;
pub mod qemu;
pub mod qemu_boot;
pub mod registry;
pub mod require;
pub mod sshd;
pub mod tempdir;
pub mod vcsim;
mod wire;

use std::net::TcpListener;
use std::path::{Path, PathBuf};

/// A port nobody listened on a moment ago (the kernel's pick for 127.0.0.1:0).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The repository file `rel` (such as `scripts/docker-base-image.sh`), found from this crate's
/// directory upwards.
pub fn repo_file(rel: &str) -> PathBuf {
    let start = Path::new(env!("CARGO_MANIFEST_DIR"));
    start
        .ancestors()
        .map(|d| d.join(rel))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{rel} not found above {}", start.display()))
}

/// The state letter and parent pid of process `pid`, from `/proc/<pid>/stat` (`None` once it is
/// gone).
pub fn proc_state(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    let mut f = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    let state = f.next()?.chars().next()?;
    Some((state, f.next()?.parse().ok()?))
}

/// Whether `pid` runs (a zombie is as good as gone).
pub fn alive(pid: u32) -> bool {
    proc_state(pid).is_some_and(|(state, _)| !matches!(state, 'Z' | 'X'))
}
