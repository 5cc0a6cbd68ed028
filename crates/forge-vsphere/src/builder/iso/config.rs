//! vsphere-iso's own options (iso/config.go, step_create.go, the common CD-ROM, remote upload
//! and boot configs, and the SDK's ISO config), with Packer's defaults and checks.

use std::time::Duration;

use forge_commonsteps::httpserver::HttpConfig;
use forge_commonsteps::media::FloppyConfig;
use forge_template::plan::parse_duration;
use forge_template::schema::plugins::VsphereIsoBuilder;

use crate::create::Disk;

/// The vsphere-iso arguments this builder carries out, besides the shared ones.
pub const SUPPORTED: &[&str] = &[
    "vm_version",
    "guest_os_type",
    "disk_controller_type",
    "storage",
    "network_adapters",
    "usb_controller",
    "iso_url",
    "iso_urls",
    "iso_checksum",
    "iso_target_path",
    "iso_target_extension",
    "iso_paths",
    "cdrom_type",
    "remote_cache_datastore",
    "remote_cache_path",
    "remote_cache_cleanup",
    "remote_cache_overwrite",
    "cd_files",
    "cd_content",
    "cd_label",
    "boot_order",
    "boot_wait",
    "boot_command",
    "boot_keygroup_interval",
    "http_directory",
    "http_content",
    "http_port_min",
    "http_port_max",
    "http_bind_address",
    "http_interface",
    "http_ip",
    "floppy_files",
    "floppy_dirs",
    "floppy_content",
    "floppy_label",
    "floppy_img_path",
];

/// A `network_adapters` entry as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NicConfig {
    /// `network` (empty: the host's only network).
    pub network: String,
    /// `network_card`.
    pub card: String,
    /// `mac_address`.
    pub mac: String,
    /// `passthrough`.
    pub passthrough: Option<bool>,
}

/// The typed vsphere-iso options.
#[derive(Clone, Debug, Default)]
pub struct IsoConfig {
    /// `vm_version` (0: the host's default).
    pub vm_version: u64,
    /// `guest_os_type` (`otherGuest`).
    pub guest_os_type: String,
    /// `disk_controller_type` (`[""]`: one LSI Logic controller).
    pub disk_controllers: Vec<String>,
    /// `storage`.
    pub disks: Vec<Disk>,
    /// `network_adapters`.
    pub nics: Vec<NicConfig>,
    /// `usb_controller`.
    pub usb: Vec<String>,
    /// `iso_url`/`iso_urls` (empty: nothing to download).
    pub iso_urls: Vec<String>,
    /// `iso_checksum`.
    pub iso_checksum: String,
    /// `iso_target_path`.
    pub iso_target_path: Option<String>,
    /// `iso_target_extension` (`iso`).
    pub iso_target_extension: String,
    /// `iso_paths`.
    pub iso_paths: Vec<String>,
    /// `cdrom_type` (`ide`).
    pub cdrom_type: String,
    /// `remote_cache_datastore` (empty: `datastore`).
    pub remote_cache_datastore: String,
    /// `remote_cache_path` (`packer_cache`).
    pub remote_cache_path: String,
    /// `remote_cache_cleanup`.
    pub remote_cache_cleanup: bool,
    /// `remote_cache_overwrite`.
    pub remote_cache_overwrite: bool,
    /// `boot_order` (split at commas; empty: Packer's temporary `disk,cdrom`).
    pub boot_order: Vec<String>,
    /// `boot_command`, joined (`None`: nothing is typed, and there is no `boot_wait`).
    pub boot_command: Option<String>,
    /// `boot_wait` (10s, packer-plugin-vsphere's default).
    pub boot_wait: Duration,
    /// `boot_keygroup_interval` (zero: `PACKER_KEY_INTERVAL`, else 100ms).
    pub boot_key_interval: Duration,
    /// The HTTP server.
    pub http: HttpConfig,
    /// `http_ip`.
    pub http_ip: String,
    /// `http_interface`.
    pub http_interface: String,
    /// `floppy_files`, `floppy_dirs`, `floppy_content`, `floppy_label`.
    pub floppy: FloppyConfig,
    /// `floppy_img_path`: an image already on a datastore, mounted as it is.
    pub floppy_img_path: String,
}

