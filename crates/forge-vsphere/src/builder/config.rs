//! The vsphere-clone builder's configuration, with packer-plugin-vsphere's defaults and checks
//! (clone/config.go and the common configs). Options this builder does not carry out yet are
//! refused at prepare time, naming each, rather than ignored.

use std::collections::BTreeMap;
use std::time::Duration;

use forge_core::comm::{CommConfig, CommType};
use forge_core::plugin::PrepareInfo;
use forge_core::registry::{decode, PrepareErrors};
use forge_template::plan::parse_duration;
use forge_template::schema::plugins::{
    Communicator, ConfigParamsConfig, ConnectConfig, LocationConfig, ShutdownConfig,
    VsphereCloneBuilder, VsphereIsoBuilder, WaitIpConfig,
};
use forge_template::schema::ConfigStruct;
use forge_template::value::Value;

/// The arguments this builder carries out (besides the communicator's and Packer's own).
const SUPPORTED: &[&str] = &[
    "vcenter_server",
    "username",
    "password",
    "insecure_connection",
    "datacenter",
    "vm_name",
    "folder",
    "cluster",
    "host",
    "resource_pool",
    "datastore",
    "datastore_cluster",
    "template",
    "linked_clone",
    "notes",
    // vclone: hardware, clone options, customization, and the post-build removals.
    "CPUs",
    "cpu_cores",
    "CPU_reservation",
    "CPU_limit",
    "CPU_hot_plug",
    "RAM",
    "RAM_reservation",
    "RAM_reserve_all",
    "RAM_hot_plug",
    "video_ram",
    "displays",
    "NestedHV",
    "firmware",
    "force_bios_setup",
    "vTPM",
    "precision_clock",
    "vgpu_profile",
    "pci_passthrough_allowed_device",
    "vbs_enabled",
    "vvtd_enabled",
    "network",
    "mac_address",
    "disk_size",
    "disk_controller_type",
    "storage",
    "vapp",
    "destroy",
    "customize",
    "remove_cdrom",
    "remove_network_adapter",
    "configuration_parameters",
    "ip_wait_timeout",
    "ip_settle_timeout",
    "ip_wait_address",
    "shutdown_command",
    "shutdown_timeout",
    "disable_shutdown",
    "create_snapshot",
    "snapshot_name",
    "convert_to_template",
    // Only datastore uploads use it, and this builder uploads nothing yet.
    "set_host_for_datastore_uploads",
    // config_export.rs
    "export",
    "content_library_destination",
];

/// An IPv4 or IPv6 network in CIDR form (`ip_wait_address`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: std::net::IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `10.0.0.0/8`, `0.0.0.0/0`, `::/0`.
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, p) = s.split_once('/')?;
        let addr: std::net::IpAddr = a.parse().ok()?;
        let prefix: u8 = p.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Cidr { addr, prefix })
    }

    /// Whether `ip` is in the network.
    pub fn contains(&self, ip: &str) -> bool {
        let Ok(ip) = ip.parse::<std::net::IpAddr>() else {
            return false;
        };
        let (a, b, bits): (u128, u128, u32) = match (self.addr, ip) {
            (std::net::IpAddr::V4(n), std::net::IpAddr::V4(i)) => {
                (u32::from(n).into(), u32::from(i).into(), 32)
            }
            (std::net::IpAddr::V6(n), std::net::IpAddr::V6(i)) => (n.into(), i.into(), 128),
            _ => return false,
        };
        let shift = bits - u32::from(self.prefix);
        shift >= bits || (a >> shift) == (b >> shift)
    }
}

