//! StepDeregisterAMI: with `force_deregister`, removes AMIs of the same name in every target
//! region (and their snapshots with `force_delete_snapshot`).

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::State;

pub(super) struct StepDeregisterAmi;

#[async_trait]
impl Step<State> for StepDeregisterAmi {
    fn name(&self) -> &'static str {
        "StepDeregisterAMI"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        if !c.force_deregister || c.skip_create_ami {
            return Ok(());
        }
        for region in c.all_regions() {
            let ec2 = c.access.ec2(&region).await;
            let filter = [("name".to_string(), vec![c.ami_name.clone()])];
            let found = ec2
                .describe_images(&[], &["self".into()], &filter)
                .await
                .map_err(|e| Error::msg(format!("Error describing AMI: {e}")))?;
            for i in found {
                ec2.deregister_image(&i.id)
                    .await
                    .map_err(|e| Error::msg(format!("Error deregistering existing AMI: {e}")))?;
                ctx.ui.say(&format!("Deregistered AMI id: {}", i.id));
                if c.force_delete_snapshot {
                    for s in &i.snapshots {
                        ec2.delete_snapshot(s).await.map_err(|e| {
                            Error::msg(format!("Error deleting existing snapshot: {e}"))
                        })?;
                        ctx.ui.say(&format!("Deleted snapshot: {s}"));
                    }
                }
            }
        }
        Ok(())
    }
}
