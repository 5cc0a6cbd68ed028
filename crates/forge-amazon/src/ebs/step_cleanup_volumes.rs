//! StepCleanupVolumes: after the instance is terminated (its cleanup runs later than the
//! instance's), deletes the volumes of the launch that outlived it, found by the run's tag.

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::Result;

use super::State;
use crate::ec2::RUN_TAG;

pub(super) struct StepCleanupVolumes;

#[async_trait]
impl Step<State> for StepCleanupVolumes {
    fn name(&self) -> &'static str {
        "StepCleanupVolumes"
    }
    async fn run(&mut self, _ctx: &BuildCtx, _st: &mut State) -> Result<()> {
        Ok(())
    }
    async fn cleanup(&mut self, ctx: &BuildCtx, st: &mut State, _o: Outcome) -> Result<()> {
        if st.instance.is_none() || ctx.keep_resources.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        ctx.ui.say("Cleaning up any extra volumes...");
        let left = match st.ec2.volumes_tagged(RUN_TAG, &ctx.run_id).await {
            Ok(v) => v,
            Err(e) => {
                ctx.ui.error(&format!("Error describing volumes: {e}"));
                return Ok(());
            }
        };
        if left.is_empty() {
            ctx.ui.say("No volumes to clean up, skipping");
            return Ok(());
        }
        for v in left {
            ctx.ui.say(&format!("Deleting volume: {v}"));
            if let Err(e) = st.ec2.delete_volume(&v).await {
                ctx.ui.error(&format!("Error deleting volume {v}: {e}"));
            }
        }
        Ok(())
    }
}