/// The typed configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// `vcenter_server`.
    pub server: String,
    /// `username`.
    pub username: String,
    /// `password`.
    pub password: String,
    /// `insecure_connection`.
    pub insecure: bool,
    /// `datacenter` (empty: the only one).
    pub datacenter: String,
    /// `vm_name`.
    pub vm_name: String,
    /// `folder` (empty: the datacenter's VM folder).
    pub folder: String,
    /// `cluster`.
    pub cluster: String,
    /// `host`.
    pub host: String,
    /// `resource_pool` (empty: the root pool of the cluster or host).
    pub resource_pool: String,
    /// `datastore` (empty: the template's).
    pub datastore: String,
    /// `datastore_cluster`: the datastore is the one Storage DRS recommends in it (sdrs.rs).
    pub datastore_cluster: String,
    /// `template`.
    pub template: String,
    /// `linked_clone`.
    pub linked_clone: bool,
    /// `notes`.
    pub notes: String,
    /// The hardware options (common/step_hardware.go).
    pub hw: Hardware,
    /// `network`: the first network adapter's network.
    pub network: String,
    /// `mac_address`: its manual MAC address (needs `network`).
    pub mac_address: String,
    /// `disk_size` (MB): the first disk grows to it.
    pub disk_size: Option<i64>,
    /// vsphere-clone's `disk_controller_type`: controllers added to the clone.
    pub disk_controllers: Vec<String>,
    /// vsphere-clone's `storage`: disks added to the clone, on those controllers.
    pub disks: Vec<crate::create::Disk>,
    /// `vapp.properties`.
    pub vapp_properties: BTreeMap<String, String>,
    /// `destroy`: the VM is destroyed after the build.
    pub destroy: bool,
    /// `customize`.
    pub customize: Option<crate::customize::CustomizeConfig>,
    /// `remove_cdrom`.
    pub remove_cdrom: bool,
    /// `remove_network_adapter`.
    pub remove_network_adapter: bool,
    /// `configuration_parameters`.
    pub config_params: BTreeMap<String, String>,
    /// `ip_wait_timeout` (30m).
    pub ip_wait_timeout: Duration,
    /// `ip_settle_timeout` (5s).
    pub ip_settle_timeout: Duration,
    /// `ip_wait_address` (`0.0.0.0/0`; `None` for the empty string: any address).
    pub ip_wait_address: Option<Cidr>,
    /// The communicator.
    pub comm: CommConfig,
    /// `shutdown_command`.
    pub shutdown_command: String,
    /// `shutdown_timeout` (5m).
    pub shutdown_timeout: Duration,
    /// `disable_shutdown`.
    pub disable_shutdown: bool,
    /// `create_snapshot`.
    pub create_snapshot: bool,
    /// `snapshot_name` (Packer's `Created by Packer`).
    pub snapshot_name: String,
    /// `convert_to_template`.
    pub convert_to_template: bool,
    /// `export` (config_export.rs).
    pub export: Option<super::config_export::Export>,
    /// `content_library_destination` (config_export.rs).
    pub library: Option<super::config_export::Library>,
    /// `-force`: an existing VM of the same name is replaced.
    pub force: bool,
    /// Arguments this builder does not carry out yet: `forge validate` accepts them, as Packer
    /// does, and `forge build` refuses them before it touches vSphere.
    pub unsupported: Vec<String>,
    /// vsphere-iso's own options (`None` for vsphere-clone).
    pub iso: Option<super::iso::IsoConfig>,
}

/// The options vsphere-iso and vsphere-clone share, borrowed from either schema type.
struct Shared<'a> {
    connect: &'a ConnectConfig,
    location: &'a LocationConfig,
    wait_ip: &'a WaitIpConfig,
    shutdown: &'a ShutdownConfig,
    params: &'a ConfigParamsConfig,
    comm: &'a Communicator,
    cpus: Option<i64>,
    ram: Option<i64>,
    notes: &'a Option<String>,
    create_snapshot: Option<bool>,
    snapshot_name: &'a Option<String>,
    convert_to_template: Option<bool>,
}

