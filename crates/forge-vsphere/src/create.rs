//! What vsphere-iso does to make a VM from nothing: `CreateVM_Task` with its disk controllers,
//! disks, network adapters and USB controllers; CD-ROM drives backed by datastore ISOs; the
//! BIOS boot order. Devices are written in the WSDL's element order, with negative keys that
//! the server replaces.

use forge_core::{Error, Result};

use crate::client::Client;
use crate::soap::{Moref, Node, Request};
use crate::vm::{write_device_changes, DeviceChange, TASK_TIMEOUT};

/// A disk (`storage` entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disk {
    /// `disk_size`, MB.
    pub size_mb: i64,
    /// `disk_thin_provisioned`.
    pub thin: bool,
    /// `disk_eagerly_scrub`.
    pub eagerly_scrub: bool,
    /// `disk_controller_index`.
    pub controller: usize,
}

/// A network adapter (`network_adapters` entry).
#[derive(Clone, Debug, PartialEq)]
pub struct Nic {
    /// `network_card`: `vmxnet3`, `e1000e`, ...
    pub card: String,
    /// The network: its backing, from [`Client::nic_backing`].
    pub backing: Node,
    /// `mac_address` (empty: generated).
    pub mac: String,
    /// `passthrough` (`None`: not set).
    pub passthrough: Option<bool>,
}

/// What `CreateVM_Task` is given.
#[derive(Clone, Debug)]
pub struct CreateSpec {
    /// `vm_name`.
    pub name: String,
    /// `vm_version` (0: the host's default).
    pub version: u64,
    /// `guest_os_type`.
    pub guest_id: String,
    /// `notes`.
    pub annotation: String,
    /// The datastore of its files.
    pub datastore: String,
    /// `disk_controller_type`: `lsilogic`, `pvscsi`, `nvme`, ... (empty entry: lsilogic).
    pub controllers: Vec<String>,
    /// `storage`.
    pub disks: Vec<Disk>,
    /// `network_adapters`.
    pub nics: Vec<Nic>,
    /// `usb_controller`: `usb` (or `true`, `1`), `xhci`; others are skipped, as Packer does.
    pub usb: Vec<String>,
    /// The folder, resource pool and host (if any) it is created in.
    pub folder: Moref,
    /// The resource pool.
    pub pool: Moref,
    /// The host, when both a cluster and a host are named.
    pub host: Option<Moref>,
}

/// The vim25 type of a disk controller type name; `None` for an unknown one.
pub fn controller_type(name: &str) -> Option<&'static str> {
    Some(match name {
        "" | "scsi" | "lsilogic" => "VirtualLsiLogicController",
        "lsilogic-sas" => "VirtualLsiLogicSASController",
        "buslogic" => "VirtualBusLogicController",
        "pvscsi" => "ParaVirtualSCSIController",
        "nvme" => "VirtualNVMEController",
        _ => return None,
    })
}

/// The vim25 type of a network card name; `None` for an unknown one.
pub fn card_type(name: &str) -> Option<&'static str> {
    Some(match name {
        "vmxnet3" => "VirtualVmxnet3",
        "vmxnet3vrdma" => "VirtualVmxnet3Vrdma",
        "vmxnet2" => "VirtualVmxnet2",
        "vmxnet" => "VirtualVmxnet",
        "e1000" => "VirtualE1000",
        "e1000e" => "VirtualE1000e",
        "pcnet32" => "VirtualPCNet32",
        "sriov" => "VirtualSriovEthernetCard",
        _ => return None,
    })
}

fn add(r: Request, xsi_type: &str, file_create: bool) -> Request {
    let r = r.open("deviceChange", None).text("operation", "add");
    let r = if file_create {
        r.text("fileOperation", "create")
    } else {
        r
    };
    r.open("device", Some(xsi_type))
}

fn end(r: Request) -> Request {
    r.close("device").close("deviceChange")
}

