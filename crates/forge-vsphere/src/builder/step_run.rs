//! StepRun: powers the VM on; after an error or an interrupt, cleanup powers it off.

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};

use super::State;

pub(super) struct StepRun {
    pub powered_on: bool,
}

#[async_trait]
impl Step<State> for StepRun {
    fn name(&self) -> &'static str {
        "StepRun"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        ctx.ui.say("Power on VM...");
        self.powered_on = true;
        st.client()?
            .power_on(&st.vm()?)
            .await
            .map_err(|e| Error::msg(format!("Error powering on {}: {e}", st.vm_path)))
    }

    async fn cleanup(&mut self, ctx: &BuildCtx, st: &mut State, o: Outcome) -> Result<()> {
        if !self.powered_on || !(o.halted || o.cancelled) {
            return Ok(());
        }
        if ctx.keep_resources.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        let (Ok(client), Ok(vm)) = (st.client(), st.vm()) else {
            return Ok(());
        };
        if client.power_state(&vm).await.ok().as_deref() != Some("poweredOn") {
            return Ok(());
        }
        ctx.ui.say("Power off VM...");
        if let Err(e) = client.power_off(&vm).await {
            ctx.ui
                .error(&format!("Error powering off {}: {e}", st.vm_path));
        }
        Ok(())
    }
}
