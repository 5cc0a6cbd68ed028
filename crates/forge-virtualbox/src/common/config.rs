//! What every VirtualBox builder configures alike (Packer's vboxcommon ExportConfig,
//! OutputConfig, RunConfig, CommConfig, ShutdownConfig, VBoxManageConfig, VBoxVersionConfig and
//! GuestAdditionsConfig, with the SDK's HTTP, floppy, CD and boot configurations): decoded from
//! the builder's own schema struct by [`common_args!`](crate::common_args), checked with
//! Packer's messages.

use std::time::Duration;

use forge_commonsteps::media::{CdConfig, FloppyConfig};
use forge_core::comm::{CommConfig, CommType};
use forge_core::plugin::PrepareInfo;
use forge_template::schema::plugins::{BootConfig, HTTPConfig, ShutdownConfig};

/// The VirtualBox fields every builder's schema struct has, borrowed from it.
pub struct CommonArgs<'a> {
    /// The HTTP server's fields.
    pub http: &'a HTTPConfig,
    /// `floppy_*`.
    pub floppy: &'a forge_template::schema::plugins::FloppyConfig,
    /// `cd_*`.
    pub cd: &'a forge_template::schema::plugins::CDConfig,
    /// `boot_*`.
    pub boot: &'a BootConfig,
    /// `shutdown_command`, `shutdown_timeout`, `disable_shutdown`.
    pub shutdown: &'a ShutdownConfig,
    /// The communicator fields.
    pub communicator: &'a forge_template::schema::plugins::Communicator,
    /// `format`.
    pub format: &'a Option<String>,
    /// `export_opts`.
    pub export_opts: &'a Option<Vec<String>>,
    /// `output_directory`.
    pub output_directory: &'a Option<String>,
    /// `output_filename`.
    pub output_filename: &'a Option<String>,
    /// `headless`.
    pub headless: Option<bool>,
    /// `vrdp_bind_address`.
    pub vrdp_bind_address: &'a Option<String>,
    /// `vrdp_port_min`, `vrdp_port_max`.
    pub vrdp_ports: (Option<i64>, Option<i64>),
    /// `host_port_min`, `host_port_max`.
    pub host_ports: (Option<i64>, Option<i64>),
    /// `ssh_host_port_min`, `ssh_host_port_max` (older names that win when set).
    pub ssh_host_ports: (Option<i64>, Option<i64>),
    /// `skip_nat_mapping`, `ssh_skip_nat_mapping`.
    pub skip_nat_mapping: (Option<bool>, Option<bool>),
    /// `post_shutdown_delay`.
    pub post_shutdown_delay: &'a Option<String>,
    /// `acpi_shutdown`.
    pub acpi_shutdown: Option<bool>,
    /// `vboxmanage`.
    pub vboxmanage: &'a Option<Vec<Vec<String>>>,
    /// `vboxmanage_post`.
    pub vboxmanage_post: &'a Option<Vec<Vec<String>>>,
    /// `virtualbox_version_file`.
    pub virtualbox_version_file: &'a Option<String>,
    /// `guest_additions_mode`.
    pub guest_additions_mode: &'a Option<String>,
    /// `guest_additions_interface`.
    pub guest_additions_interface: &'a Option<String>,
    /// `guest_additions_path`.
    pub guest_additions_path: &'a Option<String>,
    /// `guest_additions_sha256`.
    pub guest_additions_sha256: &'a Option<String>,
    /// `guest_additions_url`.
    pub guest_additions_url: &'a Option<String>,
}

