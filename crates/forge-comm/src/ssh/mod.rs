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
use forge_core::plugin::{BuildCtx, Communicator, ConnectRequest, Connector, TempKey};
use forge_core::{Error, Result};
use forge_template::value::Value;

pub use comm::{shell_quote, SshComm};
pub use config::SshConfig;

/// Opens SSH communicators.
pub struct SshConnector;

#[async_trait]
impl Connector for SshConnector {
    fn check(&self, config: &Value) -> Vec<String> {
        SshConfig::from_value(config, "").err().unwrap_or_default()
    }

    async fn connect(&self, ctx: &BuildCtx, req: &ConnectRequest) -> Result<Arc<dyn Communicator>> {
        let mut cfg = SshConfig::from_value(&req.config, &req.host)
            .map_err(|errs| Error::msg(errs.join("\n")))?;
        if let Some(p) = req.port {
            cfg.port = p;
        }
        let keys: Vec<String> = req.temp_key.iter().map(|k| k.private.clone()).collect();
        Ok(Arc::new(SshComm::open(ctx, cfg, keys).await?))
    }

    fn generate_key(&self, kind: &str, bits: Option<u32>, name: &str) -> Result<TempKey> {
        keygen::generate(kind, bits, name)
    }
}
