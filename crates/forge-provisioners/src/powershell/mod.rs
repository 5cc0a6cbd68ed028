//! `powershell`: runs inline lines or PowerShell scripts on a Windows machine, through the
//! build's communicator (WinRM, or SSH to OpenSSH on Windows), optionally elevated as a
//! scheduled task (Packer's provisioner/powershell).

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

pub use config::{
    default_execute_command, Config, ExecutionPolicy, DEFAULT_START_RETRY_TIMEOUT,
    EXECUTION_POLICIES,
};
pub use run::{cleanup_script, flatten_env};

/// The provisioner.
pub struct Powershell {
    config: Config,
}

/// The registry's factory.
pub fn factory(v: &Value, info: &PrepareInfo) -> Result<Box<dyn Provisioner>, PrepareErrors> {
    Ok(Box::new(Powershell {
        config: Config::prepare(v, info)?,
    }))
}

#[async_trait]
impl Provisioner for Powershell {
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
