//! What the builders do to a virtual machine: clone it, reconfigure it, power it on and off,
//! shut its guest down, read its guest IPs, type on its console, snapshot it, mark it as a
//! template, destroy it.
//! Each call is one vim25 method (tasks are waited for with [`Client::wait_for_task`]).

use std::collections::BTreeMap;
use std::time::Duration;

use forge_core::{Error, Result};

use crate::client::Client;
use crate::soap::{Moref, Node, Request};

/// How long a task such as a clone or a power operation may take.
pub const TASK_TIMEOUT: Duration = Duration::from_secs(1800);

/// Where and how to clone (the parts of `VirtualMachineCloneSpec` forge sets).
#[derive(Clone, Debug)]
pub struct CloneSpec {
    /// The new VM's name.
    pub name: String,
    /// The folder it goes into.
    pub folder: Moref,
    /// The resource pool it runs in.
    pub pool: Option<Moref>,
    /// The host it runs on.
    pub host: Option<Moref>,
    /// The datastore of its files (unset: the source's).
    pub datastore: Option<Moref>,
    /// A linked clone from this snapshot of the source (`createNewChildDiskBacking`).
    pub linked_snapshot: Option<Moref>,
    /// `config`: notes, device changes (network), vApp properties.
    pub config: ConfigSpec,
}

/// A `ResourceAllocationInfo`: what is reserved and the limit (MHz for CPU, MB for memory).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Allocation {
    /// `reservation`.
    pub reservation: Option<i64>,
    /// `limit`.
    pub limit: Option<i64>,
}

/// `bootOptions`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BootOptions {
    /// `enterBIOSSetup`.
    pub enter_bios_setup: bool,
    /// `efiSecureBootEnabled`.
    pub efi_secure_boot: bool,
}

/// One `VirtualDeviceConfigSpec`: a device to add, edit or remove.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceChange {
    /// `add`, `edit` or `remove`.
    pub operation: &'static str,
    /// `create`, `destroy`, `replace`, or none.
    pub file_operation: Option<&'static str>,
    /// The device, as read from `config.hardware.device` (changed), or built.
    pub device: Node,
}

impl DeviceChange {
    /// Adds `device`.
    pub fn add(device: Node) -> DeviceChange {
        DeviceChange {
            operation: "add",
            file_operation: None,
            device,
        }
    }
    /// Edits `device` (its key names it).
    pub fn edit(device: Node) -> DeviceChange {
        DeviceChange {
            operation: "edit",
            file_operation: None,
            device,
        }
    }
    /// Removes `device`, with its files when `destroy_files`.
    pub fn remove(device: Node, destroy_files: bool) -> DeviceChange {
        DeviceChange {
            operation: "remove",
            file_operation: destroy_files.then_some("destroy"),
            device,
        }
    }
}

/// A vApp property to set (`VAppPropertySpec` with operation `edit`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VAppProperty {
    /// The property's `key` (a number the server gave it).
    pub key: String,
    /// Its `id` (the name templates use).
    pub id: String,
    /// The new value.
    pub value: String,
}

/// A reconfiguration (the parts of `VirtualMachineConfigSpec` forge sets), written in the
/// WSDL's order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConfigSpec {
    /// `annotation` (notes).
    pub annotation: Option<String>,
    /// `numCPUs`.
    pub num_cpus: Option<i64>,
    /// `numCoresPerSocket`.
    pub num_cores_per_socket: Option<i64>,
    /// `memoryMB`.
    pub memory_mb: Option<i64>,
    /// `memoryHotAddEnabled`.
    pub memory_hot_add: Option<bool>,
    /// `cpuHotAddEnabled`.
    pub cpu_hot_add: Option<bool>,
    /// `deviceChange`.
    pub device_change: Vec<DeviceChange>,
    /// `cpuAllocation`.
    pub cpu_allocation: Option<Allocation>,
    /// `memoryAllocation`.
    pub memory_allocation: Option<Allocation>,
    /// `extraConfig` (configuration parameters).
    pub extra_config: BTreeMap<String, String>,
    /// `bootOptions`.
    pub boot_options: Option<BootOptions>,
    /// `vAppConfig.property`.
    pub vapp_properties: Vec<VAppProperty>,
    /// `firmware` (`bios` or `efi`).
    pub firmware: Option<String>,
    /// `memoryReservationLockedToMax`.
    pub memory_reservation_locked_to_max: Option<bool>,
    /// `nestedHVEnabled`.
    pub nested_hv: Option<bool>,
    /// `flags`: (`vvtdEnabled`, `vbsEnabled`), each sent when set.
    pub flags: Option<(Option<bool>, Option<bool>)>,
}