/// The shared options of a decoded `VsphereCloneBuilder` or `VsphereIsoBuilder`.
macro_rules! shared {
    ($a:expr) => {
        Shared {
            connect: &$a.connect_config,
            location: &$a.location_config,
            wait_ip: &$a.wait_ip_config,
            shutdown: &$a.shutdown_config,
            params: &$a.config_params_config,
            comm: &$a.communicator,
            cpus: $a.CPUs,
            ram: $a.RAM,
            notes: &$a.notes,
            create_snapshot: $a.create_snapshot,
            snapshot_name: &$a.snapshot_name,
            convert_to_template: $a.convert_to_template,
        }
    };
}

fn duration(name: &str, v: &Option<String>, default: Duration, errs: &mut Vec<String>) -> Duration {
    match v.as_deref().filter(|s| !s.is_empty()) {
        None => default,
        Some(s) => match parse_duration(s) {
            Some(d) if d.is_zero() => default,
            Some(d) => d,
            None => {
                errs.push(format!("{name}: invalid duration {s:?}"));
                default
            }
        },
    }
}

/// The arguments given in `v` that vsphere-clone does not carry out yet.
pub fn unsupported(v: &Value) -> Vec<String> {
    unsupported_by(v, "vsphere-clone", &[])
}

/// The arguments given in `v` that `builder` does not carry out yet (`extra`: its own
/// supported arguments besides the shared ones).
pub(super) fn unsupported_by(v: &Value, builder: &str, extra: &[&str]) -> Vec<String> {
    let comm: Vec<String> = Communicator::schema()
        .fields
        .iter()
        .map(|f| f.name.to_string())
        .collect();
    let Some(entries) = v.as_entries() else {
        return Vec::new();
    };
    entries
        .iter()
        .filter(|(k, val)| {
            !val.is_null()
                && !k.starts_with("packer_")
                && !SUPPORTED.contains(&k.as_str())
                && !extra.contains(&k.as_str())
                && !comm.iter().any(|c| c == *k)
        })
        .map(|(k, _)| format!("{k}: not supported yet by forge's {builder} builder"))
        .collect()
}

/// The hardware options, as Packer's `HardwareConfig`: zero or empty is unset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hardware {
    /// `CPUs`.
    pub cpus: i64,
    /// `cpu_cores` (cores per socket).
    pub cpu_cores: i64,
    /// `CPU_reservation` (MHz).
    pub cpu_reservation: i64,
    /// `CPU_limit` (MHz).
    pub cpu_limit: i64,
    /// `CPU_hot_plug`.
    pub cpu_hot_plug: bool,
    /// `RAM` (MB).
    pub ram: i64,
    /// `RAM_reservation` (MB).
    pub ram_reservation: i64,
    /// `RAM_reserve_all`.
    pub ram_reserve_all: bool,
    /// `RAM_hot_plug`.
    pub ram_hot_plug: bool,
    /// `video_ram` (KB).
    pub video_ram: i64,
    /// `displays`.
    pub displays: i64,
    /// `NestedHV`.
    pub nested_hv: bool,
    /// `firmware`: `bios`, `efi` or `efi-secure`.
    pub firmware: String,
    /// `force_bios_setup`.
    pub force_bios_setup: bool,
    /// `vTPM`.
    pub vtpm: bool,
    /// `precision_clock`: `ptp`, `ntp` or `none`.
    pub precision_clock: String,
    /// `vgpu_profile`.
    pub vgpu_profile: String,
    /// `pci_passthrough_allowed_device`: (vendor, device, sub-vendor, sub-device) IDs, read
    /// from hexadecimal.
    pub pci_allowed: Vec<[i64; 4]>,
    /// `vbs_enabled`.
    pub vbs: bool,
    /// `vvtd_enabled`.
    pub vvtd: bool,
}

