//! The boot order, as packer 1.6.6's StepRun sets it before powering on: `boot_order` as
//! given, else `disk,cdrom` for the installation, cleared again (`Clear boot order...`) when
//! the build ends so the finished VM boots by the firmware's default.

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};

use super::super::State;

#[derive(Default)]
pub(super) struct StepBootOrder {
    temporary: bool,
}

#[async_trait]
impl Step<State> for StepBootOrder {
    fn name(&self) -> &'static str {
        "StepBootOrder"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let given = st
            .config
            .iso
            .as_ref()
            .map(|i| i.boot_order.clone())
            .unwrap_or_default();
        let order = if given.is_empty() {
            ctx.ui.say("Set boot order temporary...");
            self.temporary = true;
            vec!["disk".to_string(), "cdrom".to_string()]
        } else {
            ctx.ui.say("Set boot order...");
            given
        };
        let client = st.client()?;
        let vm = st.vm()?;
        let devices = client.device_node(&vm).await?;
        client
            .set_boot_order(&vm, &order, &devices)
            .await
            .map_err(|e| {
                Error::msg(format!(
                    "Error setting the boot order of {}: {e}",
                    st.vm_path
                ))
            })
    }

    async fn cleanup(&mut self, ctx: &BuildCtx, st: &mut State, _o: Outcome) -> Result<()> {
        if !self.temporary {
            return Ok(());
        }
        self.temporary = false;
        let (Ok(client), Ok(vm)) = (st.client(), st.vm()) else {
            return Ok(());
        };
        ctx.ui.say("Clear boot order...");
        if let Err(e) = client
            .set_boot_order(&vm, &["-".into()], &crate::soap::Node::default())
            .await
        {
            ctx.ui.error(&format!(
                "Error clearing the boot order of {}: {e}",
                st.vm_path
            ));
        }
        Ok(())
    }
}
