//! The SSH adapter: a local SSH server that runs what Ansible asks through the build's communicator.
//!
//! Ansible's OpenSSH client connects to `127.0.0.1:<port>` with a key the adapter generated (or
//! the one `ssh_authorized_key_file` names); every request is carried out on the machine being
//! built through [`Communicator`]:
//!
//! - `exec` requests run through [`Communicator::exec`] as they come (`/bin/sh -c '...'`); output
//!   lines become channel data (stdout) and extended data (stderr), then the exit status is sent.
//!   The communicator has no stdin: what the client sends is read and dropped (Ansible's
//!   `pipelining` cannot work through the adapter), and output is relayed line by line (a last
//!   line without a newline gets one). `env` and `pty-req` are accepted and ignored; there is
//!   no interactive shell.
//! - `scp -t` / `scp -f` commands (the legacy protocol, `scp -O`) are emulated here, the files
//!   moving with [`Communicator::upload`] / [`Communicator::download`] (see [`scp`]).
//! - The `sftp` subsystem is served here, its operations mapped onto the communicator (see
//!   [`sftp`]).
//!
//! Packer's `use_sftp` / `sftp_command` are kept in [`AdapterOptions`] for compatibility: Packer
//! ran `sftp_command` on the machine and piped the channel to it, which needs a streaming stdin
//! the communicator does not have. Here the `sftp` subsystem is always served locally; with
//! `use_sftp = false` the provisioner tells Ansible to prefer scp (`ANSIBLE_SCP_IF_SSH`), and
//! `sftp_command` is not run.