/// `pci_passthrough_allowed_device` entries: each ID hexadecimal, as the newest plugin reads
/// them (`10de`, without `0x`), checked here rather than when the VM is reconfigured.
fn pci_allowed(
    devices: &[forge_template::schema::plugins::PCIPassthroughAllowedDevice],
    errs: &mut Vec<String>,
) -> Vec<[i64; 4]> {
    let mut out = Vec::new();
    for (i, d) in devices.iter().enumerate() {
        let mut ids = [0; 4];
        for (slot, (name, v)) in ids.iter_mut().zip([
            ("vendor_id", &d.vendor_id),
            ("device_id", &d.device_id),
            ("sub_vendor_id", &d.sub_vendor_id),
            ("sub_device_id", &d.sub_device_id),
        ]) {
            let text = v.clone().unwrap_or_default();
            match i32::from_str_radix(&text, 16) {
                Ok(n) => *slot = i64::from(n),
                Err(e) => errs.push(format!(
                    "pci_passthrough_allowed_device[{i}].{name}: error parsing {text:?} as hexadecimal: {e}"
                )),
            }
        }
        out.push(ids);
    }
    out
}

/// The hardware options of a decoded `VsphereCloneBuilder` or `VsphereIsoBuilder` (one
/// [`Hardware::prepare`] reads both).
macro_rules! hardware {
    ($a:expr) => {
        HardwareArgs {
            CPUs: $a.CPUs,
            cpu_cores: $a.cpu_cores,
            CPU_reservation: $a.CPU_reservation,
            CPU_limit: $a.CPU_limit,
            CPU_hot_plug: $a.CPU_hot_plug,
            RAM: $a.RAM,
            RAM_reservation: $a.RAM_reservation,
            RAM_reserve_all: $a.RAM_reserve_all,
            RAM_hot_plug: $a.RAM_hot_plug,
            video_ram: $a.video_ram,
            displays: $a.displays,
            NestedHV: $a.NestedHV,
            firmware: &$a.firmware,
            force_bios_setup: $a.force_bios_setup,
            vTPM: $a.vTPM,
            precision_clock: &$a.precision_clock,
            vgpu_profile: &$a.vgpu_profile,
            pci_passthrough_allowed_device: &$a.pci_passthrough_allowed_device,
            vbs_enabled: $a.vbs_enabled,
            vvtd_enabled: $a.vvtd_enabled,
        }
    };
}

/// The hardware options as written (the schema's names).
#[allow(non_snake_case)]
struct HardwareArgs<'a> {
    CPUs: Option<i64>,
    cpu_cores: Option<i64>,
    CPU_reservation: Option<i64>,
    CPU_limit: Option<i64>,
    CPU_hot_plug: Option<bool>,
    RAM: Option<i64>,
    RAM_reservation: Option<i64>,
    RAM_reserve_all: Option<bool>,
    RAM_hot_plug: Option<bool>,
    video_ram: Option<i64>,
    displays: Option<i64>,
    NestedHV: Option<bool>,
    firmware: &'a Option<String>,
    force_bios_setup: Option<bool>,
    vTPM: Option<bool>,
    precision_clock: &'a Option<String>,
    vgpu_profile: &'a Option<String>,
    pci_passthrough_allowed_device:
        &'a [forge_template::schema::plugins::PCIPassthroughAllowedDevice],
    vbs_enabled: Option<bool>,
    vvtd_enabled: Option<bool>,
}

