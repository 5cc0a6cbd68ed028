//! The SSH adapter: a local SSH server that runs what Ansible asks through the build's communicator.
//! (Placeholder until the adapter lands.)

use std::path::{Path, PathBuf};
use std::sync::Arc;

use forge_core::plugin::{BuildCtx, Communicator};
use forge_core::{Error, Result};

/// The generated keys' type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// ECDSA.
    Ecdsa,
    /// RSA.
    Rsa,
}

/// Options.
pub struct AdapterOptions {
    /// `local_port`.
    pub local_port: Option<u16>,
    /// `ssh_host_key_file`.
    pub host_key_file: Option<PathBuf>,
    /// `ssh_authorized_key_file`.
    pub authorized_key_file: Option<PathBuf>,
    /// `ansible_proxy_key_type`.
    pub key_type: KeyType,
    /// `sftp_command`.
    pub sftp_command: String,
    /// `use_sftp`.
    pub use_sftp: bool,
}

/// The adapter.
pub struct Adapter;

impl Adapter {
    /// Starts.
    pub async fn start(
        _ctx: &BuildCtx,
        _comm: Arc<dyn Communicator>,
        _opts: AdapterOptions,
    ) -> Result<Adapter> {
        Err(Error::msg("the adapter is not there yet"))
    }
    /// Port.
    pub fn port(&self) -> u16 {
        0
    }
    /// Key.
    pub fn client_key_file(&self) -> Option<&Path> {
        None
    }
    /// Stops.
    pub async fn stop(self) {}
}
