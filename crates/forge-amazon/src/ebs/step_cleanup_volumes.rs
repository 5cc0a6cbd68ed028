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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ebs::fixture::{launch, ops_only, source, Fail, Fx};
    use serde_json::json;

    #[tokio::test(start_paused = true)]
    async fn volumes_that_outlive_the_instance_are_deleted_after_it() {
        let fx = Fx::new();
        let extra = json!({"launch_block_device_mappings": [
            {"device_name": "/dev/sdb", "volume_size": 10, "delete_on_termination": false}]});
        let mut st = fx.state(fx.config(extra).await).await;
        let e = fx
            .failure(
                &mut st,
                vec![
                    source(),
                    Box::new(StepCleanupVolumes),
                    launch(),
                    Box::new(Fail),
                ],
            )
            .await;
        assert_eq!(e.to_string(), "a later step failed");
        let i = st.instance.clone().unwrap();
        assert_eq!(i.volumes.len(), 2);
        let ops = ops_only(&fx.cloud);
        let terminated = ops.iter().position(|o| *o == "TerminateInstances").unwrap();
        let described = ops.iter().position(|o| *o == "DescribeVolumes").unwrap();
        assert!(terminated < described, "{ops:?}");
        // The root volume went with the instance; the other is deleted.
        assert_eq!(
            fx.cloud.ops().last().unwrap(),
            &format!("DeleteVolume {}", i.volumes[1])
        );
        assert_eq!(fx.cloud.leftovers(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn without_an_instance_nothing_is_looked_for() {
        let fx = Fx::new();
        let mut st = fx.state(fx.config(json!({})).await).await;
        let r = fx
            .run(&mut st, vec![Box::new(StepCleanupVolumes), Box::new(Fail)])
            .await;
        assert!(r.is_err());
        assert_eq!(ops_only(&fx.cloud), Vec::<&str>::new());
    }
}
