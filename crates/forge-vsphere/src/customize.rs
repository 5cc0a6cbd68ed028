//! Guest customization (`customize`): the configuration with packer-plugin-vsphere's checks
//! (clone/step_customize.go), the `CustomizationSpec` it makes, and `CustomizeVM_Task`.
//!
//! The spec is built as Packer builds it: a Linux prep, a Windows sysprep, or a sysprep answer
//! file as text for the identity; one adapter mapping per `network_interface`, in order, with a
//! fixed IPv4 address (its netmask in dotted form) or DHCP, and the global gateways given only
//! to the first interface whose network holds them; the global DNS settings.

use forge_core::{Error, Result};
use forge_template::schema::plugins::CustomizeConfig as Raw;

use crate::client::Client;
use crate::soap::{Moref, Request};
use crate::vm::TASK_TIMEOUT;

/// `linux_options`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinuxOptions {
    /// `domain` (required).
    pub domain: String,
    /// `host_name` (required).
    pub host_name: String,
    /// `hw_clock_utc` (default true).
    pub hw_clock_utc: bool,
    /// `time_zone` (default `UTC`).
    pub time_zone: String,
}

/// `windows_options`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowsOptions {
    /// `run_once_command_list`.
    pub run_once: Vec<String>,
    /// `auto_logon` (default false).
    pub auto_logon: bool,
    /// `auto_logon_count` (default 1).
    pub auto_logon_count: i64,
    /// `admin_password`: a secret.
    pub admin_password: Option<String>,
    /// `time_zone` (default 85, GMT).
    pub time_zone: i64,
    /// `workgroup`.
    pub workgroup: String,
    /// `computer_name` (required).
    pub computer_name: String,
    /// `full_name` (default `Administrator`).
    pub full_name: String,
    /// `organization_name` (default `Built by Packer`).
    pub organization_name: String,
    /// `product_key`: a secret.
    pub product_key: String,
}

/// Who the guest becomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    /// `linux_options`.
    Linux(LinuxOptions),
    /// `windows_options`.
    Windows(WindowsOptions),
    /// `windows_sysprep_file`: read when the step runs.
    SysprepFile(String),
    /// `windows_sysprep_text`.
    SysprepText(String),
}

/// One `network_interface`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkInterface {
    /// `dns_server_list`.
    pub dns_server_list: Vec<String>,
    /// `dns_domain`.
    pub dns_domain: String,
    /// `ipv4_address` (empty: DHCP).
    pub ipv4_address: String,
    /// `ipv4_netmask` (prefix length).
    pub ipv4_netmask: i64,
    /// `ipv6_address`.
    pub ipv6_address: String,
    /// `ipv6_netmask` (prefix length).
    pub ipv6_netmask: i64,
}

/// The `customize` block, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomizeConfig {
    /// The identity.
    pub identity: Identity,
    /// `network_interface`, in order.
    pub interfaces: Vec<NetworkInterface>,
    /// `ipv4_gateway`.
    pub ipv4_gateway: String,
    /// `ipv6_gateway`.
    pub ipv6_gateway: String,
    /// `dns_server_list` (global).
    pub dns_server_list: Vec<String>,
    /// `dns_suffix_list`.
    pub dns_suffix_list: Vec<String>,
}

