//! The qemu builder's configuration, with Packer's defaults and checks (builder/qemu/config.go,
//! and the SDK's ISO, HTTP, floppy, CD, boot and shutdown configurations).

use std::time::Duration;

use forge_core::comm::{CommConfig, CommType};
use forge_core::plugin::PrepareInfo;
use forge_core::registry::{decode, PrepareErrors};
use forge_template::plan::parse_duration;
use forge_template::schema::plugins::QemuBuilder;
use forge_template::value::Value;

/// The accelerators qemu knows.
const ACCELERATORS: [&str; 7] = ["kvm", "tcg", "xen", "hax", "hvf", "whpx", "none"];
/// Disk interfaces.
const DISK_INTERFACES: [&str; 6] = ["ide", "sata", "scsi", "virtio", "virtio-scsi", "floppy"];
/// Disk cache modes.
const DISK_CACHES: [&str; 5] = ["writethrough", "writeback", "none", "unsafe", "directsync"];
/// Discard modes.
const DISK_DISCARDS: [&str; 2] = ["unmap", "ignore"];
/// detect-zeroes modes.
const DETECT_ZEROES: [&str; 3] = ["unmap", "on", "off"];

/// The typed configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The decoded arguments.
    pub args: QemuBuilder,
    /// The source's name.
    pub build_name: String,
    /// `iso_url`/`iso_urls`.
    pub iso_urls: Vec<String>,
    /// `iso_checksum` (`none` with `iso_skip_cache`).
    pub iso_checksum: String,
    /// `disk_size` with a unit (`40960M`).
    pub disk_size: String,
    /// `disk_cache`.
    pub disk_cache: String,
    /// `disk_discard`.
    pub disk_discard: String,
    /// `disk_detect_zeroes`.
    pub detect_zeroes: String,
    /// `accelerator` (kvm only where /dev/kvm opens).
    pub accelerator: String,
    /// `machine_type`.
    pub machine_type: String,
    /// `output_directory`.
    pub output_dir: String,
    /// `qemu_binary`.
    pub qemu_binary: String,
    /// `memory` in MiB.
    pub memory: i64,
    /// `vnc_bind_address`.
    pub vnc_bind: String,
    /// `vnc_port_min`/`vnc_port_max`.
    pub vnc_ports: (u16, u16),
    /// `host_port_min`/`host_port_max`.
    pub host_ports: (u16, u16),
    /// `http_port_min`/`http_port_max`.
    pub http_ports: (u16, u16),
    /// `vm_name`.
    pub vm_name: String,
    /// `format`.
    pub format: String,
    /// `net_device`.
    pub net_device: String,
    /// `disk_interface`.
    pub disk_interface: String,
    /// `skip_compaction` (forced for raw and backing files).
    pub skip_compaction: bool,
    /// `disk_compression` (only for qcow2).
    pub disk_compression: bool,
    /// `boot_wait` (10s; negative means none).
    pub boot_wait: Duration,
    /// `boot_key_interval`.
    pub key_interval: Option<Duration>,
    /// `shutdown_timeout` (5m).
    pub shutdown_timeout: Duration,
    /// The communicator (default `ssh`).
    pub comm: CommConfig,
    /// The guest's communicator port (`ssh_port` 22, `winrm_port` 5985/5986).
    pub guest_port: u16,
    /// EFI firmware (`efi_boot`, or either firmware path set): (code, vars).
    pub efi: Option<(String, String)>,
    /// The QMP socket (`qmp_enable`).
    pub qmp_socket: Option<String>,
}

impl Config {
    /// `disk_image`.
    pub fn disk_image(&self) -> bool {
        self.args.disk_image.unwrap_or(false)
    }
    /// `use_backing_file`.
    pub fn use_backing_file(&self) -> bool {
        self.args.use_backing_file.unwrap_or(false)
    }
    /// `headless`.
    pub fn headless(&self) -> bool {
        self.args.headless.unwrap_or(false)
    }

