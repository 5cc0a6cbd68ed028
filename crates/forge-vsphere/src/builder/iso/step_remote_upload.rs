//! StepRemoteUpload: the local ISO and the `cd_files` image go to
//! `[remote_cache_datastore] remote_cache_path/<file name>` (by default the VM's datastore and
//! `packer_cache`). A file already there is used as it is, unless `remote_cache_overwrite`.
//! Each upload is journaled before it starts; after an error or an interrupt cleanup deletes
//! what this step uploaded (never a file it found there); after a good build, with
//! `remote_cache_cleanup`, the ISO.

use async_trait::async_trait;
use forge_core::journal::Resource;
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};

use super::super::State;
use crate::datastore::ds_path;
use crate::journal::{self, VmPlace};

/// One upload this step made.
#[derive(Debug)]
struct Uploaded {
    record: Option<Resource>,
    name: String,
    /// The `cd_files` image (named so in messages; `remote_cache_cleanup` leaves it).
    scratch: bool,
}

#[derive(Default)]
pub(super) struct StepRemoteUpload {
    uploaded: Vec<Uploaded>,
}

/// Finds the datastore of the VM's files: `datastore`, else the host's only one.
pub(super) async fn resolve_datastore(st: &mut State) -> Result<crate::Found> {
    if let Some(ds) = &st.iso.datastore {
        return Ok(ds.clone());
    }
    let c = st.config.clone();
    let client = st.client()?;
    let dc = st
        .dc
        .clone()
        .ok_or_else(|| Error::msg("no datacenter was found"))?;
    let ds = if !c.datastore_cluster.is_empty() {
        // Storage DRS's choice for the VM, with its disks (sdrs.rs).
        let (_, pool) = super::super::step_clone::placement(&client, &dc, &c).await?;
        let disks = c.iso.as_ref().map(|i| i.disks.clone()).unwrap_or_default();
        client
            .datastore_in_cluster(&dc, &c.datastore_cluster, &pool.moref, &disks, &c.vm_name)
            .await?
            .0
    } else if c.datastore.is_empty() {
        if c.host.is_empty() {
            return Err(Error::msg(
                "'datastore' is required when no 'host' is given",
            ));
        }
        let host = client.host(&dc, &c.host).await?;
        let o = client.retrieve_one(&host.moref, &["datastore"]).await?;
        let all: Vec<crate::Moref> = o
            .get("datastore")
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
                crate::Found {
                    moref: one.clone(),
                    path: format!("{}/datastore/{name}", dc.path),
                    name,
                }
            }
            _ => {
                return Err(Error::msg(format!(
                    "host {} has {} datastores: set 'datastore'",
                    host.path,
                    all.len()
                )))
            }
        }
    } else {
        client
            .datastore(&dc, &c.datastore)
            .await
            .map_err(|e| Error::msg(format!("datastore doesn't exist: {e}")))?
    };
    st.iso.datastore = Some(ds.clone());
    Ok(ds)
}

/// The connection settings the journal keeps for a datastore file.
fn place(st: &State) -> VmPlace {
    let c = &st.config;
    VmPlace {
        server: c.server.clone(),
        username: c.username.clone(),
        insecure: c.insecure,
        path: String::new(),
    }
}

/// Uploads `local` to `[ds] remote` (making its directory), journaled into `record` before
/// the upload starts and marked created once it is there; an interrupt stops it.
pub(super) async fn upload_journaled(
    ctx: &BuildCtx,
    st: &State,
    ds: &str,
    remote: &str,
    local: &std::path::Path,
    record: &mut Option<Resource>,
) -> Result<String> {
    let client = st.client()?;
    let dc = st
        .dc
        .clone()
        .ok_or_else(|| Error::msg("no datacenter was found"))?;
    let full = ds_path(ds, remote);
    *record = Some(journal::intend_file(ctx, &place(st), &dc.path, &full)?);
    if let Some((dir, _)) = remote.rsplit_once('/') {
        client.make_datastore_dir(&dc, ds, dir).await?;
    }
    let up = client.upload_datastore_file(&dc, ds, remote, local);
    tokio::select! {
        r = up => { r?; }
        _ = ctx.cancel.cancelled() => return Err(Error::Cancelled),
    }
    if let Some(r) = record.as_mut() {
        journal::created(ctx, r, &full);
    }
    Ok(full)
}

