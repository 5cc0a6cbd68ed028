//! The `vsphere-iso` builder: downloads the ISO through the shared cache, uploads it (and the
//! `cd_files` image) to a datastore, creates a VM with its disk controllers, disks, network
//! adapters and USB controllers, mounts the ISOs, sets the boot order and powers it on; then the
//! same wait-IP, communicator, provisioning, shutdown, snapshot and template steps as
//! vsphere-clone. Steps and messages follow packer-plugin-vsphere's iso builder as packer 1.6.6
//! carries it. The VM and every uploaded file are journaled before they exist; a failed or
//! interrupted build removes them, in reverse order.

mod config;
mod step_add_cdrom;
mod step_add_floppy;
mod step_boot_command;
mod step_boot_order;
mod step_create_vm;
mod step_eject_cdrom;
mod step_http_ip;
mod step_remote_upload;

pub(super) use step_add_floppy::remove_uploaded_floppy;

use std::sync::Arc;

use async_trait::async_trait;
use forge_commonsteps::media::CdConfig;
use forge_commonsteps::{
    DownloadState, Media, MediaState, StepCreateCd, StepCreateFloppy, StepDownload, StepHttpServer,
    StepTypeBootCommand,
};
use forge_core::artifact::Artifact;
use forge_core::builtin::common::{StepConnect, StepProvision};
use forge_core::plugin::{BuildCtx, Builder, Hook, PrepareInfo};
use forge_core::registry::PrepareErrors;
use forge_core::runner::{run_steps, Step};
use forge_core::{Error, Result};
use forge_template::value::Value;

pub use config::{IsoConfig, NicConfig, SUPPORTED};

use super::{
    step_cdrom, step_config_params, step_connect, step_content_library, step_export, step_floppy,
    step_hardware, step_run, step_shutdown, step_snapshot, step_template, step_wait_ip, Config,
    State,
};

/// What the vsphere-iso steps add to the shared state.
#[derive(Debug, Default)]
pub struct IsoState {
    /// The local ISO (downloaded, or a local file used in place).
    pub local_iso: Option<String>,
    /// The `cd_files` image and other media made locally.
    pub media: Media,
    /// The datastore the VM's files go to.
    pub datastore: Option<crate::Found>,
    /// The uploaded ISO, `[ds] path`.
    pub remote_iso: Option<String>,
    /// The uploaded `cd_files` image, `[ds] path`.
    pub remote_cd: Option<String>,
    /// The uploaded floppy image, `[ds] path`, and its journal record.
    pub remote_floppy: Option<(String, Option<forge_core::journal::Resource>)>,
    /// The address the guest reaches the HTTP server at (`{{ .HTTPIP }}`).
    pub http_ip: String,
}

impl DownloadState for State {
    fn set_download_path(&mut self, path: String) {
        self.iso.local_iso = Some(path);
    }
}

impl MediaState for State {
    fn media(&mut self) -> &mut Media {
        &mut self.iso.media
    }
}

/// The builder.
pub struct IsoBuilder {
    config: Config,
    info: PrepareInfo,
    cd: CdConfig,
}

/// The registry's factory.
pub fn factory(
    v: &Value,
    info: &PrepareInfo,
) -> std::result::Result<Box<dyn Builder>, PrepareErrors> {
    let config = Config::prepare_iso(v, info)?;
    let a: forge_template::schema::plugins::VsphereIsoBuilder = forge_core::registry::decode(v)?;
    let cd = CdConfig {
        files: a.cd_config.cd_files.clone().unwrap_or_default(),
        content: a.cd_config.cd_content.clone().unwrap_or_default(),
        label: a.cd_config.cd_label.clone().unwrap_or_default(),
    };
    Ok(Box::new(IsoBuilder {
        config,
        info: info.clone(),
        cd,
    }))
}

#[async_trait]
impl Builder for IsoBuilder {
    async fn run(&self, ctx: &BuildCtx, hook: Arc<dyn Hook>) -> Result<Option<Arc<dyn Artifact>>> {
        let c = Arc::new(self.config.clone());
        ctx.ui.output().redactor().add(&c.password);
        if !c.unsupported.is_empty() {
            return Err(Error::msg(c.unsupported.join("; ")));
        }
        let iso = c
            .iso
            .clone()
            .ok_or_else(|| Error::msg("vsphere-iso: no iso configuration"))?;
        let mut state = State::new(c.clone());
        let mut steps: Vec<Box<dyn Step<State>>> = vec![Box::new(step_connect::StepConnectVsphere)];
        if !iso.iso_urls.is_empty() {
            steps.push(Box::new(StepDownload {
                retrieving: "ISO".into(),
                description: "ISO".into(),
                extension: iso.iso_target_extension.clone(),
                urls: iso.iso_urls.clone(),
                checksum: iso.iso_checksum.clone(),
                target_path: iso.iso_target_path.clone(),
            }));
        }
        steps.push(Box::new(StepCreateCd::new(self.cd.clone())));
        steps.push(Box::new(step_remote_upload::StepRemoteUpload::default()));
        steps.push(Box::new(step_create_vm::StepCreateVm::default()));
        steps.push(Box::new(step_hardware::StepConfigureHardware));
        steps.push(Box::new(step_add_cdrom::StepAddCdrom));
        steps.push(Box::new(step_config_params::StepConfigParams));
        steps.push(Box::new(StepCreateFloppy::new(iso.floppy.clone())));
        steps.push(Box::new(step_add_floppy::StepAddFloppy));
        steps.push(Box::new(step_http_ip::StepHttpIpDiscover));
        steps.push(Box::new(StepHttpServer::new(iso.http.clone())));
        steps.push(Box::new(step_boot_order::StepBootOrder::default()));
        steps.push(Box::new(step_run::StepRun { powered_on: false }));
        steps.push(Box::new(StepTypeBootCommand {
            name: "StepBootCommand",
            command: iso.boot_command.clone(),
            wait: iso.boot_wait,
            keyboard: step_boot_command::Console {
                interval: iso.boot_key_interval,
            },
        }));
        if !c.comm.is_none() {
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
        } else {
            steps.push(Box::new(step_shutdown::StepShutdown));
            steps.push(Box::new(step_floppy::StepRemoveFloppy));
        }
        steps.push(Box::new(step_eject_cdrom::StepEjectCdrom));
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
        Ok(super::artifact(&c, &state))
    }
}
