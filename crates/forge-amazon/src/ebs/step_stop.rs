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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ebs::fixture::{launch, ops_only, source, Fx};
    use serde_json::json;

    #[tokio::test(start_paused = true)]
    async fn stops_and_waits_until_stopped() {
        let fx = Fx::new();
        fx.cloud.pending("stopped", Some(2));
        let mut st = fx.state(fx.config(json!({})).await).await;
        let mut steps = [source(), launch(), Box::new(StepStopInstance)];
        for s in steps.iter_mut() {
            s.run(&fx.ctx, &mut st).await.unwrap();
        }
        let id = st.instance.clone().unwrap().id;
        assert_eq!(fx.cloud.instance_state(&id).as_deref(), Some("stopped"));
        assert!(fx.cloud.ops().ends_with(&[
            format!("StopInstances {id}"),
            format!("DescribeInstances {id}"),
            format!("DescribeInstances {id}"),
            format!("DescribeInstances {id}"),
        ]));
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_stop_names_the_step() {
        let fx = Fx::new();
        fx.cloud.fail("StopInstances", "UnsupportedOperation", None);
        let mut st = fx.state(fx.config(json!({})).await).await;
        let e = fx
            .failure(
                &mut st,
                vec![source(), launch(), Box::new(StepStopInstance)],
            )
            .await;
        assert_eq!(
            e.to_string(),
            "Error stopping instance: EC2 StopInstances: UnsupportedOperation: injected by the test"
        );
        assert_eq!(fx.cloud.leftovers(), Vec::<String>::new());
    }

    #[tokio::test(start_paused = true)]
    async fn an_instance_that_terminates_instead_fails_the_wait() {
        let fx = Fx::new();
        fx.cloud.ends_as("stopped", "terminated");
        let mut st = fx.state(fx.config(json!({})).await).await;
        let e = fx
            .failure(
                &mut st,
                vec![source(), launch(), Box::new(StepStopInstance)],
            )
            .await;
        assert_eq!(
            e.to_string(),
            "Error waiting for instance to stop: the instance is terminated"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_instance_that_never_stops_times_out() {
        let fx = Fx::new();
        fx.cloud.pending("stopped", None);
        let mut st = fx.state(fx.config(json!({})).await).await;
        let e = fx
            .failure(
                &mut st,
                vec![source(), launch(), Box::new(StepStopInstance)],
            )
            .await;
        let id = st.instance.clone().unwrap().id;
        assert_eq!(
            e.to_string(),
            format!("timed out after 2 minutes waiting for instance {id} to stop (raise aws_polling or AWS_TIMEOUT_SECONDS)")
        );
        // Cleanup terminated the stopping instance all the same.
        assert_eq!(fx.cloud.instance_state(&id).as_deref(), Some("terminated"));
        assert_eq!(fx.cloud.count("TerminateInstances"), 1);
    }

    #[tokio::test]
    async fn without_an_instance_nothing_is_stopped() {
        let fx = Fx::new();
        let mut st = fx.state(fx.config(json!({})).await).await;
        StepStopInstance.run(&fx.ctx, &mut st).await.unwrap();
        assert_eq!(ops_only(&fx.cloud), Vec::<&str>::new());
    }
}
