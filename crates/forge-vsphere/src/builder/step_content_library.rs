//! StepImportToContentLibrary (`content_library_destination`): the finished VM becomes an item
//! of a content library, a VM template (placed with the block's cluster, host, resource pool,
//! folder and datastore, each defaulting to the build's) or, with `ovf`, an OVF template (an
//! item of the same name is updated). With `destroy` the VM is removed afterwards. When a later
//! step fails or the build is interrupted, the item made here is deleted again.

use async_trait::async_trait;
use forge_core::journal::{created, gone, to_clean_up, Resource};
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};

use super::config_export::Library;
use super::State;
use crate::client::Client;
use crate::library::{intend_item, vm_template_spec, Placement, Rest};

pub(super) struct StepImportToContentLibrary {
    pub lib: Library,
    /// The item this step made (not one it updated), as journaled.
    item: Option<Resource>,
}

impl StepImportToContentLibrary {
    pub fn new(lib: Library) -> Self {
        StepImportToContentLibrary { lib, item: None }
    }

    async fn placement(&self, client: &Client, st: &State) -> Result<(Placement, Option<String>)> {
        let l = &self.lib;
        let dc = st
            .dc
            .clone()
            .ok_or_else(|| Error::msg("no datacenter was found"))?;
        let mut p = Placement::default();
        if !l.cluster.is_empty() {
            p.cluster = client.cluster(&dc, &l.cluster).await?.moref.value;
        }
        if !l.host.is_empty() {
            p.host = client.host(&dc, &l.host).await?.moref.value;
        }
        if !l.resource_pool.is_empty() {
            let owner = if l.cluster.is_empty() {
                client.host(&dc, &l.host).await?
            } else {
                client.cluster(&dc, &l.cluster).await?
            };
            p.resource_pool = client
                .resource_pool(&owner, &l.resource_pool)
                .await?
                .moref
                .value;
        }
        p.folder = if l.folder.is_empty() {
            // The VM's own folder, which vCenter would choose too.
            client
                .retrieve_one(&st.vm()?, &["parent"])
                .await?
                .moref("parent")
                .map(|m| m.value)
                .unwrap_or_default()
        } else {
            client.folder(&dc, &l.folder).await?.moref.value
        };
        let ds = if l.datastore.is_empty() {
            None
        } else {
            Some(client.datastore(&dc, &l.datastore).await?.moref.value)
        };
        Ok((p, ds))
    }

    async fn import(&mut self, ctx: &BuildCtx, client: &Client, st: &State) -> Result<()> {
        let c = &st.config;
        let vm = st.vm()?.value;
        let rest = Rest::login(client, &c.username, &c.password).await?;
        let r = async {
            let library = rest.find_library(&self.lib.library).await?;
            if self.lib.ovf {
                let existing = rest.find_item(&library, &self.lib.name).await?;
                if existing.is_none() {
                    self.item = Some(intend_item(
                        ctx,
                        &c.client_config(),
                        &self.lib.library,
                        &self.lib.name,
                        &vm,
                    )?);
                }
                let id = rest
                    .create_ovf(
                        &vm,
                        &library,
                        existing.as_deref(),
                        &self.lib.name,
                        &self.lib.description,
                    )
                    .await?;
                if let Some(r) = self.item.as_mut() {
                    created(ctx, r, &id);
                }
            } else {
                let (p, ds) = self.placement(client, st).await?;
                let spec = vm_template_spec(
                    &vm,
                    &library,
                    &self.lib.name,
                    &self.lib.description,
                    &p,
                    ds.as_deref(),
                );
                self.item = Some(intend_item(
                    ctx,
                    &c.client_config(),
                    &self.lib.library,
                    &self.lib.name,
                    &vm,
                )?);
                let id = rest.create_vm_template(&spec).await?;
                if let Some(r) = self.item.as_mut() {
                    created(ctx, r, &id);
                }
            }
            Ok::<(), Error>(())
        }
        .await;
        let _ = rest.logout().await;
        r
    }
}

#[async_trait]
impl Step<State> for StepImportToContentLibrary {
    fn name(&self) -> &'static str {
        "StepImportToContentLibrary"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        if self.lib.skip_import {
            ctx.ui.say("Skipping import...");
            return Ok(());
        }
        let client = st.client()?;
        let kind = if self.lib.ovf {
            "VM OVF template"
        } else {
            "VM template"
        };
        ctx.ui.say(&format!(
            "Importing {kind} {} to Content Library...",
            self.lib.name
        ));
        if let Err(e) = self.import(ctx, &client, st).await {
            let msg = format!("Failed to import template {}: {e}", self.lib.name);
            ctx.ui.error(&msg);
            return Err(Error::msg(msg));
        }
        if self.lib.destroy {
            st.destroy_vm = true;
        }
        Ok(())
    }

    async fn cleanup(&mut self, ctx: &BuildCtx, st: &mut State, o: Outcome) -> Result<()> {
        if !(o.halted || o.cancelled) {
            // The item is the build's product now.
            if let Some(r) = self.item.take() {
                gone(ctx, &r);
            }
            return Ok(());
        }
        let Some(rec) = to_clean_up(ctx, &mut self.item) else {
            return Ok(());
        };
        ctx.ui.say(&format!(
            "Deleting content library item {}...",
            self.lib.name
        ));
        let password = st.config.password.clone();
        match crate::library::reclaim_item(&rec, &password).await {
            Ok(()) => gone(ctx, &rec),
            Err(e) => ctx.ui.error(&format!(
                "Error deleting content library item {}, it may still be around: {e}",
                self.lib.name
            )),
        }
        Ok(())
    }
}