impl CustomizeConfig {
    /// Packer's checks and defaults; returns its warnings and the configuration (with a
    /// placeholder identity when the block names none, which is an error in `errs`).
    pub fn prepare(c: &Raw, errs: &mut Vec<String>) -> (Vec<String>, CustomizeConfig) {
        let mut warnings = Vec::new();
        let s = |o: &Option<String>| o.clone().unwrap_or_default();
        if c.network_interface.is_empty() {
            errs.push("customize: one or more `network_interface` must be provided".into());
        }
        let sysprep_file = s(&c.windows_sysprep_file);
        let sysprep_text = s(&c.windows_sysprep_text);
        let mut identities = Vec::new();
        if let Some(l) = &c.linux_options {
            let host_name = s(&l.host_name);
            let domain = s(&l.domain);
            if host_name.is_empty() {
                errs.push("customize: linux options: `host_name` is required".into());
            }
            if domain.is_empty() {
                errs.push("customize: linux options: `domain` is required".into());
            }
            identities.push(Identity::Linux(LinuxOptions {
                domain,
                host_name,
                hw_clock_utc: l.hw_clock_utc.unwrap_or(true),
                time_zone: Some(s(&l.time_zone))
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| "UTC".into()),
            }));
        }
        if let Some(w) = &c.windows_options {
            let computer_name = s(&w.computer_name);
            if computer_name.is_empty() {
                errs.push("customize: windows options: `computer_name` is required".into());
            }
            let or = |v: String, d: &str| if v.is_empty() { d.to_string() } else { v };
            identities.push(Identity::Windows(WindowsOptions {
                run_once: w.run_once_command_list.clone().unwrap_or_default(),
                auto_logon: w.auto_logon.unwrap_or(false),
                auto_logon_count: w.auto_logon_count.unwrap_or(1),
                admin_password: w.admin_password.clone(),
                time_zone: w.time_zone.unwrap_or(85),
                workgroup: s(&w.workgroup),
                computer_name,
                full_name: or(s(&w.full_name), "Administrator"),
                organization_name: or(s(&w.organization_name), "Built by Packer"),
                product_key: s(&w.product_key),
            }));
        }
        if !sysprep_file.is_empty() {
            warnings.push("`windows_sysprep_file` is deprecated and will be removed in a future release. please use `windows_sysprep_text`.".to_string());
            identities.push(Identity::SysprepFile(sysprep_file));
        }
        if !sysprep_text.is_empty() {
            identities.push(Identity::SysprepText(sysprep_text));
        }
        if identities.len() > 1 {
            errs.push("customize: only one of `linux_options`, `windows_options`, `windows_sysprep_file` can be set".into());
        } else if identities.is_empty() {
            errs.push("customize: one of `linux_options`, `windows_options`, `windows_sysprep_file`, or 'windows_sysprep_text' must be set".into());
        }
        let interfaces = c
            .network_interface
            .iter()
            .map(|n| NetworkInterface {
                dns_server_list: n.dns_server_list.clone().unwrap_or_default(),
                dns_domain: s(&n.dns_domain),
                ipv4_address: s(&n.ipv4_address),
                ipv4_netmask: n.ipv4_netmask.unwrap_or(0),
                ipv6_address: s(&n.ipv6_address),
                ipv6_netmask: n.ipv6_netmask.unwrap_or(0),
            })
            .collect::<Vec<_>>();
        for (i, n) in interfaces.iter().enumerate() {
            if !n.ipv4_address.is_empty() && n.ipv4_address.parse::<std::net::Ipv4Addr>().is_err() {
                errs.push(format!(
                    "customize: network_interface {i}: `ipv4_address` {:?} is not an IPv4 address",
                    n.ipv4_address
                ));
            }
            if !(0..=32).contains(&n.ipv4_netmask) {
                errs.push(format!(
                    "customize: network_interface {i}: `ipv4_netmask` {} is not a prefix length (0 to 32)",
                    n.ipv4_netmask
                ));
            }
            if !n.ipv6_address.is_empty() && n.ipv6_address.parse::<std::net::Ipv6Addr>().is_err() {
                errs.push(format!(
                    "customize: network_interface {i}: `ipv6_address` {:?} is not an IPv6 address",
                    n.ipv6_address
                ));
            }
            if !(0..=128).contains(&n.ipv6_netmask) {
                errs.push(format!(
                    "customize: network_interface {i}: `ipv6_netmask` {} is not a prefix length (0 to 128)",
                    n.ipv6_netmask
                ));
            }
        }
        let cfg = CustomizeConfig {
            identity: identities
                .into_iter()
                .next()
                .unwrap_or(Identity::SysprepText(String::new())),
            interfaces,
            ipv4_gateway: s(&c.ipv4_gateway),
            ipv6_gateway: s(&c.ipv6_gateway),
            dns_server_list: c.dns_server_list.clone().unwrap_or_default(),
            dns_suffix_list: c.dns_suffix_list.clone().unwrap_or_default(),
        };
        (warnings, cfg)
    }

    /// The secrets the spec carries (admin password, product key), for the redactor.
    pub fn secrets(&self) -> Vec<String> {
        match &self.identity {
            Identity::Windows(w) => w
                .admin_password
                .iter()
                .cloned()
                .chain(std::iter::once(w.product_key.clone()))
                .filter(|s| !s.is_empty())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The `CustomizationSpec`, into an open `<spec>`. A sysprep file is read now.
    pub fn write(&self, r: Request) -> Result<Request> {
        let mut r = match &self.identity {
            Identity::Linux(l) => r
                .open("identity", Some("CustomizationLinuxPrep"))
                .open("hostName", Some("CustomizationFixedName"))
                .text("name", &l.host_name)
                .close("hostName")
                .text("domain", &l.domain)
                .text("timeZone", &l.time_zone)
                .boolean("hwClockUTC", l.hw_clock_utc)
                .close("identity"),
            Identity::Windows(w) => {
                let mut r = r
                    .open("identity", Some("CustomizationSysprep"))
                    .open("guiUnattended", None);
                if let Some(p) = &w.admin_password {
                    r = r
                        .open("password", None)
                        .text("value", p)
                        .boolean("plainText", true)
                        .close("password");
                }
                let run_once = if w.run_once.is_empty() {
                    vec![String::new()]
                } else {
                    w.run_once.clone()
                };
                r.text("timeZone", &w.time_zone.to_string())
                    .boolean("autoLogon", w.auto_logon)
                    .text("autoLogonCount", &w.auto_logon_count.to_string())
                    .close("guiUnattended")
                    .open("userData", None)
                    .text("fullName", &w.full_name)
                    .text("orgName", &w.organization_name)
                    .open("computerName", Some("CustomizationFixedName"))
                    .text("name", &w.computer_name)
                    .close("computerName")
                    .text("productId", &w.product_key)
                    .close("userData")
                    .open("guiRunOnce", None)
                    .texts("commandList", &run_once)
                    .close("guiRunOnce")
                    .open("identification", None)
                    .text("joinWorkgroup", &w.workgroup)
                    .close("identification")
                    .close("identity")
            }
            Identity::SysprepFile(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| Error::msg(format!("error on reading {path}: {e}")))?;
                sysprep_text(r, &text)
            }
            Identity::SysprepText(text) => sysprep_text(r, text),
        };
        r = r
            .open("globalIPSettings", None)
            .texts("dnsSuffixList", &self.dns_suffix_list)
            .texts("dnsServerList", &self.dns_server_list)
            .close("globalIPSettings");
        let (mut v4_given, mut v6_given) = (false, false);
        for n in &self.interfaces {
            r = r.open("nicSettingMap", None).open("adapter", None);
            if n.ipv4_address.is_empty() {
                r = r
                    .open("ip", Some("CustomizationDhcpIpGenerator"))
                    .close("ip");
            } else {
                r = r
                    .open("ip", Some("CustomizationFixedIp"))
                    .text("ipAddress", &n.ipv4_address)
                    .close("ip")
                    .text("subnetMask", &dotted_mask(n.ipv4_netmask));
                if !v4_given
                    && !self.ipv4_gateway.is_empty()
                    && same_network(&n.ipv4_address, n.ipv4_netmask, &self.ipv4_gateway)
                {
                    r = r.text("gateway", &self.ipv4_gateway);
                    v4_given = true;
                }
            }
            if !n.ipv6_address.is_empty() {
                r = r
                    .open("ipV6Spec", None)
                    .open("ip", Some("CustomizationFixedIpV6"))
                    .text("ipAddress", &n.ipv6_address)
                    .text("subnetMask", &n.ipv6_netmask.to_string())
                    .close("ip");
                if !v6_given
                    && !self.ipv6_gateway.is_empty()
                    && same_network(&n.ipv6_address, n.ipv6_netmask, &self.ipv6_gateway)
                {
                    r = r.text("gateway", &self.ipv6_gateway);
                    v6_given = true;
                }
                r = r.close("ipV6Spec");
            }
            r = r.texts("dnsServerList", &n.dns_server_list);
            if !n.dns_domain.is_empty() {
                r = r.text("dnsDomain", &n.dns_domain);
            }
            r = r.close("adapter").close("nicSettingMap");
        }
        Ok(r)
    }
}

