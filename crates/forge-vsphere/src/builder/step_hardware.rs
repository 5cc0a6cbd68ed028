//! StepConfigureHardware: `CPUs` and `RAM` (one reconfiguration; nothing when neither is set).

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::State;
use crate::vm::ConfigSpec;

pub(super) struct StepConfigureHardware;

#[async_trait]
impl Step<State> for StepConfigureHardware {
    fn name(&self) -> &'static str {
        "StepConfigureHardware"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = &st.config;
        let spec = ConfigSpec {
            num_cpus: c.cpus,
            memory_mb: c.ram,
            ..ConfigSpec::default()
        };
        if spec.is_empty() {
            return Ok(());
        }
        ctx.ui.say("Customizing hardware...");
        st.client()?
            .reconfigure(&st.vm()?, &spec)
            .await
            .map_err(|e| Error::msg(format!("Error customizing hardware of {}: {e}", st.vm_path)))
    }
}
