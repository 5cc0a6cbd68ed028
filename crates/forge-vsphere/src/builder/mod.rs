//! The `vsphere-clone` builder (and, in [`iso`], `vsphere-iso`, which shares its steps): clones a VM or template, configures it, powers it on, waits for
//! its IP, provisions it over the communicator, shuts it down, then snapshots it or makes it a
//! template. Steps and messages follow packer-plugin-vsphere's clone builder (as packer 1.6.6
//! carries it); the clone is journaled before it exists, and a failed or interrupted build
//! powers it off and destroys it, in reverse order.

mod artifact;
mod config;
mod config_export;
pub mod iso;
mod step_cdrom;
mod step_clone;
mod step_config_params;
mod step_connect;
mod step_content_library;
mod step_customize;
mod step_export;
mod step_floppy;
mod step_hardware;
mod step_run;
mod step_shutdown;
mod step_snapshot;
mod step_template;
mod step_wait_ip;

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::artifact::Artifact;
use forge_core::builtin::common::{hook_data, ProvisionState, StepConnect, StepProvision};
use forge_core::plugin::{BuildCtx, BuildData, Builder, Communicator, Hook, PrepareInfo};
use forge_core::registry::PrepareErrors;
use forge_core::runner::{run_steps, Step};
use forge_core::{Error, Result};
use forge_template::value::Value;

use crate::client::Client;
use crate::find::Datacenter;
use crate::soap::Moref;

pub use artifact::VmArtifact;
pub use config::{unsupported, Cidr, Config, Hardware};

/// Packer's builder id for vsphere-iso and vsphere-clone.
pub const BUILDER_ID: &str = "jetbrains.vsphere";

/// The builder.
pub struct CloneBuilder {
    config: Config,
    info: PrepareInfo,
}

/// The registry's factory.
pub fn factory(
    v: &Value,
    info: &PrepareInfo,
) -> std::result::Result<Box<dyn Builder>, PrepareErrors> {
    Ok(Box::new(CloneBuilder {
        config: Config::prepare(v, info)?,
        info: info.clone(),
    }))
}

/// What the steps share.
pub struct State {
    /// The configuration.
    pub config: Arc<Config>,
    /// The session, once connected.
    pub client: Option<Arc<Client>>,
    /// The datacenter.
    pub dc: Option<Datacenter>,
    /// The VM forge cloned.
    pub vm: Option<Moref>,
    /// Its inventory path.
    pub vm_path: String,
    /// The guest's IP address.
    pub ip: String,
    /// The communicator.
    pub comm: Option<Arc<dyn Communicator>>,
    /// Generated data.
    pub generated: BuildData,
    /// `content_library_destination.destroy`: remove the VM at the end, even on success.
    pub destroy_vm: bool,
    /// The files `export` wrote (the artifact's files).
    pub export_files: Vec<String>,
    /// What vsphere-iso's own steps made (empty for vsphere-clone).
    pub iso: iso::IsoState,
}

impl State {
    /// The state a build starts with.
    pub fn new(config: Arc<Config>) -> State {
        State {
            config,
            client: None,
            dc: None,
            vm: None,
            vm_path: String::new(),
            ip: String::new(),
            comm: None,
            generated: BuildData::new(),
            destroy_vm: false,
            export_files: Vec::new(),
            iso: iso::IsoState::default(),
        }
    }

    /// The session.
    pub fn client(&self) -> Result<Arc<Client>> {
        self.client
            .clone()
            .ok_or_else(|| Error::msg("not connected to vSphere"))
    }

    /// The cloned VM.
    pub fn vm(&self) -> Result<Moref> {
        self.vm
            .clone()
            .ok_or_else(|| Error::msg("no VM was cloned"))
    }
}

impl ProvisionState for State {
    fn communicator(&self) -> Option<Arc<dyn Communicator>> {
        self.comm.clone()
    }
    fn build_data(&self, ctx: &BuildCtx) -> BuildData {
        hook_data(
            ctx,
            self.vm.as_ref().map(|v| v.value.as_str()),
            None,
            &self.generated,
        )
    }
}

#[async_trait]
impl Builder for CloneBuilder {
    async fn run(&self, ctx: &BuildCtx, hook: Arc<dyn Hook>) -> Result<Option<Arc<dyn Artifact>>> {
        let c = Arc::new(self.config.clone());
        ctx.ui.output().redactor().add(&c.password);
        for s in c.customize.iter().flat_map(|c| c.secrets()) {
            ctx.ui.output().redactor().add(&s);
        }
        if !c.unsupported.is_empty() {
            return Err(Error::msg(c.unsupported.join("; ")));
        }
        let mut state = State::new(c.clone());
        let mut steps: Vec<Box<dyn Step<State>>> = vec![
            Box::new(step_connect::StepConnectVsphere),
            Box::new(step_clone::StepCloneVm { record: None }),
            Box::new(step_hardware::StepConfigureHardware),
            Box::new(step_cdrom::StepAddCdrom),
            Box::new(step_config_params::StepConfigParams),
        ];
        if c.customize.is_some() {
            steps.push(Box::new(step_customize::StepCustomize));
        }
        if !c.comm.is_none() {
            steps.push(Box::new(step_run::StepRun { powered_on: false }));
            steps.push(Box::new(step_wait_ip::StepWaitForIp));
            steps.push(Box::new(StepConnect::new(
                c.comm.clone(),
                self.info.clone(),
                |st: &State| {
                    let c = &st.config.comm;
                    Ok((
                        c.host().unwrap_or(&st.ip).to_string(),
                        c.port().unwrap_or_default(),
                    ))
                },
                |s: &mut State, comm| s.comm = Some(comm),
                |_| None,
            )));
            steps.push(Box::new(StepProvision { hook }));
            steps.push(Box::new(step_shutdown::StepShutdown));
            steps.push(Box::new(step_floppy::StepRemoveFloppy));
        }
        steps.push(Box::new(step_cdrom::StepRemoveCdrom));
        if c.create_snapshot {
            steps.push(Box::new(step_snapshot::StepCreateSnapshot));
        }
        steps.push(Box::new(step_cdrom::StepRemoveNetworkAdapter));
        if c.convert_to_template {
            steps.push(Box::new(step_template::StepConvertToTemplate));
        }
        if let Some(l) = &c.library {
            steps.push(Box::new(
                step_content_library::StepImportToContentLibrary::new(l.clone()),
            ));
        }
        if let Some(x) = &c.export {
            steps.push(Box::new(step_export::StepExport::new(x.clone())));
        }
        let r = run_steps(ctx, &mut state, &mut steps).await;
        if let Some(client) = &state.client {
            let _ = client.logout().await;
        }
        r?;
        Ok(artifact(&c, &state))
    }
}

/// The build's artifact: none when no VM was made (Packer's nil), but with `destroy` the VM
/// is gone by now and Packer still hands the artifact on, as with exported files.
fn artifact(c: &Arc<Config>, st: &State) -> Option<Arc<dyn Artifact>> {
    if st.vm.is_none() && !st.destroy_vm && !c.destroy && st.export_files.is_empty() {
        return None;
    }
    Some(Arc::new(VmArtifact {
        name: c.vm_name.clone(),
        path: st.vm_path.clone(),
        config: c.clone(),
        generated: st.generated.clone(),
        files: st.export_files.clone(),
    }))
}
