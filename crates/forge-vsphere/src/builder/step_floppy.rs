//! StepRemoveFloppy: as Packer 1.6.6, every floppy drive of the VM is removed after
//! provisioning (one reconfiguration, none when there is no drive), then the floppy image
//! vsphere-iso uploaded, if any, is deleted from the datastore.

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::Result;

use super::step_cdrom::remove_devices;
use super::State;

pub(super) struct StepRemoveFloppy;

#[async_trait]
impl Step<State> for StepRemoveFloppy {
    fn name(&self) -> &'static str {
        "StepRemoveFloppy"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        ctx.ui.say("Deleting Floppy drives...");
        remove_devices(st, &["VirtualFloppy"], "the floppy drives").await?;
        super::iso::remove_uploaded_floppy(ctx, st).await;
        Ok(())
    }
}