impl Hardware {
    fn prepare(a: HardwareArgs<'_>, errs: &mut Vec<String>) -> Hardware {
        let n = |v: Option<i64>| v.unwrap_or(0);
        let b = |v: Option<bool>| v.unwrap_or(false);
        let hw = Hardware {
            cpus: n(a.CPUs).max(0),
            cpu_cores: n(a.cpu_cores),
            cpu_reservation: n(a.CPU_reservation),
            cpu_limit: n(a.CPU_limit),
            cpu_hot_plug: b(a.CPU_hot_plug),
            ram: n(a.RAM).max(0),
            ram_reservation: n(a.RAM_reservation),
            ram_reserve_all: b(a.RAM_reserve_all),
            ram_hot_plug: b(a.RAM_hot_plug),
            video_ram: n(a.video_ram),
            displays: n(a.displays),
            nested_hv: b(a.NestedHV),
            firmware: a.firmware.clone().unwrap_or_default(),
            force_bios_setup: b(a.force_bios_setup),
            vtpm: b(a.vTPM),
            precision_clock: a.precision_clock.clone().unwrap_or_default(),
            vgpu_profile: a.vgpu_profile.clone().unwrap_or_default(),
            pci_allowed: pci_allowed(a.pci_passthrough_allowed_device, errs),
            vbs: b(a.vbs_enabled),
            vvtd: b(a.vvtd_enabled),
        };
        if hw.vbs {
            if !hw.vvtd {
                errs.push(
                    "`vvtd_enabled` must be set to `true` when `vbs_enabled` is set to `true`"
                        .into(),
                );
            }
            if !hw.nested_hv {
                errs.push(
                    "`nestedhv` must be set to `true` when `vbs_enabled` is set to `true`".into(),
                );
            }
            if hw.firmware != "efi-secure" {
                errs.push(
                    "`firmware` must be set to `efi-secure` when `vbs_enabled` is set to `true`"
                        .into(),
                );
            }
        }
        if hw.ram_reservation > 0 && hw.ram_reserve_all {
            errs.push("'RAM_reservation' and 'RAM_reserve_all' cannot be used together".into());
        }
        if !["", "bios", "efi", "efi-secure"].contains(&hw.firmware.as_str()) {
            errs.push("'firmware' must be '', 'bios', 'efi' or 'efi-secure'".into());
        }
        if hw.vtpm && hw.firmware != "efi" && hw.firmware != "efi-secure" {
            errs.push(
                "'vTPM' could be enabled only when 'firmware' set to 'efi' or 'efi-secure'".into(),
            );
        }
        if !["", "ptp", "ntp", "none"].contains(&hw.precision_clock.as_str()) {
            errs.push("'precision_clock' must be '', 'ptp', 'ntp', or 'none'".into());
        }
        hw
    }

    /// Whether any option is set (Packer 1.6.6 reconfigures only then).
    pub fn is_set(&self) -> bool {
        *self != Hardware::default()
    }
}

/// vsphere-clone's `storage` entries, checked as Packer checks them: each needs `disk_size`
/// and one of the `controllers` controllers the clone gets.
fn clone_disks(
    storage: &[forge_template::schema::plugins::VsphereDiskConfig],
    controllers: usize,
    errs: &mut Vec<String>,
) -> Vec<crate::create::Disk> {
    let mut disks = Vec::new();
    for (i, d) in storage.iter().enumerate() {
        let size = d.disk_size.unwrap_or(0);
        if size == 0 {
            errs.push(format!("storage[{i}].'disk_size' is required"));
        }
        let controller = d.disk_controller_index.unwrap_or(0);
        if controller < 0 || controller as usize >= controllers {
            errs.push(format!(
                "storage[{i}].'disk_controller_index' references an unknown disk controller"
            ));
        }
        disks.push(crate::create::Disk {
            size_mb: size,
            thin: d.disk_thin_provisioned.unwrap_or(false),
            eagerly_scrub: d.disk_eagerly_scrub.unwrap_or(false),
            controller: usize::try_from(controller).unwrap_or(usize::MAX),
        });
    }
    disks
}

