//! `windows-restart`: restarts a Windows machine and waits until it is back, through the
//! build's communicator (Packer's provisioner/windows-restart).

mod config;
mod run;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::plugin::{BuildCtx, BuildData, Communicator, PrepareInfo, Provisioner};
use forge_core::registry::PrepareErrors;
use forge_core::ui::Ui;
use forge_core::Error;
use forge_template::value::Value;

pub use config::{
    default_check_command, registry_check_command, Config, ABORT_REBOOT, CHECK_SCRIPT,
    DEFAULT_REGISTRY_KEYS, DEFAULT_RESTART_COMMAND, DEFAULT_RESTART_TIMEOUT, TRY_CHECK_REBOOT,
};
pub use run::TIMEOUT;

/// The provisioner.
pub struct WindowsRestart {
    config: Config,
}

/// The registry's factory.
pub fn factory(v: &Value, info: &PrepareInfo) -> Result<Box<dyn Provisioner>, PrepareErrors> {
    Ok(Box::new(WindowsRestart {
        config: Config::prepare(v, info)?,
    }))
}

#[async_trait]
impl Provisioner for WindowsRestart {
    async fn provision(
        &self,
        ctx: &BuildCtx,
        ui: &Ui,
        comm: Option<Arc<dyn Communicator>>,
        _data: &BuildData,
    ) -> forge_core::Result<()> {
        match comm.as_deref() {
            Some(comm) => run::run(ctx, ui, &self.config, comm).await,
            None => Err(Error::msg(
                "The windows-restart provisioner needs a communicator; this build has none (communicator = \"none\")",
            )),
        }
    }
}