    /// The EFI firmware files this build needs that this machine lacks, as an error to stop the
    /// build with before anything is created.
    pub fn missing_firmware(&self) -> Option<String> {
        let (code, vars) = self.efi.as_ref()?;
        let missing: Vec<String> = [code, vars]
            .into_iter()
            .filter(|f| std::fs::metadata(f).is_err())
            .map(|f| format!("EFI firmware {f} not found (Debian: apt-get install ovmf)"))
            .collect();
        (!missing.is_empty()).then(|| missing.join("; "))
    }

    /// Decodes and checks, returning every problem at once.
    pub fn prepare(v: &Value, info: &PrepareInfo) -> Result<Config, PrepareErrors> {
        let a: QemuBuilder = decode(v)?;
        let mut errs = Vec::new();
        let s = |o: &Option<String>| o.clone().filter(|s| !s.is_empty());
        let dur = forge_commonsteps::config::duration;
        let shutdown_timeout = dur(
            "shutdown_timeout",
            &a.shutdown_timeout,
            Duration::from_secs(300),
            &mut errs,
        );

        let mut disk_size = s(&a.disk_size).unwrap_or_default();
        if disk_size.is_empty() || disk_size == "0" {
            disk_size = "40960M".into();
        } else {
            let lower = disk_size.to_lowercase();
            let digits = lower.trim_end_matches(['b', 'k', 'm', 'g', 't']);
            let unit_len = lower.len() - digits.len();
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) || unit_len > 1 {
                errs.push("Invalid disk size.".into());
            } else if unit_len == 0 {
                disk_size = format!("{disk_size}M");
            }
        }
        let disk_cache = s(&a.disk_cache).unwrap_or_else(|| "writeback".into());
        let disk_discard = s(&a.disk_discard).unwrap_or_else(|| "ignore".into());
        let detect_zeroes = s(&a.disk_detect_zeroes).unwrap_or_else(|| "off".into());
        let accelerator = s(&a.accelerator).unwrap_or_else(|| {
            // kvm only where the device really opens.
            if std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/kvm")
                .is_ok()
            {
                "kvm".into()
            } else {
                "tcg".into()
            }
        });
        let machine_type = s(&a.machine_type).unwrap_or_else(|| "pc".into());
        let output_dir =
            s(&a.output_directory).unwrap_or_else(|| format!("output-{}", info.build_name));
        let qemu_binary = s(&a.qemu_binary).unwrap_or_else(|| "qemu-system-x86_64".into());
        let memory = match a.memory.unwrap_or(0) {
            m if m < 10 => 512,
            m => m,
        };
        let vnc_bind = s(&a.vnc_bind_address).unwrap_or_else(|| "127.0.0.1".into());
        let vnc_min = a.vnc_port_min.filter(|p| *p != 0).unwrap_or(5900);
        let vnc_max = a.vnc_port_max.filter(|p| *p != 0).unwrap_or(6000);
        let vm_name = s(&a.vm_name).unwrap_or_else(|| format!("packer-{}", info.build_name));
        let format = s(&a.format).unwrap_or_else(|| "qcow2".into());

        // The SDK's floppy and CD checks: files must exist (globs may match nothing).
        for f in a.floppy_config.floppy_files.iter().flatten() {
            if !has_glob(f) && std::fs::metadata(f).is_err() {
                errs.push(format!(
                    "Bad Floppy disk file '{f}': stat {f}: no such file or directory"
                ));
            }
        }
        for f in a.floppy_config.floppy_dirs.iter().flatten() {
            if !has_glob(f) && std::fs::metadata(f).is_err() {
                errs.push(format!(
                    "Bad Floppy disk directory '{f}': stat {f}: no such file or directory"
                ));
            }
        }
        for f in a.cd_config.cd_files.iter().flatten() {
            if !has_glob(f) && std::fs::metadata(f).is_err() {
                errs.push(format!(
                    "Bad CD disk file '{f}': stat {f}: no such file or directory"
                ));
            }
        }

        let net_device = s(&a.net_device).unwrap_or_else(|| "virtio-net".into());
        let disk_interface = s(&a.disk_interface).unwrap_or_else(|| "virtio".into());