fn allocation(r: Request, tag: &str, a: &Allocation) -> Request {
    let mut r = r.open(tag, None);
    if let Some(v) = a.reservation {
        r = r.text("reservation", &v.to_string());
    }
    if let Some(v) = a.limit {
        r = r.text("limit", &v.to_string());
    }
    r.close(tag)
}

impl ConfigSpec {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == ConfigSpec::default()
    }

    /// The spec's fields, into an open `<spec>` or `<config>`.
    pub fn write(&self, mut r: Request) -> Request {
        if let Some(a) = &self.annotation {
            r = r.text("annotation", a);
        }
        if let Some((vvtd, vbs)) = self.flags {
            r = r.open("flags", None);
            if let Some(b) = vvtd {
                r = r.boolean("vvtdEnabled", b);
            }
            if let Some(b) = vbs {
                r = r.boolean("vbsEnabled", b);
            }
            r = r.close("flags");
        }
        if let Some(n) = self.num_cpus {
            r = r.text("numCPUs", &n.to_string());
        }
        if let Some(n) = self.num_cores_per_socket {
            r = r.text("numCoresPerSocket", &n.to_string());
        }
        if let Some(m) = self.memory_mb {
            r = r.text("memoryMB", &m.to_string());
        }
        if let Some(b) = self.memory_hot_add {
            r = r.boolean("memoryHotAddEnabled", b);
        }
        if let Some(b) = self.cpu_hot_add {
            r = r.boolean("cpuHotAddEnabled", b);
        }
        r = write_device_changes(r, &self.device_change);
        if let Some(a) = &self.cpu_allocation {
            r = allocation(r, "cpuAllocation", a);
        }
        if let Some(a) = &self.memory_allocation {
            r = allocation(r, "memoryAllocation", a);
        }
        for (k, v) in &self.extra_config {
            r = r
                .open("extraConfig", None)
                .text("key", k)
                .typed_text("value", "xsd:string", v)
                .close("extraConfig");
        }
        if let Some(b) = &self.boot_options {
            r = r
                .open("bootOptions", None)
                .boolean("enterBIOSSetup", b.enter_bios_setup)
                .boolean("efiSecureBootEnabled", b.efi_secure_boot)
                .close("bootOptions");
        }
        if !self.vapp_properties.is_empty() {
            r = r.open("vAppConfig", Some("VmConfigSpec"));
            for p in &self.vapp_properties {
                r = r
                    .open("property", None)
                    .text("operation", "edit")
                    .open("info", None)
                    .text("key", &p.key)
                    .text("id", &p.id)
                    .boolean("userConfigurable", true)
                    .text("value", &p.value)
                    .close("info")
                    .close("property");
            }
            r = r.close("vAppConfig");
        }
        if let Some(f) = &self.firmware {
            r = r.text("firmware", f);
        }
        if let Some(b) = self.memory_reservation_locked_to_max {
            r = r.boolean("memoryReservationLockedToMax", b);
        }
        if let Some(b) = self.nested_hv {
            r = r.boolean("nestedHVEnabled", b);
        }
        r
    }
}

/// `deviceChange` elements, one per change.
pub fn write_device_changes(mut r: Request, changes: &[DeviceChange]) -> Request {
    for d in changes {
        r = r.open("deviceChange", None).text("operation", d.operation);
        if let Some(f) = d.file_operation {
            r = r.text("fileOperation", f);
        }
        r = r.node("device", &d.device).close("deviceChange");
    }
    r
}

