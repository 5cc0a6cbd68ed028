//! StepRemoveCDRom (vsphere-iso): ejects the media of every CD-ROM drive, as packer 1.6.6
//! does, so the finished VM no longer refers to the uploaded ISOs; with `remove_cdrom`, then
//! removes the drives (the clone builder's removal).

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::super::State;

pub(super) struct StepEjectCdrom;

#[async_trait]
impl Step<State> for StepEjectCdrom {
    fn name(&self) -> &'static str {
        "StepRemoveCDRom"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        ctx.ui.say("Eject CD-ROM drives...");
        st.client()?.eject_cdroms(&st.vm()?).await.map_err(|e| {
            Error::msg(format!("Error ejecting the CD-ROMs of {}: {e}", st.vm_path))
        })?;
        if st.config.remove_cdrom {
            ctx.ui.say("Deleting CD-ROM drives...");
            super::super::step_cdrom::remove_devices(st, &["VirtualCdrom"], "the CD-ROM drives")
                .await?;
        }
        Ok(())
    }
}
