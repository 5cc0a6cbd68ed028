//! StepAddFloppy (vsphere-iso), as packer 1.6.6: the floppy image StepCreateFloppy made is
//! uploaded next to the VM's files (`<vm dir>/packer-tmp-created-floppy.flp`), journaled before
//! the upload starts, and mounted in a new floppy drive; `floppy_img_path` (an image already on
//! a datastore) is mounted in a drive of its own. After an error or an interrupt cleanup deletes
//! the uploaded image; after a good build StepRemoveFloppy does (with the drives).

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};

use super::super::State;
use super::step_remote_upload::{delete_journaled, upload_journaled};

/// The uploaded image's name in the VM's directory (Packer's).
const IMAGE: &str = "packer-tmp-created-floppy.flp";

pub(super) struct StepAddFloppy;

/// Splits `[ds] path` into the datastore's name and the path.
fn split_ds_path(p: &str) -> Option<(&str, &str)> {
    let rest = p.strip_prefix('[')?;
    let (ds, path) = rest.split_once(']')?;
    Some((ds, path.trim_start()))
}

#[async_trait]
impl Step<State> for StepAddFloppy {
    fn name(&self) -> &'static str {
        "StepAddFloppy"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let client = st.client()?;
        let vm = st.vm()?;
        let vm_path = st.vm_path.clone();
        let fail = |e: Error| Error::msg(format!("error adding a floppy drive to {vm_path}: {e}"));
        if let Some(local) = st.iso.media.floppy_path.clone() {
            ctx.ui.say("Uploading created floppy image");
            let dir = client.vm_dir(&vm).await.map_err(fail)?;
            let (ds, dir) = split_ds_path(&dir)
                .ok_or_else(|| fail(Error::msg(format!("unexpected VM path {dir:?}"))))?;
            let remote = if dir.is_empty() {
                IMAGE.to_string()
            } else {
                format!("{dir}/{IMAGE}")
            };
            let mut record = None;
            let r = upload_journaled(
                ctx,
                st,
                ds,
                &remote,
                std::path::Path::new(&local),
                &mut record,
            )
            .await;
            let full = crate::datastore::ds_path(ds, &remote);
            st.iso.remote_floppy = Some((full.clone(), record));
            r?;
            ctx.ui.say("Adding generated Floppy...");
            client.add_floppy(&vm, &full).await.map_err(fail)?;
        }
        let img = st
            .config
            .iso
            .as_ref()
            .map(|i| i.floppy_img_path.clone())
            .unwrap_or_default();
        if !img.is_empty() {
            ctx.ui.say("Adding Floppy image...");
            client.add_floppy(&vm, &img).await.map_err(fail)?;
        }
        Ok(())
    }

    async fn cleanup(&mut self, ctx: &BuildCtx, st: &mut State, o: Outcome) -> Result<()> {
        if o.halted || o.cancelled {
            remove_uploaded_floppy(ctx, st).await;
        }
        Ok(())
    }
}

/// Deletes the uploaded floppy image, if any (a failure is reported, not fatal).
pub(in super::super) async fn remove_uploaded_floppy(ctx: &BuildCtx, st: &mut State) {
    if let Some((name, mut record)) = st.iso.remote_floppy.take() {
        delete_journaled(ctx, st, &name, &mut record, "Deleting Floppy image...").await;
    }
}

#[cfg(test)]
mod tests {
    use super::split_ds_path;

    #[test]
    fn datastore_paths_split() {
        assert_eq!(
            split_ds_path("[LocalDS_0] golden"),
            Some(("LocalDS_0", "golden"))
        );
        assert_eq!(split_ds_path("[ds 1] a/b"), Some(("ds 1", "a/b")));
        assert_eq!(split_ds_path("[ds]"), Some(("ds", "")));
        assert_eq!(split_ds_path("golden"), None);
    }
}
