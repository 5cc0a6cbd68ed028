//! Ansible straight to an SSH machine: the communicator's own address, user and credentials,
//! handed to Ansible's OpenSSH client, with a ProxyCommand for a bastion or a proxy; and the
//! directory of the run's SSH connection masters.

use std::path::Path;

use forge_core::comm::ssh::{Auth, SshConfig};
use forge_core::local::{temp_dir, temp_file, TempPath};
use forge_core::plugin::BuildCtx;
use forge_core::Result;
use serde_json::{Map, Value};

/// A direct route.
pub struct Direct {
    /// The machine's address.
    pub host: String,
    /// Its SSH port.
    pub port: u16,
    /// The communicator's user.
    pub user: String,
    /// The private key file Ansible logs in with.
    pub key_file: Option<String>,
    /// Connection variables for `-e @file`.
    pub vars: Map<String, Value>,
    /// Keys written for this run.
    pub files: Vec<TempPath>,
}

/// Quotes `s` for the shell-like splitting Ansible applies to `ansible_ssh_common_args`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

/// The first key of `auth` as a file: a configured key file as it is, an inline key (the
/// build's temporary key) written to a journaled 0600 file.
fn key_file(ctx: &BuildCtx, auth: &Auth, files: &mut Vec<TempPath>) -> Result<Option<String>> {
    if let Some(f) = auth.key_files.first() {
        return Ok(Some(f.to_string_lossy().into_owned()));
    }
    let Some(pem) = auth.keys_pem.first() else {
        return Ok(None);
    };
    let f = temp_file(ctx, "ansible-key", pem.as_bytes(), false)?;
    let path = f.path().to_string_lossy().into_owned();
    files.push(f);
    Ok(Some(path))
}

/// Whether `program` is on PATH.
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

/// The direct route for the communicator's settings `s`, or `None` when OpenSSH cannot be given
/// the route (a bastion that takes only a password, a proxy with credentials or without
/// `nc.openbsd` or `ncat`, a bastion behind a proxy).
pub fn route(ctx: &BuildCtx, s: &SshConfig) -> Result<Option<Direct>> {
    let redactor = ctx.ui.output().redactor();
    let mut files = Vec::new();
    let mut vars = Map::new();
    let proxy_command = match (&s.bastion, &s.proxy) {
        (Some(_), Some(_)) => return Ok(None),
        (Some(b), None) => {
            let key = key_file(ctx, &b.auth, &mut files)?;
            if key.is_none() && !b.auth.agent {
                return Ok(None);
            }
            let mut cmd = "ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
                           -o BatchMode=yes"
                .to_string();
            if let Some(k) = key {
                cmd.push_str(&format!(" -o IdentitiesOnly=yes -i {}", quote(&k)));
            }
            cmd.push_str(&format!(
                " -p {} -W %h:%p {}@{}",
                b.port, b.auth.user, b.host
            ));
            Some(cmd)
        }
        (None, Some(p)) => {
            if p.username.is_some() || p.password.is_some() {
                return Ok(None);
            }
            // OpenBSD's netcat (Debian's netcat-openbsd), else Nmap's ncat.
            let (host, port) = (&p.host, p.port);
            if on_path("nc.openbsd") {
                let kind = if p.http { "connect" } else { "5" };
                Some(format!("nc.openbsd -X {kind} -x {host}:{port} %h %p"))
            } else if on_path("ncat") {
                let kind = if p.http { "http" } else { "socks5" };
                Some(format!(
                    "ncat --proxy {host}:{port} --proxy-type {kind} %h %p"
                ))
            } else {
                return Ok(None);
            }
        }
        (None, None) => None,
    };
    if let Some(pc) = proxy_command {
        vars.insert(
            "ansible_ssh_common_args".into(),
            Value::String(format!("-o {}", quote(&format!("ProxyCommand={pc}")))),
        );
    }
    let key_file = key_file(ctx, &s.auth, &mut files)?;
    if key_file.is_none() {
        if let Some(pw) = s.auth.password.as_deref().filter(|p| !p.is_empty()) {
            redactor.add(pw);
            vars.insert("ansible_password".into(), Value::String(pw.to_string()));
        }
    }
    Ok(Some(Direct {
        host: s.host.clone(),
        port: s.port,
        user: s.auth.user.clone(),
        key_file,
        vars,
        files,
    }))
}

/// The directory of the run's SSH connection masters (`ANSIBLE_SSH_CONTROL_PATH_DIR`). Ansible
/// leaves its masters running for a minute (ControlPersist); when the run ends, each is told to
/// exit (`ssh -O exit`), so nothing of the run outlives it.
pub struct ControlDir {
    dir: TempPath,
}

impl ControlDir {
    /// A fresh directory, journaled.
    pub fn new(ctx: &BuildCtx) -> Result<ControlDir> {
        Ok(ControlDir {
            dir: temp_dir(ctx, "forge-ansible-cp")?,
        })
    }

    /// Its path.
    pub fn path(&self) -> String {
        self.dir.path().to_string_lossy().into_owned()
    }
}

/// Tells the master listening on `socket` to exit.
fn exit_master(socket: &Path) {
    let _ = std::process::Command::new("ssh")
        .arg("-o")
        .arg(format!("ControlPath={}", socket.display()))
        .args(["-O", "exit", "forge-ansible-master"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

impl Drop for ControlDir {
    fn drop(&mut self) {
        if let Ok(entries) = std::fs::read_dir(self.dir.path()) {
            for e in entries.flatten() {
                exit_master(&e.path());
            }
        }
    }
}
