//! StepPreValidate: the regions exist, and the AMI name is free (unless force_deregister or
//! skip_create_ami).

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::State;

pub(super) struct StepPreValidate;

#[async_trait]
impl Step<State> for StepPreValidate {
    fn name(&self) -> &'static str {
        "StepPreValidate"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        ctx.ui.say("Prevalidating any provided VPC information");
        if !c.access.skip_region_validation {
            let known = st.ec2.describe_regions().await?;
            for r in c.all_regions() {
                if !known.contains(&r) {
                    return Err(Error::msg(format!(
                        "Invalid region {r:?}: not one of this account's regions ({}); check `region` and `ami_regions`",
                        known.join(", ")
                    )));
                }
            }
        }
        if c.force_deregister || c.skip_create_ami {
            return Ok(());
        }
        ctx.ui
            .say(&format!("Prevalidating AMI Name: {}", c.ami_name));
        let filter = [("name".to_string(), vec![c.ami_name.clone()])];
        let found = st
            .ec2
            .describe_images(&[], &["self".into()], &filter)
            .await
            .map_err(|e| Error::msg(format!("Error querying AMI: {e}")))?;
        if let Some(i) = found.first() {
            return Err(Error::msg(format!(
                "Error: AMI Name: '{}' is used by an existing AMI: {} (set force_deregister to replace it)",
                c.ami_name, i.id
            )));
        }
        Ok(())
    }
}
