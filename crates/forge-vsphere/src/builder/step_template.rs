//! StepConvertToTemplate: marks the finished VM as a template (`convert_to_template`).

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::State;

pub(super) struct StepConvertToTemplate;

#[async_trait]
impl Step<State> for StepConvertToTemplate {
    fn name(&self) -> &'static str {
        "StepConvertToTemplate"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        ctx.ui.say("Convert VM into template...");
        st.client()?.mark_as_template(&st.vm()?).await.map_err(|e| {
            Error::msg(format!(
                "Error converting {} to a template: {e}",
                st.vm_path
            ))
        })
    }
}
