//! What the builders do to a virtual machine: clone it, reconfigure it, power it on and off,
//! shut its guest down, read its guest IPs, snapshot it, mark it as a template, destroy it.
//! Each call is one vim25 method (tasks are waited for with [`Client::wait_for_task`]).

use std::collections::BTreeMap;
use std::time::Duration;

use forge_core::{Error, Result};

use crate::client::Client;
use crate::soap::{Moref, Request};

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
    /// `config.annotation` (notes).
    pub annotation: Option<String>,
}

/// A reconfiguration (the parts of `VirtualMachineConfigSpec` forge sets).
#[derive(Clone, Debug, Default)]
pub struct ConfigSpec {
    /// `numCPUs`.
    pub num_cpus: Option<i64>,
    /// `memoryMB`.
    pub memory_mb: Option<i64>,
    /// `extraConfig` (configuration parameters).
    pub extra_config: BTreeMap<String, String>,
}

impl ConfigSpec {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.num_cpus.is_none() && self.memory_mb.is_none() && self.extra_config.is_empty()
    }

    fn write(&self, mut r: Request) -> Request {
        // VirtualMachineConfigSpec's WSDL order: numCPUs, memoryMB, ..., extraConfig.
        if let Some(n) = self.num_cpus {
            r = r.text("numCPUs", &n.to_string());
        }
        if let Some(m) = self.memory_mb {
            r = r.text("memoryMB", &m.to_string());
        }
        for (k, v) in &self.extra_config {
            r = r
                .open("extraConfig", None)
                .text("key", k)
                .typed_text("value", "xsd:string", v)
                .close("extraConfig");
        }
        r
    }
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
        if let Some(a) = &spec.annotation {
            r = r.open("config", None).text("annotation", a).close("config");
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
        let r = Request::new("CreateSnapshot_Task", vm)
            .text("name", name)
            .text("description", "")
            .boolean("memory", false)
            .boolean("quiesce", false);
        let task = self.call_task(r).await?;
        self.wait_for_task(&task, TASK_TIMEOUT).await.map(|_| ())
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
