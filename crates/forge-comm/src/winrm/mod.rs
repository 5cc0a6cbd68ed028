//! The `winrm` communicator, on winrm-rs: Basic or NTLM (with message encryption over plain
//! HTTP), HTTPS, a connect loop that says why the machine is not up yet, commands with streaming
//! output and Ctrl-C, and transfers that stream files through a command's stdin in envelopes as
//! large as the server allows (directories as one ZIP archive).

mod client;
mod comm;
mod transfer;

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::comm::CommConfig;
use forge_core::plugin::{BuildCtx, Communicator, ConnectRequest, Connector};
use forge_core::{Error, Result};

pub use comm::WinrmComm;
pub use transfer::powershell_command;

/// Opens WinRM communicators.
pub struct WinrmConnector;

#[async_trait]
impl Connector for WinrmConnector {
    async fn connect(&self, ctx: &BuildCtx, req: &ConnectRequest) -> Result<Arc<dyn Communicator>> {
        let CommConfig::Winrm(c) = &req.comm else {
            return Err(Error::msg(format!(
                "the winrm connector cannot open a {} communicator",
                req.comm.name()
            )));
        };
        let mut cfg = c.clone();
        if !req.host.is_empty() {
            cfg.host = req.host.clone();
        }
        cfg.port = req.port;
        Ok(Arc::new(WinrmComm::open(ctx, cfg).await?))
    }
}
