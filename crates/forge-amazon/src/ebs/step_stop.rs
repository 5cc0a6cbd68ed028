//! StepStopEBSBackedInstance: stops the instance and waits until it is stopped.

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::State;

pub(super) struct StepStopInstance;

#[async_trait]
impl Step<State> for StepStopInstance {
    fn name(&self) -> &'static str {
        "StepStopEBSBackedInstance"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let Some(id) = st.instance.as_ref().map(|i| i.id.clone()) else {
            return Ok(());
        };
        ctx.ui.say("Stopping the source instance...");
        ctx.ui.message("Stopping instance");
        st.ec2
            .stop_instance(&id)
            .await
            .map_err(|e| Error::msg(format!("Error stopping instance: {e}")))?;
        ctx.ui.say("Waiting for the instance to stop...");
        let ec2 = st.ec2.clone();
        st.wait()
            .until(ctx, &format!("instance {id} to stop"), || async {
                match ec2.describe_instance(&id).await? {
                    Some(i) if i.state == "stopped" => Ok(Some(())),
                    Some(i) if i.state == "terminated" || i.state == "shutting-down" => {
                        Err(Error::msg(format!(
                            "Error waiting for instance to stop: the instance is {}",
                            i.state
                        )))
                    }
                    None => Err(Error::msg(format!(
                        "Error waiting for instance to stop: {id} is gone"
                    ))),
                    _ => Ok(None),
                }
            })
            .await
    }
}
