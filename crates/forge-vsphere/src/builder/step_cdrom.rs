//! StepAddCDRom and StepRemoveCDRom. `iso_paths` and `remove_cdrom` are refused at prepare time
//! for now, so neither changes the VM; they say what Packer says, so the output matches.

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::Result;

use super::State;

pub(super) struct StepAddCdrom;

#[async_trait]
impl Step<State> for StepAddCdrom {
    fn name(&self) -> &'static str {
        "StepAddCDRom"
    }
    async fn run(&mut self, ctx: &BuildCtx, _st: &mut State) -> Result<()> {
        ctx.ui.say("Mounting ISO images...");
        Ok(())
    }
}

pub(super) struct StepRemoveCdrom;

#[async_trait]
impl Step<State> for StepRemoveCdrom {
    fn name(&self) -> &'static str {
        "StepRemoveCDRom"
    }
    async fn run(&mut self, ctx: &BuildCtx, _st: &mut State) -> Result<()> {
        ctx.ui.say("Eject CD-ROM drives...");
        Ok(())
    }
}