/// Borrows the common fields of a VirtualBox builder's schema struct (they have the same names
/// in `VirtualboxIsoBuilder`, `VirtualboxOvfBuilder` and `VirtualboxVmBuilder`).
#[macro_export]
macro_rules! common_args {
    ($a:expr) => {
        $crate::common::config::CommonArgs {
            http: &$a.http_config,
            floppy: &$a.floppy_config,
            cd: &$a.cd_config,
            boot: &$a.boot_config,
            shutdown: &$a.shutdown_config,
            communicator: &$a.communicator,
            format: &$a.format,
            export_opts: &$a.export_opts,
            output_directory: &$a.output_directory,
            output_filename: &$a.output_filename,
            headless: $a.headless,
            vrdp_bind_address: &$a.vrdp_bind_address,
            vrdp_ports: ($a.vrdp_port_min, $a.vrdp_port_max),
            host_ports: ($a.host_port_min, $a.host_port_max),
            ssh_host_ports: ($a.ssh_host_port_min, $a.ssh_host_port_max),
            skip_nat_mapping: ($a.skip_nat_mapping, $a.ssh_skip_nat_mapping),
            post_shutdown_delay: &$a.post_shutdown_delay,
            acpi_shutdown: $a.acpi_shutdown,
            vboxmanage: &$a.vboxmanage,
            vboxmanage_post: &$a.vboxmanage_post,
            virtualbox_version_file: &$a.virtualbox_version_file,
            guest_additions_mode: &$a.guest_additions_mode,
            guest_additions_interface: &$a.guest_additions_interface,
            guest_additions_path: &$a.guest_additions_path,
            guest_additions_sha256: &$a.guest_additions_sha256,
            guest_additions_url: &$a.guest_additions_url,
        }
    };
}

/// `guest_additions_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestAdditionsMode {
    /// Neither downloaded nor given to the guest.
    Disable,
    /// Attached to the VM as a DVD.
    Attach,
    /// Uploaded to the guest through the communicator.
    Upload,
}

/// The checked common configuration.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    /// `output_directory` (`output-<build name>`).
    pub output_dir: String,
    /// `output_filename` (empty: the VM's name).
    pub output_filename: String,
    /// `format`: `ovf` or `ova`.
    pub format: String,
    /// `export_opts`.
    pub export_opts: Vec<String>,
    /// `headless`.
    pub headless: bool,
    /// `vrdp_bind_address`.
    pub vrdp_bind: String,
    /// `vrdp_port_min`..`vrdp_port_max`.
    pub vrdp_ports: (u16, u16),
    /// The communicator.
    pub comm: CommConfig,
    /// Where the communicator connects (`ssh_host`, default 127.0.0.1).
    pub comm_host: String,
    /// The guest's communicator port.
    pub guest_port: u16,
    /// `host_port_min`..`host_port_max` for the forwarded port.
    pub host_ports: (u16, u16),
    /// `skip_nat_mapping`.
    pub skip_nat_mapping: bool,
    /// `shutdown_command`.
    pub shutdown_command: String,
    /// `shutdown_timeout` (5m).
    pub shutdown_timeout: Duration,
    /// `post_shutdown_delay` (2s).
    pub post_shutdown_delay: Duration,
    /// `disable_shutdown`.
    pub disable_shutdown: bool,
    /// `acpi_shutdown`.
    pub acpi_shutdown: bool,
    /// `vboxmanage`.
    pub vboxmanage: Vec<Vec<String>>,
    /// `vboxmanage_post`.
    pub vboxmanage_post: Vec<Vec<String>>,
    /// `virtualbox_version_file` (`.vbox_version`; empty: none).
    pub version_file: String,
    /// `guest_additions_mode` (upload).
    pub guest_additions_mode: GuestAdditionsMode,
    /// `guest_additions_interface` (ide).
    pub guest_additions_interface: String,
    /// `guest_additions_path` (`VBoxGuestAdditions.iso`).
    pub guest_additions_path: String,
    /// `guest_additions_sha256`, lower-cased.
    pub guest_additions_sha256: String,
    /// `guest_additions_url`.
    pub guest_additions_url: String,
    /// The floppy's contents.
    pub floppy: FloppyConfig,
    /// The CD's contents.
    pub cd: CdConfig,
    /// The HTTP server.
    pub http: forge_commonsteps::httpserver::HttpConfig,
    /// `boot_command`, joined.
    pub boot_command: String,
    /// `boot_wait` (10s).
    pub boot_wait: Duration,
    /// `boot_keygroup_interval` (100ms).
    pub boot_group_interval: Duration,
}