mod exec;
mod keys;
mod remote;
mod scp;
mod server;
mod sftp;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use forge_core::local::TempPath;
use forge_core::plugin::{BuildCtx, Communicator};
use forge_core::{Error, Result};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The type of the keys the adapter generates (`ansible_proxy_key_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyType {
    /// ECDSA on NIST P-256 (the default).
    #[default]
    Ecdsa,
    /// RSA, 2048 bits (signing with rsa-sha2-256/512, never SHA-1).
    Rsa,
}

impl KeyType {
    /// Parses `ansible_proxy_key_type` (`ECDSA` or `RSA`, any case; empty is ECDSA).
    pub fn parse(s: &str) -> Option<KeyType> {
        match s.to_ascii_uppercase().as_str() {
            "" | "ECDSA" => Some(KeyType::Ecdsa),
            "RSA" => Some(KeyType::Rsa),
            _ => None,
        }
    }
}

/// How the adapter listens and authenticates.
#[derive(Debug, Clone)]
pub struct AdapterOptions {
    /// `local_port`: tried with the next 9 ports; `None` picks a random free port.
    pub local_port: Option<u16>,
    /// `ssh_host_key_file`: the server's host key (OpenSSH or PEM); generated when `None`.
    pub host_key_file: Option<PathBuf>,
    /// `ssh_authorized_key_file`: the one client public key accepted; when `None` a key pair is
    /// generated and its private half written to [`Adapter::client_key_file`].
    pub authorized_key_file: Option<PathBuf>,
    /// `ansible_proxy_key_type`: the type of generated keys.
    pub key_type: KeyType,
    /// `sftp_command` (Packer runs it on the machine); kept for compatibility, not run: the
    /// `sftp` subsystem is served by the adapter itself.
    pub sftp_command: String,
    /// `use_sftp`: whether Ansible is meant to transfer with sftp (the provisioner's business;
    /// the adapter serves both sftp and scp either way).
    pub use_sftp: bool,
}

impl Default for AdapterOptions {
    fn default() -> Self {
        AdapterOptions {
            local_port: None,
            host_key_file: None,
            authorized_key_file: None,
            key_type: KeyType::Ecdsa,
            sftp_command: "/usr/lib/sftp-server -e".into(),
            use_sftp: false,
        }
    }
}

/// What every connection of one adapter shares.
pub(crate) struct Shared {
    /// The build's context, with the adapter's own cancellation token.
    ctx: BuildCtx,
    comm: Arc<dyn Communicator>,
    client_key: russh::keys::PublicKey,
    /// A private (0700) local directory for files on their way through.
    tmp: PathBuf,
    seq: std::sync::atomic::AtomicU64,
    /// The directory commands start in (sftp resolves relative paths against it), once known.
    cwd: std::sync::Mutex<Option<String>>,
}

impl Shared {
    /// A fresh path in the adapter's temporary directory.
    fn tmp_file(&self, what: &str) -> PathBuf {
        let n = self.seq.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.tmp.join(format!("{what}-{n}"))
    }
}

/// A running adapter; [`Adapter::stop`] (or dropping it) closes the listener and every session.
pub struct Adapter {
    port: u16,
    client_key: Option<TempPath>,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
    _tmp: TempPath,
}

impl Adapter {
    /// Starts listening on 127.0.0.1 and serving Ansible's connections through `comm`.
    pub async fn start(
        ctx: &BuildCtx,
        comm: Arc<dyn Communicator>,
        opts: AdapterOptions,
    ) -> Result<Adapter> {
        let host_key = match &opts.host_key_file {
            Some(p) => keys::load_host_key(p)?,
            None => keys::generate(opts.key_type, "forge-ansible-proxy-host")?,
        };
        let (client_public, client_key) = match &opts.authorized_key_file {
            Some(p) => (keys::load_authorized_key(p)?, None),
            None => {
                let k = keys::generate(opts.key_type, "forge-ansible-proxy")?;
                let pem = keys::private_openssh(&k)?;
                ctx.ui.output().redactor().add(pem.trim());
                let file =
                    forge_core::local::temp_file(ctx, "forge-ansible-key-", pem.as_bytes(), false)?;
                (k.public_key().clone(), Some(file))
            }
        };
        let tmp = forge_core::local::temp_dir(ctx, "forge-ansible-proxy-")?;
        set_private(tmp.path())?;
        let listener = bind(opts.local_port).await?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::msg(format!("ansible proxy: reading its address: {e}")))?
            .port();
        let cancel = ctx.cancel.child_token();
        let shared = Arc::new(Shared {
            ctx: child_ctx(ctx, cancel.clone()),
            comm,
            client_key: client_public,
            tmp: tmp.path().to_path_buf(),
            seq: Default::default(),
            cwd: Default::default(),
        });
        let config = server::config(host_key);
        let task = tokio::spawn(server::serve(listener, config, shared));
        tracing::debug!(port, "ansible proxy listening on 127.0.0.1");
        Ok(Adapter {
            port,
            client_key,
            cancel,
            task: Some(task),
            _tmp: tmp,
        })
    }

    /// The port on 127.0.0.1 the adapter listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The generated client private key, written (0600) to a journaled temporary file; `None`
    /// when `authorized_key_file` was given.
    pub fn client_key_file(&self) -> Option<&Path> {
        self.client_key.as_ref().map(|k| k.path())
    }

    /// Closes the listener and every session, and waits for them to end.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            if let Err(e) = task.await {
                tracing::warn!("ansible proxy: its server task failed: {e}");
            }
        }
    }
}

impl Drop for Adapter {
    /// Cancels the server task: it drops the listener at once and disconnects every session on
    /// its own (a runtime shutting down drops it, listener included).
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Binds 127.0.0.1: `port` and the next 9, or any free port.
async fn bind(port: Option<u16>) -> Result<TcpListener> {
    let Some(first) = port.filter(|p| *p != 0) else {
        return TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(|e| Error::msg(format!("ansible proxy: listening on 127.0.0.1: {e}")));
    };
    let mut last = String::new();
    for p in (first..=first.saturating_add(9)).take(10) {
        match TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], p))).await {
            Ok(l) => return Ok(l),
            Err(e) => last = format!("{p}: {e}"),
        }
    }
    Err(Error::msg(format!(
        "ansible proxy: no free port among local_port {first} and the 9 after it (last, {last})"
    )))
}

fn set_private(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::msg(format!("making {} private: {e}", dir.display())))
}

/// `base` with another cancellation token (and a timeline of its own).
fn child_ctx(base: &BuildCtx, cancel: CancellationToken) -> BuildCtx {
    BuildCtx {
        name: base.name.clone(),
        builder_type: base.builder_type.clone(),
        source_name: base.source_name.clone(),
        ui: base.ui.clone(),
        cancel,
        journal: base.journal.clone(),
        events: base.events.clone(),
        opts: base.opts.clone(),
        run_id: base.run_id.clone(),
        template_dir: base.template_dir.clone(),
        timeline: Default::default(),
        keep_resources: base.keep_resources.clone(),
    }
}

/// `s` quoted for a POSIX shell.
pub(crate) fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