fn connectable(r: Request) -> Request {
    r.open("connectable", None)
        .boolean("startConnected", true)
        .boolean("allowGuestControl", true)
        .boolean("connected", true)
        .close("connectable")
}

/// An element with children.
fn node(name: &str, xsi_type: Option<&str>, children: Vec<Node>) -> Node {
    Node {
        name: name.into(),
        xsi_type: xsi_type.map(str::to_string),
        children,
        ..Node::default()
    }
}

fn leaf(name: &str, text: impl ToString) -> Node {
    Node::leaf(name, &text.to_string())
}

fn device_key(d: &Node) -> Option<i64> {
    d.text_of("key").and_then(|k| k.parse().ok())
}

/// New device keys: negative, below every key in `existing` (the server replaces them).
pub struct Keys(i64);

impl Keys {
    /// Keys for devices added to a VM that holds `existing`.
    pub fn below(existing: &[Node]) -> Keys {
        Keys(existing.iter().filter_map(device_key).fold(-100, i64::min))
    }
    /// The next key.
    pub fn take(&mut self) -> i64 {
        self.0 -= 1;
        self.0
    }
}

/// The bus-number family of a controller type: SCSI controllers share buses 0-3, NVMe ones
/// theirs.
fn bus_family(xsi_type: &str) -> Option<&'static str> {
    match xsi_type {
        "VirtualNVMEController" => Some("nvme"),
        "VirtualLsiLogicController"
        | "VirtualLsiLogicSASController"
        | "VirtualBusLogicController"
        | "ParaVirtualSCSIController" => Some("scsi"),
        _ => None,
    }
}