impl Config {
    /// Decodes and checks, returning every problem at once.
    pub fn prepare(v: &Value, info: &PrepareInfo) -> Result<Config, PrepareErrors> {
        let a: VsphereCloneBuilder = decode(v)?;
        let mut errs = Vec::new();
        let template = a.template.clone().unwrap_or_default();
        if template.is_empty() {
            errs.push("'template' is required".into());
        }
        let mut c = Config::shared(shared!(a), info, &mut errs);
        let s = |o: &Option<String>| o.clone().unwrap_or_default();
        c.hw = Hardware::prepare(hardware!(a), &mut errs);
        c.network = s(&a.network);
        c.mac_address = s(&a.mac_address);
        c.disk_size = a.disk_size.filter(|n| *n != 0);
        if a.linked_clone.unwrap_or(false) && c.disk_size.is_some() {
            errs.push("'linked_clone' and 'disk_size' cannot be used together".into());
        }
        if c.disk_size.is_some_and(|n| n < 0) {
            errs.push("'disk_size' must not be negative".into());
        }
        c.disk_controllers = a.disk_controller_type.clone().unwrap_or_default();
        c.disks = clone_disks(&a.storage, c.disk_controllers.len(), &mut errs);
        if !c.mac_address.is_empty() && c.network.is_empty() {
            errs.push("'network' is required when 'mac_address' is specified".into());
        }
        c.customize = a.customize.as_ref().map(|cz| {
            let (warnings, cfg) = crate::customize::CustomizeConfig::prepare(cz, &mut errs);
            for w in warnings {
                info.warn(w);
            }
            cfg
        });
        c.vapp_properties = a
            .vapp
            .as_ref()
            .and_then(|v| v.properties.clone())
            .unwrap_or_default();
        c.destroy = a.destroy.unwrap_or(false);
        c.remove_cdrom = a.remove_cdrom.unwrap_or(false);
        c.remove_network_adapter = a.remove_network_adapter.unwrap_or(false);
        let mut unsupported = unsupported(v);
        (c.export, c.library) = super::config_export::prepare(
            super::config_export::blocks!(a, "vsphere-clone"),
            &c.vm_name,
            info,
            &mut errs,
            &mut unsupported,
        );
        if !errs.is_empty() {
            return Err(errs);
        }
        c.template = template;
        c.linked_clone = a.linked_clone.unwrap_or(false);
        c.unsupported = unsupported;
        Ok(c)
    }

    /// Decodes and checks a vsphere-iso builder, returning every problem at once.
    pub fn prepare_iso(v: &Value, info: &PrepareInfo) -> Result<Config, PrepareErrors> {
        let a: VsphereIsoBuilder = decode(v)?;
        let mut errs = Vec::new();
        let mut c = Config::shared(shared!(a), info, &mut errs);
        let iso = super::iso::IsoConfig::prepare(&a, &mut errs);
        c.hw = Hardware::prepare(hardware!(a), &mut errs);
        c.remove_cdrom = a.remove_cdrom.unwrap_or(false);
        c.remove_network_adapter = a.remove_network_adapter.unwrap_or(false);
        c.destroy = a.destroy.unwrap_or(false);
        let mut unsupported = unsupported_by(v, "vsphere-iso", super::iso::SUPPORTED);
        (c.export, c.library) = super::config_export::prepare(
            super::config_export::blocks!(a, "vsphere-iso"),
            &c.vm_name,
            info,
            &mut errs,
            &mut unsupported,
        );
        if !errs.is_empty() {
            return Err(errs);
        }
        if a.location_config.set_host_for_datastore_uploads == Some(true) {
            // Uploads go through vCenter; straight to the host is not done yet.
            unsupported.push(
                "set_host_for_datastore_uploads: not supported yet by forge's vsphere-iso builder"
                    .into(),
            );
        }
        c.unsupported = unsupported;
        c.iso = Some(iso);
        Ok(c)
    }

