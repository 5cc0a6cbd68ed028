//! `windows-shell`: runs inline lines or batch scripts with cmd.exe on a Windows machine,
//! through the build's communicator (Packer's provisioner/windows-shell).

mod config;
mod run;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::comm::NoneComm;
use forge_core::plugin::{BuildCtx, BuildData, Communicator, PrepareInfo, Provisioner};
use forge_core::registry::PrepareErrors;
use forge_core::ui::Ui;
use forge_template::value::Value;

pub use config::{Config, DEFAULT_REMOTE_PATH, DEFAULT_START_RETRY_TIMEOUT};
pub use run::flatten_env;

/// The provisioner.
pub struct WindowsShell {
    config: Config,
}

/// The registry's factory.
pub fn factory(v: &Value, info: &PrepareInfo) -> Result<Box<dyn Provisioner>, PrepareErrors> {
    Ok(Box::new(WindowsShell {
        config: Config::prepare(v, info)?,
    }))
}

#[async_trait]
impl Provisioner for WindowsShell {
    async fn provision(
        &self,
        ctx: &BuildCtx,
        ui: &Ui,
        comm: Option<Arc<dyn Communicator>>,
        data: &BuildData,
    ) -> forge_core::Result<()> {
        match comm.as_deref() {
            Some(comm) => run::run(ctx, ui, &self.config, comm, data).await,
            // Packer retries the failing upload for start_retry_timeout; it can never succeed.
            None => {
                let mut once = self.config.clone();
                once.retry.timeout = std::time::Duration::ZERO;
                run::run(ctx, ui, &once, &NoneComm, data).await
            }
        }
    }
}
