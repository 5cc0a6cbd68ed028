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
    "template",
    "linked_clone",
    "notes",
    "CPUs",
    "RAM",
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
    /// `template`.
    pub template: String,
    /// `linked_clone`.
    pub linked_clone: bool,
    /// `notes`.
    pub notes: String,
    /// `CPUs`.
    pub cpus: Option<i64>,
    /// `RAM` (MB).
    pub ram: Option<i64>,
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
        if !errs.is_empty() {
            return Err(errs);
        }
        c.template = template;
        c.linked_clone = a.linked_clone.unwrap_or(false);
        c.unsupported = unsupported(v);
        Ok(c)
    }

    /// Decodes and checks a vsphere-iso builder, returning every problem at once.
    pub fn prepare_iso(v: &Value, info: &PrepareInfo) -> Result<Config, PrepareErrors> {
        let a: VsphereIsoBuilder = decode(v)?;
        let mut errs = Vec::new();
        let mut c = Config::shared(shared!(a), info, &mut errs);
        let iso = super::iso::IsoConfig::prepare(&a, &mut errs);
        if !errs.is_empty() {
            return Err(errs);
        }
        c.unsupported = unsupported_by(v, "vsphere-iso", super::iso::SUPPORTED);
        if a.location_config.set_host_for_datastore_uploads == Some(true) {
            // Uploads go through vCenter; straight to the host is not done yet.
            c.unsupported.push(
                "set_host_for_datastore_uploads: not supported yet by forge's vsphere-iso builder"
                    .into(),
            );
        }
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
            template: String::new(),
            linked_clone: false,
            notes: s(a.notes),
            cpus: a.cpus.filter(|n| *n > 0),
            ram: a.ram.filter(|n| *n > 0),
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
