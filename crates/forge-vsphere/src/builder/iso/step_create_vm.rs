//! StepCreateVM: finds the location (folder, cluster or host, resource pool, datastore) and the
//! networks, refuses a VM of the same name unless `-force` (which destroys it first), then
//! creates the VM with its disk controllers, disks, network adapters and USB controllers. The
//! VM is journaled before `CreateVM_Task` starts; cleanup after an error or an interrupt
//! powers it off and destroys it (only it); a good build keeps it as the artifact, unless
//! `destroy` (or `content_library_destination.destroy`) is set.

use async_trait::async_trait;
use forge_core::journal::Resource;
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};

use super::super::State;
use super::step_remote_upload::resolve_datastore;
use crate::create::{CreateSpec, Nic};
use crate::journal;

#[derive(Default)]
pub(super) struct StepCreateVm {
    record: Option<Resource>,
}

#[async_trait]
impl Step<State> for StepCreateVm {
    fn name(&self) -> &'static str {
        "StepCreateVM"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        let iso = c.iso.clone().unwrap_or_default();
        let client = st.client()?;
        let dc = st
            .dc
            .clone()
            .ok_or_else(|| Error::msg("no datacenter was found"))?;
        // Everything is looked up before anything changes, so that a wrong location never
        // costs the VM that -force would replace.
        let folder = client.folder(&dc, &c.folder).await?;
        let path = format!("{}/{}", folder.path, c.vm_name);
        let owner = if c.cluster.is_empty() {
            client.host(&dc, &c.host).await?
        } else {
            client.cluster(&dc, &c.cluster).await?
        };
        let pool = client
            .resource_pool(&owner, &c.resource_pool)
            .await
            .map_err(|e| Error::msg(format!("Error finding resource pool: {e}")))?;
        let host = if !c.cluster.is_empty() && !c.host.is_empty() {
            Some(client.host(&dc, &c.host).await?.moref)
        } else {
            None
        };
        let datastore = resolve_datastore(st).await?;
        let mut nics = Vec::new();
        for (i, n) in iso.nics.iter().enumerate() {
            let network = if n.network.is_empty() {
                host_network(st, &owner).await?
            } else {
                client
                    .network(&dc, &n.network)
                    .await
                    .map_err(|e| Error::msg(format!("network_adapters[{i}]: {e}")))?
            };
            nics.push(Nic {
                card: n.card.clone(),
                backing: client.nic_backing(&network).await?,
                mac: n.mac.clone(),
                passthrough: n.passthrough,
            });
        }
        let spec = CreateSpec {
            name: c.vm_name.clone(),
            version: iso.vm_version,
            guest_id: iso.guest_os_type.clone(),
            annotation: c.notes.clone(),
            datastore: datastore.name.clone(),
            controllers: iso.disk_controllers.clone(),
            disks: iso.disks.clone(),
            nics,
            usb: iso.usb.clone(),
            folder: folder.moref.clone(),
            pool: pool.moref.clone(),
            host,
        };
        // The spec is written once here so that a bad device is refused before anything
        // changes.
        spec.write(crate::soap::Request::new("CreateVM_Task", &folder.moref))?;
        self.record = Some(
            super::super::step_clone::claim_path(ctx, st, &client, &path, "Creating VM...").await?,
        );
        let vm = client
            .create_vm(&spec)
            .await
            .map_err(|e| Error::msg(format!("creating {path}: {e}")))?;
        if let Some(r) = self.record.as_mut() {
            journal::created(ctx, r, &vm.value);
        }
        st.vm = Some(vm);
        Ok(())
    }

    async fn cleanup(&mut self, ctx: &BuildCtx, st: &mut State, o: Outcome) -> Result<()> {
        // `destroy`, or content_library_destination.destroy (the library item is the product).
        let destroy = o.halted || o.cancelled || st.destroy_vm || st.config.destroy;
        super::super::step_clone::undo_vm(ctx, st, &mut self.record, destroy).await
    }
}

/// The only network of the host (or of the cluster's first host), for an adapter without
/// `network`, as Packer picks it.
async fn host_network(st: &State, owner: &crate::Found) -> Result<crate::Found> {
    let client = st.client()?;
    let o = client.retrieve_one(&owner.moref, &["network"]).await?;
    let all: Vec<crate::Moref> = o
        .get("network")
        .map(|n| n.children.iter().filter_map(|m| m.as_moref()).collect())
        .unwrap_or_default();
    match all.as_slice() {
        [one] => {
            let name = client
                .retrieve_one(one, &["name"])
                .await?
                .text("name")
                .unwrap_or_default()
                .to_string();
            Ok(crate::Found {
                moref: one.clone(),
                path: name.clone(),
                name,
            })
        }
        [] => Err(Error::msg(format!("{} has no network", owner.path))),
        _ => Err(Error::msg(format!(
            "Host has multiple networks. Specify it explicitly ({} has {})",
            owner.path,
            all.len()
        ))),
    }
}
