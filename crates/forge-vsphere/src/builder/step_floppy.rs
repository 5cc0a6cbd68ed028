//! StepRemoveFloppy. The floppy options are refused at prepare time for now, so there is no
//! floppy to remove; it says what Packer says, so the output matches.

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::Result;

use super::State;

pub(super) struct StepRemoveFloppy;

#[async_trait]
impl Step<State> for StepRemoveFloppy {
    fn name(&self) -> &'static str {
        "StepRemoveFloppy"
    }
    async fn run(&mut self, ctx: &BuildCtx, _st: &mut State) -> Result<()> {
        ctx.ui.say("Deleting Floppy drives...");
        Ok(())
    }
}
