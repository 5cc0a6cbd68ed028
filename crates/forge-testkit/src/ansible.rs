//! The Ansible test bed: ansible-core from PyPI, pinned, in a virtualenv of its own that
//! `scripts/test.sh` makes once per machine (`/var/tmp/forge-test-ansible`, or `FORGE_ANSIBLE`
//! naming its `bin/`). It is not on PATH: tests put [`bin_dir`] there for the forge they run.

use std::path::PathBuf;

/// The ansible-core release the tests run.
pub const VERSION: &str = "2.19.14";

/// The virtualenv's `bin/` (holding `ansible-playbook`, `ansible-galaxy`); fails the test,
/// naming what to install, when that ansible-core is not there.
pub fn bin_dir() -> PathBuf {
    let dir = std::env::var_os("FORGE_ANSIBLE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/forge-test-ansible/bin"));
    let out = std::process::Command::new(dir.join("ansible-playbook"))
        .arg("--version")
        .output();
    match out {
        Ok(o) if String::from_utf8_lossy(&o.stdout).contains(&format!("core {VERSION}]")) => dir,
        _ => panic!(
            "ansible-core {VERSION} is missing from {}: make it with `python3 -m venv \
             /var/tmp/forge-test-ansible && /var/tmp/forge-test-ansible/bin/pip install \
             ansible-core=={VERSION}` (Debian's python3-venv); scripts/test.sh installs \
             everything the tests need",
            dir.display()
        ),
    }
}

/// PATH with [`bin_dir`] first, for a process that should find `ansible-playbook`.
pub fn path_env() -> String {
    let mut dirs = vec![bin_dir()];
    if let Some(p) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&p));
    }
    std::env::join_paths(dirs)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}
