//! StepCloneVM: finds the template and the location (folder, cluster or host, resource pool,
//! datastore), refuses a VM of the same name unless `-force` (which destroys it first), then
//! clones. The clone is journaled before `CloneVM_Task` starts; cleanup after an error or an
//! interrupt powers off and destroys it (only it), and a good build keeps it as the artifact.

use async_trait::async_trait;
use forge_core::journal::Resource;
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};

use super::State;
use crate::journal::{self, VmPlace};
use crate::soap::Moref;
use crate::vm::CloneSpec;

pub(super) struct StepCloneVm {
    pub record: Option<Resource>,
}

#[async_trait]
impl Step<State> for StepCloneVm {
    fn name(&self) -> &'static str {
        "StepCloneVM"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        let client = st.client()?;
        let dc = st
            .dc
            .clone()
            .ok_or_else(|| Error::msg("no datacenter was found"))?;
        // Everything is looked up before anything changes, so that a wrong location never
        // costs the VM that -force would replace.
        let folder = client.folder(&dc, &c.folder).await?;
        let path = format!("{}/{}", folder.path, c.vm_name);
        let template = client
            .vm(&dc, &c.template)
            .await
            .map_err(|e| Error::msg(format!("Error finding vm to clone: {e}")))?;
        let owner = if c.cluster.is_empty() {
            client.host(&dc, &c.host).await?
        } else {
            client.cluster(&dc, &c.cluster).await?
        };
        let pool = client
            .resource_pool(&owner, &c.resource_pool)
            .await
            .map_err(|e| Error::msg(format!("Error finding resource pool: {e}")))?;
        let host = if c.host.is_empty() {
            None
        } else if owner.moref.kind == "HostSystem" {
            Some(owner.moref.clone())
        } else {
            Some(client.host(&dc, &c.host).await?.moref)
        };
        let datastore = if c.datastore.is_empty() {
            None
        } else {
            Some(
                client
                    .datastore(&dc, &c.datastore)
                    .await
                    .map_err(|e| Error::msg(format!("Error finding datastore: {e}")))?
                    .moref,
            )
        };
        let linked_snapshot = if c.linked_clone {
            Some(
                client
                    .current_snapshot(&template.moref)
                    .await?
                    .ok_or_else(|| {
                        Error::msg(format!(
                            "linked_clone: the template {} has no snapshot to clone from",
                            template.path
                        ))
                    })?,
            )
        } else {
            None
        };
        if let Some(existing) = client.find_by_inventory_path(&path).await? {
            if !c.force {
                return Err(Error::msg(format!(
                    "{path} already exists, you can use -force flag to destroy it"
                )));
            }
            ctx.ui.say(&format!(
                "the vm/template {} already exists, but deleting it due to -force flag",
                c.vm_name
            ));
            client
                .remove_vm(&existing)
                .await
                .map_err(|e| Error::msg(format!("destroying {path} (-force): {e}")))?;
        }
        ctx.ui.say("Cloning VM...");
        let place = VmPlace {
            server: c.server.clone(),
            username: c.username.clone(),
            insecure: c.insecure,
            path: path.clone(),
        };
        self.record = Some(journal::intend(ctx, &place)?);
        st.vm_path = path.clone();
        let spec = CloneSpec {
            name: c.vm_name.clone(),
            folder: folder.moref.clone(),
            pool: Some(pool.moref),
            host,
            datastore,
            linked_snapshot,
            annotation: (!c.notes.is_empty()).then(|| c.notes.clone()),
        };
        let vm = client
            .clone_vm(&template.moref, &spec)
            .await
            .map_err(|e| Error::msg(format!("cloning {} to {path}: {e}", template.path)))?;
        if let Some(r) = self.record.as_mut() {
            journal::created(ctx, r, &vm.value);
        }
        st.vm = Some(vm);
        Ok(())
    }

    async fn cleanup(&mut self, ctx: &BuildCtx, st: &mut State, o: Outcome) -> Result<()> {
        // content_library_destination.destroy: the library item is the product, not the VM.
        if !(o.halted || o.cancelled || st.destroy_vm) {
            if let Some(r) = self.record.take() {
                // The VM is the artifact now.
                journal::gone(ctx, &r);
            }
            return Ok(());
        }
        let Some(rec) = journal::to_clean_up(ctx, &mut self.record) else {
            return Ok(());
        };
        let client = st.client()?;
        let vm = match &st.vm {
            Some(vm) => Some(vm.clone()),
            // Interrupted while the clone ran: the VM may exist by now, at its path.
            None => client
                .find_by_inventory_path(&st.vm_path)
                .await?
                .filter(|m| m.kind == "VirtualMachine"),
        };
        let Some(vm) = vm else {
            journal::gone(ctx, &rec);
            return Ok(());
        };
        ctx.ui.say("Destroying VM...");
        match client.remove_vm(&vm).await {
            Ok(()) => journal::gone(ctx, &rec),
            Err(e) => ctx.ui.error(&format!(
                "Error destroying VM {} ({}), it may still be around: {e}",
                st.vm_path, vm.value
            )),
        }
        st.vm = None::<Moref>;
        Ok(())
    }
}
