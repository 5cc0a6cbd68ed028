//! The `ansible-local` provisioner: runs `ansible-playbook` on the machine being built
//! (packer-plugin-ansible's provisioner/ansible-local). Playbooks, inventory, variables, roles
//! and collections are uploaded into a staging directory on the machine through the build's
//! communicator, and Ansible runs there against `127.0.0.1` with `-c local`.

mod config;
mod run;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::plugin::{BuildCtx, BuildData, Communicator, PrepareInfo, Provisioner};
use forge_core::registry::PrepareErrors;
use forge_core::ui::Ui;
use forge_core::Result;
use forge_template::value::Value;

pub use config::{Config, DEFAULT_COMMAND, DEFAULT_GALAXY_COMMAND, DEFAULT_STAGING_DIR};

/// The provisioner.
pub struct AnsibleLocal {
    config: Config,
}

impl AnsibleLocal {
    /// The provisioner for a checked configuration.
    pub fn new(config: Config) -> AnsibleLocal {
        AnsibleLocal { config }
    }

    /// Its configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

/// The registry's factory.
pub fn factory(
    v: &Value,
    info: &PrepareInfo,
) -> std::result::Result<Box<dyn Provisioner>, PrepareErrors> {
    Ok(Box::new(AnsibleLocal::new(Config::prepare(v, info)?)))
}

#[async_trait]
impl Provisioner for AnsibleLocal {
    async fn provision(
        &self,
        ctx: &BuildCtx,
        ui: &Ui,
        comm: Option<Arc<dyn Communicator>>,
        data: &BuildData,
    ) -> Result<()> {
        match comm.as_deref() {
            Some(comm) => run::run(ctx, ui, &self.config, comm, data).await,
            None => run::run(ctx, ui, &self.config, &forge_core::comm::NoneComm, data).await,
        }
    }
}
