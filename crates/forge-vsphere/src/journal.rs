//! VMs in the run's journal: a clone is recorded (server, user, datacenter, inventory path,
//! never the password) before `CloneVM_Task` starts, gets its managed object id once the task
//! answers, and is marked deleted when cleanup destroys it. The [`VmReclaimer`] removes what a
//! dead run left: by id, or by inventory path when the id never came back, logging in with the
//! password of the build's configuration as `forge cleanup` evaluates it again.

use async_trait::async_trait;
use forge_core::journal::Resource;
use forge_core::plugin::BuildCtx;
use forge_core::registry::{Origin, ReclaimError, Reclaimer};
use forge_core::Result;
use forge_template::value::Value;
use serde_json::json;

use crate::client::{Client, Config};
use crate::soap::Moref;

/// A VM forge cloned or created (id: its managed object id, such as `vm-62`).
pub const VM: &str = "vsphere-vm";

/// A file forge uploaded to a datastore (id: `[datastore] path`, once uploaded).
pub const DS_FILE: &str = "vsphere-datastore-file";

/// Where the VM is: enough to find it again without the template.
#[derive(Clone, Debug, Default)]
pub struct VmPlace {
    /// `vcenter_server`.
    pub server: String,
    /// The user.
    pub username: String,
    /// `insecure_connection`.
    pub insecure: bool,
    /// The VM's inventory path (`/DC0/vm/folder/name`).
    pub path: String,
}

/// Records that a VM is about to be cloned at `place`.
pub fn intend(ctx: &BuildCtx, place: &VmPlace) -> Result<Resource> {
    let data = json!({
        "server": place.server,
        "username": place.username,
        "insecure": place.insecure,
        "path": place.path,
        "run": ctx.run_id,
    });
    ctx.journal.intend(&ctx.name, VM, "", data)
}

/// Records that the file `name` (`[datastore] path`) is about to be uploaded to the datastore
/// of the datacenter at `dc_path`; `place.path` is not used.
pub fn intend_file(ctx: &BuildCtx, place: &VmPlace, dc_path: &str, name: &str) -> Result<Resource> {
    let data = json!({
        "server": place.server,
        "username": place.username,
        "insecure": place.insecure,
        "datacenter": dc_path,
        "name": name,
        "run": ctx.run_id,
    });
    ctx.journal.intend(&ctx.name, DS_FILE, "", data)
}

pub use forge_core::journal::{created, gone, to_clean_up};

/// Removes the VMs and datastore files dead runs left.
pub struct VmReclaimer;

fn text(config: &Value, key: &str) -> String {
    config
        .as_entries()
        .and_then(|e| e.get(key))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Removes the datastore file `r` records (a dead run may have uploaded part of it or all of
/// it: it is deleted by name either way), as `password` allows.
pub async fn reclaim_file(r: &Resource, password: &str) -> std::result::Result<(), String> {
    let client = login(r, password).await?;
    let d = &r.data;
    let name = d["name"].as_str().unwrap_or_default();
    let dc = d["datacenter"].as_str().unwrap_or_default();
    let result = match client.find_by_inventory_path(dc).await {
        Ok(Some(dc)) => client
            .delete_datastore_file(&dc, name)
            .await
            .map_err(|e| e.to_string()),
        Ok(None) => Ok(()),
        Err(e) => Err(format!("datacenter {dc}: {e}")),
    };
    let _ = client.logout().await;
    result
}

async fn login(r: &Resource, password: &str) -> std::result::Result<Client, String> {
    let d = &r.data;
    let s = |k: &str| d[k].as_str().unwrap_or_default().to_string();
    let cfg = Config::new(
        &s("server"),
        &s("username"),
        password,
        d["insecure"].as_bool().unwrap_or(false),
    );
    Client::connect(&cfg).await.map_err(|e| e.to_string())
}

/// Removes the VM `r` records, as `password` allows.
pub async fn reclaim_vm(r: &Resource, password: &str) -> std::result::Result<(), String> {
    let d = &r.data;
    let s = |k: &str| d[k].as_str().unwrap_or_default().to_string();
    let client = login(r, password).await?;
    let path = s("path");
    let vm = if r.id.is_empty() {
        client
            .find_by_inventory_path(&path)
            .await
            .map_err(|e| e.to_string())?
    } else {
        Some(Moref::new("VirtualMachine", r.id.clone()))
    };
    let result = match vm {
        Some(vm) => client
            .remove_vm(&vm)
            .await
            .map_err(|e| format!("VM {path} ({}): {e}", vm.value)),
        None => Ok(()),
    };
    let _ = client.logout().await;
    result
}

/// The password for the server and user `r` records: the vsphere builder's, or that of a
/// `vsphere` post-processor of the build naming the same server and user (an imported VM).
fn password_for(r: &Resource, origin: &Origin) -> String {
    let server = r.data["server"].as_str().unwrap_or_default();
    let user = r.data["username"].as_str().unwrap_or_default();
    let builder = origin
        .config
        .as_ref()
        .filter(|c| {
            origin.builder_type.starts_with("vsphere-")
                && (server.is_empty() || text(c, "vcenter_server") == server)
        })
        .map(|c| text(c, "password"));
    let pp = || {
        origin
            .post_processors
            .iter()
            .find(|(t, c)| {
                t == "vsphere" && text(c, "host") == server && text(c, "username") == user
            })
            .map(|(_, c)| text(c, "password"))
    };
    builder
        .filter(|p| !p.is_empty())
        .or_else(pp)
        .unwrap_or_default()
}

#[async_trait]
impl Reclaimer for VmReclaimer {
    fn kinds(&self) -> &'static [&'static str] {
        &[VM, DS_FILE, crate::library::ITEM]
    }

    fn secrets(&self, config: &Value) -> Vec<String> {
        // A post-processor's password is redacted by the post-processor itself (its UI) and
        // never reaches the journal.
        let p = text(config, "password");
        if p.is_empty() {
            Vec::new()
        } else {
            vec![p]
        }
    }

    async fn reclaim(
        &self,
        r: &Resource,
        origin: &Origin,
    ) -> std::result::Result<(), ReclaimError> {
        let password = password_for(r, origin);
        if password.is_empty() {
            return Err(ReclaimError::NoCredentials {
                reason: format!(
                    "the password of {} on {} is not in the journal",
                    r.data["username"].as_str().unwrap_or_default(),
                    r.data["server"].as_str().unwrap_or_default()
                ),
                hint: "give forge cleanup the template (and its variables) that started the build"
                    .into(),
            });
        }
        if r.kind == crate::library::ITEM {
            return Ok(crate::library::reclaim_item(r, &password).await?);
        }
        if r.kind == DS_FILE {
            return Ok(reclaim_file(r, &password).await?);
        }
        Ok(reclaim_vm(r, &password).await?)
    }
}