fn sysprep_text(r: Request, text: &str) -> Request {
    r.open("identity", Some("CustomizationSysprepText"))
        .text("value", text)
        .close("identity")
}

/// A prefix length as a dotted IPv4 netmask (`24` -> `255.255.255.0`).
pub fn dotted_mask(prefix: i64) -> String {
    let p = prefix.clamp(0, 32) as u32;
    let m: u32 = if p == 0 { 0 } else { u32::MAX << (32 - p) };
    std::net::Ipv4Addr::from(m).to_string()
}

/// Whether `gateway` is in the network of `addr`/`prefix` (both of the same family).
pub fn same_network(addr: &str, prefix: i64, gateway: &str) -> bool {
    use std::net::IpAddr;
    match (addr.parse::<IpAddr>(), gateway.parse::<IpAddr>()) {
        (Ok(IpAddr::V4(a)), Ok(IpAddr::V4(g))) => {
            let p = prefix.clamp(0, 32) as u32;
            let m: u32 = if p == 0 { 0 } else { u32::MAX << (32 - p) };
            u32::from(a) & m == u32::from(g) & m
        }
        (Ok(IpAddr::V6(a)), Ok(IpAddr::V6(g))) => {
            let p = prefix.clamp(0, 128) as u32;
            let m: u128 = if p == 0 { 0 } else { u128::MAX << (128 - p) };
            u128::from(a) & m == u128::from(g) & m
        }
        _ => false,
    }
}

