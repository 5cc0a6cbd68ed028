//! The `ssh` communicator (russh): connection with every Packer `ssh_*` option, commands,
//! scp/sftp/tar-stream transfer, tunnels, and the build's temporary key pair.

pub mod auth;
mod chan;
pub mod client;
mod comm;
pub mod config;
pub mod keygen;
mod transfer;
mod tunnel;

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::comm::{Algorithm, CommConfig};
use forge_core::plugin::{BuildCtx, Communicator, ConnectRequest, Connector, TempKey};
use forge_core::{Error, Result};

pub use comm::{shell_quote, SshComm};
pub use config::SshConfig;

/// Opens SSH communicators.
pub struct SshConnector;

#[async_trait]
impl Connector for SshConnector {
    fn check_private_key(&self, pem: &str, origin: &str) -> std::result::Result<(), String> {
        auth::decode_key(pem, origin).map(|_| ())
    }

    fn supports(&self, what: Algorithm, name: &str) -> bool {
        match what {
            Algorithm::Cipher => russh::cipher::Name::try_from(name).is_ok(),
            Algorithm::Kex => russh::kex::Name::try_from(name).is_ok(),
        }
    }

    async fn connect(&self, ctx: &BuildCtx, req: &ConnectRequest) -> Result<Arc<dyn Communicator>> {
        let CommConfig::Ssh(c) = &req.comm else {
            return Err(Error::msg(format!(
                "the ssh connector cannot open a {} communicator",
                req.comm.name()
            )));
        };
        let mut cfg = SshConfig::clone(c);
        if !req.host.is_empty() {
            cfg.host = req.host.clone();
        }
        cfg.port = req.port;
        let keys: Vec<String> = req.temp_key.iter().map(|k| k.private.clone()).collect();
        Ok(Arc::new(SshComm::open(ctx, cfg, keys).await?))
    }

    fn generate_key(&self, kind: &str, bits: Option<u32>, name: &str) -> Result<TempKey> {
        keygen::generate(kind, bits, name)
    }
}