/// The `add` changes for `disk_controller_type` (each a new controller on the first free bus
/// of its family, 0 to 3) and `storage` (each disk on the first free unit of the new controller
/// it names; SCSI unit 7 is the controller's own), for a VM that holds `existing` devices (none
/// for a new VM; a template's for a clone), as govmomi's device list assigns them. The disks
/// go in the VM's folder on its datastore.
pub fn storage_changes(
    controllers: &[String],
    disks: &[Disk],
    existing: &[Node],
    keys: &mut Keys,
) -> Result<Vec<DeviceChange>> {
    let mut buses: Vec<(&'static str, i64)> = existing
        .iter()
        .filter_map(|d| {
            let fam = bus_family(d.xsi_type.as_deref()?)?;
            Some((fam, d.text_of("busNumber")?.parse().ok()?))
        })
        .collect();
    let mut out = Vec::new();
    let mut ctrls = Vec::new();
    for name in controllers {
        let t = controller_type(name)
            .ok_or_else(|| Error::msg(format!("unknown disk controller type {name:?}")))?;
        let fam = bus_family(t).unwrap_or("scsi");
        let bus = (0..4)
            .find(|b| !buses.contains(&(fam, *b)))
            .ok_or_else(|| {
                Error::msg(format!(
                    "disk_controller_type {name:?}: no free {} bus (4 at most)",
                    if fam == "nvme" { "NVMe" } else { "SCSI" }
                ))
            })?;
        buses.push((fam, bus));
        let key = keys.take();
        let mut c = vec![leaf("key", key), leaf("busNumber", bus)];
        if fam == "scsi" {
            c.extend([
                leaf("hotAddRemove", true),
                leaf("sharedBus", "noSharing"),
                leaf("scsiCtlrUnitNumber", 7),
            ]);
        }
        out.push(DeviceChange::add(node("device", Some(t), c)));
        ctrls.push((key, fam == "nvme", Vec::<i64>::new()));
    }
    for (i, d) in disks.iter().enumerate() {
        let (ck, nvme, used) = ctrls.get_mut(d.controller).ok_or_else(|| {
            Error::msg(format!(
                "storage[{i}].'disk_controller_index' references an unknown disk controller"
            ))
        })?;
        let unit = (0..)
            .find(|u| !used.contains(u) && (*nvme || *u != 7))
            .unwrap_or(0);
        used.push(unit);
        let backing = vec![
            leaf("fileName", ""),
            leaf("diskMode", "persistent"),
            leaf("thinProvisioned", d.thin),
            leaf("eagerlyScrub", d.eagerly_scrub),
        ];
        let disk = node(
            "device",
            Some("VirtualDisk"),
            vec![
                leaf("key", keys.take()),
                node("backing", Some("VirtualDiskFlatVer2BackingInfo"), backing),
                leaf("controllerKey", *ck),
                leaf("unitNumber", unit),
                leaf("capacityInKB", d.size_mb * 1024),
            ],
        );
        out.push(DeviceChange {
            file_operation: Some("create"),
            ..DeviceChange::add(disk)
        });
    }
    Ok(out)
}

/// The `add` change of network adapter `n`.
pub fn nic_add(n: &Nic, keys: &mut Keys) -> Result<DeviceChange> {
    let t = card_type(&n.card)
        .ok_or_else(|| Error::msg(format!("unknown network card type {:?}", n.card)))?;
    let mut c = vec![
        leaf("key", keys.take()),
        n.backing.clone(),
        node(
            "connectable",
            None,
            vec![
                leaf("startConnected", true),
                leaf("allowGuestControl", true),
                leaf("connected", true),
            ],
        ),
    ];
    if n.mac.is_empty() {
        c.push(leaf("addressType", "generated"));
    } else {
        c.extend([leaf("addressType", "manual"), leaf("macAddress", &n.mac)]);
    }
    if let Some(p) = n.passthrough {
        c.push(leaf("uptCompatibilityEnabled", p));
    }
    Ok(DeviceChange::add(node("device", Some(t), c)))
}

impl CreateSpec {
    /// The `VirtualMachineConfigSpec` elements, on `r`.
    pub fn write(&self, mut r: Request) -> Result<Request> {
        r = r.text("name", &self.name);
        if self.version != 0 {
            r = r.text("version", &format!("vmx-{}", self.version));
        }
        r = r.text("guestId", &self.guest_id);
        if !self.annotation.is_empty() {
            r = r.text("annotation", &self.annotation);
        }
        r = r
            .open("files", None)
            .text("vmPathName", &format!("[{}]", self.datastore))
            .close("files");
        let mut keys = Keys::below(&[]);
        let mut changes = storage_changes(&self.controllers, &self.disks, &[], &mut keys)?;
        for n in &self.nics {
            changes.push(nic_add(n, &mut keys)?);
        }
        for u in &self.usb {
            let (t, ehci) = match u.as_str() {
                "usb" | "true" | "1" => ("VirtualUSBController", true),
                "xhci" => ("VirtualUSBXHCIController", false),
                _ => continue,
            };
            let mut c = vec![leaf("key", keys.take())];
            if ehci {
                c.push(leaf("ehciEnabled", true));
            }
            changes.push(DeviceChange::add(node("device", Some(t), c)));
        }
        Ok(write_device_changes(r, &changes))
    }
}

/// A CD-ROM drive to add: its controller and unit, and the ISO (`[ds] path`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cdrom {
    /// The controller's key.
    pub controller: i64,
    /// The unit on it.
    pub unit: i64,
    /// The ISO file.
    pub iso: String,
}

/// A controller with free units, from a VM's `config.hardware.device`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Controller {
    /// `VirtualIDEController`, `VirtualAHCIController`, ...
    pub kind: String,
    /// Its key.
    pub key: i64,
    /// The units its devices use.
    pub used: Vec<i64>,
}