impl Client {
    /// Customizes the (powered-off) guest of `vm` with `spec` (`CustomizeVM_Task`).
    pub async fn customize(&self, vm: &Moref, spec: &CustomizeConfig) -> Result<()> {
        let r = spec.write(Request::new("CustomizeVM_Task", vm).open("spec", None))?;
        let task = self.call_task(r.close("spec")).await?;
        self.wait_for_task(&task, TASK_TIMEOUT).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use forge_template::schema::plugins::{LinuxOptions as RawLinux, NetworkInterface as RawNic};

    fn raw_linux() -> Raw {
        Raw {
            linux_options: Some(RawLinux {
                domain: Some("example.com".into()),
                host_name: Some("golden".into()),
                ..Default::default()
            }),
            network_interface: vec![
                RawNic {
                    ipv4_address: Some("10.0.0.5".into()),
                    ipv4_netmask: Some(24),
                    dns_server_list: Some(vec!["10.0.0.1".into()]),
                    dns_domain: Some("example.com".into()),
                    ..Default::default()
                },
                RawNic {
                    ipv4_address: Some("10.0.0.6".into()),
                    ipv4_netmask: Some(24),
                    ipv6_address: Some("fd00::6".into()),
                    ipv6_netmask: Some(64),
                    ..Default::default()
                },
                RawNic::default(),
            ],
            ipv4_gateway: Some("10.0.0.1".into()),
            ipv6_gateway: Some("fd00::1".into()),
            dns_server_list: Some(vec!["8.8.8.8".into()]),
            dns_suffix_list: Some(vec!["example.com".into()]),
            ..Default::default()
        }
    }

    fn spec_xml(c: &CustomizeConfig) -> String {
        let vm = Moref::new("VirtualMachine", "vm-1");
        let body = c
            .write(Request::new("CustomizeVM_Task", &vm).open("spec", None))
            .unwrap()
            .close("spec")
            .envelope();
        let start = body.find("<spec>").unwrap();
        let end = body.find("</spec>").unwrap() + "</spec>".len();
        body[start..end].to_string()
    }

    #[test]
    fn linux_spec_matches_the_recorded_one() {
        let mut errs = Vec::new();
        let (w, c) = CustomizeConfig::prepare(&raw_linux(), &mut errs);
        assert!(errs.is_empty() && w.is_empty(), "{errs:?} {w:?}");
        // Defaults as Packer's: UTC, hardware clock in UTC.
        let Identity::Linux(l) = &c.identity else {
            panic!("{c:?}")
        };
        assert_eq!((l.time_zone.as_str(), l.hw_clock_utc), ("UTC", true));
        let want = include_str!("../testdata/customize_linux_spec.xml").trim();
        assert_eq!(spec_xml(&c), want);
        roxmltree::Document::parse(&format!(
            r#"<x xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">{want}</x>"#
        ))
        .unwrap();
    }

    #[test]
    fn windows_spec_matches_the_recorded_one_and_names_its_secrets() {
        use forge_template::schema::plugins::WindowsOptions as RawWin;
        let raw = Raw {
            windows_options: Some(RawWin {
                computer_name: Some("win-golden".into()),
                admin_password: Some("s3cret<&>".into()),
                workgroup: Some("WG".into()),
                run_once_command_list: Some(vec!["cmd /c echo hi".into()]),
                product_key: Some("AAAAA-BBBBB".into()),
                ..Default::default()
            }),
            network_interface: vec![RawNic::default()],
            ..Default::default()
        };
        let mut errs = Vec::new();
        let (_, c) = CustomizeConfig::prepare(&raw, &mut errs);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(c.secrets(), vec!["s3cret<&>", "AAAAA-BBBBB"]);
        let want = include_str!("../testdata/customize_windows_spec.xml").trim();
        assert_eq!(spec_xml(&c), want);
    }

    #[test]
    fn sysprep_text_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("unattend.xml");
        std::fs::write(&f, "<unattend/>").unwrap();
        let raw = Raw {
            windows_sysprep_file: Some(f.display().to_string()),
            network_interface: vec![RawNic::default()],
            ..Default::default()
        };
        let mut errs = Vec::new();
        let (w, c) = CustomizeConfig::prepare(&raw, &mut errs);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(w.len(), 1, "the deprecation warning");
        assert!(spec_xml(&c).starts_with(
            r#"<spec><identity xsi:type="CustomizationSysprepText"><value>&lt;unattend/&gt;</value></identity>"#
        ));
        let missing = CustomizeConfig {
            identity: Identity::SysprepFile("/nonexistent/unattend.xml".into()),
            ..c
        };
        let e = missing
            .write(Request::new("X", &Moref::new("VirtualMachine", "vm-1")))
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("error on reading /nonexistent/unattend.xml"),
            "{e}"
        );
    }

    #[test]
    fn bad_customize_blocks_are_refused_with_packers_errors() {
        let cases: Vec<(Raw, &str)> = vec![
            (
                Raw::default(),
                "customize: one or more `network_interface` must be provided",
            ),
            (
                Raw {
                    network_interface: vec![RawNic::default()],
                    ..Default::default()
                },
                "customize: one of `linux_options`, `windows_options`, `windows_sysprep_file`, or 'windows_sysprep_text' must be set",
            ),
            (
                Raw {
                    windows_sysprep_text: Some("<x/>".into()),
                    ..raw_linux()
                },
                "customize: only one of `linux_options`, `windows_options`, `windows_sysprep_file` can be set",
            ),
            (
                Raw {
                    linux_options: Some(RawLinux::default()),
                    ..raw_linux()
                },
                "customize: linux options: `host_name` is required",
            ),
            (
                Raw {
                    network_interface: vec![RawNic {
                        ipv4_address: Some("10.0.0.300".into()),
                        ipv4_netmask: Some(40),
                        ..Default::default()
                    }],
                    ..raw_linux()
                },
                "customize: network_interface 0: `ipv4_address` \"10.0.0.300\" is not an IPv4 address",
            ),
        ];
        for (raw, want) in cases {
            let mut errs = Vec::new();
            CustomizeConfig::prepare(&raw, &mut errs);
            assert!(errs.iter().any(|e| e == want), "want {want:?} in {errs:?}");
        }
    }

    #[test]
    fn masks_and_gateways() {
        assert_eq!(dotted_mask(24), "255.255.255.0");
        assert_eq!(dotted_mask(0), "0.0.0.0");
        assert_eq!(dotted_mask(32), "255.255.255.255");
        assert!(same_network("10.0.0.5", 24, "10.0.0.1"));
        assert!(!same_network("10.0.1.5", 24, "10.0.0.1"));
        assert!(same_network("fd00::6", 64, "fd00::1"));
        assert!(!same_network("fd00::6", 64, "10.0.0.1"));
    }
}