/// The xsi:types of network adapters.
pub const ETHERNET_CARDS: &[&str] = &[
    "VirtualE1000",
    "VirtualE1000e",
    "VirtualPCNet32",
    "VirtualVmxnet",
    "VirtualVmxnet2",
    "VirtualVmxnet3",
    "VirtualVmxnet3Vrdma",
    "VirtualSriovEthernetCard",
];

/// Whether device `d` is of one of the `kinds` (its xsi:type).
pub fn is_kind(d: &Node, kinds: &[&str]) -> bool {
    d.xsi_type.as_deref().is_some_and(|t| kinds.contains(&t))
}

impl Client {
    /// Clones `source` as `spec` says; the new VM.
    pub async fn clone_vm(&self, source: &Moref, spec: &CloneSpec) -> Result<Moref> {
        let mut r = Request::new("CloneVM_Task", source)
            .moref("folder", &spec.folder)
            .text("name", &spec.name)
            .open("spec", None)
            .open("location", None);
        if let Some(d) = &spec.datastore {
            r = r.moref("datastore", d);
        }
        if spec.linked_snapshot.is_some() {
            r = r.text("diskMoveType", "createNewChildDiskBacking");
        }
        if let Some(p) = &spec.pool {
            r = r.moref("pool", p);
        }
        if let Some(h) = &spec.host {
            r = r.moref("host", h);
        }
        r = r.close("location").boolean("template", false);
        if !spec.config.is_empty() {
            r = spec.config.write(r.open("config", None)).close("config");
        }
        r = r.boolean("powerOn", false);
        if let Some(s) = &spec.linked_snapshot {
            r = r.moref("snapshot", s);
        }
        let task = self.call_task(r.close("spec")).await?;
        self.wait_for_task(&task, TASK_TIMEOUT)
            .await?
            .moref()
            .ok_or_else(|| Error::msg("CloneVM_Task returned no VM"))
    }

    /// Applies `spec` to `vm`.
    pub async fn reconfigure(&self, vm: &Moref, spec: &ConfigSpec) -> Result<()> {
        let r = spec.write(Request::new("ReconfigVM_Task", vm).open("spec", None));
        let task = self.call_task(r.close("spec")).await?;
        self.wait_for_task(&task, TASK_TIMEOUT).await.map(|_| ())
    }

    /// The VM's devices (`config.hardware.device`), each with its xsi:type.
    pub async fn devices(&self, vm: &Moref) -> Result<Vec<Node>> {
        Ok(self
            .retrieve_one(vm, &["config.hardware.device"])
            .await?
            .get("config.hardware.device")
            .map(|d| d.children.clone())
            .unwrap_or_default())
    }

    /// Applies `spec` to `vm` unless it changes nothing.
    pub async fn reconfigure_if_any(&self, vm: &Moref, spec: &ConfigSpec) -> Result<()> {
        if spec.is_empty() {
            return Ok(());
        }
        self.reconfigure(vm, spec).await
    }

    /// Powers `vm` on.
    pub async fn power_on(&self, vm: &Moref) -> Result<()> {
        let task = self.call_task(Request::new("PowerOnVM_Task", vm)).await?;
        self.wait_for_task(&task, TASK_TIMEOUT).await.map(|_| ())
    }

    /// Powers `vm` off (hard).
    pub async fn power_off(&self, vm: &Moref) -> Result<()> {
        let task = self.call_task(Request::new("PowerOffVM_Task", vm)).await?;
        self.wait_for_task(&task, TASK_TIMEOUT).await.map(|_| ())
    }

    /// Asks the guest (VMware Tools) to shut down; does not wait.
    pub async fn shutdown_guest(&self, vm: &Moref) -> Result<()> {
        self.call(Request::new("ShutdownGuest", vm))
            .await
            .map(|_| ())
    }

    /// Destroys `vm` (it must be powered off).
    pub async fn destroy(&self, vm: &Moref) -> Result<()> {
        let task = self.call_task(Request::new("Destroy_Task", vm)).await?;
        self.wait_for_task(&task, TASK_TIMEOUT).await.map(|_| ())
    }

