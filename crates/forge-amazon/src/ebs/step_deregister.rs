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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ebs::fixture::{ops_only, Fx, REGION};
    use crate::fake::ACCOUNT;
    use serde_json::json;

    /// Two AMIs of the build's name (build region and us-west-2) and one of another name.
    fn existing(fx: &Fx) -> Vec<String> {
        fx.cloud.add_image("us-west-2", "other-ami", ACCOUNT);
        vec![
            fx.cloud.add_image(REGION, "forge-test-ami", ACCOUNT),
            fx.cloud.add_image("us-west-2", "forge-test-ami", ACCOUNT),
        ]
    }

    fn snapshots_deleted(fx: &Fx) -> usize {
        fx.cloud.count("DeleteSnapshot")
    }

    #[tokio::test]
    async fn force_deregister_removes_same_named_amis_in_every_region() {
        let fx = Fx::new();
        let old = existing(&fx);
        let extra = json!({"force_deregister": true, "force_delete_snapshot": true,
            "ami_regions": ["us-west-2"]});
        let mut st = fx.state(fx.config(extra).await).await;
        StepDeregisterAmi.run(&fx.ctx, &mut st).await.unwrap();
        assert!(fx.cloud.images_named("forge-test-ami").is_empty());
        assert_eq!(fx.cloud.images_named("other-ami").len(), 1);
        assert_eq!(snapshots_deleted(&fx), 2);
        for id in &old {
            assert!(fx.said().contains(&format!("Deregistered AMI id: {id}")));
        }
    }

    #[tokio::test]
    async fn snapshots_stay_without_force_delete_snapshot() {
        let fx = Fx::new();
        existing(&fx);
        let extra = json!({"force_deregister": true, "ami_regions": ["us-west-2"]});
        let mut st = fx.state(fx.config(extra).await).await;
        StepDeregisterAmi.run(&fx.ctx, &mut st).await.unwrap();
        assert!(fx.cloud.images_named("forge-test-ami").is_empty());
        assert_eq!(snapshots_deleted(&fx), 0);
    }

    #[tokio::test]
    async fn nothing_is_touched_without_force_deregister() {
        let fx = Fx::new();
        existing(&fx);
        let mut st = fx.state(fx.config(json!({})).await).await;
        StepDeregisterAmi.run(&fx.ctx, &mut st).await.unwrap();
        assert_eq!(ops_only(&fx.cloud), Vec::<&str>::new());
    }

    #[tokio::test]
    async fn a_refused_deregistration_names_what_failed() {
        let fx = Fx::new();
        existing(&fx);
        fx.cloud
            .fail("DeregisterImage", "UnauthorizedOperation", None);
        let mut st = fx
            .state(fx.config(json!({"force_deregister": true})).await)
            .await;
        let e = StepDeregisterAmi.run(&fx.ctx, &mut st).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "Error deregistering existing AMI: EC2 DeregisterImage: UnauthorizedOperation: injected by the test"
        );
    }
}