impl IsoConfig {
    /// Decodes vsphere-iso's own options from `a`; problems go to `errs`.
    pub fn prepare(a: &VsphereIsoBuilder, errs: &mut Vec<String>) -> IsoConfig {
        let s = |o: &Option<String>| o.clone().unwrap_or_default();
        let mut controllers = a.disk_controller_type.clone().unwrap_or_default();
        if controllers.is_empty() {
            controllers.push(String::new());
        }
        let mut disks = Vec::new();
        if a.storage.is_empty() {
            errs.push("no storage devices have been defined".into());
        }
        for (i, d) in a.storage.iter().enumerate() {
            let size = d.disk_size.unwrap_or(0);
            if size == 0 {
                errs.push(format!("storage[{i}].'disk_size' is required"));
            }
            // Controller types, card types and indexes are checked when the VM is made, as
            // packer 1.6.6 does.
            let idx = d.disk_controller_index.unwrap_or(0);
            disks.push(Disk {
                size_mb: size,
                thin: d.disk_thin_provisioned.unwrap_or(false),
                eagerly_scrub: d.disk_eagerly_scrub.unwrap_or(false),
                controller: usize::try_from(idx).unwrap_or(usize::MAX),
            });
        }
        let nics: Vec<NicConfig> = a
            .network_adapters
            .iter()
            .map(|n| NicConfig {
                network: s(&n.network),
                card: s(&n.network_card),
                mac: s(&n.mac_address),
                passthrough: n.passthrough,
            })
            .collect();
        let iso = &a.iso_config;
        let url = s(&iso.iso_url);
        let urls = iso.iso_urls.clone().unwrap_or_default();
        let iso_urls = match (url.is_empty(), urls.is_empty()) {
            (false, false) => {
                errs.push("Only one of iso_url or iso_urls must be specified".into());
                Vec::new()
            }
            (false, true) => vec![url],
            (true, _) => urls,
        };
        let iso_checksum = s(&iso.iso_checksum);
        if !iso_urls.is_empty() && iso_checksum.is_empty() {
            errs.push("A checksum must be specified".into());
        }
        let cdrom_type = a.cdrom_type.clone().unwrap_or_default();
        let cdrom_type = if cdrom_type.is_empty() {
            "ide".to_string()
        } else {
            cdrom_type
        };
        if cdrom_type != "ide" && cdrom_type != "sata" {
            errs.push("'cdrom_type' must be 'ide' or 'sata'".into());
        }
        let bc = &a.boot_config;
        let duration = |name: &str, v: &Option<String>, errs: &mut Vec<String>| {
            v.as_deref()
                .filter(|w| !w.is_empty())
                .and_then(|w| {
                    let d = parse_duration(w);
                    if d.is_none() {
                        errs.push(format!("{name}: invalid duration {w:?}"));
                    }
                    d
                })
                .unwrap_or_default()
        };
        let mut boot_wait = duration("boot_wait", &bc.boot_wait, errs);
        if boot_wait.is_zero() {
            boot_wait = Duration::from_secs(10);
        }
        let boot_key_interval =
            duration("boot_keygroup_interval", &bc.boot_keygroup_interval, errs);
        let commands = bc.boot_command.clone().unwrap_or_default();
        errs.extend(forge_commonsteps::bootcommand::validate(&commands));
        let http = HttpConfig::prepare(&a.http_config, errs);
        let fc = &a.floppy_config;
        let floppy = FloppyConfig {
            files: fc.floppy_files.clone().unwrap_or_default(),
            dirs: fc.floppy_dirs.clone().unwrap_or_default(),
            content: fc.floppy_content.clone().unwrap_or_default(),
            label: fc.floppy_label.clone().unwrap_or_default(),
        };
        errs.extend(floppy.prepare().into_iter().map(|e| e.0));
        let boot_order = s(&a.boot_order);
        IsoConfig {
            vm_version: a.vm_version.unwrap_or(0),
            guest_os_type: a
                .guest_os_type
                .clone()
                .filter(|g| !g.is_empty())
                .unwrap_or_else(|| "otherGuest".into()),
            disk_controllers: controllers,
            disks,
            nics,
            usb: a.usb_controller.clone().unwrap_or_default(),
            iso_urls,
            iso_checksum,
            iso_target_path: iso.iso_target_path.clone().filter(|t| !t.is_empty()),
            iso_target_extension: iso
                .iso_target_extension
                .clone()
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| "iso".into()),
            iso_paths: a.iso_paths.clone().unwrap_or_default(),
            cdrom_type,
            remote_cache_datastore: s(&a.remote_cache_datastore),
            remote_cache_path: a
                .remote_cache_path
                .clone()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "packer_cache".into()),
            remote_cache_cleanup: a.remote_cache_cleanup.unwrap_or(false),
            remote_cache_overwrite: a.remote_cache_overwrite.unwrap_or(false),
            boot_order: if boot_order.is_empty() {
                Vec::new()
            } else {
                boot_order
                    .split(',')
                    .map(|p| p.trim().to_string())
                    .collect()
            },
            boot_command: (!commands.is_empty()).then(|| commands.concat()),
            boot_wait,
            boot_key_interval,
            http,
            http_ip: s(&a.http_ip),
            http_interface: s(&a.http_config.http_interface),
            floppy,
            floppy_img_path: s(&a.floppy_img_path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::Config;
    use forge_core::testing::{info, value};
    use serde_json::json;

    fn base() -> serde_json::Value {
        json!({
            "vcenter_server": "vc", "username": "u", "password": "p",
            "vm_name": "v", "host": "h", "communicator": "none",
            "storage": [{"disk_size": 1}],
        })
    }

    #[test]
    fn defaults_as_packer() {
        let c = Config::prepare_iso(&value(base()), &info("vsphere-iso")).unwrap();
        let i = c.iso.unwrap();
        assert_eq!(i.guest_os_type, "otherGuest");
        assert_eq!(i.disk_controllers, [""]);
        assert_eq!(i.cdrom_type, "ide");
        assert_eq!(i.remote_cache_path, "packer_cache");
        assert_eq!(i.iso_target_extension, "iso");
        assert!(i.iso_urls.is_empty() && i.boot_order.is_empty());
        assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
        assert!(c.template.is_empty());
    }

    #[test]
    fn own_options_read_and_checked() {
        let mut v = base();
        let o = v.as_object_mut().unwrap();
        o.insert("iso_url".into(), json!("http://x/a.iso"));
        o.insert("iso_checksum".into(), json!("sha256:00"));
        o.insert(
            "storage".into(),
            json!([{"disk_size": 10, "disk_thin_provisioned": true, "disk_controller_index": 1}]),
        );
        o.insert("disk_controller_type".into(), json!(["pvscsi", "nvme"]));
        o.insert("boot_order".into(), json!("disk, cdrom"));
        o.insert("cdrom_type".into(), json!("sata"));
        o.insert("reattach_cdroms".into(), json!(1));
        o.insert(
            "boot_command".into(),
            json!(["<esc><wait>", "linux ks=http://{{ .HTTPIP }}/<enter>"]),
        );
        o.insert("boot_wait".into(), json!("0s"));
        o.insert("http_content".into(), json!({"/ks.cfg": "x"}));
        let c = Config::prepare_iso(&value(v.clone()), &info("vsphere-iso")).unwrap();
        let i = c.iso.clone().unwrap();
        assert_eq!(i.iso_urls, ["http://x/a.iso"]);
        assert_eq!(i.disks[0].controller, 1);
        assert!(i.disks[0].thin);
        assert_eq!(i.boot_order, ["disk", "cdrom"]);
        assert_eq!(
            c.unsupported,
            ["reattach_cdroms: not supported yet by forge's vsphere-iso builder"]
        );
        assert_eq!(
            i.boot_command.as_deref(),
            Some("<esc><wait>linux ks=http://{{ .HTTPIP }}/<enter>")
        );
        // Packer's vSphere default.
        assert_eq!(i.boot_wait, std::time::Duration::from_secs(10));
        assert!(i.http.serves() && (i.http.port_min, i.http.port_max) == (8000, 9000));

        let o = v.as_object_mut().unwrap();
        o.insert("storage".into(), json!([{"disk_thin_provisioned": true}]));
        o.insert("cdrom_type".into(), json!("scsi"));
        o.insert("iso_urls".into(), json!(["http://y/b.iso"]));
        o.remove("iso_checksum");
        o.insert("boot_command".into(), json!(["<wait0s>"]));
        o.insert("floppy_files".into(), json!(["/nonexistent/ks.cfg"]));
        o.insert("http_directory".into(), json!("."));
        o.insert("http_port_min".into(), json!(9100));
        o.insert("http_port_max".into(), json!(9000));
        let e = Config::prepare_iso(&value(v.clone()), &info("vsphere-iso")).unwrap_err();
        for want in [
            "boot_command[0]: column 1: expecting a positive wait value, got 0s in <wait0s>",
            "http_port_min must be less than http_port_max",
            "http_directory and http_content cannot both be set",
            "Bad Floppy disk file '/nonexistent/ks.cfg': stat /nonexistent/ks.cfg: no such file or directory",
            "storage[0].'disk_size' is required",
            "'cdrom_type' must be 'ide' or 'sata'",
            "Only one of iso_url or iso_urls must be specified",
        ] {
            assert!(e.iter().any(|x| x == want), "{want} not in {e:?}");
        }
        v.as_object_mut().unwrap().remove("storage");
        let e = Config::prepare_iso(&value(v), &info("vsphere-iso")).unwrap_err();
        assert!(
            e.iter()
                .any(|x| x == "no storage devices have been defined"),
            "{e:?}"
        );
    }

    #[test]
    fn the_clone_builder_still_needs_its_template() {
        let e = Config::prepare(&value(base()), &info("vsphere-clone")).unwrap_err();
        assert!(e.iter().any(|x| x == "'template' is required"), "{e:?}");
        let mut v = base();
        v.as_object_mut().unwrap().remove("storage");
        v.as_object_mut()
            .unwrap()
            .insert("boot_command".into(), json!(["<enter>"]));
        v.as_object_mut()
            .unwrap()
            .insert("template".into(), json!("t"));
        let c = Config::prepare(&value(v), &info("vsphere-clone")).unwrap();
        assert!(c.iso.is_none());
        assert_eq!(
            c.unsupported,
            ["boot_command: not supported yet by forge's vsphere-clone builder"]
        );
    }
}