        // ISO (the source disk with disk_image).
        let skip_cache = a.iso_skip_cache.unwrap_or(false);
        let iso = &a.iso_config;
        let url = s(&iso.iso_url);
        let urls: Vec<String> = iso.iso_urls.clone().unwrap_or_default();
        let iso_urls = match (url, urls.is_empty()) {
            (Some(_), false) => {
                errs.push("Only one of iso_url or iso_urls must be specified".into());
                urls
            }
            (Some(u), true) => vec![u],
            (None, false) => urls,
            (None, true) => {
                errs.push("One of iso_url or iso_urls must be specified".into());
                Vec::new()
            }
        };
        let iso_checksum = if skip_cache {
            "none".to_string()
        } else {
            s(&iso.iso_checksum).unwrap_or_default()
        };
        if iso_checksum.is_empty() {
            errs.push("A checksum must be specified".into());
        } else if iso_checksum == "none" && !skip_cache {
            info.warn("A checksum of 'none' was specified. Since ISO files are so big,\na checksum is highly recommended.");
        }

        // HTTP server.
        let h = &a.http_config;
        let http_min = h.http_port_min.filter(|p| *p != 0).unwrap_or(8000);
        let http_max = h.http_port_max.filter(|p| *p != 0).unwrap_or(9000);
        if http_min > http_max {
            errs.push("http_port_min must be less than http_port_max".into());
        }
        if s(&h.http_directory).is_some() && h.http_content.as_ref().is_some_and(|c| !c.is_empty())
        {
            errs.push("http_directory and http_content cannot both be set".into());
        }

        // The communicator.
        let comm = CommConfig::prepare_into(&a.communicator, CommType::Ssh, info, &mut errs);
        // Without a connection, `ssh_port` (22) still names the forwarded guest port.
        let guest_port = comm.port().unwrap_or_else(|| {
            a.communicator
                .ssh_port
                .filter(|p| *p > 0 && *p < 65536)
                .unwrap_or(22) as u16
        });
        let host_min = a
            .host_port_min
            .or(a.ssh_host_port_min)
            .filter(|p| *p != 0)
            .unwrap_or(2222);
        let host_max = a
            .host_port_max
            .or(a.ssh_host_port_max)
            .filter(|p| *p != 0)
            .unwrap_or(4444);
        if host_min > host_max {
            errs.push("host_port_min must be less than host_port_max".into());
        }