/// The controllers in a `config.hardware.device` value, with the units in use.
pub fn controllers(devices: &Node) -> Vec<Controller> {
    let all: Vec<(String, i64, Option<i64>, Option<i64>)> = devices
        .children
        .iter()
        .map(|d| {
            (
                d.xsi_type.clone().unwrap_or_default(),
                d.text_of("key").and_then(|k| k.parse().ok()).unwrap_or(0),
                d.text_of("controllerKey").and_then(|k| k.parse().ok()),
                d.text_of("unitNumber").and_then(|k| k.parse().ok()),
            )
        })
        .collect();
    all.iter()
        .filter(|(t, ..)| t.ends_with("Controller"))
        .map(|(t, k, ..)| Controller {
            kind: t.clone(),
            key: *k,
            used: all
                .iter()
                .filter(|(_, _, c, _)| *c == Some(*k))
                .filter_map(|(_, _, _, u)| *u)
                .collect(),
        })
        .collect()
}

/// Places `isos` on free units of `kind` controllers (IDE: 2 units each; SATA: 30); an error
/// when there are not enough.
pub fn place_cdroms(ctrls: &[Controller], kind: &str, isos: &[String]) -> Result<Vec<Cdrom>> {
    let (t, units) = match kind {
        "sata" => ("VirtualAHCIController", 30),
        _ => ("VirtualIDEController", 2),
    };
    let mut free = ctrls.iter().filter(|c| c.kind == t).flat_map(|c| {
        (0..units)
            .filter(|u| !c.used.contains(u))
            .map(|u| (c.key, u))
    });
    isos.iter()
        .map(|iso| {
            let (controller, unit) = free.next().ok_or_else(|| {
                Error::msg(format!(
                    "no free {} controller slot for the CD-ROM with {iso}",
                    if kind == "sata" { "SATA" } else { "IDE" }
                ))
            })?;
            Ok(Cdrom {
                controller,
                unit,
                iso: iso.clone(),
            })
        })
        .collect()
}

/// The boot order `order` as `bootOptions`, as govmomi's `BootOrder` writes it: for each name,
/// one entry per device of that kind, in device order (`disk`: each disk, by key; `cdrom`: each
/// CD-ROM drive; `floppy`: each floppy drive; `ethernet`: each network adapter, by key; `-`:
/// no boot order).
pub fn boot_order_xml(mut r: Request, order: &[String], devices: &Node) -> Result<Request> {
    let of = |pred: &dyn Fn(&str) -> bool| -> Vec<String> {
        devices
            .children
            .iter()
            .filter(|d| d.xsi_type.as_deref().is_some_and(pred))
            .map(|d| d.text_of("key").unwrap_or_default().to_string())
            .collect()
    };
    r = r.open("bootOptions", None);
    for o in order {
        if o == "-" {
            // govmomi's "-": one plain bootable device, which vSphere reads as "no boot order"
            // (an empty list would leave the order as it is).
            r = r
                .open("bootOrder", Some("VirtualMachineBootOptionsBootableDevice"))
                .close("bootOrder");
            continue;
        }
        let (keys, t, keyed) = match o.as_str() {
            "disk" => (
                of(&|t| t == "VirtualDisk"),
                "VirtualMachineBootOptionsBootableDiskDevice",
                true,
            ),
            "cdrom" => (
                of(&|t| t == "VirtualCdrom"),
                "VirtualMachineBootOptionsBootableCdromDevice",
                false,
            ),
            "floppy" => (
                of(&|t| t == "VirtualFloppy"),
                "VirtualMachineBootOptionsBootableFloppyDevice",
                false,
            ),
            "ethernet" => (
                of(&|t| card_type_names().contains(&t)),
                "VirtualMachineBootOptionsBootableEthernetDevice",
                true,
            ),
            _ => continue,
        };
        for k in keys {
            r = r.open("bootOrder", Some(t));
            if keyed {
                r = r.text("deviceKey", &k);
            }
            r = r.close("bootOrder");
        }
    }
    Ok(r.close("bootOptions"))
}

fn card_type_names() -> [&'static str; 8] {
    [
        "VirtualVmxnet3",
        "VirtualVmxnet3Vrdma",
        "VirtualVmxnet2",
        "VirtualVmxnet",
        "VirtualE1000",
        "VirtualE1000e",
        "VirtualPCNet32",
        "VirtualSriovEthernetCard",
    ]
}

