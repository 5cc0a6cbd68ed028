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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ebs::fixture::{ops_only, Fx, REGION};
    use crate::fake::ACCOUNT;
    use serde_json::json;

    #[tokio::test]
    async fn checks_the_regions_and_that_the_name_is_free() {
        let fx = Fx::new();
        let mut st = fx
            .state(fx.config(json!({"ami_regions": ["eu-west-1"]})).await)
            .await;
        StepPreValidate.run(&fx.ctx, &mut st).await.unwrap();
        assert_eq!(ops_only(&fx.cloud), ["DescribeRegions", "DescribeImages"]);
    }

    #[tokio::test]
    async fn an_unknown_region_is_refused() {
        let fx = Fx::new();
        let mut st = fx
            .state(fx.config(json!({"ami_regions": ["mars-north-1"]})).await)
            .await;
        let e = StepPreValidate.run(&fx.ctx, &mut st).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "Invalid region \"mars-north-1\": not one of this account's regions (us-east-1, us-west-2, eu-west-1); check `region` and `ami_regions`"
        );
    }

    #[tokio::test]
    async fn a_name_in_use_is_refused_unless_forced() {
        let fx = Fx::new();
        let old = fx.cloud.add_image(REGION, "forge-test-ami", ACCOUNT);
        let mut st = fx.state(fx.config(json!({})).await).await;
        let e = StepPreValidate.run(&fx.ctx, &mut st).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("Error: AMI Name: 'forge-test-ami' is used by an existing AMI: {old} (set force_deregister to replace it)")
        );
        let mut st = fx
            .state(fx.config(json!({"force_deregister": true})).await)
            .await;
        StepPreValidate.run(&fx.ctx, &mut st).await.unwrap();
    }

    #[tokio::test]
    async fn a_failed_query_names_what_failed() {
        let fx = Fx::new();
        fx.cloud.fail("DescribeImages", "AuthFailure", None);
        let mut st = fx.state(fx.config(json!({})).await).await;
        let e = StepPreValidate.run(&fx.ctx, &mut st).await.unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Error querying AMI: EC2 DescribeImages: AuthFailure: injected by the test (check access_key"),
            "{e}"
        );
    }
}
