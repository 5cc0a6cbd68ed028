//! The `qemu` builder: from an ISO or a disk image to a finished disk in `output_directory`,
//! with Packer's steps (builder/qemu/builder.go) and its messages.

mod args;
mod config;
mod driver;
mod step_boot;
mod step_disks;
mod step_ports;
mod step_run;

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::artifact::Artifact;
use forge_core::builtin::common::{
    hook_data, ProvisionState, StepCleanupTempKeys, StepConnect, StepProvision, StepTempKey,
    TempKeyState,
};
use forge_core::local::Background;
use forge_core::plugin::{BuildCtx, BuildData, Builder, Communicator, Hook, PrepareInfo, TempKey};
use forge_core::registry::PrepareErrors;
use forge_core::runner::{run_steps, Step};
use forge_core::Result;
use forge_template::value::Value;

pub use args::{merge as merge_qemuargs, RunInputs};
pub use config::Config;

use forge_commonsteps::artifact::files_under;
use forge_commonsteps::httpserver::HttpConfig;
use forge_commonsteps::media::{CdConfig, FloppyConfig};
use forge_commonsteps::ports::PortLock;
use forge_commonsteps::{
    BootCommandState, DownloadState, Media, MediaState, ShutdownDriver, ShutdownState,
    StepCreateCd, StepCreateFloppy, StepDownload, StepHttpServer, StepOutputDir, StepShutdown,
    StepTypeBootCommand, VmArtifact,
};

/// The qemu builder's artifact: the files of its output directory.
pub type QemuArtifact = VmArtifact;

/// Packer's builder id for `qemu`.
pub const BUILDER_ID: &str = "transcend.qemu";

/// The builder.
pub struct QemuBuilder {
    config: Config,
    info: PrepareInfo,
}

/// The registry's factory.
pub fn factory(
    v: &Value,
    info: &PrepareInfo,
) -> std::result::Result<Box<dyn Builder>, PrepareErrors> {
    Ok(Box::new(QemuBuilder {
        config: Config::prepare(v, info)?,
        info: info.clone(),
    }))
}

/// What the steps share.
pub struct State {
    /// The configuration.
    pub config: Config,
    /// The downloaded ISO or source disk.
    pub iso_path: String,
    /// The VM's disks.
    pub disks: Vec<String>,
    /// The VM's EFI variables (`<output>/efivars.fd`).
    pub efivars: Option<String>,
    /// The HTTP server's address as the guest sees it.
    pub http_ip: String,
    /// The floppy and CD images and the HTTP server's port.
    pub media: Media,
    /// The forwarded communicator port.
    pub host_port: Option<PortLock>,
    /// The VNC port.
    pub vnc_port: Option<PortLock>,
    /// The running qemu.
    pub qemu: Option<Background>,
    /// The communicator.
    pub comm: Option<Arc<dyn Communicator>>,
    /// The build's temporary key pair.
    pub temp_key: Option<TempKey>,
}

impl TempKeyState for State {
    fn temp_key_slot(&mut self) -> &mut Option<TempKey> {
        &mut self.temp_key
    }
}

impl ShutdownState for State {
    fn machine(&mut self) -> Option<&mut dyn ShutdownDriver> {
        self.qemu.as_mut().map(|q| q as &mut dyn ShutdownDriver)
    }
}

impl ProvisionState for State {
    fn communicator(&self) -> Option<Arc<dyn Communicator>> {
        self.comm.clone()
    }
    fn build_data(&self, ctx: &BuildCtx) -> BuildData {
        let mut extra = BuildData::new();
        if let Some(k) = &self.temp_key {
            k.add_to(&mut extra);
        }
        extra.insert("HTTPIP".into(), self.http_ip.clone());
        if let Some(p) = self.media.http_port {
            extra.insert("HTTPPort".into(), p.to_string());
        }
        let (host, port) = self.comm_address();
        hook_data(ctx, Some("VM"), Some((&host, port)), &extra)
    }
}

impl MediaState for State {
    fn media(&mut self) -> &mut Media {
        &mut self.media
    }
}

impl DownloadState for State {
    fn set_download_path(&mut self, path: String) {
        self.iso_path = path;
    }
}

impl BootCommandState for State {
    fn boot_data(&self) -> BuildData {
        let mut data = step_run::template_data(self);
        if let Some(k) = &self.temp_key {
            data.insert("SSHPublicKey".into(), k.public.clone());
        }
        data
    }
}

impl State {
    /// Where the communicator connects: `ssh_host` or this host, at the forwarded port (the
    /// guest's own without NAT mapping).
    fn comm_address(&self) -> (String, u16) {
        let c = &self.config;
        let host = c.comm.host().unwrap_or("127.0.0.1").to_string();
        let port = self.host_port.as_ref().map(|p| p.port);
        (host, port.unwrap_or(c.guest_port))
    }
}