fn text(o: &Option<String>) -> Option<String> {
    o.clone().filter(|s| !s.is_empty())
}

pub use forge_commonsteps::config::duration;

impl CommonConfig {
    /// Decodes and checks the common fields; problems go to `errs`, warnings to `info`.
    pub fn prepare(a: &CommonArgs<'_>, info: &PrepareInfo, errs: &mut Vec<String>) -> CommonConfig {
        // ExportConfig.
        let format = text(a.format).unwrap_or_else(|| "ovf".into());
        if format != "ovf" && format != "ova" {
            errs.push("invalid format, only 'ovf' or 'ova' are allowed".into());
        }
        // OutputConfig.
        let output_dir =
            text(a.output_directory).unwrap_or_else(|| format!("output-{}", info.build_name));
        // RunConfig.
        let vrdp_bind = text(a.vrdp_bind_address).unwrap_or_else(|| "127.0.0.1".into());
        let vrdp_min = a.vrdp_ports.0.filter(|p| *p != 0).unwrap_or(5900);
        let vrdp_max = a.vrdp_ports.1.filter(|p| *p != 0).unwrap_or(6000);
        if vrdp_min > vrdp_max {
            errs.push("vrdp_port_min must be less than vrdp_port_max".into());
        }
        // CommConfig: the ssh_ names win when set.
        let host_min = a
            .ssh_host_ports
            .0
            .filter(|p| *p != 0)
            .or(a.host_ports.0.filter(|p| *p != 0))
            .unwrap_or(2222);
        let host_max = a
            .ssh_host_ports
            .1
            .filter(|p| *p != 0)
            .or(a.host_ports.1.filter(|p| *p != 0))
            .unwrap_or(4444);
        let skip_nat_mapping =
            a.skip_nat_mapping.1.unwrap_or(false) || a.skip_nat_mapping.0.unwrap_or(false);
        let comm = CommConfig::prepare_into(a.communicator, CommType::Ssh, info, errs);
        if host_min > host_max {
            errs.push("host_port_min must be less than host_port_max".into());
        }
        let comm_host = comm.host().unwrap_or("127.0.0.1").to_string();
        let guest_port = comm.port().unwrap_or(22);
        // ShutdownConfig.
        // Zero means the default here, as Packer decodes these straight into durations.
        let nonzero = |d: Duration, default: Duration| if d.is_zero() { default } else { d };
        let shutdown_timeout = nonzero(
            duration(
                "shutdown_timeout",
                &a.shutdown.shutdown_timeout,
                Duration::ZERO,
                errs,
            ),
            Duration::from_secs(300),
        );
        let post_shutdown_delay = nonzero(
            duration(
                "post_shutdown_delay",
                a.post_shutdown_delay,
                Duration::ZERO,
                errs,
            ),
            Duration::from_secs(2),
        );
        // VBoxVersionConfig.
        let version_file = a
            .virtualbox_version_file
            .clone()
            .unwrap_or_else(|| ".vbox_version".into());
        if comm.is_none() && !version_file.is_empty() {
            errs.push(
                "virtualbox_version_file has to be an empty string when communicator = 'none'."
                    .into(),
            );
        }
        // GuestAdditionsConfig.
        let mode = match text(a.guest_additions_mode).as_deref().unwrap_or("upload") {
            "disable" => GuestAdditionsMode::Disable,
            "attach" => GuestAdditionsMode::Attach,
            "upload" => GuestAdditionsMode::Upload,
            _ => {
                errs.push(
                    "guest_additions_mode is invalid. Must be one of: [disable attach upload]"
                        .into(),
                );
                GuestAdditionsMode::Disable
            }
        };
        if comm.is_none() && mode == GuestAdditionsMode::Upload {
            errs.push(
                "communicator must not be 'none' when guest_additions_mode = 'upload'.".into(),
            );
        }
        // The SDK's floppy, CD, HTTP and boot configurations.
        let floppy = FloppyConfig {
            files: a.floppy.floppy_files.clone().unwrap_or_default(),
            dirs: a.floppy.floppy_dirs.clone().unwrap_or_default(),
            content: a.floppy.floppy_content.clone().unwrap_or_default(),
            label: text(&a.floppy.floppy_label).unwrap_or_else(|| "packer".into()),
        };
        errs.extend(floppy.prepare().into_iter().map(|e| e.0));
        let mut cd = CdConfig {
            files: a.cd.cd_files.clone().unwrap_or_default(),
            content: a.cd.cd_content.clone().unwrap_or_default(),
            label: a.cd.cd_label.clone().unwrap_or_default(),
        };
        errs.extend(cd.prepare().into_iter().map(|e| e.0));
        let h = a.http;
        let http_min = h.http_port_min.filter(|p| *p != 0).unwrap_or(8000);
        let http_max = h.http_port_max.filter(|p| *p != 0).unwrap_or(9000);
        if http_min > http_max {
            errs.push("http_port_min must be less than http_port_max".into());
        }
        if text(&h.http_directory).is_some()
            && h.http_content.as_ref().is_some_and(|c| !c.is_empty())
        {
            errs.push("http_directory and http_content cannot both be set".into());
        }
        let boot_commands = a.boot.boot_command.clone().unwrap_or_default();
        errs.extend(forge_commonsteps::bootcommand::validate(&boot_commands));
        let boot_wait = duration(
            "boot_wait",
            &a.boot.boot_wait,
            Duration::from_secs(10),
            errs,
        );
        let boot_group_interval = duration(
            "boot_keygroup_interval",
            &a.boot.boot_keygroup_interval,
            Duration::from_millis(100),
            errs,
        );
        let shutdown_command = text(&a.shutdown.shutdown_command).unwrap_or_default();
        if shutdown_command.is_empty() {
            info.warn("A shutdown_command was not specified. Without a shutdown command, Packer\nwill forcibly halt the virtual machine, which may result in data loss.");
        }
        let port = |p: i64| p.clamp(0, 65535) as u16;
        CommonConfig {
            output_dir,
            output_filename: text(a.output_filename).unwrap_or_default(),
            format,
            export_opts: a.export_opts.clone().unwrap_or_default(),
            headless: a.headless.unwrap_or(false),
            vrdp_bind,
            vrdp_ports: (port(vrdp_min), port(vrdp_max)),
            comm,
            comm_host,
            guest_port,
            host_ports: (port(host_min), port(host_max)),
            skip_nat_mapping,
            shutdown_command,
            shutdown_timeout,
            post_shutdown_delay,
            disable_shutdown: a.shutdown.disable_shutdown.unwrap_or(false),
            acpi_shutdown: a.acpi_shutdown.unwrap_or(false),
            vboxmanage: a.vboxmanage.clone().unwrap_or_default(),
            vboxmanage_post: a.vboxmanage_post.clone().unwrap_or_default(),
            version_file,
            guest_additions_mode: mode,
            guest_additions_interface: text(a.guest_additions_interface)
                .unwrap_or_else(|| "ide".into()),
            guest_additions_path: text(a.guest_additions_path)
                .unwrap_or_else(|| "VBoxGuestAdditions.iso".into()),
            guest_additions_sha256: text(a.guest_additions_sha256)
                .unwrap_or_default()
                .to_lowercase(),
            guest_additions_url: text(a.guest_additions_url).unwrap_or_default(),
            floppy,
            cd,
            http: forge_commonsteps::httpserver::HttpConfig {
                directory: h.http_directory.clone().unwrap_or_default(),
                content: h.http_content.clone().unwrap_or_default(),
                port_min: port(http_min),
                port_max: port(http_max),
                bind_address: text(&h.http_bind_address).unwrap_or_else(|| "0.0.0.0".into()),
            },
            boot_command: boot_commands.concat(),
            boot_wait,
            boot_group_interval,
        }
    }
}
