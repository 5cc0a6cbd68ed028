//! `shell`: runs inline lines or script files on the machine being built, through the build's
//! communicator (Packer's provisioner/shell).

mod config;
mod run;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::plugin::{BuildCtx, BuildData, Communicator, PrepareInfo, Provisioner};
use forge_core::registry::PrepareErrors;
use forge_core::ui::Ui;
use forge_template::value::Value;

pub use config::{Config, DEFAULT_START_RETRY_TIMEOUT};
pub use run::clean_output_line;

use forge_core::comm::NoneComm;

/// The provisioner.
pub struct Shell {
    config: Config,
}

/// The registry's factory.
pub fn factory(v: &Value, info: &PrepareInfo) -> Result<Box<dyn Provisioner>, PrepareErrors> {
    Ok(Box::new(Shell {
        config: Config::prepare(v, info)?,
    }))
}

#[async_trait]
impl Provisioner for Shell {
    async fn provision(
        &self,
        ctx: &BuildCtx,
        ui: &Ui,
        comm: Option<Arc<dyn Communicator>>,
        data: &BuildData,
    ) -> forge_core::Result<()> {
        let comm = comm.as_deref();
        match comm {
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