impl Client {
    /// Creates a VM as `spec` says; the new VM.
    pub async fn create_vm(&self, spec: &CreateSpec) -> Result<Moref> {
        let r = Request::new("CreateVM_Task", &spec.folder).open("config", None);
        let mut r = spec.write(r)?.close("config").moref("pool", &spec.pool);
        if let Some(h) = &spec.host {
            r = r.moref("host", h);
        }
        let task = self.call_task(r).await?;
        self.wait_for_task(&task, TASK_TIMEOUT)
            .await?
            .moref()
            .ok_or_else(|| Error::msg("CreateVM_Task returned no VM"))
    }

    /// `config.hardware.device` of `vm`, as one node whose children are the devices.
    pub async fn device_node(&self, vm: &Moref) -> Result<Node> {
        Ok(Node {
            children: self.devices(vm).await?,
            ..Node::default()
        })
    }

    /// Adds CD-ROM drives (and first a SATA controller, when `add_sata` is set: key -1, for
    /// drives placed on controller -1), in one reconfiguration.
    pub async fn add_cdroms(&self, vm: &Moref, add_sata: bool, cdroms: &[Cdrom]) -> Result<()> {
        let mut r = Request::new("ReconfigVM_Task", vm).open("spec", None);
        if add_sata {
            r = add(r, "VirtualAHCIController", false)
                .text("key", "-1")
                .text("busNumber", "0");
            r = end(r);
        }
        for (i, c) in cdroms.iter().enumerate() {
            r = add(r, "VirtualCdrom", false)
                .text("key", &(-10 - i as i64).to_string())
                .open("backing", Some("VirtualCdromIsoBackingInfo"))
                .text("fileName", &c.iso)
                .close("backing");
            r = connectable(r)
                .text("controllerKey", &c.controller.to_string())
                .text("unitNumber", &c.unit.to_string());
            r = end(r);
        }
        let task = self.call_task(r.close("spec")).await?;
        self.wait_for_task(&task, TASK_TIMEOUT).await.map(|_| ())
    }

    /// Adds a floppy drive holding the image `[ds] path` on the VM's SIO controller.
    pub async fn add_floppy(&self, vm: &Moref, image: &str) -> Result<()> {
        let devices = self.devices(vm).await?;
        let sio = devices
            .iter()
            .find(|d| d.xsi_type.as_deref() == Some("VirtualSIOController"))
            .and_then(|d| d.text_of("key"))
            .ok_or_else(|| Error::msg("no available SIO controller"))?
            .to_string();
        let mut r = Request::new("ReconfigVM_Task", vm).open("spec", None);
        r = add(r, "VirtualFloppy", false)
            .text("key", "-1")
            .open("backing", Some("VirtualFloppyImageBackingInfo"))
            .text("fileName", image)
            .close("backing");
        r = connectable(r).text("controllerKey", &sio);
        r = end(r);
        let task = self.call_task(r.close("spec")).await?;
        self.wait_for_task(&task, TASK_TIMEOUT).await.map(|_| ())
    }

    /// The datastore directory of `vm`'s files, `[ds] dir` (from `config.files.vmPathName`).
    pub async fn vm_dir(&self, vm: &Moref) -> Result<String> {
        let o = self.retrieve_one(vm, &["config.files.vmPathName"]).await?;
        let vmx = o.text("config.files.vmPathName").unwrap_or_default();
        Ok(vmx.rsplit_once('/').map_or(vmx, |(d, _)| d).to_string())
    }

