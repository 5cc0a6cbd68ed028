//! StepCreateSnapshot: a snapshot of the finished VM (`create_snapshot`).

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::State;

pub(super) struct StepCreateSnapshot;

#[async_trait]
impl Step<State> for StepCreateSnapshot {
    fn name(&self) -> &'static str {
        "StepCreateSnapshot"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        ctx.ui.say("Creating snapshot...");
        st.client()?
            .create_snapshot(&st.vm()?, &st.config.snapshot_name)
            .await
            .map_err(|e| Error::msg(format!("Error creating snapshot of {}: {e}", st.vm_path)))
    }
}