/// Deletes the uploaded `[ds] path` file `name` whose journal record is `record` (nothing when
/// the record is already closed), saying `what` on the UI; a failure is reported, not fatal.
pub(super) async fn delete_journaled(
    ctx: &BuildCtx,
    st: &State,
    name: &str,
    record: &mut Option<Resource>,
    what: &str,
) {
    let Some(rec) = journal::to_clean_up(ctx, record) else {
        return;
    };
    let (Ok(client), Some(dc)) = (st.client(), st.dc.clone()) else {
        return;
    };
    ctx.ui.say(what);
    match client.delete_datastore_file(&dc.moref, name).await {
        Ok(()) => journal::gone(ctx, &rec),
        Err(e) => ctx
            .ui
            .error(&format!("{e}; it may still be on the datastore")),
    }
}

impl StepRemoteUpload {
    async fn upload(
        &mut self,
        ctx: &BuildCtx,
        st: &mut State,
        local: &str,
        scratch: bool,
    ) -> Result<String> {
        let c = st.config.clone();
        let iso = c.iso.clone().unwrap_or_default();
        let client = st.client()?;
        let dc = st
            .dc
            .clone()
            .ok_or_else(|| Error::msg("no datacenter was found"))?;
        let ds = if iso.remote_cache_datastore.is_empty() {
            resolve_datastore(st).await?.name
        } else {
            client
                .datastore(&dc, &iso.remote_cache_datastore)
                .await
                .map_err(|e| Error::msg(format!("datastore doesn't exist: {e}")))?
                .name
        };
        let file = std::path::Path::new(local)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| local.to_string());
        let dir = iso.remote_cache_path.trim_end_matches('/').to_string();
        let remote = format!("{dir}/{file}");
        let full = ds_path(&ds, &remote);
        if !iso.remote_cache_overwrite && client.datastore_file_exists(&dc, &ds, &remote).await? {
            ctx.ui
                .say(&format!("File {full} already exists; skipping upload."));
            return Ok(full);
        }
        ctx.ui.say(&format!("Uploading {file} to {remote}"));
        let mut u = Uploaded {
            record: None,
            name: full.clone(),
            scratch,
        };
        let r = upload_journaled(
            ctx,
            st,
            &ds,
            &remote,
            std::path::Path::new(local),
            &mut u.record,
        )
        .await;
        self.uploaded.push(u);
        r?;
        Ok(full)
    }
}

#[async_trait]
impl Step<State> for StepRemoteUpload {
    fn name(&self) -> &'static str {
        "StepRemoteUpload"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        if let Some(local) = st.iso.local_iso.clone() {
            st.iso.remote_iso = Some(self.upload(ctx, st, &local, false).await?);
        }
        if let Some(cd) = st.iso.media.cd_path.clone() {
            st.iso.remote_cd = Some(self.upload(ctx, st, &cd, true).await?);
        }
        Ok(())
    }

    async fn cleanup(&mut self, ctx: &BuildCtx, st: &mut State, o: Outcome) -> Result<()> {
        let failed = o.halted || o.cancelled;
        let cleanup = st
            .config
            .iso
            .as_ref()
            .is_some_and(|i| i.remote_cache_cleanup);
        for mut u in std::mem::take(&mut self.uploaded) {
            if !(failed || (cleanup && !u.scratch)) {
                // Kept in the remote cache for later builds.
                if let Some(r) = u.record.take() {
                    journal::gone(ctx, &r);
                }
                continue;
            }
            let what = if u.scratch {
                "Deleting cd_files image from remote datastore ...".to_string()
            } else {
                format!("Deleting {} from remote datastore ...", u.name)
            };
            delete_journaled(ctx, st, &u.name, &mut u.record, &what).await;
        }
        Ok(())
    }
}