    /// Ejects the media of every CD-ROM drive of `vm` (the drives stay, empty), in one
    /// reconfiguration; nothing when it has none. The number of drives.
    pub async fn eject_cdroms(&self, vm: &Moref) -> Result<usize> {
        let devices = self.device_node(vm).await?;
        let drives: Vec<&Node> = devices
            .children
            .iter()
            .filter(|d| d.xsi_type.as_deref() == Some("VirtualCdrom"))
            .collect();
        if drives.is_empty() {
            return Ok(0);
        }
        let mut r = Request::new("ReconfigVM_Task", vm).open("spec", None);
        for d in &drives {
            let ctrl = d.text_of("controllerKey").unwrap_or_default();
            let unit = d.text_of("unitNumber").unwrap_or_default();
            let info = d.child("deviceInfo");
            r = r
                .open("deviceChange", None)
                .text("operation", "edit")
                .open("device", Some("VirtualCdrom"))
                .text("key", d.text_of("key").unwrap_or_default())
                .open("deviceInfo", None)
                .text(
                    "label",
                    info.and_then(|i| i.text_of("label")).unwrap_or_default(),
                )
                .text("summary", "")
                .close("deviceInfo")
                // An empty drive, as govmomi's eject leaves it.
                .open("backing", Some("VirtualCdromRemotePassthroughBackingInfo"))
                .text("deviceName", "")
                .boolean("exclusive", false)
                .close("backing")
                .open("connectable", None)
                .boolean("startConnected", false)
                .boolean("allowGuestControl", false)
                .boolean("connected", false)
                .close("connectable")
                .text("controllerKey", ctrl)
                .text("unitNumber", unit);
            r = end(r);
        }
        let task = self.call_task(r.close("spec")).await?;
        self.wait_for_task(&task, TASK_TIMEOUT).await?;
        Ok(drives.len())
    }

    /// Sets the BIOS boot order of `vm` (`devices`: its `config.hardware.device`); an empty
    /// `order` clears it.
    pub async fn set_boot_order(&self, vm: &Moref, order: &[String], devices: &Node) -> Result<()> {
        let r = Request::new("ReconfigVM_Task", vm).open("spec", None);
        let r = boot_order_xml(r, order, devices)?.close("spec");
        let task = self.call_task(r).await?;
        self.wait_for_task(&task, TASK_TIMEOUT).await.map(|_| ())
    }

