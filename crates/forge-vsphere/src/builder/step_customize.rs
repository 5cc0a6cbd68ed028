//! StepCustomize: guest customization (`customize`) of the powered-off clone with
//! `CustomizeVM_Task`; the spec is built by [`crate::customize`]. Its secrets (Windows admin
//! password, product key) are given to the redactor before anything is sent.

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::State;

pub(super) struct StepCustomize;

#[async_trait]
impl Step<State> for StepCustomize {
    fn name(&self) -> &'static str {
        "StepCustomize"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let Some(spec) = st.config.customize.clone() else {
            return Ok(());
        };
        for s in spec.secrets() {
            ctx.ui.output().redactor().add(&s);
        }
        ctx.ui.say("Customizing VM...");
        st.client()?
            .customize(&st.vm()?, &spec)
            .await
            .map_err(|e| Error::msg(format!("Error customizing {}: {e}", st.vm_path)))
    }
}