        if format != "qcow2" && format != "raw" {
            errs.push("invalid format, only 'qcow2' or 'raw' are allowed".into());
        }
        let mut skip_compaction = a.skip_compaction.unwrap_or(false);
        let mut disk_compression = a.disk_compression.unwrap_or(false);
        if format != "qcow2" {
            skip_compaction = true;
            disk_compression = false;
        }
        let disk_image = a.disk_image.unwrap_or(false);
        if a.use_backing_file.unwrap_or(false) {
            skip_compaction = true;
            if !(disk_image && format == "qcow2") {
                errs.push("use_backing_file can only be enabled for QCOW2 images and when disk_image is true".into());
            }
        }
        if a.skip_resize_disk.unwrap_or(false) && !disk_image {
            errs.push("skip_resize_disk can only be used when disk_image is true".into());
        }
        if !ACCELERATORS.contains(&accelerator.as_str()) {
            errs.push("invalid accelerator, only 'kvm', 'tcg', 'xen', 'hax', 'hvf', 'whpx', or 'none' are allowed".into());
        }
        if !DISK_INTERFACES.contains(&disk_interface.as_str()) {
            errs.push("unrecognized disk interface type".into());
        }
        if !DISK_CACHES.contains(&disk_cache.as_str()) {
            errs.push("unrecognized disk cache type".into());
        }
        if !DISK_DISCARDS.contains(&disk_discard.as_str()) {
            errs.push("unrecognized disk discard type".into());
        }
        if !DETECT_ZEROES.contains(&detect_zeroes.as_str()) {
            errs.push("unrecognized disk detect zeroes setting".into());
        }
        for (f, n) in [
            ("cpus", a.cpus),
            ("sockets", a.sockets),
            ("cores", a.cores),
            ("threads", a.threads),
        ] {
            if n.unwrap_or(0) < 0 {
                errs.push(format!("{f} must be a positive number"));
            }
        }
        if !info.opts.force && std::fs::metadata(&output_dir).is_ok() {
            errs.push(format!(
                "Output directory '{output_dir}' already exists. It must not exist."
            ));
        }
        if vnc_min < 5900 {
            errs.push("vnc_port_min cannot be below 5900".into());
        }
        if vnc_min > 65535 || vnc_max > 65535 {
            errs.push(
                "vmc_port_min and vnc_port_max must both be below 65535 to be valid TCP ports"
                    .into(),
            );
        }
        if vnc_min > vnc_max {
            errs.push("vnc_port_min must be less than vnc_port_max".into());
        }
        let boot = &a.boot_config;
        let boot_command = boot.boot_command.clone().unwrap_or_default();
        if !boot_command.is_empty() && a.boot_steps.as_ref().is_some_and(|b| !b.is_empty()) {
            errs.push("boot_command and boot_steps cannot be used together".into());
        }
        if a.disable_vnc.unwrap_or(false) && !boot_command.is_empty() {
            errs.push("A boot command cannot be used when vnc is disabled.".into());
        }
        errs.extend(forge_commonsteps::bootcommand::validate(&boot_command));
        for unsupported in [
            ("net_bridge", s(&a.net_bridge).is_some()),
            ("vtpm", a.vtpm.unwrap_or(false)),
            ("vnc_use_password", a.vnc_use_password.unwrap_or(false)),
            (
                "boot_steps",
                a.boot_steps.as_ref().is_some_and(|b| !b.is_empty()),
            ),
        ] {
            if unsupported.1 {
                errs.push(format!(
                    "{}: not supported by forge's qemu builder yet",
                    unsupported.0
                ));
            }
        }
        let boot_wait = dur(
            "boot_wait",
            &boot.boot_wait,
            Duration::from_secs(10),
            &mut errs,
        );
        let key_interval = s(&a.boot_key_interval).and_then(|t| parse_duration(&t));
        let (code, vars) = (s(&a.efi_firmware_code), s(&a.efi_firmware_vars));
        let efi = (a.efi_boot.unwrap_or(false) || code.is_some() || vars.is_some()).then(|| {
            (
                code.unwrap_or_else(|| "/usr/share/OVMF/OVMF_CODE.fd".into()),
                vars.unwrap_or_else(|| "/usr/share/OVMF/OVMF_VARS.fd".into()),
            )
        });
        // Whether the firmware is installed is a question for the machine that builds
        // (`missing_firmware`), not for `validate`, as in Packer.
        let qmp_socket = a.qmp_enable.unwrap_or(false).then(|| {
            s(&a.qmp_socket_path).unwrap_or_else(|| {
                std::path::Path::new(&output_dir)
                    .join(format!("{vm_name}.monitor"))
                    .to_string_lossy()
                    .into_owned()
            })
        });
        if !errs.is_empty() {
            return Err(errs);
        }
        let port = |p: i64| p.clamp(0, 65535) as u16;
        Ok(Config {
            build_name: info.build_name.clone(),
            iso_urls,
            iso_checksum,
            disk_size,
            disk_cache,
            disk_discard,
            detect_zeroes,
            accelerator,
            machine_type,
            output_dir,
            qemu_binary,
            memory,
            vnc_bind,
            vnc_ports: (port(vnc_min), port(vnc_max)),
            host_ports: (port(host_min), port(host_max)),
            http_ports: (port(http_min), port(http_max)),
            vm_name,
            format,
            net_device,
            disk_interface,
            skip_compaction,
            disk_compression,
            boot_wait,
            key_interval,
            shutdown_timeout,
            comm,
            guest_port,
            efi,
            qmp_socket,
            args: a,
        })
    }
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}