#[async_trait]
impl Builder for QemuBuilder {
    async fn run(&self, ctx: &BuildCtx, hook: Arc<dyn Hook>) -> Result<Option<Arc<dyn Artifact>>> {
        let c = &self.config;
        if let Some(e) = c.missing_firmware() {
            return Err(forge_core::Error::msg(e));
        }
        let mut state = State {
            config: c.clone(),
            iso_path: String::new(),
            disks: Vec::new(),
            efivars: None,
            http_ip: "10.0.2.2".into(),
            media: Media::default(),
            host_port: None,
            vnc_port: None,
            qemu: None,
            comm: None,
            temp_key: None,
        };
        let mut steps: Vec<Box<dyn Step<State>>> = vec![
            Box::new(StepDownload {
                retrieving: "ISO".into(),
                description: if c.disk_image() { "disk image" } else { "ISO" }.into(),
                extension: text(&c.args.iso_config.iso_target_extension)
                    .unwrap_or_else(|| "iso".into()),
                urls: c.iso_urls.clone(),
                checksum: c.iso_checksum.clone(),
                target_path: text(&c.args.iso_config.iso_target_path),
            }),
            Box::new(StepOutputDir::new(&c.output_dir)),
            Box::new(StepCreateFloppy::new(floppy_config(c))),
            Box::new(StepCreateCd::new(CdConfig {
                files: c.args.cd_config.cd_files.clone().unwrap_or_default(),
                content: c.args.cd_config.cd_content.clone().unwrap_or_default(),
                label: c.args.cd_config.cd_label.clone().unwrap_or_default(),
            })),
            Box::new(step_disks::StepCreateDisk),
        ];
        if c.disk_image() && !c.use_backing_file() {
            steps.push(Box::new(step_disks::StepCopyDisk));
        }
        if c.disk_image() && !c.args.skip_resize_disk.unwrap_or(false) {
            steps.push(Box::new(step_disks::StepResizeDisk));
        }
        let h = &c.args.http_config;
        steps.push(Box::new(StepHttpServer::new(HttpConfig {
            directory: h.http_directory.clone().unwrap_or_default(),
            content: h.http_content.clone().unwrap_or_default(),
            port_min: c.http_ports.0,
            port_max: c.http_ports.1,
            bind_address: text(&h.http_bind_address).unwrap_or_else(|| "0.0.0.0".into()),
        })));
        steps.push(Box::new(step_ports::StepPortForward));
        if let Some(s) = StepTempKey::wanted(&c.comm, &self.info) {
            steps.push(Box::new(s));
        }
        if !c.args.disable_vnc.unwrap_or(false) {
            steps.push(Box::new(step_ports::StepConfigureVnc));
        }
        if let Some((_, vars)) = &c.efi {
            steps.push(Box::new(StepPrepareEfivars { vars: vars.clone() }));
        }
        steps.push(Box::new(step_run::StepRun));
        let commands = c.args.boot_config.boot_command.clone().unwrap_or_default();
        steps.push(Box::new(StepTypeBootCommand {
            name: "stepTypeBootCommand",
            command: (!commands.is_empty() && !c.args.disable_vnc.unwrap_or(false))
                .then(|| commands.concat()),
            wait: c.boot_wait,
            keyboard: step_boot::Vnc,
        }));
        if !c.comm.is_none() {
            steps.push(Box::new(StepConnect::new(
                c.comm.clone(),
                self.info.clone(),
                |s: &State| Ok(s.comm_address()),
                |s: &mut State, comm| s.comm = Some(comm),
                |s: &State| s.temp_key.clone(),
            )));
        }
        steps.push(Box::new(StepProvision { hook }));
        steps.push(Box::new(StepCleanupTempKeys {
            clear: c.comm.ssh().is_some_and(|s| s.clear_authorized_keys),
        }));
        steps.push(Box::new(StepShutdown {
            command: c.args.shutdown_command.clone().unwrap_or_default(),
            timeout: c.shutdown_timeout,
            machine_name: "qemu".into(),
        }));
        steps.push(Box::new(step_disks::StepConvertDisk));
        run_steps(ctx, &mut state, &mut steps).await?;
        let mut st = serde_json::Map::new();
        st.insert("diskName".into(), c.vm_name.clone().into());
        st.insert("diskType".into(), c.format.clone().into());
        st.insert("diskSize".into(), c.disk_size.clone().into());
        st.insert("domainType".into(), c.accelerator.clone().into());
        st.insert(
            "diskPaths".into(),
            serde_json::Value::from(state.disks.clone()),
        );
        let mut files = files_under(std::path::Path::new(&c.output_dir));
        if c.args.efi_drop_efivars.unwrap_or(false) {
            if let Some(v) = &state.efivars {
                let _ = std::fs::remove_file(v);
                files.retain(|f| f != v);
            }
        }
        Ok(Some(Arc::new(VmArtifact {
            builder_id: BUILDER_ID.into(),
            dir: c.output_dir.clone(),
            files,
            state: st,
        })))
    }
}

/// A string option, unset when empty.
fn text(o: &Option<String>) -> Option<String> {
    o.clone().filter(|s| !s.is_empty())
}

/// `floppy_files`, `floppy_dirs`, `floppy_content` and `floppy_label` (`packer` by default).
fn floppy_config(c: &Config) -> FloppyConfig {
    let f = &c.args.floppy_config;
    FloppyConfig {
        files: f.floppy_files.clone().unwrap_or_default(),
        dirs: f.floppy_dirs.clone().unwrap_or_default(),
        content: f.floppy_content.clone().unwrap_or_default(),
        label: text(&f.floppy_label).unwrap_or_else(|| "packer".into()),
    }
}

/// stepPrepareEfivars: the VM's own copy of the EFI variables, in the output directory.
struct StepPrepareEfivars {
    vars: String,
}

#[async_trait]
impl Step<State> for StepPrepareEfivars {
    fn name(&self) -> &'static str {
        "stepPrepareEfivars"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let dst = std::path::Path::new(&st.config.output_dir).join("efivars.fd");
        std::fs::copy(&self.vars, &dst).map_err(|e| {
            let m = format!(
                "failed to copy efivars data from {} to {}: {e}",
                self.vars,
                dst.display()
            );
            ctx.ui.error(&m);
            forge_core::Error::msg(m)
        })?;
        st.efivars = Some(dst.to_string_lossy().into_owned());
        Ok(())
    }
}
