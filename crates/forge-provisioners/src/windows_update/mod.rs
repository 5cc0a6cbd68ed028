//! `windows-update`: installs Windows updates, restarting the machine as often as they need,
//! through the build's communicator (rgl/packer-plugin-windows-update's provisioner).

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
    Config, DEFAULT_RESTART_TIMEOUT, DEFAULT_UPDATE_LIMIT, DEFAULT_UPDATE_MAX_RETRIES,
    DEFAULT_USERNAME,
};
pub use run::{
    elevated_script, pending_reboot_command, windows_update_command, ABORT_TEST_RESTART_COMMAND,
    ELEVATED_COMMAND, ELEVATED_PATH, PENDING_REBOOT_ELEVATED_COMMAND, PENDING_REBOOT_ELEVATED_PATH,
    RESTART_COMMAND, TEST_RESTART_COMMAND, WINDOWS_UPDATE_PATH, WINDOWS_UPDATE_SCRIPT,
};

/// The provisioner.
pub struct WindowsUpdate {
    config: Config,
}

/// The registry's factory.
pub fn factory(v: &Value, info: &PrepareInfo) -> Result<Box<dyn Provisioner>, PrepareErrors> {
    Ok(Box::new(WindowsUpdate {
        config: Config::prepare(v, info)?,
    }))
}

#[async_trait]
impl Provisioner for WindowsUpdate {
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
                "The windows-update provisioner needs a communicator; this build has none (communicator = \"none\")",
            )),
        }
    }
}