    /// The backing of a network adapter on `net` (a standard port group, a distributed port
    /// group or an opaque network), for vsphere-iso's new adapters and vsphere-clone's edited
    /// one alike.
    pub async fn nic_backing(&self, net: &crate::Found) -> Result<Node> {
        let backing = |kind: &str, children| Ok(node("backing", Some(kind), children));
        match net.moref.kind.as_str() {
            "DistributedVirtualPortgroup" => {
                let pg = self
                    .retrieve_one(&net.moref, &["key", "config.distributedVirtualSwitch"])
                    .await?;
                let dvs = pg
                    .moref("config.distributedVirtualSwitch")
                    .ok_or_else(|| Error::msg(format!("port group {} has no switch", net.path)))?;
                let uuid = self.retrieve_one(&dvs, &["uuid"]).await?;
                let port = node(
                    "port",
                    None,
                    vec![
                        leaf("switchUuid", uuid.text("uuid").unwrap_or_default()),
                        leaf("portgroupKey", pg.text("key").unwrap_or_default()),
                    ],
                );
                backing(
                    "VirtualEthernetCardDistributedVirtualPortBackingInfo",
                    vec![port],
                )
            }
            "OpaqueNetwork" => {
                let o = self.retrieve_one(&net.moref, &["summary"]).await?;
                let s = o.get("summary");
                let t = |k: &str| leaf(k, s.and_then(|s| s.text_of(k)).unwrap_or_default());
                backing(
                    "VirtualEthernetCardOpaqueNetworkBackingInfo",
                    vec![t("opaqueNetworkId"), t("opaqueNetworkType")],
                )
            }
            _ => {
                let mut network = leaf("network", &net.moref.value);
                network.ref_type = Some(net.moref.kind.clone());
                backing(
                    "VirtualEthernetCardNetworkBackingInfo",
                    vec![leaf("deviceName", &net.name), network],
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soap::{parse_answer, Answer};

    /// `config.hardware.device` of vcsim's DC0_H0_VM0, as recorded in testdata/devices.xml.
    fn recorded_devices() -> Node {
        let Ok(Answer::Response(n)) = parse_answer(include_str!("../testdata/devices.xml")) else {
            panic!("testdata/devices.xml is not an answer");
        };
        n.child("returnval")
            .and_then(|r| r.child("objects"))
            .and_then(|o| o.child("propSet"))
            .and_then(|p| p.child("val"))
            .cloned()
            .unwrap()
    }

    fn spec() -> CreateSpec {
        CreateSpec {
            name: "golden".into(),
            version: 14,
            guest_id: "otherGuest".into(),
            annotation: String::new(),
            datastore: "LocalDS_0".into(),
            controllers: vec!["pvscsi".into(), "nvme".into()],
            disks: vec![
                Disk {
                    size_mb: 2,
                    thin: true,
                    eagerly_scrub: false,
                    controller: 0,
                },
                Disk {
                    size_mb: 3,
                    thin: false,
                    eagerly_scrub: true,
                    controller: 1,
                },
            ],
            nics: vec![Nic {
                card: "vmxnet3".into(),
                backing: Node {
                    name: "backing".into(),
                    xsi_type: Some("VirtualEthernetCardNetworkBackingInfo".into()),
                    children: vec![Node::leaf("deviceName", "VM Network"), {
                        let mut n = Node::leaf("network", "network-7");
                        n.ref_type = Some("Network".into());
                        n
                    }],
                    ..Node::default()
                },
                mac: "00:50:56:00:00:01".into(),
                passthrough: None,
            }],
            usb: vec!["xhci".into(), "bogus".into()],
            folder: Moref::new("Folder", "group-3"),
            pool: Moref::new("ResourcePool", "resgroup-1"),
            host: None,
        }
    }

    #[test]
    fn create_spec_has_every_device_in_wsdl_order() {
        let xml = spec()
            .write(Request::new(
                "CreateVM_Task",
                &Moref::new("Folder", "group-3"),
            ))
            .unwrap()
            .envelope();
        for want in [
            "<name>golden</name><version>vmx-14</version><guestId>otherGuest</guestId>",
            "<files><vmPathName>[LocalDS_0]</vmPathName></files>",
            r#"<device xsi:type="ParaVirtualSCSIController"><key>-101</key><busNumber>0</busNumber><hotAddRemove>true</hotAddRemove><sharedBus>noSharing</sharedBus><scsiCtlrUnitNumber>7</scsiCtlrUnitNumber></device>"#,
            r#"<device xsi:type="VirtualNVMEController"><key>-102</key><busNumber>0</busNumber></device>"#,
            r#"<operation>add</operation><fileOperation>create</fileOperation><device xsi:type="VirtualDisk"><key>-103</key>"#,
            "<thinProvisioned>true</thinProvisioned><eagerlyScrub>false</eagerlyScrub></backing><controllerKey>-101</controllerKey><unitNumber>0</unitNumber><capacityInKB>2048</capacityInKB>",
            "<controllerKey>-102</controllerKey><unitNumber>0</unitNumber><capacityInKB>3072</capacityInKB>",
            r#"<device xsi:type="VirtualVmxnet3"><key>-105</key><backing xsi:type="VirtualEthernetCardNetworkBackingInfo"><deviceName>VM Network</deviceName><network type="Network">network-7</network></backing>"#,
            "<addressType>manual</addressType><macAddress>00:50:56:00:00:01</macAddress>",
            r#"<device xsi:type="VirtualUSBXHCIController"><key>-106</key></device>"#,
        ] {
            assert!(xml.contains(want), "{want}\nnot in\n{xml}");
        }
        assert!(
            !xml.contains("bogus"),
            "an unknown USB type is skipped, as Packer does"
        );
    }

    #[test]
    fn bad_devices_are_refused_before_anything_is_sent() {
        let mut s = spec();
        s.disks[1].controller = 5;
        let e = s
            .write(Request::new("CreateVM_Task", &s.folder))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "storage[1].'disk_controller_index' references an unknown disk controller"
        );
        let mut s = spec();
        s.controllers[0] = "floppy".into();
        assert!(s
            .write(Request::new("CreateVM_Task", &s.folder))
            .unwrap_err()
            .to_string()
            .contains("unknown disk controller type \"floppy\""));
        let mut s = spec();
        s.nics[0].card = "tulip".into();
        assert!(s.write(Request::new("CreateVM_Task", &s.folder)).is_err());
    }

    #[test]
    fn cdroms_go_on_free_ide_units_of_a_recorded_vm() {
        let ctrls = controllers(&recorded_devices());
        let ide: Vec<&Controller> = ctrls
            .iter()
            .filter(|c| c.kind == "VirtualIDEController")
            .collect();
        assert_eq!(ide.len(), 2, "{ctrls:?}");
        let isos: Vec<String> = ["[ds] a.iso", "[ds] b.iso", "[ds] c.iso"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let placed = place_cdroms(&ctrls, "ide", &isos).unwrap();
        let slots: Vec<(i64, i64)> = placed.iter().map(|c| (c.controller, c.unit)).collect();
        assert_eq!(slots, [(200, 0), (200, 1), (201, 0)]);
        let five: Vec<String> = (0..5).map(|i| format!("[ds] {i}.iso")).collect();
        let e = place_cdroms(&ctrls, "ide", &five).unwrap_err();
        assert!(e.to_string().contains("no free IDE controller slot"), "{e}");
        // No SATA controller on the recorded VM: the step adds one (key -1) first.
        assert!(place_cdroms(&ctrls, "sata", &isos).is_err());
        let mut with_sata = ctrls.clone();
        with_sata.push(Controller {
            kind: "VirtualAHCIController".into(),
            key: -1,
            used: Vec::new(),
        });
        let placed = place_cdroms(&with_sata, "sata", &isos).unwrap();
        assert_eq!(placed[2].controller, -1);
        assert_eq!(placed[2].unit, 2);
    }

    #[test]
    fn boot_order_names_the_recorded_disk_and_nic() {
        let devices = recorded_devices();
        let order: Vec<String> = ["ethernet", "disk", "cdrom", "floppy", "nonsense"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let xml = boot_order_xml(
            Request::new("ReconfigVM_Task", &Moref::new("VirtualMachine", "vm-57")),
            &order,
            &devices,
        )
        .unwrap()
        .envelope();
        let disk = devices
            .children
            .iter()
            .find(|d| d.xsi_type.as_deref() == Some("VirtualDisk"))
            .and_then(|d| d.text_of("key"))
            .unwrap();
        let nic = devices
            .children
            .iter()
            .find(|d| d.xsi_type.as_deref() == Some("VirtualE1000"))
            .and_then(|d| d.text_of("key"))
            .unwrap();
        let want = format!(
            r#"<bootOptions><bootOrder xsi:type="VirtualMachineBootOptionsBootableEthernetDevice"><deviceKey>{nic}</deviceKey></bootOrder><bootOrder xsi:type="VirtualMachineBootOptionsBootableDiskDevice"><deviceKey>{disk}</deviceKey></bootOrder><bootOrder xsi:type="VirtualMachineBootOptionsBootableCdromDevice"></bootOrder></bootOptions>"#
        );
        assert!(xml.contains(&want), "{xml}");
        // No floppy drive on the recorded VM: no floppy entry. Clearing: govmomi's "-".
        let clear = boot_order_xml(
            Request::new("ReconfigVM_Task", &Moref::new("VirtualMachine", "vm-57")),
            &["-".into()],
            &Node::default(),
        )
        .unwrap()
        .envelope();
        assert!(
            clear.contains(
                r#"<bootOptions><bootOrder xsi:type="VirtualMachineBootOptionsBootableDevice"></bootOrder></bootOptions>"#
            ),
            "{clear}"
        );
    }
}
