//! StepConfigParams: `configuration_parameters` as the VM's extra configuration.

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::State;
use crate::vm::ConfigSpec;

pub(super) struct StepConfigParams;

#[async_trait]
impl Step<State> for StepConfigParams {
    fn name(&self) -> &'static str {
        "StepConfigParams"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        ctx.ui.say("Adding configuration parameters...");
        let c = &st.config;
        if c.config_params.is_empty() {
            return Ok(());
        }
        let spec = ConfigSpec {
            extra_config: c.config_params.clone(),
            ..ConfigSpec::default()
        };
        st.client()?
            .reconfigure(&st.vm()?, &spec)
            .await
            .map_err(|e| {
                Error::msg(format!(
                    "Error adding configuration parameters to {}: {e}",
                    st.vm_path
                ))
            })
    }
}
