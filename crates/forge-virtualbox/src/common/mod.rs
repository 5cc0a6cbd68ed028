//! The configuration, state and steps every VirtualBox builder shares (Packer's
//! builder/virtualbox/common). Each step takes what it needs of the configuration as its own
//! fields, and works on one [`State`]; the builder (`ovf` today) lists them.

pub mod config;
pub mod step_attach_floppy;
pub mod step_attach_isos;
pub mod step_configure_vrdp;
pub mod step_download;
pub mod step_export;
pub mod step_port_forwarding;
pub mod step_remove_devices;
pub mod step_run;
pub mod step_shutdown;
pub mod step_suppress_messages;
pub mod step_type_boot_command;
pub mod step_upload;
pub mod step_vboxmanage;

use std::sync::Arc;

use forge_core::builtin::common::{hook_data, ProvisionState, TempKeyState};
use forge_core::plugin::{BuildCtx, BuildData, Communicator, TempKey};
use forge_core::Error;

use crate::driver::Driver;
use forge_commonsteps::{Media, MediaState};

/// Packer's builder id for every VirtualBox builder.
pub const BUILDER_ID: &str = "mitchellh.virtualbox";

/// What the steps share.
pub struct State {
    /// VirtualBox.
    pub driver: Arc<dyn Driver>,
    /// The VM's name, once it is registered (imported or created).
    pub vm_name: String,
    /// The downloaded OVF/OVA (or ISO).
    pub source_path: String,
    /// The guest additions ISO, once downloaded.
    pub guest_additions_path: Option<String>,
    /// The HTTP server's address as the guest sees it (VirtualBox's NAT gateway).
    pub http_ip: String,
    /// The floppy and CD images and the HTTP server's port.
    pub media: Media,
    /// The host port forwarded to the guest's communicator port (0: none).
    pub comm_host_port: u16,
    /// Whether the `packercomm` NAT rule is on the VM.
    pub nat_rule: bool,
    /// The VRDP address and port.
    pub vrdp: Option<(String, u16)>,
    /// The commands that detach the DVDs attached for the build, by what each DVD holds
    /// (`boot_iso`, `guest_additions`, `cd_files`).
    pub unmount_commands: Vec<(&'static str, Vec<String>)>,
    /// Set once the DVDs are detached (their step's cleanup then has nothing to do).
    pub isos_detached: bool,
    /// Where the VM was exported.
    pub export_path: Option<String>,
    /// The communicator.
    pub comm: Option<Arc<dyn Communicator>>,
    /// Where the communicator connects (`ssh_host`).
    pub comm_host: String,
    /// The build's temporary key pair.
    pub temp_key: Option<TempKey>,
    /// The VM as the shutdown step drives it.
    pub machine: Option<step_shutdown::Machine>,
}

impl State {
    /// A fresh state over `driver`.
    pub fn new(driver: Arc<dyn Driver>, comm_host: &str) -> State {
        State {
            driver,
            vm_name: String::new(),
            source_path: String::new(),
            guest_additions_path: None,
            http_ip: "10.0.2.2".into(),
            media: Media::default(),
            comm_host_port: 0,
            nat_rule: false,
            vrdp: None,
            unmount_commands: Vec::new(),
            isos_detached: false,
            export_path: None,
            comm: None,
            comm_host: comm_host.into(),
            temp_key: None,
            machine: None,
        }
    }

    /// Where the communicator connects: `ssh_host` at the forwarded port.
    pub fn comm_address(&self) -> (String, u16) {
        (self.comm_host.clone(), self.comm_host_port)
    }

    /// The data `vboxmanage` arguments and the boot command are rendered with.
    pub fn template_data(&self) -> BuildData {
        let mut d = BuildData::new();
        d.insert("Name".into(), self.vm_name.clone());
        d.insert("HTTPIP".into(), self.http_ip.clone());
        d.insert(
            "HTTPPort".into(),
            self.media.http_port.unwrap_or(0).to_string(),
        );
        d
    }
}

/// Reports `m` on the UI and returns it as the step's error.
pub fn fail(ctx: &BuildCtx, m: String) -> Error {
    ctx.ui.error(&m);
    Error::msg(m)
}

impl MediaState for State {
    fn media(&mut self) -> &mut Media {
        &mut self.media
    }
}

impl forge_commonsteps::DownloadState for State {
    fn set_download_path(&mut self, path: String) {
        self.source_path = path;
    }
}

impl TempKeyState for State {
    fn temp_key_slot(&mut self) -> &mut Option<TempKey> {
        &mut self.temp_key
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
        let http = self.media.http_port.map(|p| (self.http_ip.as_str(), p));
        hook_data(ctx, Some(&self.vm_name), http, &extra)
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A state over the fake driver, and a build context, for the steps' tests.
    use super::*;
    use crate::fake::FakeDriver;

    /// A state whose VM `vm` is registered in a fresh fake VirtualBox.
    pub fn state(vm: &str) -> (State, FakeDriver, BuildCtx) {
        let f = FakeDriver::new();
        if !vm.is_empty() {
            f.register(vm);
        }
        let mut st = State::new(Arc::new(f.clone()), "127.0.0.1");
        st.vm_name = vm.into();
        (st, f, BuildCtx::for_test("virtualbox-ovf.test"))
    }

    /// Owned strings.
    pub fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }
}