    /// Powers `vm` off when it is on, then destroys it; a VM already gone is not an error.
    pub async fn remove_vm(&self, vm: &Moref) -> Result<()> {
        match self.power_state(vm).await {
            Ok(s) if s == "poweredOn" || s == "suspended" => self.power_off(vm).await?,
            Ok(_) => {}
            Err(e) if is_gone(&e) => return Ok(()),
            Err(e) => return Err(e),
        }
        match self.destroy(vm).await {
            Err(e) if is_gone(&e) => Ok(()),
            r => r,
        }
    }

    /// `runtime.powerState`: `poweredOn`, `poweredOff` or `suspended`.
    pub async fn power_state(&self, vm: &Moref) -> Result<String> {
        Ok(self
            .retrieve_one(vm, &["runtime.powerState"])
            .await?
            .text("runtime.powerState")
            .unwrap_or_default()
            .to_string())
    }

    /// The IP addresses the guest reports: every NIC's (`guest.net`), else `guest.ipAddress`.
    pub async fn guest_ips(&self, vm: &Moref) -> Result<Vec<String>> {
        let o = self
            .retrieve_one(vm, &["guest.net", "guest.ipAddress"])
            .await?;
        let mut ips: Vec<String> = o
            .get("guest.net")
            .map(|n| {
                n.children
                    .iter()
                    .flat_map(|nic| nic.children_named("ipAddress"))
                    .map(|a| a.text.clone())
                    .collect()
            })
            .unwrap_or_default();
        if ips.is_empty() {
            if let Some(ip) = o.text("guest.ipAddress").filter(|s| !s.is_empty()) {
                ips.push(ip.to_string());
            }
        }
        Ok(ips)
    }

    /// The source's current snapshot (`snapshot.currentSnapshot`), if it has one.
    pub async fn current_snapshot(&self, vm: &Moref) -> Result<Option<Moref>> {
        Ok(self
            .retrieve_one(vm, &["snapshot.currentSnapshot"])
            .await?
            .moref("snapshot.currentSnapshot"))
    }

    /// Takes a snapshot of `vm` named `name` (no memory, not quiesced).
    pub async fn create_snapshot(&self, vm: &Moref, name: &str) -> Result<()> {
        self.create_snapshot_described(vm, name, "").await
    }

    /// Takes a snapshot of `vm` named `name` with `description` (no memory, not quiesced).
    pub async fn create_snapshot_described(
        &self,
        vm: &Moref,
        name: &str,
        description: &str,
    ) -> Result<()> {
        let r = Request::new("CreateSnapshot_Task", vm)
            .text("name", name)
            .text("description", description)
            .boolean("memory", false)
            .boolean("quiesce", false);
        let task = self.call_task(r).await?;
        self.wait_for_task(&task, TASK_TIMEOUT).await.map(|_| ())
    }

    /// Types keys on `vm`'s console (`PutUsbScanCodes`): each `(usbHidCode, ctrl, alt, shift)`
    /// is one key event with the left modifiers given. Returns how many events vSphere took.
    pub async fn put_usb_scan_codes(
        &self,
        vm: &Moref,
        keys: &[(i32, bool, bool, bool)],
    ) -> Result<i64> {
        let mut r = Request::new("PutUsbScanCodes", vm).open("spec", None);
        for &(code, ctrl, alt, shift) in keys {
            r = r
                .open("keyEvents", None)
                .text("usbHidCode", &code.to_string())
                .open("modifiers", None)
                .boolean("leftControl", ctrl)
                .boolean("leftShift", shift)
                .boolean("leftAlt", alt)
                .close("modifiers")
                .close("keyEvents");
        }
        let n = self.call(r.close("spec")).await?;
        Ok(n.text_of("returnval")
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0))
    }

    /// Marks `vm` as a template.
    pub async fn mark_as_template(&self, vm: &Moref) -> Result<()> {
        self.call(Request::new("MarkAsTemplate", vm))
            .await
            .map(|_| ())
    }
}

/// Whether an error says the object no longer exists.
pub fn is_gone(e: &Error) -> bool {
    let t = e.to_string();
    t.contains("ManagedObjectNotFound") || t.contains("has already been deleted")
}