    /// The shared options, checked; problems go to `errs`.
    fn shared(a: Shared<'_>, info: &PrepareInfo, errs: &mut Vec<String>) -> Config {
        let s = |o: &Option<String>| o.clone().unwrap_or_default();
        let cc = a.connect;
        let lc = a.location;
        let server = s(&cc.vcenter_server);
        let username = s(&cc.username);
        let password = s(&cc.password);
        if server.is_empty() {
            errs.push("'vcenter_server' is required".into());
        }
        if username.is_empty() {
            errs.push("'username' is required".into());
        }
        if password.is_empty() {
            errs.push("'password' is required".into());
        }
        let vm_name = s(&lc.vm_name);
        if vm_name.is_empty() {
            errs.push("'vm_name' is required".into());
        }
        let cluster = s(&lc.cluster);
        let host = s(&lc.host);
        if cluster.is_empty() && host.is_empty() {
            errs.push("'host' or 'cluster' is required".into());
        }
        if lc
            .datastore_cluster
            .as_deref()
            .is_some_and(|d| !d.is_empty())
            && lc.datastore.as_deref().is_some_and(|d| !d.is_empty())
        {
            errs.push("'datastore' and 'datastore_cluster' cannot be used together".into());
        }
        for (name, n) in [("CPUs", a.cpus), ("RAM", a.ram)] {
            if n.is_some_and(|n| n < 0) {
                errs.push(format!("'{name}' must not be negative"));
            }
        }
        let w = a.wait_ip;
        let ip_wait_timeout = duration(
            "ip_wait_timeout",
            &w.ip_wait_timeout,
            Duration::from_secs(1800),
            errs,
        );
        let ip_settle_timeout = duration(
            "ip_settle_timeout",
            &w.ip_settle_timeout,
            Duration::from_secs(5),
            errs,
        );
        let ip_wait_address = match w.ip_wait_address.as_deref() {
            None => Cidr::parse("0.0.0.0/0"),
            Some("") => None,
            Some(c) => {
                let p = Cidr::parse(c);
                if p.is_none() {
                    errs.push(format!(
                        "unable to parse \"ip_wait_address\": invalid CIDR address: {c}"
                    ));
                }
                p
            }
        };
        let comm = CommConfig::prepare_into(a.comm, CommType::Ssh, info, errs);
        let sc = a.shutdown;
        let shutdown_command = s(&sc.shutdown_command);
        if comm.is_none() && !shutdown_command.is_empty() {
            info.warn(
                "The parameter `shutdown_command` is ignored as it requires a `communicator`.",
            );
        }
        let shutdown_timeout = duration(
            "shutdown_timeout",
            &sc.shutdown_timeout,
            Duration::from_secs(300),
            errs,
        );
        Config {
            server,
            username,
            password,
            insecure: cc.insecure_connection.unwrap_or(false),
            datacenter: s(&cc.datacenter),
            vm_name,
            folder: s(&lc.folder),
            cluster,
            host,
            resource_pool: s(&lc.resource_pool),
            datastore: s(&lc.datastore),
            datastore_cluster: s(&lc.datastore_cluster),
            template: String::new(),
            linked_clone: false,
            notes: s(a.notes),
            hw: Hardware {
                cpus: a.cpus.unwrap_or(0).max(0),
                ram: a.ram.unwrap_or(0).max(0),
                ..Hardware::default()
            },
            network: String::new(),
            mac_address: String::new(),
            disk_size: None,
            disk_controllers: Vec::new(),
            disks: Vec::new(),
            vapp_properties: Default::default(),
            destroy: false,
            customize: None,
            remove_cdrom: false,
            remove_network_adapter: false,
            config_params: a
                .params
                .configuration_parameters
                .clone()
                .unwrap_or_default(),
            ip_wait_timeout,
            ip_settle_timeout,
            ip_wait_address,
            comm,
            shutdown_command,
            shutdown_timeout,
            disable_shutdown: sc.disable_shutdown.unwrap_or(false),
            create_snapshot: a.create_snapshot.unwrap_or(false),
            snapshot_name: a
                .snapshot_name
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "Created by Packer".into()),
            convert_to_template: a.convert_to_template.unwrap_or(false),
            export: None,
            library: None,
            force: info.opts.force,
            unsupported: Vec::new(),
            iso: None,
        }
    }

    /// The client's connection settings.
    pub fn client_config(&self) -> crate::client::Config {
        crate::client::Config::new(&self.server, &self.username, &self.password, self.insecure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_membership() {
        let any4 = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(any4.contains("127.0.0.1"));
        assert!(!any4.contains("fe80::1"));
        let net = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(net.contains("10.1.200.3"));
        assert!(!net.contains("10.2.0.1"));
        assert!(Cidr::parse("::/0").unwrap().contains("fe80::1"));
        assert!(Cidr::parse("10.0.0.0/33").is_none());
    }
}
