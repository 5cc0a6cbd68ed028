//! StepAddCDRom (vsphere-iso): one CD-ROM drive for each of `iso_paths`, the uploaded ISO and
//! the uploaded `cd_files` image, on free units of the `cdrom_type` controllers (a SATA
//! controller is added first when `cdrom_type` is `sata` and the VM has none), in one
//! reconfiguration. The drives go with the VM, so there is nothing to clean up.

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::super::State;
use crate::create::{controllers, place_cdroms, Controller};

pub(super) struct StepAddCdrom;

/// The ISOs to mount, in Packer's order.
pub(super) fn isos(st: &State) -> Vec<String> {
    let mut isos = st
        .config
        .iso
        .as_ref()
        .map(|i| i.iso_paths.clone())
        .unwrap_or_default();
    isos.extend(st.iso.remote_iso.clone());
    isos.extend(st.iso.remote_cd.clone());
    isos
}

#[async_trait]
impl Step<State> for StepAddCdrom {
    fn name(&self) -> &'static str {
        "StepAddCDRom"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let kind = st
            .config
            .iso
            .as_ref()
            .map(|i| i.cdrom_type.clone())
            .unwrap_or_default();
        let isos = isos(st);
        if isos.is_empty() && kind != "sata" {
            ctx.ui.say("Mounting ISO images...");
            return Ok(());
        }
        let client = st.client()?;
        let vm = st.vm()?;
        let mut ctrls = controllers(&client.device_node(&vm).await?);
        let add_sata = kind == "sata" && !ctrls.iter().any(|c| c.kind == "VirtualAHCIController");
        if add_sata {
            ctx.ui.say("Adding SATA controller...");
            ctrls.push(Controller {
                kind: "VirtualAHCIController".into(),
                key: -1,
                used: Vec::new(),
            });
        }
        ctx.ui.say("Mounting ISO images...");
        let cdroms = place_cdroms(&ctrls, &kind, &isos)
            .map_err(|e| Error::msg(format!("error mounting an image: {e}")))?;
        if cdroms.is_empty() && !add_sata {
            return Ok(());
        }
        client
            .add_cdroms(&vm, add_sata, &cdroms)
            .await
            .map_err(|e| Error::msg(format!("error mounting an image on {}: {e}", st.vm_path)))
    }
}
